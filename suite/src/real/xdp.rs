//! The XDP port (`src/nmr/{client,provider}.c`) on the interface NPI declared in `npi-xdp`
//! ([`npi_xdp::Xdp`]).
//!
//! - Roles are inverted: the NIC driver is the client ([`XdpInterface`]), XDP core the
//!   provider ([`XdpProvider`]), which registers one provider per interface, with the client's
//!   `InstanceId` as its module id and the interface index as `Number` on both sides.
//! - `NPI_REGISTRATION_INSTANCE.Version = XDP_BINDING_VERSION_1 = 1` on both sides.
//! - Client dispatch `XDP_NPI_CLIENT`, client characteristics `XDP_CAPABILITIES_EX` (the head
//!   of the interface's [`XdpCapabilities`], shared by the interface module and its
//!   registration), provider dispatch `NULL`, no provider characteristics.
//! - No calling convention anywhere in XDP's tables: `abi = "C"`.

use core::ffi::c_void;
use core::ptr;
use core::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::vec::Vec;

use npi_runtime::Status;
use npi_runtime::generic::{AsClient, Table};
use npi_runtime::sys::{
    GUID, HANDLE, NPI_MODULEID, NTSTATUS, NmrIsEqualNpiModuleId, STATUS_DEVICE_NOT_READY,
    STATUS_INVALID_PARAMETER, STATUS_NOINTERFACE, STATUS_NOT_SUPPORTED, STATUS_SUCCESS,
};
use npi_runtime::{
    Attach, Client, ClientAttachRequest, ClientBinding, ClientDetachRequest, ClientRegistration,
    ClientTable, Detach, Provider, ProviderAttachRequest, ProviderBinding, ProviderBindingRef,
    ProviderDetachRequest, ProviderPendingDetach, ProviderRegistration, npi_client, npi_provider,
};
use npi_xdp::{
    GetInterfaceContext, XDP_BINDING_VERSION_1, XDP_CAPABILITIES_EX_REVISION_1,
    XDP_DRIVER_API_VERSION, XDP_INTERFACE_DISPATCH_REVISION_1, XDP_NPI_CLIENT_REVISION_1,
    XDP_SIZEOF_CAPABILITIES_EX_REVISION_1, Xdp, XdpCapabilities, XdpInterfaceDispatch,
    XdpInterfaceDispatchImpl, XdpNpiClient, XdpNpiClientImpl, XdpObjectHeader, XdpVersion,
};

use super::{Trace, lock, size32};

// ----- the NIC driver (client) -----------------------------------------------------------------

/// `XDP_CLIENT`: one registered interface of a NIC driver.
#[npi_client(npi = Xdp, dynamic_module_id)]
#[derive(Debug)]
pub struct XdpInterface {
    /// The capabilities the interface registered with: its registration's NPI-specific
    /// characteristics point at their `capabilities_ex`.
    capabilities: Arc<XdpCapabilities>,
    /// `BindingHandle` under the push lock: one binding at a time.
    binding: Mutex<Option<usize>>,
    /// Providers refused because one was bound already (`STATUS_DEVICE_NOT_READY`).
    pub refused_busy: AtomicUsize,
    /// The port's trace.
    pub trace: Arc<Trace>,
}

/// `XdpRegisterInterfaceEx`: registers interface `if_index` with its capabilities. The
/// interface module and the registration share them (`owned_characteristics_in`), so they live
/// as long as the NMR may read them, in safe code.
///
/// # Errors
/// `STATUS_INVALID_PARAMETER` unless exactly one driver API version is offered; the status of
/// `NmrRegisterClient` otherwise.
pub fn register_interface(
    if_index: u32,
    capabilities: Arc<XdpCapabilities>,
    trace: Arc<Trace>,
) -> Result<(Arc<XdpInterface>, ClientRegistration<XdpInterface>), Status> {
    if capabilities.capabilities_ex.driver_api_version_count != 1 {
        return Err(Status::INVALID_PARAMETER);
    }
    let interface = Arc::new(XdpInterface {
        capabilities,
        binding: Mutex::default(),
        refused_busy: AtomicUsize::new(0),
        trace,
    });
    let registration = ClientRegistration::builder(Arc::clone(&interface))
        .module_guid(interface.capabilities.capabilities_ex.instance_id)
        .number(if_index)
        // The NMR points at `capabilities_ex`, whose `DriverApiVersionsOffset` leads to the
        // version array after it: the registration keeps the whole `XdpCapabilities` alive.
        .owned_characteristics_in(Arc::clone(&interface.capabilities), |c| &c.capabilities_ex)
        .register()?;
    Ok((interface, registration))
}

impl XdpInterface {
    /// The binding handle, while bound.
    #[must_use]
    pub fn binding_handle(&self) -> Option<usize> {
        *lock(&self.binding)
    }
}

