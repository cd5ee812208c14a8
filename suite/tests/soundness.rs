//! What safe code can do to the runtime at run time, and what it costs: panics at every point of
//! an attach, panicking destructors, guards that are forgotten, registrations dropped where the
//! wait cannot succeed. The compile-time half (what safe code cannot write at all) is in
//! `npi-macros/tests/ui/soundness/`; `npi-runtime/docs/soundness.md` (rustdoc: `npi_runtime::soundness`) maps both to the API.
//!
//! Each test uses its own NPI. Run under valgrind or AddressSanitizer, these also show that no
//! path reads freed memory (see DEVELOPMENT.md).

use core::ffi::c_void;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use npi_runtime::host::{self, ViolationKind};
use npi_runtime::sys::{GUID, NmrDeregisterProvider};
use npi_runtime::*;

/// A binding value that counts its drops.
pub(crate) struct Counted(Arc<AtomicUsize>);

impl Drop for Counted {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

fn kinds(npi: &GUID) -> Vec<ViolationKind> {
    host::take_violations_of(npi).into_iter().map(|v| v.kind).collect()
}

// ----- a panic after a successful accept ----------------------------------------------------

mod panic_after_accept {
    use super::*;

    #[npi(id = "50C0D001-0000-4000-8000-000000000001")]
    pub(super) struct PanicNpi;
    // SAFETY: the types this declaration gives the NPI are its layouts, and it is the only
    // declaration of this id in the program.
    unsafe impl NpiLayout for PanicNpi {}

    #[npi_provider(npi = PanicNpi, module_id = "50C0D001-0000-4000-8000-0000000000AA")]
    pub(super) struct P {
        panic: AtomicBool,
        drops: Arc<AtomicUsize>,
        cleanups: AtomicUsize,
    }

    impl Provider for P {
        type Binding = Counted;
        fn attach(&self, request: ProviderAttachRequest<'_, Self>) -> Attach {
            let accepted = request.accept(Counted(Arc::clone(&self.drops)), &());
            assert!(!self.panic.load(Ordering::SeqCst), "provider panics after accepting");
            accepted.into()
        }
        fn cleanup(&self, _: &Counted) {
            self.cleanups.fetch_add(1, Ordering::SeqCst);
        }
    }

    #[npi_client(npi = PanicNpi, module_id = "50C0D001-0000-4000-8000-0000000000BB")]
    pub(super) struct C {
        panic: AtomicBool,
        drops: Arc<AtomicUsize>,
        cleanups: AtomicUsize,
    }

    impl Client for C {
        type Binding = Counted;
        fn attach(&self, request: ClientAttachRequest<'_, Self>) -> Attach {
            let accepted = request.accept(Counted(Arc::clone(&self.drops)), &());
            assert!(accepted.is_ok());
            assert!(!self.panic.load(Ordering::SeqCst), "client panics after accepting");
            accepted.into()
        }
        fn cleanup(&self, _: &Counted) {
            self.cleanups.fetch_add(1, Ordering::SeqCst);
        }
    }

