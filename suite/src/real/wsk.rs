//! The WSK port: a WSK application and a mock WSK subsystem over the NMR, on the NPI declared
//! in `npi-wsk` ([`npi_wsk::Wsk`]).
//!
//! [`WskClient`] reads the provider's version range, attaches with the highest
//! version both support and retries with the next lower one after `STATUS_NOINTERFACE`
//! (nmr-contract §6.3). Its detach is pending while a call into the provider is in flight (a
//! held [`npi_runtime::generic::PeerCall`]). [`WskProvider`] refuses majors it does not implement and
//! pends its detach while mock sockets are open (§6.4, §6.6).

use core::ffi::c_void;
use core::ptr;
use std::sync::Arc;
use std::vec::Vec;

use npi_runtime::Status;
use npi_runtime::sys::{
    GUID, NTSTATUS, STATUS_DEVICE_NOT_READY, STATUS_INVALID_PARAMETER, STATUS_NOINTERFACE,
    STATUS_NOT_SUPPORTED, STATUS_SUCCESS,
};
use npi_runtime::{
    Attach, Client, ClientAttachRequest, ClientBinding, ClientBindingRef, ClientDetachRequest,
    ClientTable, Detach, Provider, ProviderAttachRequest, ProviderBinding, ProviderBindingRef,
    ProviderDetachRequest, ProviderPendingDetach, ProviderTable, npi_client, npi_provider,
};
use npi_wsk::{
    WSK_FLAG_DATAGRAM_SOCKET, WSK_TRANSPORT_LIST_QUERY, Wsk, WskClientDispatch,
    WskClientDispatchImpl, WskProviderCharacteristics, WskProviderDispatch,
    WskProviderDispatchImpl, make_wsk_version, wsk_major_version, wsk_minor_version,
};

use super::Trace;
use super::sync::{AtomicUsize, Condvar, Mutex, Ordering, lock};

/// A control code of the mock provider only: the call blocks at the provider's [`Gate`], so a
/// test can keep a call in flight.
pub const MOCK_WSK_BLOCKING_QUERY: u32 = 0x8000_0001;
/// `AF_INET6`.
pub const AF_INET6: u16 = 23;
/// `SOCK_DGRAM`.
pub const SOCK_DGRAM: u16 = 2;
/// `IPPROTO_UDP`.
pub const IPPROTO_UDP: u32 = 17;

// ----- the mock WSK subsystem (provider) -------------------------------------------------------

/// A gate the mock provider's [`MOCK_WSK_BLOCKING_QUERY`] waits at, so a call stays in flight
/// until the test opens it.
#[derive(Debug, Default)]
pub struct Gate {
    closed: Mutex<bool>,
    changed: Condvar,
    waiting: AtomicUsize,
}

impl Gate {
    /// Calls arriving from now on wait.
    pub fn close(&self) {
        *lock(&self.closed) = true;
    }

    /// Lets every waiting call through.
    pub fn open(&self) {
        *lock(&self.closed) = false;
        self.changed.notify_all();
    }

    /// Calls waiting at the gate now.
    #[must_use]
    pub fn waiting(&self) -> usize {
        self.waiting.load(Ordering::SeqCst)
    }

    fn pass(&self) {
        self.waiting.fetch_add(1, Ordering::SeqCst);
        let mut closed = lock(&self.closed);
        while *closed {
            closed = self.changed.wait(closed).unwrap_or_else(std::sync::PoisonError::into_inner);
        }
        self.waiting.fetch_sub(1, Ordering::SeqCst);
    }
}

/// The mock provider's characteristics by default: WSK 1.0 only, as the §6.6 acceptance test.
pub static WSK_PROVIDER_CHARACTERISTICS: WskProviderCharacteristics = WskProviderCharacteristics {
    highest_version: make_wsk_version(1, 0),
    lowest_version: make_wsk_version(1, 0),
};

/// The mock WSK subsystem. Its module id is not documented; any GUID will do.
#[npi_provider(
    npi = Wsk,
    module_id = "5E0A9B51-7C1D-4E43-9A8B-2F3C4D5E6F70",
    characteristics = WSK_PROVIDER_CHARACTERISTICS
)]
pub struct WskProvider {
    /// The highest major version the mock implements (1 or 2); a client table of a higher
    /// major is refused with `STATUS_NOINTERFACE`, whatever the characteristics advertise.
    pub max_major: u8,
    /// Where blocking calls wait.
    pub gate: Arc<Gate>,
    /// The port's trace.
    pub trace: Arc<Trace>,
    /// Attaches accepted.
    pub attached: AtomicUsize,
    /// Cleanups run.
    pub cleaned: AtomicUsize,
}

