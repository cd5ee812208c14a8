//! The XDP port: the NIC driver is the client, XDP core the provider; module id, `Number` and
//! registration-instance `Version` are the binding key and each is checked; one binding per
//! side; the provider's detach always pends until `XdpCleanupProvider`. Scenarios run one at a
//! time (one NPI id, one NMR).

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::thread;
use std::time::{Duration, Instant};

use npi_runtime::Status;
use npi_runtime::host::Handle;
use npi_runtime::host::{self, HalfState};
use npi_runtime::sys::NTSTATUS;
use npi_runtime::sys::{
    GUID, STATUS_DEVICE_NOT_READY, STATUS_INVALID_PARAMETER, STATUS_NOINTERFACE,
    STATUS_NOT_SUPPORTED,
};
use npi_runtime::{
    Attach, Client, ClientAttachRequest, ClientRegistration, ClientTable, Npi, npi, npi_client,
};
use npi_suite::real::Trace;
use npi_suite::real::xdp::{
    INTERFACE_OBJECT, NPI_CLIENT, XdpInterface, open_provider, register_interface,
};
use npi_xdp::{
    XDP_DRIVER_API_VERSION, Xdp, XdpCapabilities, XdpCapabilitiesEx, XdpNpiClient,
    XdpNpiClientImpl, XdpVersion,
};

const INSTANCE: GUID = GUID::from_u128(0x3F2B_9C41_7D0E_4A8B_B1C2_5E6F_7A8B_9C0D);
const OTHER_INSTANCE: GUID = GUID::from_u128(0x3F2B_9C41_7D0E_4A8B_B1C2_5E6F_7A8B_FFFF);
const IF_INDEX: u32 = 7;

fn assert_clean() {
    assert!(host::registrations_of(&Xdp::ID).is_empty(), "{:?}", host::registrations_of(&Xdp::ID));
    assert!(host::bindings_of(&Xdp::ID).is_empty());
    let v = host::violations_of(&Xdp::ID);
    assert!(v.is_empty(), "{v:?}");
}

#[test]
fn an_interface_binds_its_provider_and_negotiates_outside_nmr() {
    host::isolated(|| {
        let trace = Arc::new(Trace::new());
        let caps = Arc::new(XdpCapabilities::new(INSTANCE));
        let (interface, client) = register_interface(IF_INDEX, caps, Arc::clone(&trace)).unwrap();
        assert!(host::bindings_of(&Xdp::ID).is_empty(), "no provider yet");
        let regs = host::registrations_of(&Xdp::ID);
        assert_eq!((regs[0].number, regs[0].module_id.guid()), (IF_INDEX, Some(INSTANCE)));

        let open = open_provider(IF_INDEX, INSTANCE, Arc::clone(&trace)).expect("XdpOpenProvider");
        assert!(interface.binding_handle().is_some());
        assert!(open.provider().refusals().is_empty());

        // GetInterfaceDispatch through the client's table; a wrong major is refused.
        assert_eq!(open.open_interface(&XDP_DRIVER_API_VERSION), Ok(()));
        assert!(INTERFACE_OBJECT.opened.load(Ordering::SeqCst));
        let wrong = XdpVersion { major: 1, minor: 0, patch: 0 };
        assert_eq!(open.open_interface(&wrong), Err(Status::NOT_SUPPORTED));

        // XdpRegisterInterfaceEx wants exactly one driver API version.
        let mut two = XdpCapabilities::new(INSTANCE);
        two.capabilities_ex.driver_api_version_count = 2;
        assert_eq!(
            register_interface(IF_INDEX, Arc::new(two), Arc::clone(&trace)).err(),
            Some(Status::INVALID_PARAMETER)
        );

        open.cleanup();
        assert!(interface.binding_handle().is_none());
        client.deregister().unwrap();
        assert_clean();
    });
}

#[test]
fn the_provider_checks_number_module_id_and_binds_once() {
    host::isolated(|| {
        let trace = Arc::new(Trace::new());
        let caps = Arc::new(XdpCapabilities::new(INSTANCE));
        let (_interface, client) =
            register_interface(IF_INDEX, Arc::clone(&caps), Arc::clone(&trace)).unwrap();

        // Another interface index: STATUS_INVALID_PARAMETER, and XdpOpenProvider finds no binding.
        let (status, wrong_number) =
            open_provider(IF_INDEX + 1, INSTANCE, Arc::clone(&trace)).err().unwrap();
        assert_eq!(status, STATUS_NOINTERFACE);
        assert_eq!(wrong_number.refusals(), [STATUS_INVALID_PARAMETER]);

        // Another instance id, same index: STATUS_NOINTERFACE (NmrIsEqualNpiModuleId).
        let (status, wrong_id) =
            open_provider(IF_INDEX, OTHER_INSTANCE, Arc::clone(&trace)).err().unwrap();
        assert_eq!(status, STATUS_NOINTERFACE);
        assert_eq!(wrong_id.refusals(), [STATUS_NOINTERFACE]);
        assert!(host::bindings_of(&Xdp::ID).is_empty());

        // A second interface registration with the same key: the provider binds one, and refuses
        // the other with STATUS_DEVICE_NOT_READY (one binding per provider lifetime).
        let (_twin, twin_client) = register_interface(IF_INDEX, caps, Arc::clone(&trace)).unwrap();
        let open = open_provider(IF_INDEX, INSTANCE, Arc::clone(&trace)).unwrap();
        assert_eq!(open.provider().refusals(), [STATUS_DEVICE_NOT_READY]);
        assert_eq!(host::bindings_of(&Xdp::ID).len(), 1);
        drop(twin_client);

        // A second provider for the bound interface: the interface declines it (one at a time).
        let (status, second) = open_provider(IF_INDEX, INSTANCE, Arc::clone(&trace)).err().unwrap();
        assert_eq!(status, STATUS_NOINTERFACE);
        assert!(second.refusals().is_empty(), "the client refused, before the provider was asked");
        assert_eq!(_interface.refused_busy.load(Ordering::SeqCst), 1);

        open.cleanup();
        client.deregister().unwrap();
        assert_clean();
    });
}

