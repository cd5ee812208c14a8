//! `StaticRegistration`: the registration a driver keeps in a `static` from `DriverEntry` to
//! `DriverUnload` (one handle word, as in C). Registering twice, deregistering what is not
//! registered, racing threads and re-registering must each give a status and lose no handle.
//!
//! Each test uses its own NPI, so they run in parallel on the one host registrar.

use std::sync::Barrier;
use std::sync::atomic::{AtomicUsize, Ordering};

use npi_runtime::generic::*;
use npi_runtime::host;
use npi_runtime::sys::{GUID, STATUS_INVALID_DEVICE_STATE};
use npi_runtime::*;

/// An NPI with a counting client and provider, both `'static`.
macro_rules! counting_pair {
    ($m:ident, $npi:literal, $provider_id:literal, $client_id:literal) => {
        mod $m {
            #![allow(dead_code)] // each test uses the parts it needs
            use super::*;

            #[npi(id = $npi)]
            pub(super) struct TheNpi;
            // SAFETY: the only declaration of this id in the program; all its types are `()`.
            unsafe impl NpiLayout for TheNpi {}

            #[npi_provider(npi = TheNpi, module_id = $provider_id)]
            pub(super) struct P {
                pub(super) attaches: AtomicUsize,
                pub(super) cleanups: AtomicUsize,
            }
            impl Provider for P {
                type Binding = ();
                fn attach(&self, request: ProviderAttachRequest<'_, Self>) -> Attach {
                    self.attaches.fetch_add(1, Ordering::SeqCst);
                    request.accept((), &()).into()
                }
                fn cleanup(&self, (): &()) {
                    self.cleanups.fetch_add(1, Ordering::SeqCst);
                }
            }

            #[npi_client(npi = TheNpi, module_id = $client_id)]
            pub(super) struct C {
                pub(super) cleanups: AtomicUsize,
            }
            impl Client for C {
                type Binding = ();
                fn attach(&self, request: ClientAttachRequest<'_, Self>) -> Attach {
                    request.accept((), &()).into()
                }
                fn cleanup(&self, (): &()) {
                    self.cleanups.fetch_add(1, Ordering::SeqCst);
                }
            }

            pub(super) static PROVIDER: P =
                P { attaches: AtomicUsize::new(0), cleanups: AtomicUsize::new(0) };
            pub(super) static CLIENT: C = C { cleanups: AtomicUsize::new(0) };
            pub(super) static PROVIDER_REGISTRATION: StaticProviderRegistration<P> =
                StaticRegistration::new();
            pub(super) static CLIENT_REGISTRATION: StaticClientRegistration<C> =
                StaticRegistration::new();

            pub(super) fn id() -> GUID {
                <TheNpi as Npi>::ID
            }
        }
    };
}

counting_pair!(
    lifecycle,
    "57A71C00-0000-4000-8000-000000000001",
    "57A71C00-0000-4000-8000-0000000000AA",
    "57A71C00-0000-4000-8000-0000000000BB"
);
counting_pair!(
    race,
    "57A71C00-0000-4000-8000-000000000002",
    "57A71C00-0000-4000-8000-0000000000AA",
    "57A71C00-0000-4000-8000-0000000000BB"
);
counting_pair!(
    foreign,
    "57A71C00-0000-4000-8000-000000000005",
    "57A71C00-0000-4000-8000-0000000000AA",
    "57A71C00-0000-4000-8000-0000000000BB"
);
counting_pair!(
    scoped,
    "57A71C00-0000-4000-8000-000000000003",
    "57A71C00-0000-4000-8000-0000000000AA",
    "57A71C00-0000-4000-8000-0000000000BB"
);

#[test]
fn a_static_registration_registers_binds_deregisters_and_registers_again() {
    use lifecycle::*;
    let npi = id();
    assert!(!PROVIDER_REGISTRATION.is_registered());
    assert!(PROVIDER_REGISTRATION.handle().is_null());

    PROVIDER_REGISTRATION.register(&PROVIDER).unwrap();
    CLIENT_REGISTRATION.register(&CLIENT).unwrap();
    assert!(PROVIDER_REGISTRATION.is_registered() && CLIENT_REGISTRATION.is_registered());
    assert!(!CLIENT_REGISTRATION.handle().is_null());
    assert_eq!(host::registrations_of(&npi).len(), 2);
    assert_eq!(host::bindings_of(&npi).len(), 1);

    // A live registration refuses a second `register` without calling the NMR.
    assert_eq!(PROVIDER_REGISTRATION.register(&PROVIDER), Err(Status::INVALID_DEVICE_STATE));
    assert_eq!(host::registrations_of(&npi).len(), 2);

    CLIENT_REGISTRATION.deregister().unwrap();
    assert_eq!(CLIENT.cleanups.load(Ordering::SeqCst), 1);
    assert_eq!(PROVIDER.cleanups.load(Ordering::SeqCst), 1);
    // Nothing left to deregister.
    assert_eq!(CLIENT_REGISTRATION.deregister(), Err(Status::INVALID_DEVICE_STATE));
    assert!(!CLIENT_REGISTRATION.is_registered());

    // Empty again: it registers anew, and binds again.
    CLIENT_REGISTRATION.register(&CLIENT).unwrap();
    assert_eq!(PROVIDER.attaches.load(Ordering::SeqCst), 2);
    PROVIDER_REGISTRATION.deregister().unwrap();
    CLIENT_REGISTRATION.deregister().unwrap();
    assert_eq!(PROVIDER.cleanups.load(Ordering::SeqCst), 2);
    assert!(host::registrations_of(&npi).is_empty());
    assert!(host::violations_of(&npi).is_empty(), "{:?}", host::violations_of(&npi));
}

