//! The WSK port: version negotiation with retry, calls through the typed table, and detaches
//! that stay pending while a call or a socket is in flight. The scenarios run one at a time:
//! the WSK NPI has one id and the NMR is process-wide.

use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use npi_runtime::host::{self, HalfState};
use npi_runtime::sys::STATUS_NOINTERFACE;
use npi_runtime::{ClientRegistration, Npi, ProviderRegistration};
use npi_suite::real::Trace;
use npi_suite::real::wsk::{WSK_PROVIDER_CHARACTERISTICS, WskClient, WskProvider};
use npi_wsk::{Wsk, WskProviderCharacteristics, make_wsk_version};

fn wait_until(what: &str, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        thread::sleep(Duration::from_millis(1));
    }
}

fn assert_clean() {
    assert!(host::registrations_of(&Wsk::ID).is_empty(), "{:?}", host::registrations_of(&Wsk::ID));
    assert!(host::bindings_of(&Wsk::ID).is_empty());
    assert!(host::violations_of(&Wsk::ID).is_empty(), "{:?}", host::violations_of(&Wsk::ID));
}

#[test]
fn wsk_version_negotiation_and_retry() {
    host::isolated(|| {
        let trace = Arc::new(Trace::new());

        // 1. The §6.6 mock: WSK 1.0 only. The client reads the range and asks for 1.0 at once.
        let provider = Arc::new(WskProvider::new(1, Arc::clone(&trace)));
        let p = ProviderRegistration::register(Arc::clone(&provider)).unwrap();
        let client = Arc::new(WskClient::new(Arc::clone(&trace)));
        let c = ClientRegistration::register(Arc::clone(&client)).unwrap();
        assert_eq!(client.tries(), [make_wsk_version(1, 0)]);
        assert_eq!(client.retries(), 0);
        // Granted 1.1: within a major a higher minor is a superset.
        assert_eq!(client.negotiated(), Some(make_wsk_version(1, 1)));
        assert_eq!(client.transport_list_size(), Ok(0));
        drop(c);
        drop(p);
        assert_clean();

        // 2. A provider that advertises 1.0..=2.0 but implements only 1.x: 2.0 is refused with
        //    STATUS_NOINTERFACE and the client retries with 1.0 on the same offer.
        static RANGE: WskProviderCharacteristics = WskProviderCharacteristics {
            highest_version: make_wsk_version(2, 0),
            lowest_version: make_wsk_version(1, 0),
        };
        let provider = Arc::new(WskProvider::new(1, Arc::clone(&trace)));
        let p = ProviderRegistration::builder(Arc::clone(&provider))
            .characteristics(&RANGE)
            .register()
            .unwrap();
        let client = Arc::new(WskClient::new(Arc::clone(&trace)));
        let c = ClientRegistration::register(Arc::clone(&client)).unwrap();
        assert_eq!(client.tries(), [make_wsk_version(2, 0), make_wsk_version(1, 0)]);
        assert_eq!(client.retries(), 1);
        assert_eq!(client.negotiated(), Some(make_wsk_version(1, 1)));
        assert_eq!(host::bindings_of(&Wsk::ID).len(), 1, "one binding, from the retry");
        assert_eq!(provider.attached.load(std::sync::atomic::Ordering::SeqCst), 1);
        drop(c);
        drop(p);
        assert_clean();

        // 3. The same range on a provider implementing 2.x: no retry.
        let provider = Arc::new(WskProvider::new(2, Arc::clone(&trace)));
        let p = ProviderRegistration::builder(Arc::clone(&provider))
            .characteristics(&RANGE)
            .register()
            .unwrap();
        let client = Arc::new(WskClient::new(Arc::clone(&trace)));
        let c = ClientRegistration::register(Arc::clone(&client)).unwrap();
        assert_eq!((client.tries().len(), client.negotiated()), (1, Some(make_wsk_version(2, 0))));
        drop(c);
        drop(p);

        // 4. No common major: the client declines without calling NmrClientAttachProvider.
        static FUTURE: WskProviderCharacteristics = WskProviderCharacteristics {
            highest_version: make_wsk_version(3, 0),
            lowest_version: make_wsk_version(3, 0),
        };
        let provider = Arc::new(WskProvider::new(3, Arc::clone(&trace)));
        let p = ProviderRegistration::builder(Arc::clone(&provider))
            .characteristics(&FUTURE)
            .register()
            .unwrap();
        let client = Arc::new(WskClient::new(Arc::clone(&trace)));
        let c = ClientRegistration::register(Arc::clone(&client)).unwrap();
        assert!(client.tries().is_empty());
        assert_eq!(client.negotiated(), None);
        assert!(host::bindings_of(&Wsk::ID).is_empty());
        drop(c);
        drop(p);
        assert_clean();
        assert_eq!(WSK_PROVIDER_CHARACTERISTICS.highest_version, make_wsk_version(1, 0));
    });
}

