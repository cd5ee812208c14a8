//! Allocation failure, swept: every allocation of a whole client/provider cycle (register,
//! attach, dispatch both ways, a pending detach completed from another thread, deregister and
//! wait) is failed in turn, for static and run-time registrations, in both registration orders.
//!
//! Each run must end as the kernel would: the failure is answered with
//! `STATUS_INSUFFICIENT_RESOURCES` where it happened (a registration fails, an attach is refused)
//! or the pair is not proposed (the NMR's binding block), the rest of the cycle goes on, and at
//! the end nothing is registered, bound or allocated, every binding value and run-time module is
//! dropped, and no contract violation is recorded.
//!
//! The runtime's live-block count is process-wide, so the scenarios in this file run one at a
//! time (`SERIAL`); no other test lives in this binary.

use core::ffi::c_void;
use std::sync::atomic::{AtomicI32, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::thread;

use npi_runtime::Status;
use npi_runtime::host::{self, AllocationFaults, AllocationSite};
use npi_runtime::sys::{GUID, STATUS_INSUFFICIENT_RESOURCES};
use npi_runtime::*;

static SERIAL: Mutex<()> = Mutex::new(());

/// The leaked `'static` modules, kept reachable so a leak checker does not report them.
static STATIC_MODULES: Mutex<Vec<(&FaultProvider, &FaultClient)>> = Mutex::new(Vec::new());

fn serial() -> MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The provider's table.
#[dispatch_table]
struct FaultProviderDispatch {
    /// Version.
    version: u16,
    /// Adds the provider binding's offset to `value`.
    add: fn(#[context] binding: *mut c_void, value: u32) -> u32,
}

/// The client's table.
#[dispatch_table]
struct FaultClientDispatch {
    /// Version.
    version: u16,
    /// Returns `value` times the client binding's factor.
    scale: fn(#[context] binding: *mut c_void, value: u32) -> u32,
}

/// The provider's NPI-specific characteristics.
#[npi_data]
struct Caps {
    /// Anything the client can read back.
    magic: u32,
}

#[npi(
    id = "FA017000-0000-4000-8000-000000000001",
    client_dispatch = FaultClientDispatch,
    provider_dispatch = FaultProviderDispatch,
    provider_characteristics = Caps
)]
struct FaultNpi;
// SAFETY: the types this declaration gives the NPI are its layouts, and it is the only
// declaration of this id in the program.
unsafe impl NpiLayout for FaultNpi {}

const NPI_ID: GUID = <FaultNpi as Npi>::ID;

/// What one run saw, counted by the modules themselves.
#[derive(Default)]
struct Seen {
    /// Binding values created by either side (`Value::new`) and dropped.
    values_made: AtomicUsize,
    values_dropped: AtomicUsize,
    /// Attach callbacks called on the client.
    client_attaches: AtomicUsize,
    /// Bindings both sides saw attached and called through.
    formed: AtomicUsize,
    /// The status a refused client attach got (0 if none).
    refused: AtomicI32,
    /// Cleanups per side.
    client_cleanups: AtomicUsize,
    provider_cleanups: AtomicUsize,
}

/// A binding value whose drop is counted.
struct Value {
    seen: Arc<Seen>,
    number: u32,
}

impl Value {
    fn new(seen: &Arc<Seen>, number: u32) -> Self {
        seen.values_made.fetch_add(1, Ordering::SeqCst);
        Self { seen: Arc::clone(seen), number }
    }
}

impl Drop for Value {
    fn drop(&mut self) {
        self.seen.values_dropped.fetch_add(1, Ordering::SeqCst);
    }
}

#[npi_provider(npi = FaultNpi, module_id = "FA017000-0000-4000-8000-0000000000AA", characteristics = CAPS)]
struct FaultProvider {
    seen: Arc<Seen>,
    bindings: Mutex<Vec<ProviderBindingRef<FaultProvider>>>,
    pending: Mutex<Vec<ProviderPendingDetach<FaultProvider>>>,
}

static CAPS: Caps = Caps { magic: 0x00C0_FFEE };

impl Provider for FaultProvider {
    type Binding = Value;

    fn attach(&self, request: ProviderAttachRequest<'_, Self>) -> Attach {
        let accepted = request.accept(Value::new(&self.seen, 1000), &PROVIDER_TABLE);
        if let Ok(accepted) = &accepted {
            self.bindings.lock().unwrap().push(accepted.binding().to_ref());
        }
        accepted.into()
    }

    fn detach(
        &self,
        _: &ProviderBinding<'_, Self>,
        request: ProviderDetachRequest<'_, Self>,
    ) -> Detach {
        // Always pends: a worker thread completes it.
        let (answer, pending) = request.pend();
        self.pending.lock().unwrap().push(pending);
        answer
    }

    fn cleanup(&self, _: &Value) {
        self.seen.provider_cleanups.fetch_add(1, Ordering::SeqCst);
    }
}

impl FaultProviderDispatchImpl for FaultProvider {
    fn add(binding: &ProviderBinding<'_, FaultProvider>, value: u32) -> u32 {
        value + binding.number
    }
}

static PROVIDER_TABLE: ProviderTable<FaultProvider> =
    FaultProviderDispatch::new::<FaultProvider>(1);

#[npi_client(npi = FaultNpi, module_id = "FA017000-0000-4000-8000-0000000000BB")]
struct FaultClient {
    seen: Arc<Seen>,
    bindings: Mutex<Vec<ClientBindingRef<FaultClient>>>,
}

impl Client for FaultClient {
    type Binding = Value;

    fn attach(&self, request: ClientAttachRequest<'_, Self>) -> Attach {
        self.seen.client_attaches.fetch_add(1, Ordering::SeqCst);
        let magic = request.provider().characteristics().map(|c| c.magic);
        assert_eq!(magic, Some(0x00C0_FFEE));
        match request.accept(Value::new(&self.seen, 3), &CLIENT_TABLE) {
            Ok(accepted) => {
                self.bindings.lock().unwrap().push(accepted.binding().to_ref());
                accepted.into()
            }
            Err(refused) => {
                self.seen.refused.store(refused.status.raw(), Ordering::SeqCst);
                // The value comes back: nothing kept a reference to it.
                assert!(refused.binding.is_some(), "the refused binding value must come back");
                refused.into()
            }
        }
    }

    fn cleanup(&self, _: &Value) {
        self.seen.client_cleanups.fetch_add(1, Ordering::SeqCst);
    }
}

impl FaultClientDispatchImpl for FaultClient {
    fn scale(binding: &ClientBinding<'_, FaultClient>, value: u32) -> u32 {
        value * binding.number
    }
}

static CLIENT_TABLE: ClientTable<FaultClient> = FaultClientDispatch::new::<FaultClient>(1);

/// How the modules are registered.
#[derive(Clone, Copy, Debug)]
enum Kind {
    /// Leaked `'static` modules, the macro's `'static` characteristics as they are.
    Static,
    /// `Arc` modules with per-registration values: a run-time module id, a `Number`, owned
    /// NPI-specific characteristics (so each registration allocates its own copy).
    RunTime,
}

#[derive(Clone, Copy, Debug)]
enum Order {
    ProviderFirst,
    ClientFirst,
}

type Statuses = (Result<(), Status>, Result<(), Status>);

/// One full cycle; returns what the provider's and the client's registrations answered
/// (registering, then deregistering).
fn cycle(kind: Kind, order: Order, seen: &Arc<Seen>) -> Statuses {
    let provider = Arc::new(FaultProvider {
        seen: Arc::clone(seen),
        bindings: Mutex::default(),
        pending: Mutex::default(),
    });
    let client = Arc::new(FaultClient { seen: Arc::clone(seen), bindings: Mutex::default() });
    let weak = (Arc::downgrade(&provider), Arc::downgrade(&client));

    // Static modules are leaked, like a driver's statics; they own nothing the checks count.
    let static_provider: &'static FaultProvider = Box::leak(Box::new(FaultProvider {
        seen: Arc::clone(seen),
        bindings: Mutex::default(),
        pending: Mutex::default(),
    }));
    let static_client: &'static FaultClient =
        Box::leak(Box::new(FaultClient { seen: Arc::clone(seen), bindings: Mutex::default() }));
    STATIC_MODULES.lock().unwrap().push((static_provider, static_client));
    let (provider_module, client_module): (&FaultProvider, &FaultClient) = match kind {
        Kind::Static => (static_provider, static_client),
        Kind::RunTime => (&provider, &client),
    };
    let register_provider = || match kind {
        Kind::Static => ProviderRegistration::register(static_provider),
        Kind::RunTime => ProviderRegistration::builder(Arc::clone(&provider))
            .number(7)
            .owned_characteristics(Arc::new(Caps { magic: 0x00C0_FFEE }))
            .register(),
    };
    let register_client = || match kind {
        Kind::Static => ClientRegistration::register(static_client),
        Kind::RunTime => ClientRegistration::builder(Arc::clone(&client))
            .module_guid(GUID::from_u128(0xFA01_7000_0000_4000_8000_0000_0000_0CCC))
            .register(),
    };
    let (p, c) = match order {
        Order::ProviderFirst => {
            let p = register_provider();
            (p, register_client())
        }
        Order::ClientFirst => {
            let c = register_client();
            (register_provider(), c)
        }
    };

    // Dispatch both ways through every binding each side kept. The references are taken out
    // of the modules so that they can be dropped after the deregistrations.
    let client_refs = take(&client_module.bindings);
    let provider_refs = take(&provider_module.bindings);
    for b in &client_refs {
        let call = b.peer().expect("a fresh binding is callable");
        assert_eq!(call.add(5), 1005);
        seen.formed.fetch_add(1, Ordering::SeqCst);
    }
    for b in &provider_refs {
        let call = b.peer().expect("a fresh binding is callable");
        assert_eq!(call.scale(2), 6);
    }
    assert_eq!(client_refs.len(), provider_refs.len());

    // Deregister the provider while a worker completes the detaches it pends.
    let provider_status = match p {
        Ok(reg) => {
            let done = AtomicUsize::new(0);
            let module = provider_module;
            thread::scope(|s| {
                let done = &done;
                s.spawn(move || {
                    loop {
                        let next = module.pending.lock().unwrap().pop();
                        match next {
                            Some(pending) => pending.complete(),
                            None if done.load(Ordering::SeqCst) == 1 => break,
                            None => thread::yield_now(),
                        }
                    }
                });
                let status = reg.deregister();
                done.store(1, Ordering::SeqCst);
                status
            })
        }
        Err(status) => Err(status),
    };
    let client_status = match c {
        Ok(reg) => reg.deregister(),
        Err(status) => Err(status),
    };
    // The modules' references outlive the bindings; dropping them frees the records.
    drop((client_refs, provider_refs));
    drop((provider, client));
    assert!(weak.0.upgrade().is_none() && weak.1.upgrade().is_none(), "run-time modules leaked");
    (provider_status, client_status)
}