impl Client for XdpInterface {
    type Binding = ();

    fn attach(&self, request: ClientAttachRequest<'_, Self>) -> Attach {
        let mut binding = lock(&self.binding);
        if binding.is_some() {
            self.refused_busy.fetch_add(1, Ordering::SeqCst);
            self.trace.note("interface: already bound -> STATUS_DEVICE_NOT_READY");
            return request.fail(STATUS_DEVICE_NOT_READY);
        }
        let handle = request.handle();
        match request.accept((), &NPI_CLIENT) {
            Ok(accepted) => {
                *binding = Some(handle.addr());
                self.trace.note(format!("interface: bound to XDP, binding {handle:?}"));
                accepted.into()
            }
            Err(refused) => {
                self.trace
                    .note(format!("interface: XDP refused the binding: {:#x}", refused.status));
                refused.into()
            }
        }
    }

    fn detach(
        &self,
        binding: &ClientBinding<'_, Self>,
        request: ClientDetachRequest<'_, Self>,
    ) -> Detach {
        let _ = binding;
        lock(&self.binding).take();
        self.trace.note("interface: detach -> done");
        request.done()
    }
}

/// What `GetInterfaceContext` points at: the driver's interface object.
#[derive(Debug)]
pub struct InterfaceObject {
    /// `OpenInterface` ran and `CloseInterface` has not.
    pub opened: AtomicBool,
}

/// The NIC driver's interface object.
pub static INTERFACE_OBJECT: InterfaceObject = InterfaceObject { opened: AtomicBool::new(false) };

impl XdpNpiClientImpl for XdpInterface {
    /// The single-version helper: `STATUS_NOT_SUPPORTED` unless the major version matches.
    unsafe fn get_interface_dispatch(
        version: *const XdpVersion,
        get_interface_context: *mut c_void,
        interface_context: *mut *mut c_void,
        interface_dispatch: *mut *const c_void,
    ) -> NTSTATUS {
        // SAFETY: XDP passes a valid version and out-pointers.
        if unsafe { (*version).major } != XDP_DRIVER_API_VERSION.major {
            return STATUS_NOT_SUPPORTED;
        }
        // SAFETY: as above.
        unsafe { interface_context.write(get_interface_context) };
        // SAFETY: as above.
        unsafe { interface_dispatch.write(ptr::from_ref(INTERFACE_DISPATCH.raw()).cast()) };
        STATUS_SUCCESS
    }
}

impl XdpInterfaceDispatchImpl for XdpInterface {
    unsafe fn open_interface(interface_context: *mut c_void) -> NTSTATUS {
        if interface_context.cast_const() != ptr::from_ref(&INTERFACE_OBJECT).cast() {
            return STATUS_INVALID_PARAMETER;
        }
        INTERFACE_OBJECT.opened.store(true, Ordering::SeqCst);
        STATUS_SUCCESS
    }
    unsafe fn close_interface(interface_context: *mut c_void) {
        let _ = interface_context;
        INTERFACE_OBJECT.opened.store(false, Ordering::SeqCst);
    }
    unsafe fn create_rx_queue(interface_context: *mut c_void) -> NTSTATUS {
        let _ = interface_context;
        STATUS_NOT_SUPPORTED
    }
    unsafe fn activate_rx_queue(interface_context: *mut c_void) {
        let _ = interface_context;
    }
    unsafe fn delete_rx_queue(interface_context: *mut c_void) {
        let _ = interface_context;
    }
    unsafe fn create_tx_queue(interface_context: *mut c_void) -> NTSTATUS {
        let _ = interface_context;
        STATUS_NOT_SUPPORTED
    }
    unsafe fn activate_tx_queue(interface_context: *mut c_void) {
        let _ = interface_context;
    }
    unsafe fn delete_tx_queue(interface_context: *mut c_void) {
        let _ = interface_context;
    }
}

/// `Client->NpiClient`.
#[allow(clippy::cast_possible_truncation)] // a few bytes
pub static NPI_CLIENT: ClientTable<XdpInterface> = XdpNpiClient::new::<XdpInterface>(
    XdpObjectHeader {
        revision: XDP_NPI_CLIENT_REVISION_1,
        size: XdpNpiClient::END_OF_GET_INTERFACE_DISPATCH as u32,
    },
    GetInterfaceContext(ptr::from_ref(&INTERFACE_OBJECT).cast_mut().cast()),
);

/// Handed out by `GetInterfaceDispatch`, outside the NMR.
static INTERFACE_DISPATCH: Table<AsClient<XdpInterface>, XdpInterfaceDispatch> =
    XdpInterfaceDispatch::new::<XdpInterface>(XdpObjectHeader {
        revision: XDP_INTERFACE_DISPATCH_REVISION_1,
        size: size32::<XdpInterfaceDispatch>(),
    });