#[test]
fn wsk_client_detach_waits_for_the_call_in_flight() {
    host::isolated(|| {
        let trace = Arc::new(Trace::new());
        let provider = Arc::new(WskProvider::new(1, Arc::clone(&trace)));
        let p = ProviderRegistration::register(Arc::clone(&provider)).unwrap();
        let client = Arc::new(WskClient::new(Arc::clone(&trace)));
        let c = ClientRegistration::register(Arc::clone(&client)).unwrap();

        // A call blocks inside the provider.
        provider.gate.close();
        let caller = {
            let client = Arc::clone(&client);
            thread::spawn(move || client.blocking_query())
        };
        wait_until("the call to enter the provider", || provider.gate.waiting() == 1);

        // The client deregisters: its detach answers "done", yet stays pending while the call runs.
        let deregister = thread::spawn(move || c.deregister());
        wait_until("the client's detach", || {
            client.detached.load(std::sync::atomic::Ordering::SeqCst) == 1
        });
        thread::sleep(Duration::from_millis(30));
        assert!(!deregister.is_finished(), "the detach completed while a call was in flight");
        let b = host::bindings_of(&Wsk::ID);
        assert_eq!(b.len(), 1);
        assert_eq!(b[0].client_half, HalfState::Pending);
        assert_eq!(client.cleaned.load(std::sync::atomic::Ordering::SeqCst), 0);
        // No new call can start now.
        assert!(client.transport_list_size().is_err());

        // The call returns: the last hold goes and the detach completes.
        provider.gate.open();
        assert_eq!(caller.join().unwrap(), Ok(()));
        assert_eq!(deregister.join().unwrap(), Ok(()));
        assert_eq!(client.cleaned.load(std::sync::atomic::Ordering::SeqCst), 1);
        assert_eq!(provider.cleaned.load(std::sync::atomic::Ordering::SeqCst), 1);
        assert!(host::bindings_of(&Wsk::ID).is_empty());
        drop(p);
        assert_clean();
    });
}

#[test]
fn wsk_provider_detach_waits_for_the_last_socket() {
    host::isolated(|| {
        let trace = Arc::new(Trace::new());
        let provider = Arc::new(WskProvider::new(1, Arc::clone(&trace)));
        let p = ProviderRegistration::register(Arc::clone(&provider)).unwrap();
        let client = Arc::new(WskClient::new(Arc::clone(&trace)));
        let c = ClientRegistration::register(Arc::clone(&client)).unwrap();

        let first = client.open_socket().expect("WskSocket");
        let second = client.open_socket().expect("WskSocket");
        assert_eq!((first.id(), second.id()), (1, 2));
        let binding = host::bindings_of(&Wsk::ID)[0].handle;

        // The WSK subsystem goes away while two sockets are open: its detach pends.
        let deregister = thread::spawn(move || p.deregister());
        wait_until("the provider's detach", || trace.contains("STATUS_PENDING until the last"));
        thread::sleep(Duration::from_millis(30));
        assert!(!deregister.is_finished());
        let b = host::bindings_of(&Wsk::ID);
        assert_eq!((b[0].handle, b[0].provider_half), (binding, HalfState::Pending));
        // The client's half is done (no call in flight), the binding is not.
        assert_eq!(b[0].client_half, HalfState::Done);
        assert!(client.open_socket().is_err(), "no new socket once detach began");

        drop(first);
        thread::sleep(Duration::from_millis(30));
        assert!(!deregister.is_finished(), "one socket is still open");
        assert_eq!(provider.cleaned.load(std::sync::atomic::Ordering::SeqCst), 0);

        drop(second); // the last socket: completes the pending detach (ProviderPendingDetach)
        assert_eq!(deregister.join().unwrap(), Ok(()));
        assert_eq!(provider.cleaned.load(std::sync::atomic::Ordering::SeqCst), 1);
        assert_eq!(client.cleaned.load(std::sync::atomic::Ordering::SeqCst), 1);
        drop(c);
        assert_clean();
    });
}

