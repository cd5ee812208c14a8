//! The eBPF native-module port: the bpf2c-shaped client registers with a module id read from
//! its configuration, its characteristics match bpf2c's template field by field, and
//! ebpfcore's detach always pends and completes from another thread. Scenarios run one at a
//! time (one NPI id, one NMR).

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::thread;
use std::time::Duration;

use npi_ebpf::native::EbpfNative;
use npi_runtime::Status;
use npi_runtime::generic::ClientModule;
use npi_runtime::host::{self, HalfState};
use npi_runtime::sys::{
    GUID, NPI_CLIENT_CHARACTERISTICS, NPI_REGISTRATION_INSTANCE, NmrIsEqualNpiModuleId,
};
use npi_runtime::{Npi, ProviderRegistration};
use npi_suite::real::Trace;
use npi_suite::real::ebpf::{
    Bpf2cClient, EbpfCore, NPI_MODULE_ID_ENV, ServiceParameters, driver_entry, parse_guid,
    query_npi_module_id,
};

const MODULE_ID: GUID = GUID::from_u128(0x0B7F_3E2A_51C4_4D8E_9A06_7C21_E4F5_A9D3);

fn assert_clean() {
    assert!(host::registrations_of(&EbpfNative::ID).is_empty());
    assert!(host::bindings_of(&EbpfNative::ID).is_empty());
    let v = host::violations_of(&EbpfNative::ID);
    assert!(v.is_empty(), "{v:?}");
}

#[test]
fn the_module_id_comes_from_the_configuration() {
    host::isolated(|| {
        let trace = Arc::new(Trace::new());
        // Missing, or not exactly 16 bytes: STATUS_INVALID_PARAMETER, nothing registered.
        let client = Arc::new(Bpf2cClient::new(Arc::clone(&trace)));
        let missing = ServiceParameters::default();
        assert_eq!(
            driver_entry(Arc::clone(&client), &missing).err(),
            Some(Status::INVALID_PARAMETER)
        );
        let short = ServiceParameters { npi_module_id: Some(vec![0; 15]) };
        assert_eq!(query_npi_module_id(&short), Err(Status::INVALID_PARAMETER));
        assert_clean();

        // The registry value holds the GUID in memory order.
        let parameters = ServiceParameters::with_module_id(MODULE_ID);
        assert_eq!(query_npi_module_id(&parameters), Ok(MODULE_ID));
        assert_eq!(parse_guid("{0b7f3e2a-51c4-4d8e-9a06-7c21e4f5a9d3}"), Some(MODULE_ID));
        let text = ServiceParameters::from_text(Some("0B7F3E2A-51C4-4D8E-9A06-7C21E4F5A9D3"));
        assert_eq!(query_npi_module_id(&text), Ok(MODULE_ID));
        let garbage = ServiceParameters::from_text(Some("not a guid"));
        assert_eq!(query_npi_module_id(&garbage), Err(Status::INVALID_PARAMETER));
        if std::env::var_os(NPI_MODULE_ID_ENV).is_none() {
            assert_eq!(
                query_npi_module_id(&ServiceParameters::from_env()),
                Err(Status::INVALID_PARAMETER)
            );
        }

        let registration = driver_entry(client, &parameters).expect("registered");
        let regs = host::registrations_of(&EbpfNative::ID);
        assert_eq!(regs.len(), 1);
        assert_eq!(regs[0].module_id.guid(), Some(MODULE_ID));
        assert_eq!(regs[0].number, 0);
        drop(registration);
        assert_clean();
    });
}

/// What bpf2c's template registers: `{ 0, sizeof(NPI_CLIENT_CHARACTERISTICS), attach, detach,
/// NULL, { 0, sizeof(NPI_REGISTRATION_INSTANCE), &_bpf2c_npi_id, &_bpf2c_module_id, 0, NULL } }`.
fn check_against_bpf2c_template(c: &NPI_CLIENT_CHARACTERISTICS) {
    assert_eq!(c.Version, 0);
    assert_eq!(usize::from(c.Length), size_of::<NPI_CLIENT_CHARACTERISTICS>());
    assert!(c.ClientAttachProvider.is_some());
    assert!(c.ClientDetachProvider.is_some());
    // bpf2c has no cleanup callback; npi always has one: it releases the binding context.
    assert!(c.ClientCleanupBindingContext.is_some());
    check_instance(&c.ClientRegistrationInstance);
}

fn check_instance(i: &NPI_REGISTRATION_INSTANCE) {
    assert_eq!(i.Version, 0);
    assert_eq!(usize::from(i.Size), size_of::<NPI_REGISTRATION_INSTANCE>());
    // SAFETY: a registration instance's NpiId points to a 'static NPIID.
    assert_eq!(unsafe { *i.NpiId }, EbpfNative::ID);
    assert!(!i.ModuleId.is_null());
    assert_eq!(i.Number, 0);
    assert!(i.NpiSpecificCharacteristics.is_null());
}