// ----- XDP core (provider, one per interface) --------------------------------------------------

/// `XDP_PROVIDER`: XDP core's binding to one interface.
#[npi_provider(npi = Xdp, dynamic_module_id)]
#[derive(Debug)]
pub struct XdpProvider {
    if_index: u32,
    module_id: NPI_MODULEID,
    state: Mutex<ProviderState>,
    refusals: Mutex<Vec<NTSTATUS>>,
    /// Times the owner's `DetachHandler` ran (at most once).
    pub detach_notified: AtomicUsize,
    /// The port's trace.
    pub trace: Arc<Trace>,
}

#[derive(Debug, Default)]
struct ProviderState {
    /// A binding happened once: one binding per provider lifetime.
    bound: bool,
    closed: bool,
    client: Option<ProviderBindingRef<XdpProvider>>,
    pending: Option<ProviderPendingDetach<XdpProvider>>,
}

impl XdpProvider {
    /// The statuses this provider's attach refused clients with, in order.
    #[must_use]
    pub fn refusals(&self) -> Vec<NTSTATUS> {
        lock(&self.refusals).clone()
    }

    fn refuse(
        &self,
        request: ProviderAttachRequest<'_, Self>,
        status: NTSTATUS,
        why: &str,
    ) -> Attach {
        self.trace.note(format!("xdp provider #{}: {why} -> {status:#x}", self.if_index));
        lock(&self.refusals).push(status);
        request.fail(status)
    }
}

/// An open XDP provider (`XdpOpenProvider`'s result). [`OpenProvider::cleanup`] is
/// `XdpCleanupProvider`; dropping it does the same.
#[derive(Debug)]
pub struct OpenProvider {
    provider: Arc<XdpProvider>,
    registration: Option<ProviderRegistration<XdpProvider>>,
}

/// `XdpOpenProvider`: registers the provider for (`instance_id`, `if_index`) and checks at once
/// that a client attached during the registration (attach is synchronous).
///
/// # Errors
/// `STATUS_NOINTERFACE` if no client bound (the registration is torn down again; the provider
/// is returned for inspection); the status of `NmrRegisterProvider` otherwise.
pub fn open_provider(
    if_index: u32,
    instance_id: GUID,
    trace: Arc<Trace>,
) -> Result<OpenProvider, (Status, Arc<XdpProvider>)> {
    let provider = Arc::new(XdpProvider {
        if_index,
        module_id: NPI_MODULEID::from_guid(instance_id),
        state: Mutex::default(),
        refusals: Mutex::default(),
        detach_notified: AtomicUsize::new(0),
        trace,
    });
    let registration = ProviderRegistration::builder(Arc::clone(&provider))
        .module_guid(instance_id)
        .number(if_index)
        .register()
        .map_err(|status| (status, Arc::clone(&provider)))?;
    let open = OpenProvider { provider: Arc::clone(&provider), registration: Some(registration) };
    let bound = lock(&provider.state).client.is_some();
    if !bound {
        provider.trace.note(format!("xdp: no interface #{if_index} bound -> STATUS_NOINTERFACE"));
        drop(open); // Closed, then torn down.
        return Err((Status::NOINTERFACE, provider));
    }
    Ok(open)
}

impl OpenProvider {
    /// The provider module.
    #[must_use]
    pub fn provider(&self) -> &Arc<XdpProvider> {
        &self.provider
    }

    /// The binding to the interface, for calls through its `XDP_NPI_CLIENT`.
    #[must_use]
    pub fn client(&self) -> Option<ProviderBindingRef<XdpProvider>> {
        lock(&self.provider.state).client.clone()
    }

    /// The binding handle of the detach pending on [`OpenProvider::cleanup`], if any.
    #[must_use]
    pub fn pending_detach(&self) -> Option<HANDLE> {
        lock(&self.provider.state).pending.as_ref().map(ProviderPendingDetach::handle)
    }

    /// Second-stage negotiation outside NMR: `GetInterfaceDispatch` through the client's table,
    /// then `OpenInterface`.
    ///
    /// # Errors
    /// `STATUS_DEVICE_NOT_READY` if not bound, else the interface's status.
    pub fn open_interface(&self, version: &XdpVersion) -> Result<(), Status> {
        let binding = self.client().ok_or(STATUS_DEVICE_NOT_READY)?;
        let npi_client = binding.peer().ok_or(STATUS_DEVICE_NOT_READY)?;
        let (mut interface_context, mut interface_dispatch) = (ptr::null_mut(), ptr::null());
        // SAFETY: a valid version and out-pointers, as XDP_GET_INTERFACE_DISPATCH expects.
        let status = unsafe {
            npi_client.get_interface_dispatch(
                version,
                npi_client.as_table().get_interface_context.0,
                &mut interface_context,
                &mut interface_dispatch,
            )
        };
        if status != STATUS_SUCCESS {
            return Err(status.into());
        }
        // SAFETY: the client returned its XDP_INTERFACE_DISPATCH, static in the driver.
        let dispatch = unsafe { &*interface_dispatch.cast::<XdpInterfaceDispatch>() };
        if dispatch.header.revision < XDP_INTERFACE_DISPATCH_REVISION_1 {
            return Err(Status::NOT_SUPPORTED);
        }
        // SAFETY: the interface context the same call returned.
        match unsafe { (dispatch.open_interface)(interface_context) } {
            STATUS_SUCCESS => Ok(()),
            status => Err(status.into()),
        }
    }

