//! XDP for Windows, the interface NPI (`src/nmr/{common,client,provider}.c`,
//! `published/external/xdp/{control,objectheader,apiversion,driverapi}.h`).
//!
//! - `NPI_XDP_ID` = `{E1CADF68-E3DD-4A4A-932D-386A29399F5E}`.
//! - Roles are inverted: the NIC driver is the client, XDP core the provider, which registers
//!   one provider per interface, with the client's `InstanceId` as its module id and the
//!   interface index as `Number` on both sides.
//! - `NPI_REGISTRATION_INSTANCE.Version = XDP_BINDING_VERSION_1 = 1` on both sides.
//! - Client dispatch `XDP_NPI_CLIENT`, client characteristics `XDP_CAPABILITIES_EX` (the head
//!   of the interface's `XDP_CAPABILITIES`, a `static` here), provider dispatch `NULL`, no
//!   provider characteristics.
//! - No calling convention anywhere in XDP's tables: `abi = "C"`.

use core::ffi::c_void;
use core::mem::{align_of, offset_of, size_of};
use core::ptr;
use core::sync::atomic::{AtomicBool, AtomicPtr, Ordering};
use std::sync::{Arc, Mutex};

use npi_runtime::sys::{
    GUID, NPI_MODULEID, NTSTATUS, NmrIsEqualNpiModuleId, STATUS_DEVICE_NOT_READY,
    STATUS_INVALID_PARAMETER, STATUS_NOINTERFACE, STATUS_NOT_SUPPORTED, STATUS_SUCCESS,
};
use npi_runtime::{Attach, Client, ProviderAttachRequest, ClientRegistration, ClientTable, Npi, Provider, ProviderBindingRef, ClientAttachRequest, ProviderRegistration, dispatch_table, host, npi, npi_client, npi_provider};
use npi_runtime::generic::{AsClient, Table};

/// `XDP_BINDING_VERSION_1`.
const XDP_BINDING_VERSION_1: u16 = 1;
/// `XDP_NPI_CLIENT_REVISION_1`.
const XDP_NPI_CLIENT_REVISION_1: u32 = 1;
/// `XDP_CAPABILITIES_EX_REVISION_1`.
const XDP_CAPABILITIES_EX_REVISION_1: u32 = 1;
/// `XDP_INTERFACE_DISPATCH_REVISION_1`.
const XDP_INTERFACE_DISPATCH_REVISION_1: u32 = 1;
/// `XDP_DRIVER_API_MAJOR/MINOR/PATCH_VER`.
const XDP_DRIVER_API_VERSION: XdpVersion = XdpVersion { major: 0, minor: 10, patch: 0 };

// ----- the NPI ---------------------------------------------------------------------------------

/// `XDP_OBJECT_HEADER`.
#[::npi_runtime::npi_data]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct XdpObjectHeader {
    /// `Revision`.
    pub revision: u32,
    /// `Size`.
    pub size: u32,
}

/// `XDP_VERSION`.
#[::npi_runtime::npi_data]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct XdpVersion {
    /// `Major`.
    pub major: u32,
    /// `Minor`.
    pub minor: u32,
    /// `Patch`.
    pub patch: u32,
}

/// `XDP_CAPABILITIES_EX`: the client's NPI-specific characteristics. The caller owns it.
#[::npi_runtime::npi_data]
pub struct XdpCapabilitiesEx {
    /// Revision 1; `Size` grows within the revision.
    pub header: XdpObjectHeader,
    /// Byte offset, from this struct, of an `XDP_VERSION` array.
    pub driver_api_versions_offset: u32,
    /// Entries in that array.
    pub driver_api_version_count: u32,
    /// The DDK's driver API version.
    pub ddk_driver_api_version: XdpVersion,
    /// The ModuleId GUID both sides register with.
    pub instance_id: GUID,
    /// `BOOLEAN`, appended later within revision 1.
    pub rx_checksum_supported: u8,
    /// `BOOLEAN`.
    pub rx_timestamp_supported: u8,
    /// `BOOLEAN`.
    pub tx_timestamp_supported: u8,
}


/// `XDP_SIZEOF_CAPABILITIES_EX_REVISION_1`: through `InstanceId`.
const XDP_SIZEOF_CAPABILITIES_EX_REVISION_1: usize =
    offset_of!(XdpCapabilitiesEx, instance_id) + size_of::<GUID>();
