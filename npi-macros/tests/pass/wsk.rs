//! Winsock Kernel (`wsk.h`): the NPI as NMR sees it, with its real id and layouts.
//!
//! - `NPI_WSK_INTERFACE_ID` = `{2227E803-8D8B-11D4-ABAD-009027719E09}`.
//! - `WSK_CLIENT_DISPATCH` (client → provider) and `WSK_PROVIDER_DISPATCH` (provider → client),
//!   every function `WSKAPI` = `NTAPI`, so `extern "system"` (the macro's default).
//! - `WSK_PROVIDER_CHARACTERISTICS` as the provider's NPI-specific characteristics; the client
//!   has none.
//!
//! A client and a provider bind on the host NMR: the client first asks for WSK 2.0, is refused
//! with `STATUS_NOINTERFACE` and retries with 1.0 (the documented version retry), then calls the
//! provider through its dispatch table.

use core::ffi::c_void;
use core::mem::{align_of, offset_of, size_of};
use core::ptr;
use std::sync::Mutex;

use npi_runtime::sys::{GUID, NTSTATUS, STATUS_NOINTERFACE, STATUS_NOT_SUPPORTED, STATUS_SUCCESS};
use npi_runtime::{Attach, Client, ClientBinding, ClientBindingRef, ProviderAttachRequest, ClientRegistration, ClientTable, Npi, Provider, ProviderBinding, ClientAttachRequest, ProviderRegistration, ProviderTable, dispatch_table, host, npi, npi_client, npi_provider};

/// `MAKE_WSK_VERSION(Mj, Mn)`.
const fn make_wsk_version(major: u8, minor: u8) -> u16 {
    ((major as u16) << 8) | minor as u16
}

/// `WSK_MAJOR_VERSION(V)`.
const fn wsk_major_version(v: u16) -> u8 {
    (v >> 8) as u8
}

/// `WSK_TRANSPORT_LIST_QUERY`, a client-level control code.
const WSK_TRANSPORT_LIST_QUERY: u32 = 2;

// ----- the NPI ---------------------------------------------------------------------------------

/// `WSK_PROVIDER_CHARACTERISTICS`: what the provider shows the client in
/// `ProviderRegistrationInstance->NpiSpecificCharacteristics`.
#[::npi_runtime::npi_data]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WskProviderCharacteristics {
    /// `HighestVersion`.
    pub highest_version: u16,
    /// `LowestVersion`.
    pub lowest_version: u16,
}


/// `WSK_CLIENT_DISPATCH`.
#[dispatch_table]
pub struct WskClientDispatch {
    /// `MAKE_WSK_VERSION(major, minor)` the client wants.
    pub version: u16,
    /// 0.
    pub reserved: u16,
    /// `PFN_WSK_CLIENT_EVENT`; the header defines no event types yet. May be NULL.
    #[optional]
    pub wsk_client_event: fn(
        #[context] client_context: *mut c_void,
        event_type: u32,
        information: *mut c_void,
        information_length: usize,
    ) -> NTSTATUS,
}