impl WskProvider {
    /// A provider implementing majors up to `max_major`.
    #[must_use]
    pub fn new(max_major: u8, trace: Arc<Trace>) -> Self {
        Self {
            max_major,
            gate: Arc::default(),
            trace,
            attached: AtomicUsize::new(0),
            cleaned: AtomicUsize::new(0),
        }
    }
}

/// The `PWSK_CLIENT` the provider hands out: its state for one client.
#[derive(Debug)]
pub struct WskClientObject {
    /// The version granted.
    pub version: u16,
    sockets: Mutex<Sockets>,
    gate: Arc<Gate>,
    trace: Arc<Trace>,
}

#[derive(Debug, Default)]
struct Sockets {
    open: usize,
    next_id: usize,
    detaching: bool,
    pending: Option<ProviderPendingDetach<WskProvider>>,
}

impl WskClientObject {
    /// Mock sockets open on this binding.
    #[must_use]
    pub fn open_sockets(&self) -> usize {
        lock(&self.sockets).open
    }

    fn socket_closed(&self, id: usize) {
        let pending = {
            let mut s = lock(&self.sockets);
            s.open -= 1;
            if s.open == 0 { s.pending.take() } else { None }
        };
        self.trace.note(format!("provider: socket {id} closed"));
        if let Some(pending) = pending {
            self.trace.note("provider: last socket closed -> completing the pending detach");
            pending.complete();
        }
    }
}

/// A mock WSK socket (`PWSK_SOCKET`), owned by the client. Dropping it is `WskCloseSocket`.
#[derive(Debug)]
pub struct MockSocket {
    owner: ProviderBindingRef<WskProvider>,
    id: usize,
}

impl MockSocket {
    /// The socket's number on its binding.
    #[must_use]
    pub fn id(&self) -> usize {
        self.id
    }
}

impl Drop for MockSocket {
    fn drop(&mut self) {
        self.owner.socket_closed(self.id);
    }
}

/// The mock's IRP: where an asynchronous WSK call leaves its result. `WskSocket` completes
/// synchronously in the mock and leaves the socket here (`Irp->IoStatus.Information`).
#[repr(C)]
#[derive(Debug)]
pub struct MockIrp {
    /// `IoStatus.Status`.
    pub status: NTSTATUS,
    /// `IoStatus.Information`: the new socket.
    pub socket: Option<Box<MockSocket>>,
}

impl Provider for WskProvider {
    type Binding = WskClientObject;

    fn attach(&self, request: ProviderAttachRequest<'_, Self>) -> Attach {
        let Some(table) = request.client_dispatch() else { return request.decline() };
        let wanted = table.version;
        let granted = match wsk_major_version(wanted) {
            1 if self.max_major >= 1 => &WSK_PROVIDER_DISPATCH_1_0,
            2 if self.max_major >= 2 => &WSK_PROVIDER_DISPATCH_2_0,
            _ => {
                self.trace.note(format!(
                    "provider: client asks for {} -> STATUS_NOINTERFACE",
                    show_version(wanted)
                ));
                return request.fail(STATUS_NOINTERFACE);
            }
        };
        self.trace.note(format!(
            "provider: client asks for {} -> grant {}",
            show_version(wanted),
            show_version(granted.version)
        ));
        let object = WskClientObject {
            version: granted.version,
            sockets: Mutex::default(),
            gate: Arc::clone(&self.gate),
            trace: Arc::clone(&self.trace),
        };
        let accepted = request.accept(object, granted);
        if accepted.is_ok() {
            self.attached.fetch_add(1, Ordering::SeqCst);
        }
        accepted.into()
    }

    fn detach(
        &self,
        binding: &ProviderBinding<'_, Self>,
        request: ProviderDetachRequest<'_, Self>,
    ) -> Detach {
        let mut s = lock(&binding.sockets);
        s.detaching = true;
        if s.open == 0 {
            drop(s);
            self.trace.note("provider: detach, no socket open -> done");
            return request.done();
        }
        let (answer, pending) = request.pend();
        self.trace.note(format!(
            "provider: detach with {} socket(s) open -> STATUS_PENDING until the last closes",
            s.open
        ));
        s.pending = Some(pending);
        answer
    }

    fn cleanup(&self, binding: &WskClientObject) {
        self.cleaned.fetch_add(1, Ordering::SeqCst);
        self.trace
            .note(format!("provider: cleanup of the {} client", show_version(binding.version)));
    }
}