    /// `XdpCleanupProvider`: marks the provider closed, completes its pending detach if bound,
    /// deregisters and waits.
    pub fn cleanup(self) {
        drop(self);
    }
}

impl Drop for OpenProvider {
    fn drop(&mut self) {
        let pending = {
            let mut state = lock(&self.provider.state);
            state.closed = true;
            state.client = None;
            state.pending.take()
        };
        if let Some(pending) = pending {
            self.provider.trace.note(format!(
                "xdp provider #{}: cleanup -> NmrProviderDetachClientComplete",
                self.provider.if_index
            ));
            pending.complete();
        }
        if let Some(registration) = self.registration.take() {
            let status = registration.deregister();
            self.provider.trace.note(format!(
                "xdp provider #{}: deregistered ({status:?})",
                self.provider.if_index
            ));
        }
    }
}

impl Provider for XdpProvider {
    /// `*ProviderBindingContext = Provider`: the module itself holds the state.
    type Binding = ();

    fn attach(&self, request: ProviderAttachRequest<'_, Self>) -> Attach {
        let client = request.client();
        if client.version() != XDP_BINDING_VERSION_1 {
            return self.refuse(request, STATUS_NOT_SUPPORTED, "client binding version is not 1");
        }
        if client.number() != self.if_index {
            return self.refuse(request, STATUS_INVALID_PARAMETER, "another interface index");
        }
        if !NmrIsEqualNpiModuleId(client.module_id(), &self.module_id) {
            return self.refuse(request, STATUS_NOINTERFACE, "another interface instance id");
        }
        let npi_client_ok = request.client_dispatch().is_some_and(|t| {
            t.header.revision >= XDP_NPI_CLIENT_REVISION_1
                && t.header.size as usize >= XdpNpiClient::END_OF_GET_INTERFACE_DISPATCH
        });
        if !npi_client_ok {
            return self.refuse(request, STATUS_NOT_SUPPORTED, "XDP_NPI_CLIENT too old");
        }
        let caps_ok = request.client().characteristics().is_some_and(|c| {
            c.header.revision >= XDP_CAPABILITIES_EX_REVISION_1
                && c.header.size as usize >= XDP_SIZEOF_CAPABILITIES_EX_REVISION_1
        });
        if !caps_ok {
            return self.refuse(request, STATUS_NOT_SUPPORTED, "capabilities too old");
        }
        let mut state = lock(&self.state);
        if state.bound || state.closed {
            drop(state);
            return self.refuse(request, STATUS_DEVICE_NOT_READY, "bound once already or closed");
        }
        // `*ProviderDispatch = NULL`.
        match request.accept((), &()) {
            Ok(accepted) => {
                state.bound = true;
                state.client = Some(accepted.binding().to_ref());
                self.trace.note(format!("xdp provider #{}: interface bound", self.if_index));
                accepted.into()
            }
            Err(refused) => {
                drop(state);
                self.refuse(refused.request, refused.status.raw(), "no binding record")
            }
        }
    }

    /// Always `STATUS_PENDING`: runs the owner's detach handler once; the completion comes from
    /// `XdpCleanupProvider` ([`OpenProvider::cleanup`]).
    fn detach(
        &self,
        binding: &ProviderBinding<'_, Self>,
        request: ProviderDetachRequest<'_, Self>,
    ) -> Detach {
        let _ = binding;
        let mut state = lock(&self.state);
        state.client = None;
        let (answer, pending) = request.pend();
        if state.closed {
            // XdpCleanupProvider is already under way: it completes at once.
            drop(state);
            self.trace.note(format!(
                "xdp provider #{}: detach during cleanup -> complete",
                self.if_index
            ));
            pending.complete();
            return answer;
        }
        state.pending = Some(pending);
        drop(state);
        self.detach_notified.fetch_add(1, Ordering::SeqCst);
        self.trace.note(format!(
            "xdp provider #{}: detach -> STATUS_PENDING, DetachHandler notified",
            self.if_index
        ));
        answer
    }
}