// The same NPI id with registration-instance Version 0: a client of an older binding protocol.
#[npi(
    id = "E1CADF68-E3DD-4A4A-932D-386A29399F5E",
    client_characteristics = XdpCapabilitiesEx,
    client_dispatch = XdpNpiClient
)]
struct XdpVersion0;
// SAFETY: a second declaration of NPI_XDP_ID in this program, on purpose (an older client), with
// the very types of `npi_xdp::Xdp` (its characteristics and table): a peer of either reads the
// layouts the other wrote. Only the registration-instance version differs, which the NMR passes
// by value.
unsafe impl ::npi_runtime::NpiLayout for XdpVersion0 {}

#[npi_client(npi = XdpVersion0, dynamic_module_id, number = 7)]
struct OldInterface(std::sync::Mutex<Vec<i32>>);

impl Client for OldInterface {
    type Binding = ();
    fn attach(&self, request: ClientAttachRequest<'_, Self>) -> Attach {
        match request.accept((), &OLD_NPI_CLIENT) {
            Ok(accepted) => accepted.into(),
            Err(refused) => {
                self.0.lock().unwrap().push(refused.status.raw());
                refused.into()
            }
        }
    }
}

// The same `XDP_NPI_CLIENT` as the NIC driver's, built for this client.
impl XdpNpiClientImpl for OldInterface {
    unsafe fn get_interface_dispatch(
        version: *const XdpVersion,
        get_interface_context: *mut std::ffi::c_void,
        interface_context: *mut *mut std::ffi::c_void,
        interface_dispatch: *mut *const std::ffi::c_void,
    ) -> NTSTATUS {
        // SAFETY: the caller's pointers, passed on unchanged.
        unsafe {
            <XdpInterface as XdpNpiClientImpl>::get_interface_dispatch(
                version,
                get_interface_context,
                interface_context,
                interface_dispatch,
            )
        }
    }
}

static OLD_NPI_CLIENT: ClientTable<OldInterface> = XdpNpiClient::new::<OldInterface>(
    NPI_CLIENT.raw().header,
    NPI_CLIENT.raw().get_interface_context,
);

static OLD_CAPS: XdpCapabilities = XdpCapabilities::new(INSTANCE);

#[test]
fn the_provider_refuses_another_binding_version() {
    host::isolated(|| {
        let trace = Arc::new(Trace::new());
        assert_eq!(<XdpVersion0 as Npi>::ID, Xdp::ID);
        assert_eq!(<XdpVersion0 as Npi>::REGISTRATION_VERSION, 0);
        let old = Arc::new(OldInterface(std::sync::Mutex::default()));
        let client = ClientRegistration::builder(Arc::clone(&old))
            .module_guid(INSTANCE)
            .characteristics(&OLD_CAPS.capabilities_ex)
            .register()
            .unwrap();
        let (status, provider) =
            open_provider(IF_INDEX, INSTANCE, Arc::clone(&trace)).err().unwrap();
        assert_eq!(status, STATUS_NOINTERFACE);
        assert_eq!(provider.refusals(), [STATUS_NOT_SUPPORTED]);
        assert_eq!(*old.0.lock().unwrap(), [STATUS_NOT_SUPPORTED]);
        drop(client);
        assert_clean();
    });
}

#[test]
fn the_provider_detach_always_pends_until_cleanup() {
    host::isolated(|| {
        let trace = Arc::new(Trace::new());
        let caps = Arc::new(XdpCapabilities::new(INSTANCE));
        let (interface, client) = register_interface(IF_INDEX, caps, Arc::clone(&trace)).unwrap();
        let open = open_provider(IF_INDEX, INSTANCE, Arc::clone(&trace)).unwrap();
        let binding = host::bindings_of(&Xdp::ID)[0].handle;

        // The NIC driver removes the interface: XDP's detach pends; the owner is notified once.
        thread::scope(|scope| {
            let removal = scope.spawn(move || client.deregister());
            let deadline = Instant::now() + Duration::from_secs(10);
            while open.pending_detach().is_none() {
                assert!(Instant::now() < deadline);
                thread::yield_now();
            }
            thread::sleep(Duration::from_millis(30));
            assert!(!removal.is_finished(), "the interface's removal waits for XdpCleanupProvider");
            let b = host::bindings_of(&Xdp::ID);
            assert_eq!(
                (b[0].client_half, b[0].provider_half),
                (HalfState::Done, HalfState::Pending)
            );
            assert_eq!(open.pending_detach().map(Handle::from), Some(binding));
            assert_eq!(open.provider().detach_notified.load(Ordering::SeqCst), 1);
            assert!(interface.binding_handle().is_none());

            open.cleanup();
            assert_eq!(removal.join().unwrap(), Ok(()));
        });
        assert_clean();
    });
}