impl WskProviderDispatchImpl for WskProvider {
    unsafe fn wsk_socket(
        client: &ProviderBinding<'_, WskProvider>,
        address_family: u16,
        socket_type: u16,
        protocol: u32,
        flags: u32,
        socket_context: *mut c_void,
        dispatch: *const c_void,
        owning_process: *mut c_void,
        owning_thread: *mut c_void,
        security_descriptor: *mut c_void,
        irp: *mut c_void,
    ) -> NTSTATUS {
        let _ = (address_family, socket_type, protocol, flags, socket_context, dispatch);
        let _ = (owning_process, owning_thread, security_descriptor);
        let irp = irp.cast::<MockIrp>();
        if irp.is_null() {
            return STATUS_INVALID_PARAMETER;
        }
        let id = {
            let mut s = lock(&client.sockets);
            if s.detaching {
                None
            } else {
                s.open += 1;
                s.next_id += 1;
                Some(s.next_id)
            }
        };
        let status = match id {
            Some(id) => {
                client.trace.note(format!("provider: WskSocket -> socket {id}"));
                // SAFETY: a non-NULL IRP of this mock is a `MockIrp` the caller owns.
                unsafe {
                    (*irp).socket = Some(Box::new(MockSocket { owner: client.to_ref(), id }));
                }
                STATUS_SUCCESS
            }
            None => STATUS_DEVICE_NOT_READY,
        };
        // SAFETY: as above.
        unsafe { (*irp).status = status };
        status
    }

    unsafe fn wsk_socket_connect(
        client: &ProviderBinding<'_, WskProvider>,
        socket_type: u16,
        protocol: u32,
        local_address: *mut c_void,
        remote_address: *mut c_void,
        flags: u32,
        socket_context: *mut c_void,
        dispatch: *const c_void,
        owning_process: *mut c_void,
        owning_thread: *mut c_void,
        security_descriptor: *mut c_void,
        irp: *mut c_void,
    ) -> NTSTATUS {
        let _ = (client, socket_type, protocol, local_address, remote_address, flags);
        let _ = (socket_context, dispatch, owning_process, owning_thread, security_descriptor, irp);
        STATUS_NOT_SUPPORTED
    }

    unsafe fn wsk_control_client(
        client: &ProviderBinding<'_, WskProvider>,
        control_code: u32,
        input_size: usize,
        input_buffer: *mut c_void,
        output_size: usize,
        output_buffer: *mut c_void,
        output_size_returned: *mut usize,
        irp: *mut c_void,
    ) -> NTSTATUS {
        let _ = (input_size, input_buffer, output_size, output_buffer, irp);
        match control_code {
            MOCK_WSK_BLOCKING_QUERY => {
                client.trace.note("provider: WskControlClient(blocking query) waits at the gate");
                client.gate.pass();
                client.trace.note("provider: WskControlClient(blocking query) returns");
                STATUS_SUCCESS
            }
            WSK_TRANSPORT_LIST_QUERY if !output_size_returned.is_null() => {
                // SAFETY: checked non-NULL; the caller passes a valid SIZE_T.
                unsafe { output_size_returned.write(0) };
                STATUS_SUCCESS
            }
            _ => STATUS_NOT_SUPPORTED,
        }
    }

    unsafe fn wsk_get_address_info(
        client: &ProviderBinding<'_, WskProvider>,
        node_name: *mut c_void,
        service_name: *mut c_void,
        name_space: u32,
        provider: *mut GUID,
        hints: *mut c_void,
        result: *mut *mut c_void,
        owning_process: *mut c_void,
        owning_thread: *mut c_void,
        irp: *mut c_void,
    ) -> NTSTATUS {
        let _ = (client, node_name, service_name, name_space, provider, hints, result);
        let _ = (owning_process, owning_thread, irp);
        STATUS_NOT_SUPPORTED
    }

    unsafe fn wsk_free_address_info(
        client: &ProviderBinding<'_, WskProvider>,
        addr_info: *mut c_void,
    ) {
        let _ = (client, addr_info);
    }

    unsafe fn wsk_get_name_info(
        client: &ProviderBinding<'_, WskProvider>,
        sock_addr: *mut c_void,
        sock_addr_length: u32,
        node_name: *mut c_void,
        service_name: *mut c_void,
        flags: u32,
        owning_process: *mut c_void,
        owning_thread: *mut c_void,
        irp: *mut c_void,
    ) -> NTSTATUS {
        let _ = (client, sock_addr, sock_addr_length, node_name, service_name, flags);
        let _ = (owning_process, owning_thread, irp);
        STATUS_NOT_SUPPORTED
    }
}

