//! The msquic port (`src/bin/winkernel/nmrprovider.c`, the client helper of `src/inc/msquic.h`)
//! on the NPI declared in `npi-msquic` ([`npi_msquic::MsQuic`]).
//!
//! [`MsQuicProvider`] accepts every client and detaches synchronously;
//! [`msquic_nmr_client_register`] is the header's `MsQuicNmrClientRegister` helper: first
//! provider only, a wait for the first attach with a timeout, and a client detach that pends
//! until the owner deregisters ([`MsQuicClientHandle`]).

use core::ffi::c_void;
use core::ptr;
use core::time::Duration;
use std::sync::atomic::{AtomicI32, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::time::Instant;

use npi_msquic::{MsQuic, MsQuicNmrDispatch, MsQuicNmrDispatchImpl, QUIC_API_VERSION_2};
use npi_runtime::Status;
use npi_runtime::sys::{
    GUID, HANDLE, NTSTATUS, STATUS_NOINTERFACE, STATUS_NOT_SUPPORTED, STATUS_SUCCESS,
};
use npi_runtime::{
    Attach, Client, ClientAttachRequest, ClientBinding, ClientBindingRef, ClientDetachRequest,
    ClientPendingDetach, ClientRegistration, Detach, Provider, ProviderAttachRequest,
    ProviderTable, npi_client, npi_provider,
};

use super::{Trace, lock};

// ----- the provider (msquic.sys) ---------------------------------------------------------------

/// msquic.sys's NMR provider: accepts every client, detaches synchronously.
#[npi_provider(npi = MsQuic, module_id = "698F7C72-C2E6-49CD-8C39-98851D501901")]
pub struct MsQuicProvider {
    /// The port's trace.
    pub trace: Arc<Trace>,
    /// Clients attached.
    pub attached: AtomicUsize,
}

impl MsQuicProvider {
    /// A provider with no client yet.
    #[must_use]
    pub fn new(trace: Arc<Trace>) -> Self {
        Self { trace, attached: AtomicUsize::new(0) }
    }
}

/// API handles `OpenVersion` handed out and `Close` has not taken back (the library's own
/// reference count, which is what protects it; the NMR detach does no in-flight tracking).
pub static OPEN_API_HANDLES: AtomicUsize = AtomicUsize::new(0);

/// The API table `OpenVersion` hands out (opaque here).
static QUIC_API_TABLE: [usize; 4] = [0; 4];

impl Provider for MsQuicProvider {
    /// `*ProviderBindingContext = NmrBindingHandle`: the handle itself (as an address).
    type Binding = usize;

    fn attach(&self, request: ProviderAttachRequest<'_, Self>) -> Attach {
        let client = request.client();
        self.trace.note(format!(
            "msquic: attach from client module {} (Version {}, Number {}) -> accept",
            client.module_id().guid().unwrap_or_default(),
            client.version(),
            client.number()
        ));
        let handle = request.handle().addr();
        let accepted = request.accept(handle, &MSQUIC_NMR_DISPATCH);
        if accepted.is_ok() {
            self.attached.fetch_add(1, Ordering::SeqCst);
        }
        accepted.into()
    }
    // detach: the default, STATUS_SUCCESS synchronously.
}

impl MsQuicNmrDispatchImpl for MsQuicProvider {
    unsafe fn open_version(version: u32, quic_api: *mut *const c_void) -> NTSTATUS {
        if version != QUIC_API_VERSION_2 || quic_api.is_null() {
            return STATUS_NOT_SUPPORTED;
        }
        OPEN_API_HANDLES.fetch_add(1, Ordering::SeqCst);
        // SAFETY: checked non-NULL; the caller passes a valid out-pointer.
        unsafe { quic_api.write(ptr::from_ref(&QUIC_API_TABLE).cast()) };
        STATUS_SUCCESS
    }

    unsafe fn close(quic_api: *const c_void) {
        if quic_api == ptr::from_ref(&QUIC_API_TABLE).cast() {
            OPEN_API_HANDLES.fetch_sub(1, Ordering::SeqCst);
        }
    }
}

static MSQUIC_NMR_DISPATCH: ProviderTable<MsQuicProvider> =
    MsQuicNmrDispatch::new::<MsQuicProvider>(0, 0);

// ----- the client helper (MsQuicNmrClientRegister) ---------------------------------------------

/// `__MSQUIC_NMR_CLIENT`: the helper's state block. The module id is the caller's.
#[npi_client(npi = MsQuic, dynamic_module_id)]
pub struct MsQuicNmrClient {
    /// The port's trace.
    pub trace: Arc<Trace>,
    /// `BindingCount`.
    binding_count: AtomicI32,
    /// `RegistrationCompleteEvent`, `Deleting` and the pending detach, under one lock: the
    /// owner's deregistration and the detach callback cannot miss each other.
    state: Mutex<ClientState>,
    registration_complete: Condvar,
    /// `ProviderDispatch`, as the binding that reaches it.
    provider: Mutex<Option<ClientBindingRef<MsQuicNmrClient>>>,
    /// Providers declined because one was bound already.
    pub declined: AtomicUsize,
}

#[derive(Default)]
struct ClientState {
    registration_complete: bool,
    deleting: bool,
    pending: Option<ClientPendingDetach<MsQuicNmrClient>>,
}

impl Client for MsQuicNmrClient {
    type Binding = ();

    /// Binds the first provider only; later ones get `STATUS_NOINTERFACE`.
    fn attach(&self, request: ClientAttachRequest<'_, Self>) -> Attach {
        if self.binding_count.fetch_add(1, Ordering::AcqRel) + 1 != 1 {
            self.binding_count.fetch_sub(1, Ordering::AcqRel);
            self.declined.fetch_add(1, Ordering::SeqCst);
            self.trace.note("client: another provider -> STATUS_NOINTERFACE (first one only)");
            return request.fail(STATUS_NOINTERFACE);
        }
        // No client dispatch table: `()` travels as NULL.
        match request.accept((), &()) {
            Ok(accepted) => {
                *lock(&self.provider) = Some(accepted.binding().to_ref());
                lock(&self.state).registration_complete = true;
                self.registration_complete.notify_all();
                self.trace.note("client: attached to the first provider, signalling the waiter");
                accepted.into()
            }
            Err(refused) => {
                self.binding_count.fetch_sub(1, Ordering::AcqRel);
                refused.into()
            }
        }
    }

    /// `InterlockedOr8(&Deleting, 1)`: done if the owner is deregistering already, else pending
    /// until it does.
    fn detach(
        &self,
        binding: &ClientBinding<'_, Self>,
        request: ClientDetachRequest<'_, Self>,
    ) -> Detach {
        let _ = binding;
        lock(&self.provider).take();
        let mut state = lock(&self.state);
        if state.deleting {
            self.trace.note("client: detach during deregistration -> done");
            return request.done();
        }
        state.deleting = true;
        let (answer, pending) = request.pend();
        self.trace.note(format!(
            "client: provider is leaving -> STATUS_PENDING until the owner deregisters (binding {:?})",
            pending.handle()
        ));
        state.pending = Some(pending);
        answer
    }
}

/// What `MsQuicNmrClientRegister` hands its caller. Dropping it is `MsQuicNmrClientDeregister`.
pub struct MsQuicClientHandle {
    client: Arc<MsQuicNmrClient>,
    registration: Option<ClientRegistration<MsQuicNmrClient>>,
}

/// `MsQuicNmrClientRegister(&handle, ClientModuleId, TimeoutMs)`: registers and waits up to
/// `timeout` for the first provider to attach (`Duration::ZERO`: only checks).
///
/// # Errors
/// `STATUS_UNSUCCESSFUL` if no provider attached in time (the registration is torn down), or
/// the status of `NmrRegisterClient`.
pub fn msquic_nmr_client_register(
    module_id: GUID,
    timeout: Duration,
    trace: Arc<Trace>,
) -> Result<MsQuicClientHandle, Status> {
    let client = Arc::new(MsQuicNmrClient {
        trace,
        binding_count: AtomicI32::new(0),
        state: Mutex::default(),
        registration_complete: Condvar::new(),
        provider: Mutex::default(),
        declined: AtomicUsize::new(0),
    });
    let registration =
        ClientRegistration::builder(Arc::clone(&client)).module_guid(module_id).register()?;
    let handle = MsQuicClientHandle { client, registration: Some(registration) };
    let deadline = Instant::now() + timeout;
    let c = &handle.client;
    let mut state = lock(&c.state);
    while !state.registration_complete {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            drop(state);
            c.trace.note("client: no provider attached in time -> STATUS_UNSUCCESSFUL");
            drop(handle); // the full deregistration
            return Err(Status::UNSUCCESSFUL);
        }
        state = c
            .registration_complete
            .wait_timeout(state, left)
            .unwrap_or_else(PoisonError::into_inner)
            .0;
    }
    drop(state);
    Ok(handle)
}