/// `WSK_PROVIDER_DISPATCH`, Win7 and later: the Vista table plus three functions at the end.
/// The first parameter of each is the `PWSK_CLIENT`, the provider's binding context.
#[dispatch_table]
pub struct WskProviderDispatch {
    /// The version the provider grants (its minor may be higher than the one asked for).
    pub version: u16,
    /// 0.
    pub reserved: u16,
    /// `PFN_WSK_SOCKET` (Vista).
    pub wsk_socket: fn(
        #[context] client: *mut c_void,
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
    ) -> NTSTATUS,
    /// `PFN_WSK_SOCKET_CONNECT` (Vista).
    pub wsk_socket_connect: fn(
        #[context] client: *mut c_void,
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
    ) -> NTSTATUS,
    /// `PFN_WSK_CONTROL_CLIENT` (Vista).
    pub wsk_control_client: fn(
        #[context] client: *mut c_void,
        control_code: u32,
        input_size: usize,
        input_buffer: *mut c_void,
        output_size: usize,
        output_buffer: *mut c_void,
        output_size_returned: *mut usize,
        irp: *mut c_void,
    ) -> NTSTATUS,
    /// `PFN_WSK_GET_ADDRESS_INFO` (Win7).
    pub wsk_get_address_info: fn(
        #[context] client: *mut c_void,
        node_name: *mut c_void,
        service_name: *mut c_void,
        name_space: u32,
        provider: *mut GUID,
        hints: *mut c_void,
        result: *mut *mut c_void,
        owning_process: *mut c_void,
        owning_thread: *mut c_void,
        irp: *mut c_void,
    ) -> NTSTATUS,
    /// `PFN_WSK_FREE_ADDRESS_INFO` (Win7), returns `VOID`.
    pub wsk_free_address_info: fn(#[context] client: *mut c_void, addr_info: *mut c_void),
    /// `PFN_WSK_GET_NAME_INFO` (Win7).
    pub wsk_get_name_info: fn(
        #[context] client: *mut c_void,
        sock_addr: *mut c_void,
        sock_addr_length: u32,
        node_name: *mut c_void,
        service_name: *mut c_void,
        flags: u32,
        owning_process: *mut c_void,
        owning_thread: *mut c_void,
        irp: *mut c_void,
    ) -> NTSTATUS,
}

/// Winsock Kernel.
#[npi(
    id = "2227E803-8D8B-11D4-ABAD-009027719E09",
    provider_characteristics = WskProviderCharacteristics,
    client_dispatch = WskClientDispatch,
    provider_dispatch = WskProviderDispatch
)]
pub struct Wsk;
// SAFETY: the types this declaration gives the NPI are its layouts, and it is the only
// declaration of this id in the program.
unsafe impl ::npi_runtime::NpiLayout for Wsk {}

// ----- layouts ---------------------------------------------------------------------------------