/// The table granted to 1.x clients: 1.1, a higher minor than asked for (allowed: a superset).
static WSK_PROVIDER_DISPATCH_1_0: ProviderTable<WskProvider> =
    WskProviderDispatch::new::<WskProvider>(make_wsk_version(1, 1), 0);
/// The table granted to 2.x clients.
static WSK_PROVIDER_DISPATCH_2_0: ProviderTable<WskProvider> =
    WskProviderDispatch::new::<WskProvider>(make_wsk_version(2, 0), 0);

// ----- the WSK application (client) ------------------------------------------------------------

/// A WSK application registering through the NMR (`D:initializing-nmr-data-structures`).
#[npi_client(npi = Wsk, module_id = "A1B2C3D4-E5F6-4789-8ABC-DEF012345678")]
pub struct WskClient {
    /// The port's trace.
    pub trace: Arc<Trace>,
    tries: Mutex<Vec<u16>>,
    negotiated: Mutex<Option<u16>>,
    provider: Mutex<Option<ClientBindingRef<WskClient>>>,
    /// Detach callbacks run.
    pub detached: AtomicUsize,
    /// Cleanups run.
    pub cleaned: AtomicUsize,
}

/// The client's tables, highest version first.
static CLIENT_TABLES: [&ClientTable<WskClient>; 2] =
    [&WSK_CLIENT_DISPATCH_2_0, &WSK_CLIENT_DISPATCH_1_0];

static WSK_CLIENT_DISPATCH_2_0: ClientTable<WskClient> =
    WskClientDispatch::new::<WskClient>(make_wsk_version(2, 0), 0);
/// The 1.0 table leaves the optional event callback NULL, as WSK allows.
static WSK_CLIENT_DISPATCH_1_0: ClientTable<WskClient> =
    WskClientDispatch::without_wsk_client_event(WskClientDispatch::new::<WskClient>(
        make_wsk_version(1, 0),
        0,
    ));

impl WskClient {
    /// A client that has not seen a provider yet.
    #[must_use]
    pub fn new(trace: Arc<Trace>) -> Self {
        Self {
            trace,
            tries: Mutex::default(),
            negotiated: Mutex::default(),
            provider: Mutex::default(),
            detached: AtomicUsize::new(0),
            cleaned: AtomicUsize::new(0),
        }
    }

    /// The client table versions passed to `NmrClientAttachProvider`, in order.
    #[must_use]
    pub fn tries(&self) -> Vec<u16> {
        lock(&self.tries).clone()
    }

    /// `NmrClientAttachProvider` calls after the first (version retries).
    #[must_use]
    pub fn retries(&self) -> usize {
        lock(&self.tries).len().saturating_sub(1)
    }

    /// The version of the provider table the client was granted.
    #[must_use]
    pub fn negotiated(&self) -> Option<u16> {
        *lock(&self.negotiated)
    }

    /// The binding with the WSK subsystem, if attached.
    #[must_use]
    pub fn provider(&self) -> Option<ClientBindingRef<WskClient>> {
        lock(&self.provider).clone()
    }

    /// `WskSocket` through the provider's table: a UDP/IPv6 datagram socket.
    ///
    /// # Errors
    /// `STATUS_DEVICE_NOT_READY` if not attached (or detaching), else the provider's status.
    pub fn open_socket(&self) -> Result<Box<MockSocket>, Status> {
        let binding = self.provider().ok_or(STATUS_DEVICE_NOT_READY)?;
        let wsk = binding.peer().ok_or(STATUS_DEVICE_NOT_READY)?;
        let mut irp = MockIrp { status: STATUS_DEVICE_NOT_READY, socket: None };
        // SAFETY: the arguments WskSocket takes, with the mock's IRP, valid for the call.
        let status = unsafe {
            wsk.wsk_socket(
                AF_INET6,
                SOCK_DGRAM,
                IPPROTO_UDP,
                WSK_FLAG_DATAGRAM_SOCKET,
                ptr::null_mut(),
                ptr::null(),
                ptr::null_mut(),
                ptr::null_mut(),
                ptr::null_mut(),
                ptr::from_mut(&mut irp).cast(),
            )
        };
        match (status, irp.socket) {
            (STATUS_SUCCESS, Some(socket)) => Ok(socket),
            _ => Err(status.into()),
        }
    }

