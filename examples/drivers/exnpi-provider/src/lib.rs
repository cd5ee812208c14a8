//! The EXNPI provider as a Windows kernel driver of its own: registered from `DriverEntry`,
//! deregistered (with the wait) from `DriverUnload`. Its clients are other drivers: the Rust
//! client `examples/drivers/exnpi-client`, or the C client `examples/drivers/c/exnpi_client.c`.
//!
//! What it shows beyond `examples/kernel-driver`:
//! - it is one side only, bound to a peer image built separately (or written in C);
//! - its detach pends and is completed later from a system work item (`ExQueueWorkItem`), as a
//!   provider with requests in flight does: the deregistration wait of whichever side unloads
//!   first lasts until the work item has run.
//!
//! `cargo xtask emulate` runs it against its peers in an emulated kernel.
#![no_std]

#[path = "../../kernel.rs"]
mod kernel;

use core::cell::UnsafeCell;
use core::ffi::c_void;
use core::ptr;
use core::sync::atomic::{AtomicU8, Ordering};

use npi_runtime::sys::{NTSTATUS, STATUS_INVALID_PARAMETER, STATUS_SUCCESS};
use npi_runtime::{
    Detach, Provider, ProviderAttachRequest, ProviderBinding, ProviderDetachRequest,
    ProviderPendingDetach, ProviderTable, StaticProviderRegistration, npi_provider,
};

use exnpi::{ExProviderDispatch, ExProviderDispatchImpl, Exnpi};
use exnpi::{VERSION, length_of};
use kernel::{trace, trace_value};

#[npi_provider(npi = Exnpi, module_id = "6D6C7F54-80C6-4A52-B0C8-4C9A1D0E3F21")]
struct ExProvider;

/// The provider's per-binding state.
struct ProviderBindingState {
    client_number: u32,
}

impl Provider for ExProvider {
    type Binding = ProviderBindingState;

    fn attach(&self, request: ProviderAttachRequest<'_, Self>) -> npi_runtime::Attach {
        let client_number = request.client().number();
        trace_value!("provider: attach from client #", client_number);
        request.accept(ProviderBindingState { client_number }, &PROVIDER_DISPATCH).into()
    }

    fn detach(
        &self,
        binding: &ProviderBinding<'_, Self>,
        request: ProviderDetachRequest<'_, Self>,
    ) -> Detach {
        trace_value!(
            "provider: detach client # (pending, a work item completes it)",
            binding.client_number
        );
        let (answer, pending) = request.pend();
        if cfg!(feature = "broken-detach-never-completes") {
            // Broken on purpose: the pending detach is leaked, nobody ever completes it.
            core::mem::forget(pending);
            return answer;
        }
        if let Err(pending) = DEFERRED.queue(pending) {
            trace!("provider: work item busy: detach completed at once");
            pending.complete();
        }
        answer
    }

    fn cleanup(&self, binding: &ProviderBindingState) {
        trace_value!("provider: cleanup binding of client #", binding.client_number);
    }
}

impl ExProviderDispatchImpl for ExProvider {

    fn provider_function(binding: &ProviderBinding<'_, ExProvider>, value: u32) -> u32 {
        trace_value!("provider: provider_function from client #", binding.client_number);
        if cfg!(feature = "broken-bugcheck") {
            panic!("broken on purpose");
        }
        if let Some(client) = binding.peer() {
            client.client_notify(value * 2);
        }
        value * 2
    }
}

static PROVIDER_DISPATCH: ProviderTable<ExProvider> =
    ExProviderDispatch::new::<ExProvider>(VERSION, length_of::<ExProviderDispatch>());
static PROVIDER: ExProvider = ExProvider;

// ---------------------------------------------------------------------------------------------
// The pending detach, handed to a system work item.

/// One pending detach waiting for the work item, and the work item itself (its storage must
/// outlive the queueing: a static). One binding at a time uses it; a second detach while it is
/// busy completes at once.
struct Deferred {
    /// `FREE`, `FILLING` (one detach callback owns `pending` and `item`), `QUEUED` (the work
    /// routine owns them).
    state: AtomicU8,
    pending: UnsafeCell<Option<ProviderPendingDetach<ExProvider>>>,
    item: UnsafeCell<kernel::WORK_QUEUE_ITEM>,
}