#[test]
fn the_characteristics_match_the_bpf2c_template_field_by_field() {
    host::isolated(|| {
        let trace = Arc::new(Trace::new());

        // The static template, as the macro generated it: the module id is a placeholder to patch.
        let template = <Bpf2cClient as ClientModule>::characteristics();
        check_against_bpf2c_template(template);
        const { assert!(<Bpf2cClient as ClientModule>::DYNAMIC_MODULE_ID) };

        // The per-registration copy is what the NMR sees: read it inside the provider's attach.
        let core = Arc::new(EbpfCore::new(Duration::from_millis(5), Arc::clone(&trace)));
        let p = ProviderRegistration::register(Arc::clone(&core)).unwrap();
        let client = Arc::new(Bpf2cClient::new(Arc::clone(&trace)));
        let c = driver_entry(Arc::clone(&client), &ServiceParameters::with_module_id(MODULE_ID))
            .unwrap();
        let seen = core.seen();
        assert_eq!(seen.len(), 1);
        let s = seen[0];
        assert_eq!(s.version, 0);
        assert_eq!(usize::from(s.size), size_of::<NPI_REGISTRATION_INSTANCE>());
        assert_eq!(s.npi_id, EbpfNative::ID);
        assert!(NmrIsEqualNpiModuleId(
            &s.module_id,
            &npi_runtime::sys::NPI_MODULEID::from_guid(MODULE_ID)
        ));
        assert_eq!(usize::from(s.module_id.Length), size_of::<npi_runtime::sys::NPI_MODULEID>());
        assert_eq!(s.number, 0);
        assert!(s.npi_specific_characteristics_null);
        // The template itself was not written to: a second driver can patch its own copy.
        check_against_bpf2c_template(template);
        // SAFETY: the template's ModuleId points to the macro's 'static placeholder.
        let placeholder = unsafe { (*template.ClientRegistrationInstance.ModuleId).guid() };
        assert_ne!(placeholder, Some(MODULE_ID));

        drop(c);
        drop(p);
        assert_clean();
    });
}

#[test]
fn ebpfcore_detach_pends_and_completes_on_another_thread() {
    host::isolated(|| {
        let trace = Arc::new(Trace::new());
        let core = Arc::new(EbpfCore::new(Duration::from_millis(500), Arc::clone(&trace)));
        let p = ProviderRegistration::register(Arc::clone(&core)).unwrap();
        let client = Arc::new(Bpf2cClient::new(Arc::clone(&trace)));
        let c = driver_entry(Arc::clone(&client), &ServiceParameters::with_module_id(MODULE_ID))
            .unwrap();
        assert!(client.provider_handle().is_some());
        assert_eq!(core.modules(), [MODULE_ID]);

        // A second driver with the same module GUID is refused by ebpfcore (already loaded).
        let twin = Arc::new(Bpf2cClient::new(Arc::clone(&trace)));
        let t =
            driver_entry(Arc::clone(&twin), &ServiceParameters::with_module_id(MODULE_ID)).unwrap();
        assert!(twin.provider_handle().is_none());
        assert_eq!(host::bindings_of(&EbpfNative::ID).len(), 1);
        drop(t);

        // A second provider: the generated client binds one provider only.
        let other_core = Arc::new(EbpfCore::new(Duration::from_millis(5), Arc::clone(&trace)));
        let p2 = ProviderRegistration::register(Arc::clone(&other_core)).unwrap();
        assert!(trace.contains("a second provider -> STATUS_INVALID_PARAMETER"));
        assert_eq!(other_core.attached.load(Ordering::SeqCst), 0);
        assert_eq!(host::bindings_of(&EbpfNative::ID).len(), 1);
        drop(p2);

        // The driver unloads: ebpfcore's half pends until its worker completes it.
        // Watched, not slept on: under valgrind the detach callbacks take far longer than they
        // do natively, and ebpfcore's worker completes only after its delay (500 ms).
        let unload = thread::spawn(move || c.deregister());
        let halves = || {
            let b = host::bindings_of(&EbpfNative::ID);
            b.first().map(|b| (b.client_half, b.provider_half))
        };
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while halves() != Some((HalfState::Done, HalfState::Pending)) {
            assert!(std::time::Instant::now() < deadline, "never pending: {:?}", halves());
            thread::sleep(Duration::from_millis(1));
        }
        assert!(!unload.is_finished(), "ebpfcore's detach is pending");
        assert!(client.provider_handle().is_none(), "the client's detach cleared its handle");
        assert_eq!(unload.join().unwrap(), Ok(()));
        let completers = core.completers();
        assert_eq!(completers.len(), 1);
        assert_ne!(completers[0], thread::current().id());
        assert_eq!(core.cleaned.load(Ordering::SeqCst), 1);
        assert!(core.modules().is_empty());

        // ebpfcore unloads with a module attached: the same pending path, from its own side.
        let c = driver_entry(Arc::clone(&client), &ServiceParameters::with_module_id(MODULE_ID))
            .unwrap();
        assert!(client.provider_handle().is_some());
        assert_eq!(p.deregister(), Ok(()));
        assert_eq!(core.completers().len(), 2);
        assert!(client.provider_handle().is_none());
        drop(c);
        assert_clean();
    });
}
