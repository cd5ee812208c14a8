//! The safe layer through the macros, on the host NMR: what a module written with npi can and
//! cannot do. Each test uses its own NPI.

use std::sync::atomic::{AtomicBool, AtomicU32, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

use npi_runtime::host::{self, ViolationKind};
use npi_runtime::sys::{GUID, NPI_MODULEID, STATUS_INVALID_PARAMETER, STATUS_NOINTERFACE};
use npi_runtime::*;

/// A table with one function taking the provider's binding context.
#[dispatch_table]
struct CountDispatch {
    /// Version.
    version: u16,
    /// Bumps and returns the provider binding's counter.
    bump: fn(#[context] binding: *mut core::ffi::c_void) -> u32,
}

/// Provider characteristics: a version range, WSK-style.
#[npi_data]
struct Range {
    /// Highest.
    highest: u16,
    /// Lowest.
    lowest: u16,
}

// ----- panics never cross extern "system" ----------------------------------------------------

#[npi(id = "7E570001-0000-4000-8000-000000000001")]
struct PanicNpi;
// SAFETY: the types this declaration gives the NPI are its layouts, and it is the only
// declaration of this id in the program.
unsafe impl NpiLayout for PanicNpi {}

#[npi_provider(npi = PanicNpi, module_id = "7E570001-0000-4000-8000-0000000000AA")]
struct PanickyProvider {
    panic_in_attach: AtomicBool,
}

impl Provider for PanickyProvider {
    type Binding = ();
    fn attach(&self, request: ProviderAttachRequest<'_, Self>) -> Attach {
        assert!(!self.panic_in_attach.load(Ordering::SeqCst), "provider attach blew up");
        request.accept((), &()).into()
    }
    fn detach(&self, _: &ProviderBinding<'_, Self>, _: ProviderDetachRequest<'_, Self>) -> Detach {
        panic!("provider detach blew up");
    }
}

#[npi_client(npi = PanicNpi, module_id = "7E570001-0000-4000-8000-0000000000BB")]
struct PlainClient {
    attached: AtomicU32,
    refused: Mutex<Vec<i32>>,
    cleaned: AtomicU32,
}

impl Client for PlainClient {
    type Binding = ();
    fn attach(&self, request: ClientAttachRequest<'_, Self>) -> Attach {
        match request.accept((), &()) {
            Ok(a) => {
                self.attached.fetch_add(1, Ordering::SeqCst);
                a.into()
            }
            Err(r) => {
                self.refused.lock().unwrap().push(r.status.raw());
                r.into()
            }
        }
    }
    fn cleanup(&self, (): &()) {
        self.cleaned.fetch_add(1, Ordering::SeqCst);
    }
}

#[test]
fn a_panic_in_attach_becomes_an_error_status_and_a_violation() {
    let provider = Arc::new(PanickyProvider { panic_in_attach: AtomicBool::new(true) });
    let client = Arc::new(PlainClient {
        attached: AtomicU32::new(0),
        refused: Mutex::default(),
        cleaned: AtomicU32::new(0),
    });
    let p = ProviderRegistration::register(Arc::clone(&provider)).unwrap();
    let c = ClientRegistration::register(Arc::clone(&client)).unwrap();
    assert_eq!(*client.refused.lock().unwrap(), [STATUS_INVALID_PARAMETER]);
    assert!(host::bindings_of(&PanicNpi::ID).is_empty(), "no binding from a panicked attach");
    let v = host::take_violations_of(&PanicNpi::ID);
    assert_eq!(v.len(), 1, "{v:?}");
    assert_eq!(v[0].kind, ViolationKind::ModulePanic);
    assert!(v[0].detail.contains("provider attach blew up"), "{}", v[0].detail);
    drop((c, p));
}

#[test]
fn a_panic_in_detach_counts_as_done_and_cleanup_still_runs() {
    // A distinct module id per test is not needed: each test has its own NPI.
    #[npi(id = "7E570002-0000-4000-8000-000000000002")]
    struct PanicDetachNpi;
    // SAFETY: the types this declaration gives the NPI are its layouts, and it is the only
    // declaration of this id in the program.
    unsafe impl NpiLayout for PanicDetachNpi {}
    #[npi_provider(npi = PanicDetachNpi, module_id = "7E570002-0000-4000-8000-0000000000AA")]
    struct P;
    impl Provider for P {
        type Binding = ();
        fn attach(&self, request: ProviderAttachRequest<'_, Self>) -> Attach {
            request.accept((), &()).into()
        }
        fn detach(
            &self,
            _: &ProviderBinding<'_, Self>,
            _: ProviderDetachRequest<'_, Self>,
        ) -> Detach {
            panic!("detach blew up");
        }
    }
    #[npi_client(npi = PanicDetachNpi, module_id = "7E570002-0000-4000-8000-0000000000BB")]
    struct C(AtomicU32);
    impl Client for C {
        type Binding = ();
        fn attach(&self, request: ClientAttachRequest<'_, Self>) -> Attach {
            request.accept((), &()).into()
        }
        fn cleanup(&self, (): &()) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }
    static CLIENT: C = C(AtomicU32::new(0));
    let p = ProviderRegistration::register(&P).unwrap();
    let c = ClientRegistration::register(&CLIENT).unwrap();
    assert_eq!(host::bindings_of(&PanicDetachNpi::ID).len(), 1);
    assert_eq!(p.deregister(), Ok(()), "the wait returns: the panicked half counts as done");
    assert_eq!(CLIENT.0.load(Ordering::SeqCst), 1, "the client's cleanup ran once");
    let v = host::take_violations_of(&PanicDetachNpi::ID);
    assert_eq!(v.iter().map(|v| v.kind).collect::<Vec<_>>(), [ViolationKind::ModulePanic]);
    drop(c);
}

// ----- pending detach, in-flight calls, R23 ---------------------------------------------------

#[npi(
    id = "7E570003-0000-4000-8000-000000000003",
    provider_dispatch = CountDispatch,
    provider_characteristics = Range
)]
struct CountNpi;
// SAFETY: the types this declaration gives the NPI are its layouts, and it is the only
// declaration of this id in the program.
unsafe impl NpiLayout for CountNpi {}

