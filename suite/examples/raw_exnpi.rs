//! EXNPI, the example NPI of Microsoft's NMR documentation, written against the raw ABI exactly
//! as the C samples are: a provider and a client, each with `DriverEntry`/`Unload`-shaped
//! functions, calls through both dispatch tables, and a provider detach that pends and is
//! completed from another thread. Runs on the built-in host NMR and prints the trace.
//!
//! ```text
//! cargo run --example raw_exnpi
//! ```
#![allow(non_snake_case)] // C names, as in the documentation samples

use std::ffi::c_void;
use std::ptr;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;

use npi_runtime::host;
use npi_runtime::sys::*;

// ---------------------------------------------------------------------------------------------
// The NPI: id and the two dispatch tables both sides agree on.

// EXNPI comes from its one definition, the `exnpi` crate, as a C module takes it from the
// NPI's header: its id, and the two tables as the plain `#[repr(C)]` structs they are.
use exnpi::{
    ExClientDispatch as EXNPI_CLIENT_DISPATCH, ExProviderDispatch as EXNPI_PROVIDER_DISPATCH,
};
use npi_runtime::Npi;

const NPI_EXNPI_ID: NPIID = exnpi::Exnpi::ID;

/// Immutable statics that hold raw pointers: Sync by construction, as in C's `const` tables.
#[repr(transparent)]
struct Static<T>(T);
// SAFETY: only ever read; the pointers inside point at other immutable statics.
unsafe impl<T> Sync for Static<T> {}

#[allow(clippy::cast_possible_truncation)] // the tables are a few bytes long
const fn len<T>() -> u16 {
    size_of::<T>() as u16
}

// ---------------------------------------------------------------------------------------------
// The provider module.

static PROVIDER_MODULE_ID: NPI_MODULEID =
    NPI_MODULEID::from_guid(GUID::from_u128(0x6D6C_7F54_80C6_4A52_B0C8_4C9A_1D0E_3F21));

struct ProviderBinding {
    client_name: u32,
    client_context: *mut c_void,
    client_dispatch: *const EXNPI_CLIENT_DISPATCH,
    binding_handle: HANDLE,
}

static PROVIDER_DISPATCH: EXNPI_PROVIDER_DISPATCH = EXNPI_PROVIDER_DISPATCH {
    version: exnpi::VERSION,
    length: len::<EXNPI_PROVIDER_DISPATCH>(),
    provider_function: ProviderFunction,
};

static PROVIDER_CHARACTERISTICS: Static<NPI_PROVIDER_CHARACTERISTICS> =
    Static(NPI_PROVIDER_CHARACTERISTICS {
        Version: 0,
        Length: len::<NPI_PROVIDER_CHARACTERISTICS>(),
        ProviderAttachClient: Some(ProviderAttachClient),
        ProviderDetachClient: Some(ProviderDetachClient),
        ProviderCleanupBindingContext: Some(ProviderCleanupBindingContext),
        ProviderRegistrationInstance: NPI_REGISTRATION_INSTANCE {
            Version: 0,
            Size: len::<NPI_REGISTRATION_INSTANCE>(),
            NpiId: &NPI_EXNPI_ID,
            ModuleId: &PROVIDER_MODULE_ID,
            Number: 0,
            NpiSpecificCharacteristics: ptr::null(),
        },
    });

static PROVIDER_HANDLE: AtomicUsize = AtomicUsize::new(0);
/// Detaches the provider has answered with STATUS_PENDING, for the worker to complete.
static PENDING_DETACHES: Mutex<Vec<usize>> = Mutex::new(Vec::new());

unsafe extern "system" fn ProviderFunction(binding: *mut c_void, value: u32) -> u32 {
    // SAFETY: the NMR hands back the binding context this provider created in attach.
    let b = unsafe { &*binding.cast::<ProviderBinding>() };
    println!("  provider: ProviderFunction({value}) called by client #{}", b.client_name);
    // SAFETY: the client's dispatch table stays valid while the binding exists.
    let notify = unsafe { (*b.client_dispatch).client_notify };
    // SAFETY: called with the client's own binding context, valid while the binding exists.
    unsafe { notify(b.client_context, value * 2) };
    value * 2
}