/// A provider that refuses (`host::AttachFaults`): the WSK client's first table (2.0) is
/// refused as a 1.x-only provider would refuse it, and the client retries with 1.0 on the same
/// offer (R12); when every attempt is refused it declines, and nothing binds or needs cleanup.
#[test]
fn wsk_client_retries_when_the_provider_refuses() {
    host::isolated(|| {
        static RANGE: WskProviderCharacteristics = WskProviderCharacteristics {
            highest_version: make_wsk_version(2, 0),
            lowest_version: make_wsk_version(1, 0),
        };
        let trace = Arc::new(Trace::new());
        // A 2.x provider: without the fault the client binds 2.0 at once (see above).
        let provider = Arc::new(WskProvider::new(2, Arc::clone(&trace)));
        let p = ProviderRegistration::builder(Arc::clone(&provider))
            .characteristics(&RANGE)
            .register()
            .unwrap();

        let refusals = host::AttachFaults::refuse_nth(0, STATUS_NOINTERFACE);
        let client = Arc::new(WskClient::new(Arc::clone(&trace)));
        let c = ClientRegistration::register(Arc::clone(&client)).unwrap();
        assert_eq!((refusals.attempts(), refusals.refused()), (2, 1));
        drop(refusals);
        assert_eq!(client.tries(), [make_wsk_version(2, 0), make_wsk_version(1, 0)]);
        assert_eq!(client.retries(), 1);
        assert_eq!(client.negotiated(), Some(make_wsk_version(1, 1)));
        assert_eq!(provider.attached.load(std::sync::atomic::Ordering::SeqCst), 1, "one accept");
        assert_eq!(client.transport_list_size(), Ok(0));
        drop(c);

        // Every attempt refused: the client declines; the provider never saw an attach.
        let refusals = host::AttachFaults::refuse_all(STATUS_NOINTERFACE);
        let client = Arc::new(WskClient::new(Arc::clone(&trace)));
        let c = ClientRegistration::register(Arc::clone(&client)).unwrap();
        assert_eq!((refusals.attempts(), refusals.refused()), (2, 2));
        drop(refusals);
        assert_eq!(client.negotiated(), None);
        assert!(host::bindings_of(&Wsk::ID).is_empty());
        assert_eq!(provider.attached.load(std::sync::atomic::Ordering::SeqCst), 1, "no new accept");
        drop(c);
        assert_eq!(client.cleaned.load(std::sync::atomic::Ordering::SeqCst), 0, "no cleanup (R10)");
        drop(p);
        assert_clean();
    });
}

/// A deregistration during an attach (`host::AttachFaults::provider_leaves_during_nth`): the
/// WSK subsystem starts unloading while the client attaches. The client's attach finishes, its
/// detach follows at once (R28), both sides are cleaned up, and the provider's owner then
/// deregisters and waits as usual, without a violation.
#[cfg(not(loom))] // the fault needs a real thread
#[test]
fn wsk_provider_unloads_while_the_client_attaches() {
    host::isolated(|| {
        use std::sync::atomic::Ordering::SeqCst;
        let trace = Arc::new(Trace::new());
        let provider = Arc::new(WskProvider::new(1, Arc::clone(&trace)));
        let p = ProviderRegistration::register(Arc::clone(&provider)).unwrap();
        // A client bound before: its binding is detached on the unloading thread's behalf.
        let first = Arc::new(WskClient::new(Arc::clone(&trace)));
        let c1 = ClientRegistration::register(Arc::clone(&first)).unwrap();

        let leaves = host::AttachFaults::provider_leaves_during_nth(0);
        let client = Arc::new(WskClient::new(Arc::clone(&trace)));
        let c = ClientRegistration::register(Arc::clone(&client)).unwrap();
        assert_eq!((leaves.attempts(), leaves.refused()), (1, 1));
        drop(leaves);

        // The attach succeeded, then the binding was detached and cleaned up before
        // NmrRegisterClient returned.
        assert_eq!(client.negotiated(), Some(make_wsk_version(1, 1)));
        assert_eq!(provider.attached.load(SeqCst), 2);
        assert_eq!(client.detached.load(SeqCst), 1);
        assert_eq!(client.cleaned.load(SeqCst), 1);
        assert!(host::bindings_of(&Wsk::ID).iter().all(|b| b.client == c1.handle()));
        assert!(client.transport_list_size().is_err(), "no provider any more");
        let regs = host::registrations_of(&Wsk::ID);
        assert!(regs.iter().any(|r| r.handle == p.handle() && r.deregistering));

        // A second client is not offered the leaving provider.
        let late = Arc::new(WskClient::new(Arc::clone(&trace)));
        let c2 = ClientRegistration::register(Arc::clone(&late)).unwrap();
        assert!(late.tries().is_empty());

        assert_eq!(p.deregister(), Ok(()), "the owner's deregistration and wait, as usual");
        assert_eq!((first.detached.load(SeqCst), first.cleaned.load(SeqCst)), (1, 1));
        assert_eq!(provider.cleaned.load(SeqCst), 2);
        drop((c1, c, c2));
        assert_clean();
    });
}
