//! The msquic port: the provider accepts every client and detaches synchronously; the client
//! helper binds the first provider only, waits for it with a timeout, and keeps its detach
//! pending until its owner deregisters. Scenarios run one at a time (one NPI id, one NMR).

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::thread;
use std::time::{Duration, Instant};

use npi_msquic::{MSQUIC_MODULE_ID, MsQuic};
use npi_runtime::Status;
use npi_runtime::host::Handle;
use npi_runtime::host::{self, HalfState, Registrar};
use npi_runtime::{Npi, ProviderRegistration};
use npi_suite::real::Trace;
use npi_suite::real::msquic::{MsQuicProvider, OPEN_API_HANDLES, msquic_nmr_client_register};

fn assert_clean() {
    assert!(host::registrations_of(&MsQuic::ID).is_empty());
    assert!(host::bindings_of(&MsQuic::ID).is_empty());
    assert!(host::violations_of(&MsQuic::ID).is_empty(), "{:?}", host::violations_of(&MsQuic::ID));
}

#[test]
fn the_first_provider_binds_and_a_second_is_declined() {
    host::isolated(|| {
        let trace = Arc::new(Trace::new());
        let first = Arc::new(MsQuicProvider::new(Arc::clone(&trace)));
        let p1 = ProviderRegistration::register(Arc::clone(&first)).unwrap();
        // The test driver registers with msquic's own module id.
        let handle = msquic_nmr_client_register(
            MSQUIC_MODULE_ID,
            Duration::from_secs(5),
            Arc::clone(&trace),
        )
        .expect("attached during registration");
        assert_eq!(handle.open_and_close_api(), Ok(()));
        assert_eq!(OPEN_API_HANDLES.load(Ordering::SeqCst), 0);

        let second = Arc::new(MsQuicProvider::new(Arc::clone(&trace)));
        let p2 = ProviderRegistration::register(Arc::clone(&second)).unwrap();
        assert_eq!(handle.client().declined.load(Ordering::SeqCst), 1);
        assert!(trace.contains("STATUS_NOINTERFACE"));
        let bindings = host::bindings_of(&MsQuic::ID);
        assert_eq!(bindings.len(), 1);
        assert_eq!(bindings[0].provider, p1.handle(), "bound to the first provider");
        assert_eq!(second.attached.load(Ordering::SeqCst), 0);

        // The provider's binding context is the binding handle itself, as msquic.sys sets it.
        let dispatch = handle.dispatch().unwrap();
        assert_eq!(bindings[0].handle, dispatch.handle());

        // msquic.sys serves many clients: another driver's helper binds the first provider too.
        let other_driver = msquic_nmr_client_register(
            npi_runtime::sys::GUID::from_u128(0x1234_5678_9ABC_4DEF_8123_4567_89AB_CDEF),
            Duration::from_secs(5),
            Arc::clone(&trace),
        )
        .unwrap();
        assert_eq!(first.attached.load(Ordering::SeqCst), 2);
        assert_eq!(other_driver.client().declined.load(Ordering::SeqCst), 1, "p2 declined again");
        assert_eq!(host::bindings_of(&MsQuic::ID).len(), 2);
        assert_eq!(other_driver.open_and_close_api(), Ok(()));

        drop(dispatch);
        handle.deregister();
        other_driver.deregister();
        drop((p1, p2));
        assert_clean();
    });
}

#[test]
fn the_wait_times_out_without_a_provider() {
    host::isolated(|| {
        let trace = Arc::new(Trace::new());
        let started = Instant::now();
        let result = msquic_nmr_client_register(
            MSQUIC_MODULE_ID,
            Duration::from_millis(50),
            Arc::clone(&trace),
        );
        assert_eq!(result.err(), Some(Status::UNSUCCESSFUL));
        assert!(started.elapsed() >= Duration::from_millis(50));
        assert!(trace.contains("no provider attached in time"));
        // The helper ran the full deregistration.
        assert_clean();

        // A zero timeout only checks.
        let result = msquic_nmr_client_register(MSQUIC_MODULE_ID, Duration::ZERO, trace);
        assert_eq!(result.err(), Some(Status::UNSUCCESSFUL));
        assert_clean();
    });
}

#[test]
fn an_attach_arriving_later_wakes_the_waiter() {
    host::isolated(|| {
        let trace = Arc::new(Trace::new());
        let waiter = {
            let trace = Arc::clone(&trace);
            // The waiter registers: it runs in this test's registrar.
            let registrar = Registrar::current().expect("inside host::isolated");
            registrar.spawn(move || {
                let started = Instant::now();
                let handle =
                    msquic_nmr_client_register(MSQUIC_MODULE_ID, Duration::from_secs(10), trace);
                (handle, started.elapsed())
            })
        };
        // The client registers and waits; no provider yet.
        let deadline = Instant::now() + Duration::from_secs(10);
        while host::registrations_of(&MsQuic::ID).is_empty() {
            assert!(Instant::now() < deadline);
            thread::yield_now();
        }
        thread::sleep(Duration::from_millis(50));
        assert!(!waiter.is_finished(), "still waiting for a provider");

        let provider = Arc::new(MsQuicProvider::new(Arc::clone(&trace)));
        let p = ProviderRegistration::register(Arc::clone(&provider)).unwrap();
        let (handle, waited) = waiter.join().unwrap();
        let handle = handle.expect("woken by the attach");
        assert!(
            waited >= Duration::from_millis(50) && waited < Duration::from_secs(10),
            "{waited:?}"
        );
        assert_eq!(handle.open_and_close_api(), Ok(()));
        handle.deregister();
        drop(p);
        assert_clean();
    });
}

#[test]
fn the_client_detach_stays_pending_until_the_owner_deregisters() {
    host::isolated(|| {
        let trace = Arc::new(Trace::new());
        let provider = Arc::new(MsQuicProvider::new(Arc::clone(&trace)));
        let p = ProviderRegistration::register(Arc::clone(&provider)).unwrap();
        let handle = msquic_nmr_client_register(
            MSQUIC_MODULE_ID,
            Duration::from_secs(5),
            Arc::clone(&trace),
        )
        .unwrap();
        let binding = host::bindings_of(&MsQuic::ID)[0].handle;

        // msquic.sys unloads: its own detach is synchronous, the client's pends on its owner.
        let unload = thread::spawn(move || p.deregister());
        let deadline = Instant::now() + Duration::from_secs(10);
        while handle.pending_detach().is_none() {
            assert!(Instant::now() < deadline);
            thread::yield_now();
        }
        thread::sleep(Duration::from_millis(30));
        assert!(!unload.is_finished(), "the provider's unload waits for the client's owner");
        let b = host::bindings_of(&MsQuic::ID);
        assert_eq!((b[0].client_half, b[0].provider_half), (HalfState::Pending, HalfState::Done));
        // The completion is for the *binding* handle (the C helper passes its registration handle).
        assert_eq!(handle.pending_detach().map(Handle::from), Some(binding));
        assert!(handle.open_and_close_api().is_err(), "no calls once detach began");

        handle.deregister();
        assert_eq!(unload.join().unwrap(), Ok(()));
        assert_clean();
    });
}