    /// Registers both, the one that panics second, then deregisters both; returns the
    /// violations and the (provider, client) drops and cleanups.
    pub(super) fn run(provider_panics: bool) -> (Vec<ViolationKind>, [usize; 4], usize) {
        let npi = <PanicNpi as Npi>::ID;
        let p = Arc::new(P {
            panic: AtomicBool::new(provider_panics),
            drops: Arc::default(),
            cleanups: AtomicUsize::new(0),
        });
        let c = Arc::new(C {
            panic: AtomicBool::new(!provider_panics),
            drops: Arc::default(),
            cleanups: AtomicUsize::new(0),
        });
        let provider = ProviderRegistration::register(Arc::clone(&p)).unwrap();
        let client = ClientRegistration::register(Arc::clone(&c)).unwrap();
        let bound = host::bindings_of(&npi).len();
        let violations = kinds(&npi);
        client.deregister().unwrap();
        provider.deregister().unwrap();
        (
            violations,
            [
                p.drops.load(Ordering::SeqCst),
                p.cleanups.load(Ordering::SeqCst),
                c.drops.load(Ordering::SeqCst),
                c.cleanups.load(Ordering::SeqCst),
            ],
            bound,
        )
    }
}

#[test]
fn a_client_that_panics_after_accepting_keeps_its_binding_and_is_cleaned_up() {
    let (violations, counts, bound) = panic_after_accept::run(false);
    // The binding formed (the provider and the NMR hold it): the runtime answers success and
    // records the panic, not a failure after the provider accepted.
    assert_eq!(bound, 1);
    assert_eq!(violations, [ViolationKind::ModulePanic]);
    // Detach and cleanup came for both sides, and both values were dropped.
    assert_eq!(counts, [1, 1, 1, 1]);
    assert!(kinds(&<panic_after_accept::PanicNpi as Npi>::ID).is_empty());
}

#[test]
fn a_provider_that_panics_after_accepting_keeps_its_binding_and_is_cleaned_up() {
    let (violations, counts, bound) = panic_after_accept::run(true);
    assert_eq!(bound, 1);
    assert_eq!(violations, [ViolationKind::ModulePanic]);
    assert_eq!(counts, [1, 1, 1, 1]);
}

// ----- an `Attach` kept from another callback -------------------------------------------------

#[test]
fn a_success_answer_kept_from_another_callback_does_not_attach() {
    #[npi(id = "50C0D002-0000-4000-8000-000000000002")]
    struct StashNpi;
    // SAFETY: the types this declaration gives the NPI are its layouts, and it is the only
    // declaration of this id in the program.
    unsafe impl NpiLayout for StashNpi {}
    #[npi_provider(npi = StashNpi, module_id = "50C0D002-0000-4000-8000-0000000000AA")]
    struct P;
    impl Provider for P {
        type Binding = ();
        fn attach(&self, request: ProviderAttachRequest<'_, Self>) -> Attach {
            request.accept((), &()).into()
        }
    }
    /// The first attach stores its success answer and panics (so the runtime answers for
    /// it); the second returns the stored answer without accepting.
    #[npi_client(npi = StashNpi, module_id = "50C0D002-0000-4000-8000-0000000000BB")]
    struct Stasher(Mutex<Option<Attach>>);
    impl Client for Stasher {
        type Binding = ();
        fn attach(&self, request: ClientAttachRequest<'_, Self>) -> Attach {
            let stored = self.0.lock().unwrap().take();
            if let Some(answer) = stored {
                return answer;
            }
            let answer: Attach = request.accept((), &()).into();
            *self.0.lock().unwrap() = Some(answer);
            panic!("leave without answering");
        }
    }
    let npi = <StashNpi as Npi>::ID;
    let client = ClientRegistration::register(Arc::new(Stasher(Mutex::new(None)))).unwrap();
    let first = ProviderRegistration::register(Arc::new(P)).unwrap();
    assert_eq!(kinds(&npi), [ViolationKind::ModulePanic]);
    let second = ProviderRegistration::register(Arc::new(P)).unwrap();
    // The stored success did not attach the second provider: the runtime knows no accept
    // happened in that callback, answers STATUS_NOINTERFACE and says why.
    let violations = host::take_violations_of(&npi);
    assert_eq!(violations.len(), 1, "{violations:?}");
    assert_eq!(violations[0].kind, ViolationKind::SuccessWithoutAttach);
    assert!(violations[0].detail.contains("without a successful accept"), "{violations:?}");
    assert_eq!(host::bindings_of(&npi).len(), 1);
    drop((first, second, client));
    assert!(host::bindings_of(&npi).is_empty());
}

// ----- a panicking destructor of a binding value ----------------------------------------------

#[test]
fn a_binding_value_whose_destructor_panics_is_freed_and_recorded() {
    struct Bomb;
    impl Drop for Bomb {
        fn drop(&mut self) {
            panic!("binding value destructor");
        }
    }
    #[npi(id = "50C0D003-0000-4000-8000-000000000003")]
    struct BombNpi;
    // SAFETY: the types this declaration gives the NPI are its layouts, and it is the only
    // declaration of this id in the program.
    unsafe impl NpiLayout for BombNpi {}
    #[npi_provider(npi = BombNpi, module_id = "50C0D003-0000-4000-8000-0000000000AA")]
    struct P;
    impl Provider for P {
        type Binding = Bomb;
        fn attach(&self, request: ProviderAttachRequest<'_, Self>) -> Attach {
            request.accept(Bomb, &()).into()
        }
    }
    #[npi_client(npi = BombNpi, module_id = "50C0D003-0000-4000-8000-0000000000BB")]
    struct C;
    impl Client for C {
        type Binding = ();
        fn attach(&self, request: ClientAttachRequest<'_, Self>) -> Attach {
            request.accept((), &()).into()
        }
    }
    let npi = <BombNpi as Npi>::ID;
    let provider = ProviderRegistration::register(Arc::new(P)).unwrap();
    let client = ClientRegistration::register(Arc::new(C)).unwrap();
    // The provider's cleanup callback drops the value: the panic is caught at the boundary.
    provider.deregister().unwrap();
    let violations = host::take_violations_of(&npi);
    assert_eq!(violations.len(), 1, "{violations:?}");
    assert_eq!(violations[0].kind, ViolationKind::ModulePanic);
    assert_eq!(violations[0].function, "ProviderCleanupBindingContext");
    assert!(violations[0].detail.contains("binding value destructor"));
    drop(client);
    assert!(host::bindings_of(&npi).is_empty());
}

// ----- a registration whose wait cannot succeed -------------------------------------------------

#[test]
fn a_registration_dropped_where_its_wait_fails_keeps_what_the_nmr_points_at() {
    /// Provider characteristics the registration owns.
    #[npi_data]
    struct Caps {
        magic: u32,
    }

    #[npi(id = "50C0D004-0000-4000-8000-000000000004", provider_characteristics = Caps)]
    struct WaitNpi;
    // SAFETY: the types this declaration gives the NPI are its layouts, and it is the only
    // declaration of this id in the program.
    unsafe impl NpiLayout for WaitNpi {}
    #[npi_provider(npi = WaitNpi, module_id = "50C0D004-0000-4000-8000-0000000000AA")]
    struct P;
    impl Provider for P {
        type Binding = ();
        fn attach(&self, request: ProviderAttachRequest<'_, Self>) -> Attach {
            request.accept((), &()).into()
        }
    }
    static REGISTRATION: Mutex<Option<ProviderRegistration<P>>> = Mutex::new(None);
    static STATUS: Mutex<Option<Result<(), Status>>> = Mutex::new(None);
    /// Deregisters the provider from inside the attach the provider's wait would wait for.
    #[npi_client(npi = WaitNpi, module_id = "50C0D004-0000-4000-8000-0000000000BB")]
    struct C;
    impl Client for C {
        type Binding = ();
        fn attach(&self, request: ClientAttachRequest<'_, Self>) -> Attach {
            assert_eq!(request.provider().characteristics().map(|c| c.magic), Some(42));
            if let Some(registration) = REGISTRATION.lock().unwrap().take() {
                *STATUS.lock().unwrap() = Some(registration.deregister());
            }
            // The characteristics are still there (the registration kept them).
            assert_eq!(request.provider().characteristics().map(|c| c.magic), Some(42));
            request.accept((), &()).into()
        }
    }
    let npi = <WaitNpi as Npi>::ID;
    let module = Arc::new(P);
    let caps = Arc::new(Caps { magic: 42 });
    let provider = ProviderRegistration::builder(Arc::clone(&module))
        .owned_characteristics(Arc::clone(&caps))
        .register()
        .unwrap();
    *REGISTRATION.lock().unwrap() = Some(provider);
    let client = ClientRegistration::register(Arc::new(C)).unwrap();
    // The host refuses the wait (it would wait for the very attach it runs in) ...
    assert_eq!(*STATUS.lock().unwrap(), Some(Err(Status::INVALID_DEVICE_STATE)));
    assert!(kinds(&npi).contains(&ViolationKind::WaitWouldDeadlock));
    // ... so the registration kept its module and characteristics for the NMR, for good.
    assert_eq!(Arc::strong_count(&module), 2);
    assert_eq!(Arc::strong_count(&caps), 2);
    // The late binding (R28) detaches and is cleaned up with the module still alive.
    drop(client);
    assert!(host::bindings_of(&npi).is_empty());
}

// ----- forgotten guards: liveness only ----------------------------------------------------------

mod forgotten {
    use super::*;