/// `RTL_SIZEOF_THROUGH_FIELD(XDP_CAPABILITIES_EX, TxTimestampSupported)`, what the LWF sets.
const SIZEOF_CAPABILITIES_EX_THROUGH_TX_TIMESTAMP: usize =
    offset_of!(XdpCapabilitiesEx, tx_timestamp_supported) + size_of::<u8>();

/// `XDP_CAPABILITIES`: the single-version wrapper `XdpInitializeCapabilities` fills in.
#[::npi_runtime::npi_data]
pub struct XdpCapabilities {
    /// The characteristics proper.
    pub capabilities_ex: XdpCapabilitiesEx,
    /// The one driver API version, at `DriverApiVersionsOffset`.
    pub driver_api_version: XdpVersion,
}

/// `VOID *GetInterfaceContext`, as a data member of the client's table. A raw pointer is not
/// `Sync`, and a dispatch table must be; the wrapper says the pointer is only passed back.
#[repr(transparent)]
#[derive(Debug, Clone, Copy)]
pub struct GetInterfaceContext(pub *mut c_void);

// SAFETY: an opaque value handed back to the client's own function, never dereferenced here.
unsafe impl Sync for GetInterfaceContext {}
// SAFETY: as above.
unsafe impl Send for GetInterfaceContext {}

// SAFETY: `#[repr(transparent)]` over a pointer: spelled and laid out as one.
unsafe impl npi_runtime::c_header::CType for GetInterfaceContext {
    const LAYOUT: npi_runtime::c_header::CLayout =
        <*mut c_void as npi_runtime::c_header::CType>::LAYOUT;
    fn declare(
        out: &mut dyn core::fmt::Write,
        qualifier: &str,
        d: &dyn core::fmt::Display,
    ) -> core::fmt::Result {
        <*mut c_void as npi_runtime::c_header::CType>::declare(out, qualifier, d)
    }
}

/// `XDP_NPI_CLIENT`: a header, one context pointer and one function.
#[dispatch_table(abi = "C")]
pub struct XdpNpiClient {
    /// `Revision = XDP_NPI_CLIENT_REVISION_1`, `Size = RTL_SIZEOF_THROUGH_FIELD(.., GetInterfaceDispatch)`.
    pub header: XdpObjectHeader,
    /// Passed back as `GetInterfaceDispatch`'s second argument.
    pub get_interface_context: GetInterfaceContext,
    /// `XDP_GET_INTERFACE_DISPATCH`.
    pub get_interface_dispatch: fn(
        version: *const XdpVersion,
        get_interface_context: *mut c_void,
        interface_context: *mut *mut c_void,
        interface_dispatch: *mut *const c_void,
    ) -> NTSTATUS,
}

/// `XDP_INTERFACE_DISPATCH`, returned by `GetInterfaceDispatch` outside NMR. Only its layout is
/// checked here; the functions' parameters are abbreviated to the interface context.
#[dispatch_table(abi = "C")]
pub struct XdpInterfaceDispatch {
    /// `Revision = XDP_INTERFACE_DISPATCH_REVISION_1`.
    pub header: XdpObjectHeader,
    /// `OpenInterface`.
    pub open_interface: fn(interface_context: *mut c_void) -> NTSTATUS,
    /// `CloseInterface`.
    pub close_interface: fn(interface_context: *mut c_void),
    /// `CreateRxQueue`.
    pub create_rx_queue: fn(interface_context: *mut c_void) -> NTSTATUS,
    /// `ActivateRxQueue`.
    pub activate_rx_queue: fn(interface_context: *mut c_void),
    /// `DeleteRxQueue`.
    pub delete_rx_queue: fn(interface_context: *mut c_void),
    /// `CreateTxQueue`.
    pub create_tx_queue: fn(interface_context: *mut c_void) -> NTSTATUS,
    /// `ActivateTxQueue`.
    pub activate_tx_queue: fn(interface_context: *mut c_void),
    /// `DeleteTxQueue`.
    pub delete_tx_queue: fn(interface_context: *mut c_void),
}

/// The XDP interface NPI.
#[npi(
    id = "E1CADF68-E3DD-4A4A-932D-386A29399F5E",
    client_characteristics = XdpCapabilitiesEx,
    client_dispatch = XdpNpiClient,
    registration_version = 1
)]
pub struct Xdp;
// SAFETY: the types this declaration gives the NPI are its layouts, and it is the only
// declaration of this id in the program.
unsafe impl ::npi_runtime::NpiLayout for Xdp {}