impl MsQuicClientHandle {
    /// The helper's state block.
    #[must_use]
    pub fn client(&self) -> &MsQuicNmrClient {
        &self.client
    }

    /// `QUIC_GET_DISPATCH(h)`: the binding through which the provider's table is called.
    #[must_use]
    pub fn dispatch(&self) -> Option<ClientBindingRef<MsQuicNmrClient>> {
        lock(&self.client.provider).clone()
    }

    /// `MsQuicOpenVersion(QUIC_API_VERSION_2)` then `MsQuicClose` through the table.
    ///
    /// # Errors
    /// `STATUS_NOINTERFACE` if not bound, else `OpenVersion`'s status.
    pub fn open_and_close_api(&self) -> Result<(), Status> {
        let binding = self.dispatch().ok_or(STATUS_NOINTERFACE)?;
        let msquic = binding.peer().ok_or(STATUS_NOINTERFACE)?;
        let mut api: *const c_void = ptr::null();
        // SAFETY: a valid out-pointer, as MsQuicOpenVersion expects.
        let status = unsafe { msquic.open_version(QUIC_API_VERSION_2, &mut api) };
        if status != STATUS_SUCCESS {
            return Err(status.into());
        }
        // SAFETY: the handle OpenVersion returned, closed once.
        unsafe { msquic.close(api) };
        Ok(())
    }

    /// The binding handle of the detach pending on the owner, if one is.
    #[must_use]
    pub fn pending_detach(&self) -> Option<HANDLE> {
        lock(&self.client.state).pending.as_ref().map(ClientPendingDetach::handle)
    }

    /// `MsQuicNmrClientDeregister`: completes a pending detach, deregisters and waits.
    pub fn deregister(self) {
        drop(self);
    }
}

impl Drop for MsQuicClientHandle {
    fn drop(&mut self) {
        let pending = {
            let mut state = lock(&self.client.state);
            state.deleting = true;
            state.pending.take()
        };
        if let Some(pending) = pending {
            // The C helper passes the registration handle here; the PendingDetach carries the
            // binding handle, the one NmrClientDetachProviderComplete asks for.
            self.client.trace.note(format!(
                "client owner: deregistering -> completing the pending detach of binding {:?}",
                pending.handle()
            ));
            pending.complete();
        }
        if let Some(registration) = self.registration.take() {
            let status = registration.deregister();
            self.client.trace.note(format!("client owner: deregistered ({status:?})"));
        }
    }
}