unsafe extern "system" fn ProviderAttachClient(
    NmrBindingHandle: HANDLE,
    _ProviderContext: *mut c_void,
    ClientRegistrationInstance: *const NPI_REGISTRATION_INSTANCE,
    ClientBindingContext: *mut c_void,
    ClientDispatch: *const c_void,
    ProviderBindingContext: *mut *mut c_void,
    ProviderDispatch: *mut *const c_void,
) -> NTSTATUS {
    // SAFETY: the NMR passes the client's registration instance, valid during the call.
    let inst = unsafe { &*ClientRegistrationInstance };
    println!("  provider: ProviderAttachClient from client #{} -> accept", inst.Number);
    let binding = Box::new(ProviderBinding {
        client_name: inst.Number,
        client_context: ClientBindingContext,
        client_dispatch: ClientDispatch.cast(),
        binding_handle: NmrBindingHandle,
    });
    // SAFETY: an out-pointer supplied by the NMR.
    unsafe { *ProviderBindingContext = Box::into_raw(binding).cast() };
    // SAFETY: as above.
    unsafe { *ProviderDispatch = (&raw const PROVIDER_DISPATCH).cast() };
    STATUS_SUCCESS
}

unsafe extern "system" fn ProviderDetachClient(ProviderBindingContext: *mut c_void) -> NTSTATUS {
    // SAFETY: our own binding context; freed only in cleanup.
    let b = unsafe { &*ProviderBindingContext.cast::<ProviderBinding>() };
    println!("  provider: ProviderDetachClient(client #{}) -> STATUS_PENDING", b.client_name);
    PENDING_DETACHES.lock().unwrap().push(b.binding_handle.addr());
    STATUS_PENDING
}

unsafe extern "system" fn ProviderCleanupBindingContext(ProviderBindingContext: *mut c_void) {
    // SAFETY: created by Box::into_raw in attach; the NMR calls cleanup exactly once.
    let b = unsafe { Box::from_raw(ProviderBindingContext.cast::<ProviderBinding>()) };
    println!("  provider: ProviderCleanupBindingContext(client #{})", b.client_name);
}

fn ProviderDriverEntry() -> NTSTATUS {
    let mut handle: HANDLE = ptr::null_mut();
    // SAFETY: the characteristics are 'static; the out-pointer is a local.
    let status =
        unsafe { NmrRegisterProvider(&PROVIDER_CHARACTERISTICS.0, ptr::null_mut(), &mut handle) };
    PROVIDER_HANDLE.store(handle.addr(), Ordering::SeqCst);
    status
}

fn ProviderUnload() {
    let handle = ptr::without_provenance_mut(PROVIDER_HANDLE.load(Ordering::SeqCst));
    // The detaches pend; a worker completes them a little later, as a driver draining
    // in-flight requests would.
    let worker = thread::spawn(|| {
        thread::sleep(std::time::Duration::from_millis(50));
        for h in PENDING_DETACHES.lock().unwrap().drain(..) {
            println!("  provider worker: NmrProviderDetachClientComplete({h:#x})");
            // SAFETY: a binding handle the NMR gave this provider, completed once.
            unsafe { NmrProviderDetachClientComplete(ptr::without_provenance_mut(h)) };
        }
    });
    // SAFETY: the handle came from NmrRegisterProvider.
    let status = unsafe { NmrDeregisterProvider(handle) };
    println!("  provider: NmrDeregisterProvider -> {status:#x} (STATUS_PENDING)");
    // SAFETY: as above; deregistration has begun.
    let status = unsafe { NmrWaitForProviderDeregisterComplete(handle) };
    println!("  provider: NmrWaitForProviderDeregisterComplete -> {status:#x}");
    worker.join().unwrap();
}