static RANGE: Range = Range { highest: 3, lowest: 1 };

#[npi_provider(npi = CountNpi, module_id = "7E570003-0000-4000-8000-0000000000AA", characteristics = RANGE)]
struct Counter {
    pend: AtomicBool,
    pending: Mutex<Vec<ProviderPendingDetach<Counter>>>,
    cleaned: AtomicU32,
}

impl Provider for Counter {
    type Binding = AtomicU32;
    fn attach(&self, request: ProviderAttachRequest<'_, Self>) -> Attach {
        let number = request.client().number();
        request.accept(AtomicU32::new(number), &COUNT_TABLE).into()
    }
    fn detach(
        &self,
        _: &ProviderBinding<'_, Self>,
        request: ProviderDetachRequest<'_, Self>,
    ) -> Detach {
        if self.pend.load(Ordering::SeqCst) {
            let (answer, pending) = request.pend();
            self.pending.lock().unwrap().push(pending);
            answer
        } else {
            request.done()
        }
    }
    fn cleanup(&self, _: &AtomicU32) {
        self.cleaned.fetch_add(1, Ordering::SeqCst);
    }
}

impl CountDispatchImpl for Counter {
    fn bump(binding: &ProviderBinding<'_, Counter>) -> u32 {
        binding.fetch_add(1, Ordering::SeqCst) + 1
    }
}

static COUNT_TABLE: ProviderTable<Counter> = CountDispatch::new::<Counter>(1);

#[npi_client(npi = CountNpi, module_id = "7E570003-0000-4000-8000-0000000000BB", number = 10)]
struct CountClient {
    seen_highest: AtomicU32,
    bindings: Mutex<Vec<ClientBindingRef<CountClient>>>,
    detached: AtomicU32,
}

impl Client for CountClient {
    type Binding = ();
    fn attach(&self, request: ClientAttachRequest<'_, Self>) -> Attach {
        let highest = request.provider().characteristics().map_or(0, |r| r.highest);
        self.seen_highest.store(u32::from(highest), Ordering::SeqCst);
        match request.accept((), &()) {
            Ok(a) => {
                self.bindings.lock().unwrap().push(a.binding().to_ref());
                a.into()
            }
            Err(r) => r.into(),
        }
    }
    fn detach(
        &self,
        binding: &ClientBinding<'_, Self>,
        request: ClientDetachRequest<'_, Self>,
    ) -> Detach {
        assert!(binding.peer().is_none(), "R23: no new calls once detach began");
        self.detached.fetch_add(1, Ordering::SeqCst);
        request.done()
    }
}