    #[dispatch_table]
    pub(super) struct ForgetDispatch {
        version: u16,
        pub(super) get: fn(#[context] binding: *mut c_void) -> u32,
    }

    #[npi(id = "50C0D005-0000-4000-8000-000000000005", provider_dispatch = ForgetDispatch)]
    pub(super) struct ForgetNpi;
    // SAFETY: the types this declaration gives the NPI are its layouts, and it is the only
    // declaration of this id in the program.
    unsafe impl NpiLayout for ForgetNpi {}

    #[npi_provider(npi = ForgetNpi, module_id = "50C0D005-0000-4000-8000-0000000000AA")]
    pub(super) struct P;
    impl Provider for P {
        type Binding = u32;
        fn attach(&self, request: ProviderAttachRequest<'_, Self>) -> Attach {
            request.accept(9, &TABLE).into()
        }
    }
    impl ForgetDispatchImpl for P {
        fn get(binding: &ProviderBinding<'_, P>) -> u32 {
            **binding
        }
    }
    pub(super) static TABLE: ProviderTable<P> = ForgetDispatch::new::<P>(1);

    #[npi_client(npi = ForgetNpi, module_id = "50C0D005-0000-4000-8000-0000000000BB")]
    pub(super) struct C(pub Mutex<Vec<ClientBindingRef<C>>>);
    impl Client for C {
        type Binding = ();
        fn attach(&self, request: ClientAttachRequest<'_, Self>) -> Attach {
            let accepted = request.accept((), &());
            if let Ok(a) = &accepted {
                self.0.lock().unwrap().push(a.binding().to_ref());
            }
            accepted.into()
        }
    }
}

#[test]
fn a_forgotten_peer_call_keeps_the_detach_pending_forever_instead_of_freeing_the_peer() {
    use forgotten::*;
    let npi = <ForgetNpi as Npi>::ID;
    let provider = ProviderRegistration::register(Arc::new(P)).unwrap();
    let client = Arc::new(C(Mutex::default()));
    let client_registration = ClientRegistration::register(Arc::clone(&client)).unwrap();
    let binding = client.0.lock().unwrap().pop().unwrap();
    {
        let call = binding.peer().unwrap();
        assert_eq!(call.get(), 9);
        std::mem::forget(call);
    }
    // Deregister the provider with a bounded wait: the client's half cannot complete while the
    // forgotten call is (as far as anyone can tell) still running, so the wait reports it.
    let handle = provider.handle();
    std::mem::forget(provider);
    // SAFETY: the handle of a live provider registration, deregistered once (the registration
    // was forgotten, so its `Drop` will not).
    assert_eq!(unsafe { NmrDeregisterProvider(handle) }, npi_runtime::sys::STATUS_PENDING);
    match host::wait_for_deregister_complete(handle, Duration::from_millis(100)) {
        Err(host::WaitError::Stuck(report)) => {
            let text = report.to_string();
            assert!(text.contains("NmrClientDetachProviderComplete"), "{text}");
        }
        other => panic!("{other:?}"),
    }
    // The binding is detaching: no new call can start, and the old one is still "in flight".
    assert!(binding.is_detaching());
    assert!(binding.peer().is_none());
    assert!(host::violations_of(&npi).is_empty());
    // The client registration is leaked on purpose: its wait could never return.
    std::mem::forget(client_registration);
}

#[test]
fn a_forgotten_registration_keeps_its_owned_characteristics_for_later_peers() {
    #[npi_data]
    struct Caps {
        magic: u32,
    }

    #[npi(id = "50C0D006-0000-4000-8000-000000000006", provider_characteristics = Caps)]
    struct LeakNpi;
    // SAFETY: the types this declaration gives the NPI are its layouts, and it is the only
    // declaration of this id in the program.
    unsafe impl NpiLayout for LeakNpi {}
    #[npi_provider(npi = LeakNpi, module_id = "50C0D006-0000-4000-8000-0000000000AA")]
    struct P;
    impl Provider for P {
        type Binding = ();
        fn attach(&self, request: ProviderAttachRequest<'_, Self>) -> Attach {
            request.accept((), &()).into()
        }
    }
    #[npi_client(npi = LeakNpi, module_id = "50C0D006-0000-4000-8000-0000000000BB")]
    struct C(AtomicUsize);
    impl Client for C {
        type Binding = ();
        fn attach(&self, request: ClientAttachRequest<'_, Self>) -> Attach {
            let magic = request.provider().characteristics().map_or(0, |c| c.magic);
            self.0.store(magic as usize, Ordering::SeqCst);
            request.decline()
        }
    }
    let caps = Arc::new(Caps { magic: 77 });
    let provider = ProviderRegistration::builder(Arc::new(P))
        .owned_characteristics(Arc::clone(&caps))
        .number(3)
        .register()
        .unwrap();
    std::mem::forget(provider);
    drop(caps);
    // The caller's last handle on the characteristics is gone, the registration leaked: a
    // client registering now still reads them.
    let client = Arc::new(C(AtomicUsize::new(0)));
    let registration = ClientRegistration::register(Arc::clone(&client)).unwrap();
    assert_eq!(client.0.load(Ordering::SeqCst), 77);
    drop(registration);
    assert!(host::violations_of(&<LeakNpi as Npi>::ID).is_empty());
}

// ----- panics that could have escaped the guard -------------------------------------------------

/// A panic payload whose destructor panics with a payload whose destructor panics, `depth` deep.
struct Nested(u32);

impl Drop for Nested {
    fn drop(&mut self) {
        if self.0 > 0 {
            std::panic::panic_any(Nested(self.0 - 1));
        }
    }
}

#[test]
fn a_panic_whose_payload_panics_when_dropped_stays_inside_the_callback() {
    #[npi(id = "50C0D007-0000-4000-8000-000000000007")]
    struct PayloadNpi;
    // SAFETY: the types this declaration gives the NPI are its layouts, and it is the only
    // declaration of this id in the program.
    unsafe impl NpiLayout for PayloadNpi {}
    #[npi_provider(npi = PayloadNpi, module_id = "50C0D007-0000-4000-8000-0000000000AA")]
    struct P;
    impl Provider for P {
        type Binding = ();
        fn attach(&self, request: ProviderAttachRequest<'_, Self>) -> Attach {
            request.accept((), &()).into()
        }
    }
    #[npi_client(npi = PayloadNpi, module_id = "50C0D007-0000-4000-8000-0000000000BB")]
    struct C;
    impl Client for C {
        type Binding = ();
        fn attach(&self, _: ClientAttachRequest<'_, Self>) -> Attach {
            std::panic::panic_any(Nested(3));
        }
    }
    let npi = <PayloadNpi as Npi>::ID;
    let provider = ProviderRegistration::register(Arc::new(P)).unwrap();
    let client = ClientRegistration::register(Arc::new(C)).unwrap();
    // The process is still here; the attach failed and the panic was recorded.
    assert_eq!(kinds(&npi), [ViolationKind::ModulePanic]);
    assert!(host::bindings_of(&npi).is_empty());
    drop((client, provider));
}

#[test]
fn a_panicking_cleanup_and_a_panicking_value_destructor_are_both_caught() {
    struct Bomb;
    impl Drop for Bomb {
        fn drop(&mut self) {
            panic!("value destructor");
        }
    }
    #[npi(id = "50C0D008-0000-4000-8000-000000000008")]
    struct TwiceNpi;
    // SAFETY: the types this declaration gives the NPI are its layouts, and it is the only
    // declaration of this id in the program.
    unsafe impl NpiLayout for TwiceNpi {}
    #[npi_provider(npi = TwiceNpi, module_id = "50C0D008-0000-4000-8000-0000000000AA")]
    struct P;
    impl Provider for P {
        type Binding = Bomb;
        fn attach(&self, request: ProviderAttachRequest<'_, Self>) -> Attach {
            request.accept(Bomb, &()).into()
        }
        fn cleanup(&self, _: &Bomb) {
            panic!("cleanup");
        }
    }
    #[npi_client(npi = TwiceNpi, module_id = "50C0D008-0000-4000-8000-0000000000BB")]
    struct C;
    impl Client for C {
        type Binding = ();
        fn attach(&self, request: ClientAttachRequest<'_, Self>) -> Attach {
            request.accept((), &()).into()
        }
    }
    let npi = <TwiceNpi as Npi>::ID;
    let provider = ProviderRegistration::register(Arc::new(P)).unwrap();
    let client = ClientRegistration::register(Arc::new(C)).unwrap();
    drop(client);
    let details: Vec<_> = host::take_violations_of(&npi)
        .into_iter()
        .map(|v| (v.kind, v.function, v.detail.contains("cleanup"), v.detail.contains("value")))
        .collect();
    assert_eq!(
        details,
        [
            (ViolationKind::ModulePanic, "ProviderCleanupBindingContext", true, false),
            (ViolationKind::ModulePanic, "ProviderCleanupBindingContext", false, true),
        ]
    );
    drop(provider);
    assert!(host::bindings_of(&npi).is_empty());
}

// ----- NMR calls from a thread-local destructor ---------------------------------------------------

#[test]
fn registering_from_a_thread_local_destructor_keeps_what_the_nmr_points_at() {
    #[npi(id = "50C0D009-0000-4000-8000-000000000009")]
    struct TlsNpi;
    // SAFETY: the types this declaration gives the NPI are its layouts, and it is the only
    // declaration of this id in the program.
    unsafe impl NpiLayout for TlsNpi {}
    #[npi_provider(npi = TlsNpi, module_id = "50C0D009-0000-4000-8000-0000000000AA")]
    struct P;
    impl Provider for P {
        type Binding = ();
        fn attach(&self, request: ProviderAttachRequest<'_, Self>) -> Attach {
            request.accept((), &()).into()
        }
    }
    #[npi_client(npi = TlsNpi, module_id = "50C0D009-0000-4000-8000-0000000000BB")]
    struct C(String);
    impl Client for C {
        type Binding = ();
        fn attach(&self, request: ClientAttachRequest<'_, Self>) -> Attach {
            assert!(self.0.starts_with("client"));
            request.accept((), &()).into()
        }
    }
    static RESULT: Mutex<Option<Result<(), Status>>> = Mutex::new(None);
    /// Registers (and deregisters) a client from its destructor, after the NMR's own
    /// thread-locals of this thread are gone.
    struct LateRegistrar;
    impl Drop for LateRegistrar {
        fn drop(&mut self) {
            let registration = ClientRegistration::builder(Arc::new(C("client (late)".into())))
                .number(7)
                .register();
            *RESULT.lock().unwrap() = Some(registration.map(drop));
        }
    }
    std::thread_local! {
        static LATE: std::cell::RefCell<Option<LateRegistrar>> =
            const { std::cell::RefCell::new(None) };
    }
    let npi = <TlsNpi as Npi>::ID;
    let provider = ProviderRegistration::register(Arc::new(P)).unwrap();
    std::thread::spawn(|| {
        // Thread-local destructors run in the reverse order of first use: this one runs
        // after the NMR's per-thread frames (first used below) are destroyed.
        LATE.with(|l| *l.borrow_mut() = Some(LateRegistrar));
        drop(ClientRegistration::register(Arc::new(C("client (warm-up)".into()))).unwrap());
    })
    .join()
    .unwrap();
    assert_eq!(*RESULT.lock().unwrap(), Some(Ok(())));
    drop(provider);
    assert!(host::registrations_of(&npi).is_empty());
    assert!(host::bindings_of(&npi).is_empty());
    // The host keeps which callbacks run on a thread in that thread's locals; once they are
    // gone it cannot tell that the attach runs inside its callback, and refuses it (OQ-9)
    // rather than guess. Nothing dangles either way.
    assert_eq!(kinds(&npi), [ViolationKind::AttachOutsideCallback]);
}

// ----- a module id from safe code ----------------------------------------------------------------

#[test]
fn a_module_id_cannot_claim_more_bytes_than_it_has_nor_an_unknown_type() {
    use npi_runtime::sys::NPI_MODULEID;
    #[npi(id = "50C0D00A-0000-4000-8000-00000000000A")]
    struct IdNpi;
    // SAFETY: the types this declaration gives the NPI are its layouts, and it is the only
    // declaration of this id in the program.
    unsafe impl NpiLayout for IdNpi {}
    #[npi_provider(npi = IdNpi, dynamic_module_id)]
    struct P;
    impl Provider for P {
        type Binding = ();
        fn attach(&self, request: ProviderAttachRequest<'_, Self>) -> Attach {
            request.accept((), &()).into()
        }
    }
    let npi = <IdNpi as Npi>::ID;
    let mut id =
        NPI_MODULEID::from_guid(GUID::from_u128(0x50C0_D00A_0000_4000_8000_0000_0000_00AA));
    id.Length = u16::MAX;
    let registration = ProviderRegistration::builder(Arc::new(P)).module_id(id).register().unwrap();
    let listed = host::registrations_of(&npi);
    assert_eq!(listed.len(), 1);
    assert_eq!(usize::from(listed[0].module_id.Length), size_of::<NPI_MODULEID>());
    drop(registration);

    id.Type = 7;
    let refused = ProviderRegistration::builder(Arc::new(P)).module_id(id).register();
    assert_eq!(refused.err(), Some(Status::INVALID_PARAMETER));
    assert!(host::registrations_of(&npi).is_empty());
}

// ----- holds spread over the shards of a binding -------------------------------------------------

#[test]
fn calls_held_on_every_shard_keep_the_detach_pending_until_the_last_one_ends() {
    use forgotten::*;
    #[npi(id = "50C0D00B-0000-4000-8000-00000000000B", provider_dispatch = ForgetDispatch)]
    struct ShardNpi;
    // SAFETY: the types this declaration gives the NPI are its layouts, and it is the only
    // declaration of this id in the program.
    unsafe impl NpiLayout for ShardNpi {}
    #[npi_provider(npi = ShardNpi, module_id = "50C0D00B-0000-4000-8000-0000000000AA")]
    struct SP;
    impl Provider for SP {
        type Binding = u32;
        fn attach(&self, request: ProviderAttachRequest<'_, Self>) -> Attach {
            request.accept(5, &SHARD_TABLE).into()
        }
    }
    impl ForgetDispatchImpl for SP {
        fn get(binding: &ProviderBinding<'_, SP>) -> u32 {
            **binding
        }
    }
    static SHARD_TABLE: ProviderTable<SP> = ForgetDispatch::new::<SP>(1);
    #[npi_client(npi = ShardNpi, module_id = "50C0D00B-0000-4000-8000-0000000000BB")]
    struct SC(Mutex<Vec<ClientBindingRef<SC>>>);
    impl Client for SC {
        type Binding = ();
        const PARALLEL_CALLERS: usize = 4;
        fn attach(&self, request: ClientAttachRequest<'_, Self>) -> Attach {
            let accepted = request.accept((), &());
            if let Ok(a) = &accepted {
                self.0.lock().unwrap().push(a.binding().to_ref());
            }
            accepted.into()
        }
    }
    let npi = <ShardNpi as Npi>::ID;
    // A static module: the registration is forgotten below (to deregister it by handle), and
    // a static leaves nothing behind when it is.
    static PROVIDER: SP = SP;
    let provider = ProviderRegistration::register(&PROVIDER).unwrap();
    let client = Arc::new(SC(Mutex::default()));
    let client_registration = ClientRegistration::register(Arc::clone(&client)).unwrap();
    let first = client.0.lock().unwrap().pop().unwrap();
    // More references than the client's four shards: every shard gets a call in flight, some
    // two.
    let refs: Vec<_> = (0..6).map(|_| first.clone()).collect();
    let mut calls: Vec<_> = refs.iter().map(|r| r.peer().expect("callable")).collect();
    assert!(calls.iter().all(|c| c.get() == 5));

    let handle = provider.handle();
    std::mem::forget(provider);
    // SAFETY: the handle of a live provider registration, deregistered once (forgotten above).
    assert_eq!(unsafe { NmrDeregisterProvider(handle) }, npi_runtime::sys::STATUS_PENDING);
    // Detach began: no new call on any reference, whichever shard it uses.
    assert!(refs.iter().all(|r| r.peer().is_none() && r.is_detaching()));
    while calls.len() > 1 {
        let stuck = host::wait_for_deregister_complete(handle, Duration::from_millis(20));
        assert!(matches!(stuck, Err(host::WaitError::Stuck(_))), "{stuck:?}");
        drop(calls.pop());
    }
    // The last call in flight ends: this side's half completes (once), the provider's wait
    // returns.
    drop(calls.pop());
    host::wait_for_deregister_complete(handle, Duration::from_secs(10)).unwrap();
    assert!(host::violations_of(&npi).is_empty(), "{:?}", host::violations_of(&npi));
    drop(calls);
    drop((refs, first, client_registration));
    assert!(host::bindings_of(&npi).is_empty());
}

// ----- is_detaching and peer() agree, across shards -----------------------------------------

mod detaching_across_shards {
    use super::*;