fn check_layouts() {
    assert_eq!(size_of::<WskProviderCharacteristics>(), 4);
    assert_eq!(offset_of!(WskProviderCharacteristics, lowest_version), 2);

    assert_eq!(offset_of!(WskClientDispatch, version), 0);
    assert_eq!(offset_of!(WskClientDispatch, reserved), 2);
    assert_eq!(offset_of!(WskProviderDispatch, version), 0);
    assert_eq!(offset_of!(WskProviderDispatch, reserved), 2);

    #[cfg(target_pointer_width = "64")]
    {
        assert_eq!(size_of::<WskClientDispatch>(), 16);
        assert_eq!(offset_of!(WskClientDispatch, wsk_client_event), 8);
        assert_eq!(WskClientDispatch::END_OF_WSK_CLIENT_EVENT, 16);

        // Win7+ layout.
        assert_eq!(size_of::<WskProviderDispatch>(), 56);
        assert_eq!(offset_of!(WskProviderDispatch, wsk_socket), 8);
        assert_eq!(offset_of!(WskProviderDispatch, wsk_socket_connect), 16);
        assert_eq!(offset_of!(WskProviderDispatch, wsk_control_client), 24);
        assert_eq!(offset_of!(WskProviderDispatch, wsk_get_address_info), 32);
        assert_eq!(offset_of!(WskProviderDispatch, wsk_free_address_info), 40);
        assert_eq!(offset_of!(WskProviderDispatch, wsk_get_name_info), 48);
        // The Vista layout ends with WskControlClient.
        assert_eq!(WskProviderDispatch::END_OF_WSK_CONTROL_CLIENT, 32);
        assert_eq!(WskProviderDispatch::END_OF_WSK_GET_NAME_INFO, 56);
    }
    #[cfg(target_pointer_width = "32")]
    {
        assert_eq!(size_of::<WskClientDispatch>(), 8);
        assert_eq!(offset_of!(WskClientDispatch, wsk_client_event), 4);
        assert_eq!(WskClientDispatch::END_OF_WSK_CLIENT_EVENT, 8);

        assert_eq!(size_of::<WskProviderDispatch>(), 28);
        assert_eq!(offset_of!(WskProviderDispatch, wsk_socket), 4);
        assert_eq!(offset_of!(WskProviderDispatch, wsk_socket_connect), 8);
        assert_eq!(offset_of!(WskProviderDispatch, wsk_control_client), 12);
        assert_eq!(offset_of!(WskProviderDispatch, wsk_get_address_info), 16);
        assert_eq!(offset_of!(WskProviderDispatch, wsk_free_address_info), 20);
        assert_eq!(offset_of!(WskProviderDispatch, wsk_get_name_info), 24);
        assert_eq!(WskProviderDispatch::END_OF_WSK_CONTROL_CLIENT, 16);
        assert_eq!(WskProviderDispatch::END_OF_WSK_GET_NAME_INFO, 28);
    }
    assert_eq!(WskProviderDispatch::END_OF_RESERVED, 4);
    assert_eq!(align_of::<WskProviderDispatch>(), size_of::<usize>());

    // The id, and the bytes the WDK library symbol holds (little-endian GUID).
    assert_eq!(Wsk::ID, GUID::from_u128(0x2227_E803_8D8B_11D4_ABAD_0090_2771_9E09));
    let mut bytes = Vec::new();
    bytes.extend_from_slice(&Wsk::ID.data1.to_le_bytes());
    bytes.extend_from_slice(&Wsk::ID.data2.to_le_bytes());
    bytes.extend_from_slice(&Wsk::ID.data3.to_le_bytes());
    bytes.extend_from_slice(&Wsk::ID.data4);
    assert_eq!(
        bytes,
        [
            0x03, 0xE8, 0x27, 0x22, 0x8B, 0x8D, 0xD4, 0x11, 0xAB, 0xAD, 0x00, 0x90, 0x27, 0x71,
            0x9E, 0x09
        ]
    );
    assert_eq!(Wsk::NAME, "Wsk");
    assert_eq!(<Wsk as Npi>::REGISTRATION_VERSION, 0);
}

// ----- the provider (the WSK subsystem) --------------------------------------------------------

/// The provider's module id is not documented; any GUID will do for the test.
#[npi_provider(
    npi = Wsk,
    module_id = "5E0A9B51-7C1D-4E43-9A8B-2F3C4D5E6F70",
    characteristics = WSK_PROVIDER_CHARACTERISTICS
)]
struct WskProvider;

static WSK_PROVIDER_CHARACTERISTICS: WskProviderCharacteristics = WskProviderCharacteristics {
    highest_version: make_wsk_version(1, 0),
    lowest_version: make_wsk_version(1, 0),
};

/// The `PWSK_CLIENT` the provider hands out: its state for one client.
struct WskClientObject {
    version: u16,
}

impl Provider for WskProvider {
    type Binding = WskClientObject;