const FREE: u8 = 0;
const FILLING: u8 = 1;
const QUEUED: u8 = 2;

// SAFETY: `pending` and `item` are only touched by the one owner that `state` names (a detach
// callback between FREE->FILLING and FILLING->QUEUED, the work routine from QUEUED until it sets
// FREE), and a `PendingDetach` may be completed from any thread.
unsafe impl Sync for Deferred {}

static DEFERRED: Deferred = Deferred {
    state: AtomicU8::new(FREE),
    pending: UnsafeCell::new(None),
    item: UnsafeCell::new(kernel::WORK_QUEUE_ITEM {
        List: [ptr::null_mut(); 2],
        WorkerRoutine: None,
        Parameter: ptr::null_mut(),
    }),
};

impl Deferred {
    /// Hands `pending` to a system work item, or gives it back if one is already queued.
    fn queue(
        &'static self,
        pending: ProviderPendingDetach<ExProvider>,
    ) -> Result<(), ProviderPendingDetach<ExProvider>> {
        if self.state.compare_exchange(FREE, FILLING, Ordering::Acquire, Ordering::Relaxed).is_err()
        {
            return Err(pending);
        }
        // SAFETY: FILLING: this callback owns both cells until it stores QUEUED; `pending` holds
        // `None` (nothing to drop). Writes through `ptr::write` and `&raw mut`, no `*p = v`
        // (whose debug alignment check would format its panic message).
        unsafe {
            self.pending.get().write(Some(pending));
            // ExInitializeWorkItem.
            let item = self.item.get();
            (&raw mut (*item).WorkerRoutine).write(Some(complete_pending_detach));
            (&raw mut (*item).Parameter).write(ptr::null_mut());
        }
        self.state.store(QUEUED, Ordering::Release);
        // SAFETY: an initialised work item in static storage, queued once (QUEUED until the
        // routine has run).
        unsafe { kernel::ExQueueWorkItem(self.item.get(), kernel::DELAYED_WORK_QUEUE) };
        Ok(())
    }
}

/// The work item: completes the pending detach.
unsafe extern "system" fn complete_pending_detach(parameter: *mut c_void) {
    let _ = parameter;
    if DEFERRED.state.load(Ordering::Acquire) != QUEUED {
        return;
    }
    // SAFETY: QUEUED: the work routine owns `pending` until it stores FREE.
    let pending = unsafe { DEFERRED.pending.get().replace(None) };
    DEFERRED.state.store(FREE, Ordering::Release);
    if let Some(pending) = pending {
        trace!("provider: work item completes the pending detach");
        pending.complete();
    }
}

// ---------------------------------------------------------------------------------------------
// The driver.

static PROVIDER_REGISTRATION: StaticProviderRegistration<ExProvider> =
    StaticProviderRegistration::new();

/// `DRIVER_INITIALIZE`: registers the EXNPI provider; clients already registered attach inside
/// the call.
#[unsafe(no_mangle)]
#[allow(clippy::not_unsafe_ptr_arg_deref)] // the documented DRIVER_INITIALIZE signature
pub extern "system" fn DriverEntry(
    driver_object: *mut c_void,
    registry_path: *const c_void,
) -> NTSTATUS {
    let _ = registry_path;
    if driver_object.is_null() {
        return STATUS_INVALID_PARAMETER;
    }
    trace!("DriverEntry: register the provider");
    if let Err(status) = PROVIDER_REGISTRATION.register(&PROVIDER) {
        return status.raw();
    }
    // SAFETY: the DRIVER_OBJECT DriverEntry received, checked non-NULL.
    unsafe { kernel::set_unload(driver_object, DriverUnload) };
    STATUS_SUCCESS
}

/// `DRIVER_UNLOAD`: deregisters the provider and waits until its bindings are detached and
/// cleaned up.
#[allow(non_snake_case)] // the DDI's name for the role
unsafe extern "system" fn DriverUnload(driver_object: *mut kernel::DRIVER_OBJECT) {
    let _ = driver_object;
    trace!("DriverUnload: deregister the provider (waits for its bindings)");
    let _ = PROVIDER_REGISTRATION.deregister();
    trace!("DriverUnload: done");
}