fn counter(pend: bool) -> Arc<Counter> {
    Arc::new(Counter {
        pend: AtomicBool::new(pend),
        pending: Mutex::default(),
        cleaned: AtomicU32::new(0),
    })
}

fn count_client() -> Arc<CountClient> {
    Arc::new(CountClient {
        seen_highest: AtomicU32::new(0),
        bindings: Mutex::default(),
        detached: AtomicU32::new(0),
    })
}

#[test]
fn typed_characteristics_dispatch_and_binding_values_cross_the_nmr() {
    let provider = counter(false);
    let client = count_client();
    let p = ProviderRegistration::register(Arc::clone(&provider)).unwrap();
    let c = ClientRegistration::register(Arc::clone(&client)).unwrap();
    assert_eq!(client.seen_highest.load(Ordering::SeqCst), 3, "the provider's Range, typed");
    let b = client.bindings.lock().unwrap()[0].clone();
    let peer = b.peer().unwrap();
    // The provider's binding value started at the client's Number (10).
    assert_eq!((peer.bump(), peer.bump()), (11, 12));
    drop(peer);
    drop((c, p));
    assert_eq!(provider.cleaned.load(Ordering::SeqCst), 1);
    assert!(b.peer().is_none(), "a kept BindingRef cannot call a detached peer");
    assert!(b.is_detaching());
}

#[test]
fn a_call_in_flight_keeps_the_detach_pending_until_it_returns() {
    let provider = counter(false);
    let client = count_client();
    let p = ProviderRegistration::register(Arc::clone(&provider)).unwrap();
    let c = ClientRegistration::register(Arc::clone(&client)).unwrap();
    let b = client.bindings.lock().unwrap()[0].clone();
    let in_flight = b.peer().unwrap();

    // Deregister the client while one of its calls is in flight: its detach answers "done",
    // yet the runtime keeps the half pending until the call returns.
    let t = thread::spawn(move || c.deregister());
    while client.detached.load(Ordering::SeqCst) == 0 {
        thread::yield_now();
    }
    thread::sleep(Duration::from_millis(20));
    assert!(!t.is_finished(), "the wait must not return while a call is in flight");
    let info = host::bindings_of(&CountNpi::ID);
    assert_eq!(info[0].client_half, host::HalfState::Pending);
    assert_eq!(in_flight.bump(), 11, "the call itself still works");
    drop(in_flight);
    assert_eq!(t.join().unwrap(), Ok(()));
    assert_eq!(provider.cleaned.load(Ordering::SeqCst), 1);
    drop(p);
    assert!(host::violations_of(&CountNpi::ID).is_empty());
}

#[test]
fn a_pending_detach_completes_once_from_another_thread_and_drop_completes_too() {
    #[npi(id = "7E570004-0000-4000-8000-000000000004", provider_dispatch = CountDispatch)]
    struct PendNpi;
    // SAFETY: the types this declaration gives the NPI are its layouts, and it is the only
    // declaration of this id in the program.
    unsafe impl NpiLayout for PendNpi {}
    #[npi_provider(npi = PendNpi, module_id = "7E570004-0000-4000-8000-0000000000AA")]
    struct Pender(Mutex<Vec<ProviderPendingDetach<Pender>>>);
    impl Provider for Pender {
        type Binding = AtomicU32;
        fn attach(&self, request: ProviderAttachRequest<'_, Self>) -> Attach {
            request.accept(AtomicU32::new(0), &TABLE).into()
        }
        fn detach(
            &self,
            _: &ProviderBinding<'_, Self>,
            request: ProviderDetachRequest<'_, Self>,
        ) -> Detach {
            let (answer, pending) = request.pend();
            self.0.lock().unwrap().push(pending);
            answer
        }
    }
    impl CountDispatchImpl for Pender {
        fn bump(binding: &ProviderBinding<'_, Pender>) -> u32 {
            binding.fetch_add(1, Ordering::SeqCst)
        }
    }
    static TABLE: ProviderTable<Pender> = CountDispatch::new::<Pender>(1);
    #[npi_client(npi = PendNpi, module_id = "7E570004-0000-4000-8000-0000000000BB")]
    struct C;
    impl Client for C {
        type Binding = ();
        fn attach(&self, request: ClientAttachRequest<'_, Self>) -> Attach {
            request.accept((), &()).into()
        }
    }
    static PENDER: Pender = Pender(Mutex::new(Vec::new()));
    let p = ProviderRegistration::register(&PENDER).unwrap();
    let c1 = ClientRegistration::register(&C).unwrap();
    let c2 = ClientRegistration::register(&C).unwrap();

    let done = Arc::new(AtomicUsize::new(0));
    let waiter = {
        let done = Arc::clone(&done);
        thread::spawn(move || {
            p.deregister().unwrap();
            done.store(1, Ordering::SeqCst);
        })
    };
    while PENDER.0.lock().unwrap().len() < 2 {
        thread::yield_now();
    }
    let mut pending = std::mem::take(&mut *PENDER.0.lock().unwrap());
    let second = pending.pop().unwrap();
    let first = pending.pop().unwrap();
    // One completed explicitly on another thread, one by dropping it.
    thread::spawn(move || first.complete()).join().unwrap();
    thread::sleep(Duration::from_millis(20));
    assert_eq!(done.load(Ordering::SeqCst), 0, "one binding is still pending");
    drop(second);
    waiter.join().unwrap();
    assert_eq!(done.load(Ordering::SeqCst), 1);
    drop((c1, c2));
    assert!(
        host::violations_of(&PendNpi::ID).is_empty(),
        "{:?}",
        host::violations_of(&PendNpi::ID)
    );
}