    #[npi(id = "50C0D001-0000-4000-8000-0000000000D1")]
    pub(super) struct ShardNpi;
    // SAFETY: the only declaration of this id in the program; all its types are `()`.
    unsafe impl NpiLayout for ShardNpi {}

    #[npi_provider(npi = ShardNpi, module_id = "50C0D001-0000-4000-8000-0000000000D2")]
    pub(super) struct P;
    impl Provider for P {
        type Binding = ();
        fn attach(&self, request: ProviderAttachRequest<'_, Self>) -> Attach {
            request.accept((), &()).into()
        }
    }

    #[npi_client(npi = ShardNpi, module_id = "50C0D001-0000-4000-8000-0000000000D3")]
    pub(super) struct C {
        pub(super) stash: Mutex<Option<ClientBindingRef<C>>>,
    }
    impl Client for C {
        type Binding = ();
        const PARALLEL_CALLERS: usize = 16;
        fn attach(&self, request: ClientAttachRequest<'_, Self>) -> Attach {
            let accepted = request.accept((), &());
            if let Ok(accepted) = &accepted {
                *self.stash.lock().unwrap() = Some(accepted.binding().to_ref());
            }
            accepted.into()
        }
    }
}

/// Once `is_detaching()` reads true on one clone, no clone hands out a call any more, whichever
/// of the 16 shards it calls through (the first shard, which carries the flag, closes last).
#[test]
fn once_detaching_is_seen_no_shard_hands_out_a_call() {
    use detaching_across_shards::*;
    let mut late_calls = 0;
    for _ in 0..300 {
        host::isolated(|| {
            let registrar = host::Registrar::current().unwrap();
            let provider = ProviderRegistration::register(Arc::new(P)).unwrap();
            let module = Arc::new(C { stash: Mutex::new(None) });
            let client = ClientRegistration::register(Arc::clone(&module)).unwrap();
            let first = module.stash.lock().unwrap().take().unwrap();
            // Clones go round robin over the shards: the 15th is on the last one.
            let mut last = first.clone();
            for _ in 1..15 {
                last = first.clone();
            }
            let started = Arc::new(AtomicBool::new(false));
            let watcher = {
                let started = Arc::clone(&started);
                registrar.spawn(move || {
                    started.store(true, Ordering::SeqCst);
                    while !first.is_detaching() {
                        std::hint::spin_loop();
                    }
                    usize::from(last.peer().is_some())
                })
            };
            while !started.load(Ordering::SeqCst) {
                std::hint::spin_loop();
            }
            drop(provider);
            late_calls += watcher.join().unwrap();
            drop(client);
        });
    }
    assert_eq!(late_calls, 0, "peer() handed out calls after is_detaching() read true");
}