    fn attach(&self, request: ProviderAttachRequest<'_, Self>) -> Attach {
        let Some(table) = request.client_dispatch() else { return request.decline() };
        // The 1.0 table leaves the optional event callback NULL, as WSK allows.
        assert_eq!(
            table.wsk_client_event.is_none(),
            table.version == make_wsk_version(1, 0)
        );
        if wsk_major_version(table.version) != 1 {
            return request.decline();
        }
        let version = table.version;
        request.accept(WskClientObject { version }, &WSK_PROVIDER_DISPATCH).into()
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
        let _ = (client, address_family, socket_type, protocol, flags, socket_context, dispatch);
        let _ = (owning_process, owning_thread, security_descriptor, irp);
        STATUS_NOT_SUPPORTED
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
        assert_eq!(client.version, make_wsk_version(1, 0), "the binding context came back");
        if control_code != WSK_TRANSPORT_LIST_QUERY || output_size_returned.is_null() {
            return STATUS_NOT_SUPPORTED;
        }
        // SAFETY: checked non-NULL; the caller passes a valid SIZE_T.
        unsafe { output_size_returned.write(0) };
        STATUS_SUCCESS
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

    unsafe fn wsk_free_address_info(client: &ProviderBinding<'_, WskProvider>, addr_info: *mut c_void) {
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

static WSK_PROVIDER_DISPATCH: ProviderTable<WskProvider> =
    WskProviderDispatch::new::<WskProvider>(make_wsk_version(1, 0), 0);
static PROVIDER: WskProvider = WskProvider;

// ----- the client ------------------------------------------------------------------------------

#[npi_client(npi = Wsk, module_id = "A1B2C3D4-E5F6-4789-8ABC-DEF012345678")]
struct WskClient {
    provider: Mutex<Option<ClientBindingRef<WskClient>>>,
    tries: Mutex<Vec<u16>>,
}

impl Client for WskClient {
    type Binding = ();

    fn attach(&self, request: ClientAttachRequest<'_, Self>) -> Attach {
        let Some(chars) = request.provider().characteristics() else { return request.decline() };
        assert_eq!(*chars, WSK_PROVIDER_CHARACTERISTICS);
        // Ask for 2.0 first, then fall back to 1.0 on STATUS_NOINTERFACE.
        self.tries.lock().unwrap().push(WSK_CLIENT_DISPATCH_2_0.version);
        let refused = match request.accept((), &WSK_CLIENT_DISPATCH_2_0) {
            Ok(accepted) => return accepted.into(),
            Err(refused) => refused,
        };
        assert_eq!(refused.status, STATUS_NOINTERFACE);
        self.tries.lock().unwrap().push(WSK_CLIENT_DISPATCH_1_0.version);
        match refused.request.accept((), &WSK_CLIENT_DISPATCH_1_0) {
            Ok(accepted) => {
                *self.provider.lock().unwrap() = Some(accepted.binding().to_ref());
                accepted.into()
            }
            Err(refused) => refused.into(),
        }
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

static WSK_CLIENT_DISPATCH_2_0: ClientTable<WskClient> =
    WskClientDispatch::new::<WskClient>(make_wsk_version(2, 0), 0);
static WSK_CLIENT_DISPATCH_1_0: ClientTable<WskClient> =
    WskClientDispatch::without_wsk_client_event(WskClientDispatch::new::<WskClient>(
        make_wsk_version(1, 0),
        0,
    ));
static CLIENT: WskClient = WskClient { provider: Mutex::new(None), tries: Mutex::new(Vec::new()) };

fn main() {
    check_layouts();

    let provider = ProviderRegistration::register(&PROVIDER).expect("register the WSK provider");
    let client = ClientRegistration::register(&CLIENT).expect("register the WSK client");
    assert_eq!(host::bindings_of(&Wsk::ID).len(), 1);
    assert_eq!(*CLIENT.tries.lock().unwrap(), [make_wsk_version(2, 0), make_wsk_version(1, 0)]);

    {
        let guard = CLIENT.provider.lock().unwrap();
        let binding = guard.as_ref().expect("bound");
        let wsk = binding.peer().expect("attached, with a provider dispatch table");
        assert_eq!(wsk.as_table().version, make_wsk_version(1, 0));
        let mut returned = usize::MAX;
        // SAFETY: WSK_TRANSPORT_LIST_QUERY with no buffers, a valid out-pointer and no IRP.
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
        assert_eq!(status, STATUS_SUCCESS);
        assert_eq!(returned, 0);
    }

    *CLIENT.provider.lock().unwrap() = None;
    drop(client);
    drop(provider);
    assert!(host::bindings_of(&Wsk::ID).is_empty());
    assert!(host::violations_of(&Wsk::ID).is_empty());
}