fn check_layouts() {
    assert_eq!(Xdp::ID, GUID::from_u128(0xE1CA_DF68_E3DD_4A4A_932D_386A_2939_9F5E));
    assert_eq!(<Xdp as Npi>::REGISTRATION_VERSION, XDP_BINDING_VERSION_1);
    assert_eq!(size_of::<<Xdp as Npi>::ProviderDispatch>(), 0, "NULL provider dispatch");

    assert_eq!(size_of::<XdpObjectHeader>(), 8);
    assert_eq!(size_of::<XdpVersion>(), 12);

    assert_eq!(size_of::<XdpCapabilitiesEx>(), 48);
    assert_eq!(align_of::<XdpCapabilitiesEx>(), 4);
    assert_eq!(offset_of!(XdpCapabilitiesEx, driver_api_versions_offset), 8);
    assert_eq!(offset_of!(XdpCapabilitiesEx, driver_api_version_count), 12);
    assert_eq!(offset_of!(XdpCapabilitiesEx, ddk_driver_api_version), 16);
    assert_eq!(offset_of!(XdpCapabilitiesEx, instance_id), 28);
    assert_eq!(offset_of!(XdpCapabilitiesEx, rx_checksum_supported), 44);
    assert_eq!(XDP_SIZEOF_CAPABILITIES_EX_REVISION_1, 44);
    assert_eq!(SIZEOF_CAPABILITIES_EX_THROUGH_TX_TIMESTAMP, 47);
    assert_eq!(size_of::<XdpCapabilities>(), 60);
    assert_eq!(offset_of!(XdpCapabilities, driver_api_version), 48);

    assert_eq!(offset_of!(XdpNpiClient, header), 0);
    assert_eq!(offset_of!(XdpNpiClient, get_interface_context), 8);
    #[cfg(target_pointer_width = "64")]
    {
        assert_eq!(size_of::<XdpNpiClient>(), 24);
        assert_eq!(offset_of!(XdpNpiClient, get_interface_dispatch), 16);
        assert_eq!(XdpNpiClient::END_OF_GET_INTERFACE_DISPATCH, 24);
        assert_eq!(size_of::<XdpInterfaceDispatch>(), 72);
    }
    #[cfg(target_pointer_width = "32")]
    {
        assert_eq!(size_of::<XdpNpiClient>(), 16);
        assert_eq!(offset_of!(XdpNpiClient, get_interface_dispatch), 12);
        assert_eq!(XdpNpiClient::END_OF_GET_INTERFACE_DISPATCH, 16);
        assert_eq!(size_of::<XdpInterfaceDispatch>(), 40);
    }
    assert_eq!(XdpInterfaceDispatch::END_OF_DELETE_TX_QUEUE, size_of::<XdpInterfaceDispatch>());
}

// ----- the NIC driver (client) -----------------------------------------------------------------

#[npi_client(npi = Xdp, dynamic_module_id)]
struct XdpInterface {
    /// `BindingHandle`: one binding at a time.
    binding: AtomicPtr<c_void>,
}

impl Client for XdpInterface {
    type Binding = ();

    fn attach(&self, request: ClientAttachRequest<'_, Self>) -> Attach {
        if !self.binding.load(Ordering::Acquire).is_null() {
            return request.fail(STATUS_DEVICE_NOT_READY);
        }
        let handle = request.handle();
        match request.accept((), &NPI_CLIENT) {
            Ok(accepted) => {
                self.binding.store(handle, Ordering::Release);
                accepted.into()
            }
            Err(refused) => refused.into(),
        }
    }

    fn cleanup(&self, (): &()) {
        self.binding.store(ptr::null_mut(), Ordering::Release);
    }
}

/// What `GetInterfaceContext` points at: the driver's interface object.
struct InterfaceObject {
    opened: AtomicBool,
}

static INTERFACE_OBJECT: InterfaceObject = InterfaceObject { opened: AtomicBool::new(false) };

impl XdpNpiClientImpl for XdpInterface {

    /// The single-version helper: `STATUS_NOT_SUPPORTED` unless the major version matches.
    unsafe fn get_interface_dispatch(
        version: *const XdpVersion,
        get_interface_context: *mut c_void,
        interface_context: *mut *mut c_void,
        interface_dispatch: *mut *const c_void,
    ) -> NTSTATUS {
        // SAFETY: XDP passes a valid version and out-pointers.
        unsafe {
            if (*version).major != XDP_DRIVER_API_VERSION.major {
                return STATUS_NOT_SUPPORTED;
            }
            interface_context.write(get_interface_context);
            interface_dispatch.write(ptr::from_ref(INTERFACE_DISPATCH.raw()).cast());
        }
        STATUS_SUCCESS
    }
}

