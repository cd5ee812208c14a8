//! `Registration::deregister_within` (host NMR): a test whose module never completes a pending
//! detach gets a report of what the deregistration waits for instead of a hang, can complete
//! the detach and wait again, and loses nothing either way.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use npi_runtime::host::{self, WaitError};
use npi_runtime::*;

#[npi(id = "B0DED000-0000-4000-8000-000000000001")]
struct BoundedNpi;
// SAFETY: the only declaration of this id in the program; all its types are `()`.
unsafe impl NpiLayout for BoundedNpi {}

/// A provider that pends every detach and keeps the `PendingDetach` for the test to complete.
#[npi_provider(npi = BoundedNpi, module_id = "B0DED000-0000-4000-8000-0000000000AA")]
struct Pender {
    pending: Mutex<Vec<ProviderPendingDetach<Pender>>>,
    cleanups: AtomicUsize,
}

impl Provider for Pender {
    type Binding = ();
    fn attach(&self, request: ProviderAttachRequest<'_, Self>) -> Attach {
        request.accept((), &()).into()
    }
    fn detach(
        &self,
        _: &ProviderBinding<'_, Self>,
        request: ProviderDetachRequest<'_, Self>,
    ) -> Detach {
        let (answer, pending) = request.pend();
        self.pending.lock().unwrap().push(pending);
        answer
    }
    fn cleanup(&self, (): &()) {
        self.cleanups.fetch_add(1, Ordering::SeqCst);
    }
}

#[npi_client(npi = BoundedNpi, module_id = "B0DED000-0000-4000-8000-0000000000BB")]
struct Plain;

impl Client for Plain {
    type Binding = ();
    fn attach(&self, request: ClientAttachRequest<'_, Self>) -> Attach {
        request.accept((), &()).into()
    }
}

fn pender() -> Arc<Pender> {
    Arc::new(Pender { pending: Mutex::default(), cleanups: AtomicUsize::new(0) })
}

#[test]
fn a_stuck_deregistration_says_what_it_waits_for_then_completes() {
    host::isolated(|| {
        let module = pender();
        let provider = ProviderRegistration::register(Arc::clone(&module)).unwrap();
        let client = ClientRegistration::register(Arc::new(Plain)).unwrap();

        let stuck = provider.deregister_within(Duration::from_millis(50)).unwrap_err();
        let WaitError::Stuck(report) = stuck.stuck() else { panic!("{stuck}") };
        assert_eq!(report.bindings.len(), 1, "{report}");
        assert!(stuck.to_string().contains("binding"), "{stuck}");
        // The registration still owns the module: nothing was released early.
        assert_eq!(Arc::strong_count(&module), 2);

        // Still stuck: a second bounded wait gives the same answer and the value back.
        let stuck = stuck.wait_within(Duration::from_millis(10)).unwrap_err();
        assert!(matches!(stuck.stuck(), WaitError::Stuck(_)));

        module.pending.lock().unwrap().pop().unwrap().complete();
        stuck.wait_within(Duration::from_secs(10)).unwrap();
        assert_eq!(module.cleanups.load(Ordering::SeqCst), 1);
        assert_eq!(Arc::strong_count(&module), 1, "released once the wait succeeded");
        client.deregister().unwrap();
    });
}

#[test]
fn dropping_a_stuck_deregistration_waits_for_it() {
    host::isolated(|| {
        let module = pender();
        let provider = ProviderRegistration::register(Arc::clone(&module)).unwrap();
        let client = ClientRegistration::register(Arc::new(Plain)).unwrap();
        let stuck = provider.deregister_within(Duration::from_millis(20)).unwrap_err();

        let completer = {
            let module = Arc::clone(&module);
            std::thread::spawn(move || {
                std::thread::sleep(Duration::from_millis(50));
                module.pending.lock().unwrap().pop().unwrap().complete();
            })
        };
        drop(stuck); // waits until the worker completes the detach
        assert_eq!(module.cleanups.load(Ordering::SeqCst), 1);
        completer.join().unwrap();
        assert_eq!(Arc::strong_count(&module), 1);
        client.deregister().unwrap();
    });
}

#[test]
fn a_quick_deregistration_within_a_limit_is_just_a_deregistration() {
    host::isolated(|| {
        let client = ClientRegistration::register(Arc::new(Plain)).unwrap();
        client.deregister_within(Duration::from_secs(10)).unwrap();
        assert!(host::registrations().is_empty());
    });
}

#[test]
fn a_limit_too_far_to_add_to_now_is_no_limit() {
    host::isolated(|| {
        let module = pender();
        let provider = ProviderRegistration::register(Arc::clone(&module)).unwrap();
        let client = ClientRegistration::register(Arc::new(Plain)).unwrap();
        let completer = {
            let module = Arc::clone(&module);
            let registrar = host::Registrar::current().unwrap();
            registrar.spawn(move || {
                // Completes the detach once the provider has pended it, a little later.
                loop {
                    std::thread::sleep(Duration::from_millis(20));
                    if let Some(pending) = module.pending.lock().unwrap().pop() {
                        break pending.complete();
                    }
                }
            })
        };
        // `Instant::now() + Duration::MAX` overflows; the wait must not panic (it used to, with
        // the registrar's lock held, leaving the registration unwaitable for good).
        provider.deregister_within(Duration::MAX).unwrap();
        completer.join().unwrap();
        assert_eq!(module.cleanups.load(Ordering::SeqCst), 1);
        client.deregister().unwrap();
    });
}