#[test]
fn racing_registers_and_deregisters_lose_no_handle() {
    use race::*;
    let npi = id();
    const THREADS: usize = 4;
    const ROUNDS: usize = 200;
    let (mut registered, mut deregistered) = (0, 0);
    for _ in 0..ROUNDS {
        let barrier = Barrier::new(THREADS);
        let outcomes: Vec<(bool, bool)> = std::thread::scope(|s| {
            let workers: Vec<_> = (0..THREADS)
                .map(|_| {
                    s.spawn(|| {
                        barrier.wait();
                        let r = PROVIDER_REGISTRATION.register(&PROVIDER);
                        let d = PROVIDER_REGISTRATION.deregister();
                        // The only failure either may see is the state of the word.
                        for status in [r, d].into_iter().filter_map(Result::err) {
                            assert_eq!(status, STATUS_INVALID_DEVICE_STATE);
                        }
                        (r.is_ok(), d.is_ok())
                    })
                })
                .collect();
            workers.into_iter().map(|w| w.join().unwrap()).collect()
        });
        let r = outcomes.iter().filter(|o| o.0).count();
        let d = outcomes.iter().filter(|o| o.1).count();
        assert!(r >= 1, "every round's first register succeeds");
        // What is registered is deregistered, by some thread, or is still there.
        let left = usize::from(PROVIDER_REGISTRATION.is_registered());
        assert_eq!(r, d + left, "{r} registered, {d} deregistered, {left} left");
        assert_eq!(host::registrations_of(&npi).len(), left, "a handle was lost");
        if left == 1 {
            PROVIDER_REGISTRATION.deregister().unwrap();
        }
        registered += r;
        deregistered += d + left;
    }
    assert_eq!(registered, deregistered);
    assert!(host::registrations_of(&npi).is_empty());
}

#[test]
fn one_outside_a_static_deregisters_when_dropped() {
    use scoped::*;
    let npi = id();
    {
        let provider = StaticProviderRegistration::<P>::new();
        provider.register(&PROVIDER).unwrap();
        CLIENT_REGISTRATION.register(&CLIENT).unwrap();
        assert_eq!(host::bindings_of(&npi).len(), 1);
    }
    // The provider's drop deregistered and waited: the binding is gone, the client stays.
    assert!(host::bindings_of(&npi).is_empty());
    assert_eq!(PROVIDER.cleanups.load(Ordering::SeqCst), 1);
    assert_eq!(host::registrations_of(&npi).len(), 1);
    CLIENT_REGISTRATION.deregister().unwrap();
    assert!(host::registrations_of(&npi).is_empty());
}

mod dynamic {
    use super::*;

    #[npi(id = "57A71C00-0000-4000-8000-000000000004")]
    pub(super) struct DynNpi;
    // SAFETY: the only declaration of this id in the program; all its types are `()`.
    unsafe impl NpiLayout for DynNpi {}

    #[npi_client(npi = DynNpi, dynamic_module_id)]
    pub(super) struct D;
    impl Client for D {
        type Binding = ();
        fn attach(&self, request: ClientAttachRequest<'_, Self>) -> Attach {
            request.decline()
        }
    }
    pub(super) static MODULE: D = D;
}

#[test]
fn a_module_without_a_static_module_id_is_refused() {
    let registration = StaticClientRegistration::<dynamic::D>::new();
    assert_eq!(registration.register(&dynamic::MODULE), Err(Status::INVALID_PARAMETER));
    assert!(!registration.is_registered());
}

#[test]
fn a_deregistration_the_nmr_refuses_keeps_the_handle() {
    use foreign::*;
    let a = host::Registrar::new();
    let b = host::Registrar::new();
    a.run(|| PROVIDER_REGISTRATION.register(&PROVIDER)).unwrap();
    // Another registrar refuses the handle: nothing started, so the registration stays live
    // here and in `a` (it used to be dropped from the word, never to be deregistered).
    assert_eq!(b.run(|| PROVIDER_REGISTRATION.deregister()), Err(Status::INVALID_PARAMETER));
    assert!(PROVIDER_REGISTRATION.is_registered());
    assert_eq!(a.run(|| host::registrations_of(&id())).len(), 1);
    a.run(|| PROVIDER_REGISTRATION.deregister()).unwrap();
    assert!(!PROVIDER_REGISTRATION.is_registered());
    assert!(a.run(|| host::registrations_of(&id())).is_empty());
    let _ = b.run(|| host::take_violations_of(&id()));
}