// ----- registrations ----------------------------------------------------------------------------

#[test]
fn per_registration_module_id_number_and_borrowed_characteristics() {
    #[npi(id = "7E570005-0000-4000-8000-000000000005", client_characteristics = Range)]
    struct RegNpi;
    // SAFETY: the types this declaration gives the NPI are its layouts, and it is the only
    // declaration of this id in the program.
    unsafe impl NpiLayout for RegNpi {}
    #[npi_client(npi = RegNpi, dynamic_module_id)]
    struct Dyn;
    impl Client for Dyn {
        type Binding = ();
        fn attach(&self, request: ClientAttachRequest<'_, Self>) -> Attach {
            request.accept((), &()).into()
        }
    }
    type Sightings = Vec<(Option<GUID>, u32, Option<u16>)>;
    #[npi_provider(npi = RegNpi, module_id = "7E570005-0000-4000-8000-0000000000AA")]
    struct Seen(Mutex<Sightings>);
    impl Provider for Seen {
        type Binding = ();
        fn attach(&self, request: ProviderAttachRequest<'_, Self>) -> Attach {
            let c = request.client();
            self.0.lock().unwrap().push((
                c.module_id().guid(),
                c.number(),
                c.characteristics().map(|r| r.highest),
            ));
            request.decline()
        }
    }
    static SEEN: Seen = Seen(Mutex::new(Vec::new()));

    // A dynamic module id is required: refused before the NMR is called.
    assert_eq!(ClientRegistration::register(&Dyn).err(), Some(Status::INVALID_PARAMETER));
    assert!(host::registrations_of(&RegNpi::ID).is_empty());

    let p = ProviderRegistration::register(&SEEN).unwrap();
    let caps = Range { highest: 9, lowest: 2 }; // borrowed from this stack frame
    let id = GUID::from_u128(0x7E57_0005_0000_4000_8000_0000_0000_00CC);
    let builder = ClientRegistration::builder(&Dyn).module_guid(id).number(42);
    // SAFETY: `caps` is never changed and outlives `c`, which is deregistered (dropped) below
    // before `caps` is, also when unwinding (declared later, dropped first), and never leaked.
    let c = unsafe { builder.borrowed_characteristics(&caps) }.register().unwrap();
    assert_eq!(*SEEN.0.lock().unwrap(), [(Some(id), 42, Some(9))]);
    let regs = host::registrations_of(&RegNpi::ID);
    assert!(regs.iter().any(|r| r.number == 42 && r.module_id.guid() == Some(id)));
    drop(c); // must end before `caps` does: `borrowed_characteristics` requires it
    drop(p);
    let _ = NPI_MODULEID::from_guid(id);
}