    /// `WskControlClient(WSK_TRANSPORT_LIST_QUERY)` with no buffer: the bytes it would need.
    ///
    /// # Errors
    /// As [`WskClient::open_socket`].
    pub fn transport_list_size(&self) -> Result<usize, Status> {
        let binding = self.provider().ok_or(STATUS_DEVICE_NOT_READY)?;
        let wsk = binding.peer().ok_or(STATUS_DEVICE_NOT_READY)?;
        let mut returned = usize::MAX;
        // SAFETY: no buffers, a valid out-pointer and no IRP.
        let status = unsafe {
            wsk.wsk_control_client(
                WSK_TRANSPORT_LIST_QUERY,
                0,
                ptr::null_mut(),
                0,
                ptr::null_mut(),
                &mut returned,
                ptr::null_mut(),
            )
        };
        if status == STATUS_SUCCESS { Ok(returned) } else { Err(status.into()) }
    }

    /// A call that blocks in the mock provider until its [`Gate`] opens. While it runs, the
    /// [`npi_runtime::generic::PeerCall`] it holds keeps this client's detach pending.
    ///
    /// # Errors
    /// As [`WskClient::open_socket`].
    pub fn blocking_query(&self) -> Result<(), Status> {
        let binding = self.provider().ok_or(STATUS_DEVICE_NOT_READY)?;
        let wsk = binding.peer().ok_or(STATUS_DEVICE_NOT_READY)?;
        let mut returned = 0;
        // SAFETY: as in `transport_list_size`.
        let status = unsafe {
            wsk.wsk_control_client(
                MOCK_WSK_BLOCKING_QUERY,
                0,
                ptr::null_mut(),
                0,
                ptr::null_mut(),
                &mut returned,
                ptr::null_mut(),
            )
        };
        if status == STATUS_SUCCESS { Ok(()) } else { Err(status.into()) }
    }
}

/// `MAKE_WSK_VERSION` as `major.minor`.
#[must_use]
pub fn show_version(v: u16) -> String {
    format!("{}.{}", wsk_major_version(v), wsk_minor_version(v))
}

impl Client for WskClient {
    type Binding = ();

    fn attach(&self, mut request: ClientAttachRequest<'_, Self>) -> Attach {
        // WskQueryProviderCharacteristics: the range the subsystem supports.
        let Some(range) = request.provider().characteristics().copied() else {
            self.trace.note("client: provider without WSK characteristics -> decline");
            return request.decline();
        };
        self.trace.note(format!(
            "client: provider supports {}..={}",
            show_version(range.lowest_version),
            show_version(range.highest_version)
        ));
        // Within a major version a higher minor is a superset: compare majors.
        let majors =
            wsk_major_version(range.lowest_version)..=wsk_major_version(range.highest_version);
        let candidates =
            CLIENT_TABLES.iter().filter(|t| majors.contains(&wsk_major_version(t.version)));
        let mut status = STATUS_NOINTERFACE;
        for table in candidates {
            lock(&self.tries).push(table.version);
            self.trace.note(format!(
                "client: NmrClientAttachProvider with WSK_CLIENT_DISPATCH {}",
                show_version(table.version)
            ));
            match request.accept((), *table) {
                Ok(accepted) => {
                    let binding = accepted.binding();
                    let granted = binding.peer().map(|wsk| wsk.as_table().version);
                    *lock(&self.negotiated) = granted;
                    *lock(&self.provider) = Some(binding.to_ref());
                    self.trace.note(format!(
                        "client: attached, provider table {}",
                        granted.map_or_else(|| "?".into(), show_version)
                    ));
                    return accepted.into();
                }
                Err(refused) if refused.status == STATUS_NOINTERFACE => {
                    self.trace.note("client: STATUS_NOINTERFACE -> retry with a lower version");
                    status = refused.status.raw();
                    request = refused.request;
                }
                Err(refused) => return refused.into(),
            }
        }
        self.trace.note("client: no common version -> give up");
        request.fail(status)
    }

    fn detach(
        &self,
        binding: &ClientBinding<'_, Self>,
        request: ClientDetachRequest<'_, Self>,
    ) -> Detach {
        let _ = binding;
        self.detached.fetch_add(1, Ordering::SeqCst);
        self.trace.note(
            "client: detach -> done (a call still in flight keeps it pending until it returns)",
        );
        lock(&self.provider).take();
        request.done()
    }

    fn cleanup(&self, (): &()) {
        self.cleaned.fetch_add(1, Ordering::SeqCst);
        self.trace.note("client: cleanup");
    }
}

impl WskClientDispatchImpl for WskClient {
    unsafe fn wsk_client_event(
        client_context: &ClientBinding<'_, WskClient>,
        event_type: u32,
        information: *mut c_void,
        information_length: usize,
    ) -> NTSTATUS {
        let _ = (client_context, event_type, information, information_length);
        STATUS_NOT_SUPPORTED
    }
}