fn take<T>(v: &Mutex<Vec<T>>) -> Vec<T> {
    std::mem::take(&mut *v.lock().unwrap())
}

/// The end state every run must reach, whatever failed.
fn assert_clean(what: &str, seen: &Seen, live_before: usize) {
    assert!(host::registrations_of(&NPI_ID).is_empty(), "{what}: registrations left");
    assert!(host::bindings_of(&NPI_ID).is_empty(), "{what}: bindings left");
    let violations = host::take_violations_of(&NPI_ID);
    assert!(violations.is_empty(), "{what}: violations {violations:?}");
    assert_eq!(
        seen.values_made.load(Ordering::SeqCst),
        seen.values_dropped.load(Ordering::SeqCst),
        "{what}: binding values leaked"
    );
    assert_eq!(host::live_runtime_allocations(), live_before, "{what}: runtime blocks leaked");
}

fn sweep(kind: Kind, order: Order) {
    let _serial = serial();
    let live_before = host::live_runtime_allocations();

    // Once without faults: every allocation is counted, and the cycle binds once.
    let seen = Arc::new(Seen::default());
    let counted = AllocationFaults::count();
    let statuses = cycle(kind, order, &seen);
    let sites = counted.seen();
    drop(counted);
    assert_eq!(statuses, (Ok(()), Ok(())), "{kind:?}/{order:?} without faults");
    assert_eq!(seen.formed.load(Ordering::SeqCst), 1, "{kind:?}/{order:?}: one binding");
    assert_eq!(seen.client_cleanups.load(Ordering::SeqCst), 1);
    assert_eq!(seen.provider_cleanups.load(Ordering::SeqCst), 1);
    assert_clean(&format!("{kind:?}/{order:?} without faults"), &seen, live_before);
    // Per side one NMR registration block and one binding record, one NMR binding block;
    // run-time registrations also copy their characteristics.
    let count = |site| sites.iter().filter(|s| **s == site).count();
    assert_eq!(count(AllocationSite::NmrRegistration), 2, "{sites:?}");
    assert_eq!(count(AllocationSite::NmrBinding), 1, "{sites:?}");
    assert_eq!(count(AllocationSite::BindingRecord), 2, "{sites:?}");
    let copies = match kind {
        Kind::Static => 0,
        Kind::RunTime => 2,
    };
    assert_eq!(count(AllocationSite::RegistrationCharacteristics), copies, "{sites:?}");
    assert_eq!(sites.len(), 5 + copies, "{sites:?}");

    // Then each allocation fails in turn.
    for (n, site) in sites.iter().enumerate() {
        let what = format!("{kind:?}/{order:?}, allocation {n} ({site:?}) failed");
        let seen = Arc::new(Seen::default());
        let faults = AllocationFaults::fail_nth(n);
        let (provider, client) = cycle(kind, order, &seen);
        assert_eq!(faults.failed(), Some(*site), "{what}: the same allocations in the same order");
        drop(faults);

        // The failure shows where it happened, as a status the module can act on.
        match site {
            AllocationSite::NmrRegistration | AllocationSite::RegistrationCharacteristics => {
                let failed = [provider, client]
                    .iter()
                    .filter(|s| **s == Err(Status::INSUFFICIENT_RESOURCES))
                    .count();
                assert_eq!(failed, 1, "{what}: one registration fails: {provider:?} {client:?}");
                assert_eq!(seen.client_attaches.load(Ordering::SeqCst), 0, "{what}");
            }
            AllocationSite::BindingRecord => {
                assert_eq!((provider, client), (Ok(()), Ok(())), "{what}");
                assert_eq!(
                    seen.refused.load(Ordering::SeqCst),
                    STATUS_INSUFFICIENT_RESOURCES,
                    "{what}: the client's attach is refused with INSUFFICIENT_RESOURCES"
                );
            }
            AllocationSite::NmrBinding => {
                assert_eq!((provider, client), (Ok(()), Ok(())), "{what}");
                assert_eq!(seen.client_attaches.load(Ordering::SeqCst), 0, "{what}: not proposed");
            }
            other => panic!("{what}: unexpected site {other:?}"),
        }
        assert_eq!(seen.formed.load(Ordering::SeqCst), 0, "{what}: no binding forms");
        assert_eq!(seen.client_cleanups.load(Ordering::SeqCst), 0, "{what}: no cleanup (R10)");
        assert_eq!(seen.provider_cleanups.load(Ordering::SeqCst), 0, "{what}: no cleanup (R10)");
        assert_clean(&what, &seen, live_before);
    }

    // A fault index past the last allocation fails nothing: the sweep covered every one.
    let seen = Arc::new(Seen::default());
    let faults = AllocationFaults::fail_nth(sites.len());
    assert_eq!(cycle(kind, order, &seen), (Ok(()), Ok(())));
    assert_eq!(faults.failed(), None);
    assert_eq!(seen.formed.load(Ordering::SeqCst), 1);
    drop(faults);
    assert_clean(&format!("{kind:?}/{order:?} past the end"), &seen, live_before);
}

#[test]
fn every_allocation_fails_gracefully_static_provider_first() {
    sweep(Kind::Static, Order::ProviderFirst);
}

#[test]
fn every_allocation_fails_gracefully_static_client_first() {
    sweep(Kind::Static, Order::ClientFirst);
}

#[test]
fn every_allocation_fails_gracefully_run_time_provider_first() {
    sweep(Kind::RunTime, Order::ProviderFirst);
}

#[test]
fn every_allocation_fails_gracefully_run_time_client_first() {
    sweep(Kind::RunTime, Order::ClientFirst);
}