impl XdpInterfaceDispatchImpl for XdpInterface {

    unsafe fn open_interface(interface_context: *mut c_void) -> NTSTATUS {
        assert_eq!(interface_context.cast_const(), ptr::from_ref(&INTERFACE_OBJECT).cast());
        INTERFACE_OBJECT.opened.store(true, Ordering::Relaxed);
        STATUS_SUCCESS
    }
    unsafe fn close_interface(interface_context: *mut c_void) {
        let _ = interface_context;
        INTERFACE_OBJECT.opened.store(false, Ordering::Relaxed);
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

#[allow(clippy::cast_possible_truncation)] // a few bytes
static NPI_CLIENT: ClientTable<XdpInterface> = XdpNpiClient::new::<XdpInterface>(
    XdpObjectHeader {
        revision: XDP_NPI_CLIENT_REVISION_1,
        size: XdpNpiClient::END_OF_GET_INTERFACE_DISPATCH as u32,
    },
    GetInterfaceContext(ptr::from_ref(&INTERFACE_OBJECT).cast_mut().cast()),
);

#[allow(clippy::cast_possible_truncation)] // a few bytes
static INTERFACE_DISPATCH: Table<AsClient<XdpInterface>, XdpInterfaceDispatch> =
    XdpInterfaceDispatch::new::<XdpInterface>(XdpObjectHeader {
        revision: XDP_INTERFACE_DISPATCH_REVISION_1,
        size: size_of::<XdpInterfaceDispatch>() as u32,
    });

static INTERFACE: XdpInterface = XdpInterface { binding: AtomicPtr::new(ptr::null_mut()) };

/// The interface's `InstanceId`.
const INSTANCE_ID: GUID = GUID::from_u128(0x3F2B_9C41_7D0E_4A8B_B1C2_5E6F_7A8B_9C0D);

/// The interface's capabilities, `XdpInitializeCapabilities`-style: the version array
/// `DriverApiVersionsOffset` points at is in the same struct.
#[allow(clippy::cast_possible_truncation)] // offsets of a 60-byte struct
static CAPABILITIES: XdpCapabilities = XdpCapabilities {
    capabilities_ex: XdpCapabilitiesEx {
        header: XdpObjectHeader {
            revision: XDP_CAPABILITIES_EX_REVISION_1,
            size: SIZEOF_CAPABILITIES_EX_THROUGH_TX_TIMESTAMP as u32,
        },
        driver_api_versions_offset: offset_of!(XdpCapabilities, driver_api_version) as u32,
        driver_api_version_count: 1,
        ddk_driver_api_version: XDP_DRIVER_API_VERSION,
        instance_id: INSTANCE_ID,
        rx_checksum_supported: 0,
        rx_timestamp_supported: 0,
        tx_timestamp_supported: 1,
    },
    driver_api_version: XDP_DRIVER_API_VERSION,
};

// ----- XDP core (provider, one per interface) --------------------------------------------------

#[npi_provider(npi = Xdp, dynamic_module_id)]
struct XdpProvider {
    if_index: u32,
    module_id: NPI_MODULEID,
    /// Set by the first binding: one binding per provider lifetime.
    bound: AtomicBool,
    closed: AtomicBool,
    client: Mutex<Option<ProviderBindingRef<XdpProvider>>>,
}

impl Provider for XdpProvider {
    type Binding = ();

    fn attach(&self, request: ProviderAttachRequest<'_, Self>) -> Attach {
        let client = request.client();
        if client.version() != XDP_BINDING_VERSION_1 {
            return request.fail(STATUS_NOT_SUPPORTED);
        }
        if client.number() != self.if_index {
            return request.fail(STATUS_INVALID_PARAMETER);
        }
        if !NmrIsEqualNpiModuleId(client.module_id(), &self.module_id) {
            return request.fail(STATUS_NOINTERFACE);
        }
        let capabilities = client.characteristics().expect("the interface's capabilities");
        let size = capabilities.header.size as usize;
        assert!(capabilities.header.revision >= XDP_CAPABILITIES_EX_REVISION_1);
        assert!(size >= XDP_SIZEOF_CAPABILITIES_EX_REVISION_1);
        // RTL_CONTAINS_FIELD before reading an appended field.
        assert!(size >= SIZEOF_CAPABILITIES_EX_THROUGH_TX_TIMESTAMP);
        assert_eq!(capabilities.tx_timestamp_supported, 1);
        match request.client_dispatch() {
            Some(npi_client)
                if npi_client.header.revision >= XDP_NPI_CLIENT_REVISION_1
                    && npi_client.header.size as usize
                        >= XdpNpiClient::END_OF_GET_INTERFACE_DISPATCH => {}
            _ => return request.fail(STATUS_NOT_SUPPORTED),
        }
        if self.bound.swap(true, Ordering::AcqRel) || self.closed.load(Ordering::Acquire) {
            return request.fail(STATUS_DEVICE_NOT_READY);
        }
        // `*ProviderDispatch = NULL`.
        match request.accept((), &()) {
            Ok(accepted) => {
                *self.client.lock().unwrap() = Some(accepted.binding().to_ref());
                accepted.into()
            }
            Err(refused) => refused.into(),
        }
    }
}

fn main() {
    check_layouts();

    // The interface: its InstanceId, its IfIndex, and its capabilities.
    let instance_id = INSTANCE_ID;
    let if_index = 7;
    let client = ClientRegistration::builder(&INTERFACE)
        .module_guid(instance_id)
        .number(if_index)
        .characteristics(&CAPABILITIES.capabilities_ex)
        .register()
        .expect("XdpRegisterInterfaceEx");
    assert!(host::bindings_of(&Xdp::ID).is_empty(), "no provider yet");

    // XdpOpenProvider: register, then test the binding at once (attach is synchronous).
    let provider = Arc::new(XdpProvider {
        if_index,
        module_id: NPI_MODULEID::from_guid(instance_id),
        bound: AtomicBool::new(false),
        closed: AtomicBool::new(false),
        client: Mutex::new(None),
    });
    let registration = ProviderRegistration::builder(Arc::clone(&provider))
        .module_guid(instance_id)
        .number(if_index)
        .register()
        .expect("XdpOpenProvider");
    assert_eq!(host::bindings_of(&Xdp::ID).len(), 1);
    assert!(!INTERFACE.binding.load(Ordering::Acquire).is_null());

    // A provider for another interface index does not bind.
    let other = ProviderRegistration::builder(Arc::new(XdpProvider {
        if_index: if_index + 1,
        module_id: NPI_MODULEID::from_guid(instance_id),
        bound: AtomicBool::new(false),
        closed: AtomicBool::new(false),
        client: Mutex::new(None),
    }))
    .module_guid(instance_id)
    .number(if_index + 1)
    .register()
    .expect("register");
    assert_eq!(host::bindings_of(&Xdp::ID).len(), 1);
    drop(other);

    // Second-stage negotiation, outside NMR: GetInterfaceDispatch through the client's table.
    {
        let guard = provider.client.lock().unwrap();
        let npi_client = guard.as_ref().and_then(|b| b.peer()).expect("the client's table");
        let (mut interface_context, mut interface_dispatch) = (ptr::null_mut(), ptr::null());
        // SAFETY: a valid version and out-pointers, as XDP_GET_INTERFACE_DISPATCH expects.
        let status = unsafe {
            npi_client.get_interface_dispatch(
                &XDP_DRIVER_API_VERSION,
                npi_client.as_table().get_interface_context.0,
                &mut interface_context,
                &mut interface_dispatch,
            )
        };
        assert_eq!(status, STATUS_SUCCESS);
        let wrong = XdpVersion { major: 1, minor: 0, patch: 0 };
        // SAFETY: as above.
        let status = unsafe {
            npi_client.get_interface_dispatch(
                &wrong,
                ptr::null_mut(),
                &mut interface_context,
                &mut interface_dispatch,
            )
        };
        assert_eq!(status, STATUS_NOT_SUPPORTED);
        // SAFETY: the client returned its XDP_INTERFACE_DISPATCH.
        let dispatch = unsafe { &*interface_dispatch.cast::<XdpInterfaceDispatch>() };
        assert_eq!(dispatch.header.revision, XDP_INTERFACE_DISPATCH_REVISION_1);
        // SAFETY: the interface context the same call returned.
        assert_eq!(unsafe { (dispatch.open_interface)(interface_context) }, STATUS_SUCCESS);
        assert!(INTERFACE_OBJECT.opened.load(Ordering::Relaxed));
    }

    // XdpCleanupProvider, then XdpDeregisterInterface.
    provider.closed.store(true, Ordering::Release);
    *provider.client.lock().unwrap() = None;
    registration.deregister().expect("provider deregistered");
    assert!(INTERFACE.binding.load(Ordering::Acquire).is_null());
    client.deregister().expect("client deregistered");
    assert!(host::violations_of(&Xdp::ID).is_empty());
}