// ---------------------------------------------------------------------------------------------
// The client module: two registrations (Number 1 and 2) of the same client code.

struct ClientBinding {
    number: u32,
    provider_context: *mut c_void,
    provider_dispatch: *const EXNPI_PROVIDER_DISPATCH,
}

static CLIENT_MODULE_ID: NPI_MODULEID =
    NPI_MODULEID::from_guid(GUID::from_u128(0x1B0E_58E1_0A8F_4E2A_8B6A_0D35_77B4_C9E0));

static CLIENT_DISPATCH: EXNPI_CLIENT_DISPATCH = EXNPI_CLIENT_DISPATCH {
    version: exnpi::VERSION,
    length: len::<EXNPI_CLIENT_DISPATCH>(),
    client_notify: ClientNotify,
};

const fn client_characteristics(number: u32) -> NPI_CLIENT_CHARACTERISTICS {
    NPI_CLIENT_CHARACTERISTICS {
        Version: 0,
        Length: len::<NPI_CLIENT_CHARACTERISTICS>(),
        ClientAttachProvider: Some(ClientAttachProvider),
        ClientDetachProvider: Some(ClientDetachProvider),
        ClientCleanupBindingContext: Some(ClientCleanupBindingContext),
        ClientRegistrationInstance: NPI_REGISTRATION_INSTANCE {
            Version: 0,
            Size: len::<NPI_REGISTRATION_INSTANCE>(),
            NpiId: &NPI_EXNPI_ID,
            ModuleId: &CLIENT_MODULE_ID,
            Number: number,
            NpiSpecificCharacteristics: ptr::null(),
        },
    }
}

static CLIENT_CHARACTERISTICS: [Static<NPI_CLIENT_CHARACTERISTICS>; 2] =
    [Static(client_characteristics(1)), Static(client_characteristics(2))];
static CLIENT_HANDLES: [AtomicUsize; 2] = [AtomicUsize::new(0), AtomicUsize::new(0)];
/// The client's attached bindings, so `main` can call through the provider's dispatch.
static CLIENT_BINDINGS: Mutex<Vec<usize>> = Mutex::new(Vec::new());

unsafe extern "system" fn ClientNotify(client: *mut c_void, value: u32) {
    // SAFETY: the provider passes back the client binding context it was given.
    let b = unsafe { &*client.cast::<ClientBinding>() };
    println!("  client #{}: ClientNotify({value})", b.number);
}

unsafe extern "system" fn ClientAttachProvider(
    NmrBindingHandle: HANDLE,
    ClientContext: *mut c_void,
    ProviderRegistrationInstance: *const NPI_REGISTRATION_INSTANCE,
) -> NTSTATUS {
    let number = ClientContext.addr() as u32;
    // SAFETY: the provider's registration instance, valid during the call.
    let provider = unsafe { (*ProviderRegistrationInstance).ModuleId };
    // SAFETY: its module id, valid while the provider is registered.
    let provider = unsafe { &*provider };
    println!(
        "  client #{number}: ClientAttachProvider(provider module {}) -> NmrClientAttachProvider",
        provider.guid().unwrap_or_default()
    );
    let binding = Box::into_raw(Box::new(ClientBinding {
        number,
        provider_context: ptr::null_mut(),
        provider_dispatch: ptr::null(),
    }));
    // SAFETY: `binding` is ours until cleanup: a place in it, no reference made.
    let provider_context = unsafe { &raw mut (*binding).provider_context };
    // SAFETY: as above.
    let provider_dispatch = unsafe { &raw mut (*binding).provider_dispatch };
    // SAFETY: inside this proposal's ClientAttachProvider; the out-pointers point into
    // `binding`, which the NMR keeps as our binding context until cleanup.
    let status = unsafe {
        NmrClientAttachProvider(
            NmrBindingHandle,
            binding.cast(),
            (&raw const CLIENT_DISPATCH).cast(),
            provider_context,
            provider_dispatch.cast(),
        )
    };
    if status == STATUS_SUCCESS {
        CLIENT_BINDINGS.lock().unwrap().push(binding.addr());
    } else {
        // No cleanup callback will come for a failed attach (R10): free it here.
        // SAFETY: from Box::into_raw above, not shared with anyone.
        drop(unsafe { Box::from_raw(binding) });
    }
    status
}