#[test]
fn a_refused_attach_returns_the_offer_for_a_retry_and_the_binding_value() {
    #[npi(id = "7E570006-0000-4000-8000-000000000006", client_dispatch = CountDispatch)]
    struct RetryNpi;
    // SAFETY: the types this declaration gives the NPI are its layouts, and it is the only
    // declaration of this id in the program.
    unsafe impl NpiLayout for RetryNpi {}
    #[npi_provider(npi = RetryNpi, module_id = "7E570006-0000-4000-8000-0000000000AA")]
    struct Picky;
    impl Provider for Picky {
        type Binding = ();
        fn attach(&self, request: ProviderAttachRequest<'_, Self>) -> Attach {
            // Accept only version 2 of the client's table (WSK-style negotiation).
            match request.client_dispatch().map(|t| t.version) {
                Some(2) => request.accept((), &()).into(),
                _ => request.decline(),
            }
        }
    }
    #[npi_client(npi = RetryNpi, module_id = "7E570006-0000-4000-8000-0000000000BB")]
    struct Retrying(Mutex<Vec<String>>);
    impl Client for Retrying {
        type Binding = String;
        fn attach(&self, request: ClientAttachRequest<'_, Self>) -> Attach {
            let refused = match request.accept(String::from("ctx"), &V1) {
                Ok(a) => return a.into(),
                Err(r) => r,
            };
            assert_eq!(refused.status, STATUS_NOINTERFACE);
            let value = refused.binding.expect("the value comes back");
            self.0.lock().unwrap().push(format!("v1 refused, got {value} back"));
            refused.request.accept(value, &V2).into()
        }
    }
    impl CountDispatchImpl for Retrying {
        fn bump(_: &ClientBinding<'_, Retrying>) -> u32 {
            0
        }
    }
    static V1: ClientTable<Retrying> = CountDispatch::new::<Retrying>(1);
    static V2: ClientTable<Retrying> = CountDispatch::new::<Retrying>(2);
    static CLIENT: Retrying = Retrying(Mutex::new(Vec::new()));
    let p = ProviderRegistration::register(&Picky).unwrap();
    let c = ClientRegistration::register(&CLIENT).unwrap();
    assert_eq!(*CLIENT.0.lock().unwrap(), ["v1 refused, got ctx back"]);
    assert_eq!(host::bindings_of(&RetryNpi::ID).len(), 1, "attached on the second try");
    drop((c, p));
    assert!(host::violations_of(&RetryNpi::ID).is_empty());
}

#[test]
fn per_object_registrations_own_their_characteristics() {
    #[npi(id = "7E570007-0000-4000-8000-000000000007", client_characteristics = Range)]
    struct OwnNpi;
    // SAFETY: the types this declaration gives the NPI are its layouts, and it is the only
    // declaration of this id in the program.
    unsafe impl NpiLayout for OwnNpi {}
    #[npi_client(npi = OwnNpi, dynamic_module_id)]
    struct LinkObject;
    impl Client for LinkObject {
        type Binding = ();
        fn attach(&self, request: ClientAttachRequest<'_, Self>) -> Attach {
            request.accept((), &()).into()
        }
    }
    #[npi_provider(npi = OwnNpi, module_id = "7E570007-0000-4000-8000-0000000000AA")]
    struct Hook(Mutex<Vec<u16>>);
    impl Provider for Hook {
        type Binding = ();
        fn attach(&self, request: ProviderAttachRequest<'_, Self>) -> Attach {
            let highest = request.client().characteristics().map_or(0, |r| r.highest);
            self.0.lock().unwrap().push(highest);
            request.accept((), &()).into()
        }
    }
    static HOOK: Hook = Hook(Mutex::new(Vec::new()));
    let p = ProviderRegistration::register(&HOOK).unwrap();

    // Each object keeps its data and its registration side by side, no borrow involved.
    let data: Vec<Arc<Range>> =
        (1..=3).map(|i| Arc::new(Range { highest: i * 10, lowest: 0 })).collect();
    let objects: Vec<ClientRegistration<LinkObject>> = data
        .iter()
        .enumerate()
        .map(|(i, d)| {
            ClientRegistration::builder(&LinkObject)
                .module_guid(GUID::from_u128(0x7E57_0007_0000_4000_8000_0000_0000_0100 + i as u128))
                .owned_characteristics(Arc::clone(d))
                .register()
                .unwrap()
        })
        .collect();
    assert_eq!(*HOOK.0.lock().unwrap(), [10, 20, 30], "each object's own data reached the peer");
    assert!(data.iter().all(|d| Arc::strong_count(d) == 2), "the registrations hold them");
    drop(objects);
    assert!(data.iter().all(|d| Arc::strong_count(d) == 1), "released after the waits");
    drop(p);
    assert!(host::violations_of(&OwnNpi::ID).is_empty());
}