unsafe extern "system" fn ClientDetachProvider(ClientBindingContext: *mut c_void) -> NTSTATUS {
    // SAFETY: our binding context, alive until cleanup.
    let b = unsafe { &*ClientBindingContext.cast::<ClientBinding>() };
    println!("  client #{}: ClientDetachProvider -> STATUS_SUCCESS (no calls in flight)", b.number);
    CLIENT_BINDINGS.lock().unwrap().retain(|p| *p != ClientBindingContext.addr());
    STATUS_SUCCESS
}

unsafe extern "system" fn ClientCleanupBindingContext(ClientBindingContext: *mut c_void) {
    // SAFETY: created in attach by Box::into_raw; cleanup runs exactly once.
    let b = unsafe { Box::from_raw(ClientBindingContext.cast::<ClientBinding>()) };
    println!("  client #{}: ClientCleanupBindingContext", b.number);
}

fn ClientDriverEntry() -> NTSTATUS {
    for (i, chars) in CLIENT_CHARACTERISTICS.iter().enumerate() {
        let mut handle: HANDLE = ptr::null_mut();
        // SAFETY: 'static characteristics; the context is a small integer, never dereferenced.
        let status =
            unsafe { NmrRegisterClient(&chars.0, ptr::without_provenance_mut(i + 1), &mut handle) };
        if status != STATUS_SUCCESS {
            return status;
        }
        CLIENT_HANDLES[i].store(handle.addr(), Ordering::SeqCst);
    }
    STATUS_SUCCESS
}

fn ClientUnload() {
    for h in &CLIENT_HANDLES {
        let handle = ptr::without_provenance_mut(h.load(Ordering::SeqCst));
        // SAFETY: a handle from NmrRegisterClient, deregistered once.
        unsafe { NmrDeregisterClient(handle) };
        // SAFETY: then the wait, as Unload must, before anything it points to is freed.
        unsafe { NmrWaitForClientDeregisterComplete(handle) };
    }
}

// ---------------------------------------------------------------------------------------------

fn main() {
    println!("provider DriverEntry: NmrRegisterProvider (no client yet, so no callbacks)");
    assert_eq!(ProviderDriverEntry(), STATUS_SUCCESS);

    println!("client DriverEntry: NmrRegisterClient x2 (attaches run inside the call)");
    assert_eq!(ClientDriverEntry(), STATUS_SUCCESS);

    println!("host NMR bindings now:");
    for b in host::bindings_of(&NPI_EXNPI_ID) {
        println!("  {b}");
    }

    println!("clients call the provider through its dispatch table:");
    for (i, b) in CLIENT_BINDINGS.lock().unwrap().iter().enumerate() {
        // SAFETY: the binding is attached; it, the provider's dispatch and context stay valid
        // until the client's detach, which cannot run while we hold CLIENT_BINDINGS.
        let b = unsafe { &*(*b as *const ClientBinding) };
        let (dispatch, context) = (b.provider_dispatch, b.provider_context);
        // SAFETY: as above: the provider's table is live.
        let function = unsafe { (*dispatch).provider_function };
        // SAFETY: as above: called with the provider's own binding context.
        let doubled = unsafe { function(context, 10 + i as u32) };
        println!("  -> returned {doubled}");
    }

    println!("provider Unload: deregister; its detaches pend until a worker completes them");
    ProviderUnload();
    println!("client Unload: deregister and wait (nothing left to detach)");
    ClientUnload();

    let violations = host::violations_of(&NPI_EXNPI_ID);
    println!("contract violations recorded: {}", violations.len());
    assert!(violations.is_empty(), "{violations:?}");
}
