//! Model checks of the host NMR and the runtime with loom, on the repo's own scenarios: EXNPI's
//! provider detach that pends until another thread completes it, WSK's calls in flight that keep
//! the client's detach pending (with WSK-shaped test modules that can tell a call after cleanup,
//! and with the WSK port's own modules from `suite/src/real/wsk.rs`), and a client registering while
//! its provider deregisters (R28). And a seeded bug in a module (its own in-flight count
//! checked before it is raised, so its detach can complete while its worker still uses what
//! cleanup tears down) that loom finds and an ordinary threaded test of the same scenario
//! misses.
//!
//! ```text
//! RUSTFLAGS="--cfg loom" cargo test --release -p npi-suite --test model --target-dir target/loom
//! ```
//! Without `--cfg loom` the same scenarios run as ordinary threaded tests, many times each.

use core::ffi::c_void;
use std::sync::Arc;

use npi_runtime::{
    Attach, Client, ClientAttachRequest, ClientBinding, ClientBindingRef, ClientDetachRequest,
    ClientPendingDetach, ClientRegistration, ClientTable, Detach, NpiLayout, Provider,
    ProviderAttachRequest, ProviderBinding, ProviderDetachRequest, ProviderPendingDetach,
    ProviderRegistration, ProviderTable, dispatch_table, npi, npi_client, npi_provider,
};
use npi_suite::real::Trace;
use npi_suite::real::wsk::{WskClient, WskProvider};

/// What the scenarios' threads share: loom's primitives under `cfg(loom)`, std's otherwise.
mod rt {
    #[cfg(loom)]
    pub(crate) use npi_runtime::host::model::loom::{
        sync::Mutex,
        sync::atomic::{AtomicBool, AtomicUsize, Ordering},
        thread,
    };
    #[cfg(not(loom))]
    pub(crate) use std::{
        sync::Mutex,
        sync::atomic::{AtomicBool, AtomicUsize, Ordering},
        thread,
    };
}
use rt::{AtomicBool, AtomicUsize, Mutex, Ordering, thread};

// ---------------------------------------------------------------------------------------------
// The NPI.

/// What the provider offers.
#[dispatch_table]
struct ModelProviderDispatch {
    /// Version.
    version: u16,
    /// Doubles `value`.
    work: fn(#[context] binding: *mut c_void, value: u32) -> u32,
}

/// What the client offers.
#[dispatch_table]
struct ModelClientDispatch {
    /// Version.
    version: u16,
    /// News for the client.
    notify: fn(#[context] binding: *mut c_void, value: u32),
}

#[npi(
    id = "10030000-0000-4000-8000-00000000000D",
    client_dispatch = ModelClientDispatch,
    provider_dispatch = ModelProviderDispatch
)]
struct ModelNpi;
// SAFETY: the only declaration of this id in the program; its types are its layouts.
unsafe impl NpiLayout for ModelNpi {}

// ---------------------------------------------------------------------------------------------
// The provider: EXNPI's (its detach pends until another thread completes it) or a plain one.

/// What a provider binding knows about its provider, shared with the test.
#[derive(Default)]
struct ProviderFlags {
    attached: AtomicUsize,
    cleaned: AtomicUsize,
    /// Calls that arrived after this binding's cleanup: must stay 0.
    late_calls: AtomicUsize,
}

#[npi_provider(npi = ModelNpi, module_id = "10030000-0000-4000-8000-0000000000A1")]
struct ModelProvider {
    pend_detach: bool,
    flags: Arc<ProviderFlags>,
    pending: Mutex<Option<ProviderPendingDetach<ModelProvider>>>,
}

impl ModelProvider {
    fn new(pend_detach: bool) -> Self {
        Self { pend_detach, flags: Arc::default(), pending: Mutex::new(None) }
    }

    /// The pending detach, once the detach callback has stored it.
    fn take_pending(&self) -> Option<ProviderPendingDetach<ModelProvider>> {
        self.pending.lock().unwrap().take()
    }
}

impl Provider for ModelProvider {
    type Binding = Arc<ProviderFlags>;

    fn attach(&self, request: ProviderAttachRequest<'_, Self>) -> Attach {
        self.flags.attached.fetch_add(1, Ordering::SeqCst);
        request.accept(Arc::clone(&self.flags), &PROVIDER_TABLE).into()
    }

    fn detach(
        &self,
        _: &ProviderBinding<'_, Self>,
        request: ProviderDetachRequest<'_, Self>,
    ) -> Detach {
        if !self.pend_detach {
            return request.done();
        }
        let (answer, pending) = request.pend();
        *self.pending.lock().unwrap() = Some(pending);
        answer
    }

    fn cleanup(&self, flags: &Arc<ProviderFlags>) {
        flags.cleaned.fetch_add(1, Ordering::SeqCst);
    }
}

impl ModelProviderDispatchImpl for ModelProvider {
    fn work(binding: &ProviderBinding<'_, ModelProvider>, value: u32) -> u32 {
        if binding.cleaned.load(Ordering::SeqCst) != 0 {
            binding.late_calls.fetch_add(1, Ordering::SeqCst);
        }
        value * 2
    }
}

static PROVIDER_TABLE: ProviderTable<ModelProvider> =
    ModelProviderDispatch::new::<ModelProvider>(1);

// ---------------------------------------------------------------------------------------------
// The client: keeps a reference to its provider for calls from other threads (WSK's shape).

#[npi_client(npi = ModelNpi, module_id = "10030000-0000-4000-8000-0000000000C1")]
struct ModelClient {
    provider: Mutex<Option<ClientBindingRef<ModelClient>>>,
}

impl ModelClient {
    fn new() -> Self {
        Self { provider: Mutex::new(None) }
    }

    fn provider(&self) -> Option<ClientBindingRef<ModelClient>> {
        self.provider.lock().unwrap().clone()
    }
}

impl Client for ModelClient {
    type Binding = ();

    fn attach(&self, request: ClientAttachRequest<'_, Self>) -> Attach {
        match request.accept((), &CLIENT_TABLE) {
            Ok(accepted) => {
                *self.provider.lock().unwrap() = Some(accepted.binding().to_ref());
                accepted.into()
            }
            Err(refused) => refused.into(),
        }
    }

    fn detach(
        &self,
        _: &ClientBinding<'_, Self>,
        request: ClientDetachRequest<'_, Self>,
    ) -> Detach {
        // "Done": calls still in flight through `PeerCall`s keep the half pending themselves.
        drop(self.provider.lock().unwrap().take());
        request.done()
    }
}

impl ModelClientDispatchImpl for ModelClient {
    fn notify(_: &ClientBinding<'_, ModelClient>, _: u32) {}
}

static CLIENT_TABLE: ClientTable<ModelClient> = ModelClientDispatch::new::<ModelClient>(1);

// ---------------------------------------------------------------------------------------------
// The client with a seeded bug: a worker uses a per-binding resource that cleanup tears down,
// guarded by the module's own in-flight count, which shares one atomic with a "detaching" bit
// (the runtime's hold count does the same). The correct worker raises the count only if the bit
// is clear, in one compare-and-swap; the buggy one checks the bit and raises the count in two
// steps, so a detach in between sees no work in flight and completes at once.

/// The detaching bit of `WorkerClient::state`; the count of uses in flight is above it.
const DETACHING: usize = 1;
const ONE_USE: usize = 2;

#[npi_client(npi = ModelNpi, module_id = "10030000-0000-4000-8000-0000000000C2")]
struct WorkerClient {
    buggy: bool,
    /// `DETACHING` | uses in flight × `ONE_USE`.
    state: AtomicUsize,
    pending: Mutex<Option<ClientPendingDetach<WorkerClient>>>,
    torn_down: AtomicBool,
    used_after_cleanup: AtomicBool,
}

impl WorkerClient {
    fn new(buggy: bool) -> Self {
        Self {
            buggy,
            state: AtomicUsize::new(0),
            pending: Mutex::new(None),
            torn_down: AtomicBool::new(false),
            used_after_cleanup: AtomicBool::new(false),
        }
    }

    /// The worker: one use of the resource, unless detach began.
    fn work(&self) {
        if self.buggy {
            // The seeded bug: check, then act.
            if self.state.load(Ordering::Acquire) & DETACHING != 0 {
                return;
            }
            self.state.fetch_add(ONE_USE, Ordering::AcqRel);
        } else {
            let mut s = self.state.load(Ordering::Acquire);
            loop {
                if s & DETACHING != 0 {
                    return;
                }
                match self.state.compare_exchange(
                    s,
                    s + ONE_USE,
                    Ordering::AcqRel,
                    Ordering::Acquire,
                ) {
                    Ok(_) => break,
                    Err(now) => s = now,
                }
            }
        }
        if self.torn_down.load(Ordering::Acquire) {
            self.used_after_cleanup.store(true, Ordering::Release);
        }
        // The last use after detach began completes the pending detach.
        if self.state.fetch_sub(ONE_USE, Ordering::AcqRel) == ONE_USE | DETACHING {
            self.complete_pending();
        }
    }

    fn complete_pending(&self) {
        let pending = self.pending.lock().unwrap().take();
        if let Some(pending) = pending {
            pending.complete();
        }
    }
}

impl Client for WorkerClient {
    type Binding = ();

    fn attach(&self, request: ClientAttachRequest<'_, Self>) -> Attach {
        request.accept((), &WORKER_TABLE).into()
    }

    fn detach(
        &self,
        _: &ClientBinding<'_, Self>,
        request: ClientDetachRequest<'_, Self>,
    ) -> Detach {
        let (answer, pending) = request.pend();
        // Stored before the bit is set: a use that ends after this finds it.
        *self.pending.lock().unwrap() = Some(pending);
        if self.state.fetch_or(DETACHING, Ordering::AcqRel) < ONE_USE {
            self.complete_pending();
        }
        answer
    }

    fn cleanup(&self, (): &()) {
        self.torn_down.store(true, Ordering::Release);
    }
}

impl ModelClientDispatchImpl for WorkerClient {
    fn notify(_: &ClientBinding<'_, WorkerClient>, _: u32) {}
}

static WORKER_TABLE: ClientTable<WorkerClient> = ModelClientDispatch::new::<WorkerClient>(1);

// ---------------------------------------------------------------------------------------------
// The scenarios: each registers both sides, runs its threads, deregisters and waits, and
// asserts what must hold in every interleaving.

/// EXNPI: the provider unloads on another thread while a call is in flight; its detach pends
/// until this thread completes it, and the binding is cleaned up only after both.
fn exnpi_pending_detach() {
    let provider = Arc::new(ModelProvider::new(true));
    let p = ProviderRegistration::register(Arc::clone(&provider)).unwrap();
    let client = Arc::new(ModelClient::new());
    let c = ClientRegistration::register(Arc::clone(&client)).unwrap();
    let binding = client.provider().expect("attached");
    let caller = thread::spawn(move || binding.peer().map(|call| call.work(21)));

    let unload = thread::spawn(move || p.deregister());
    let pending = loop {
        if let Some(pending) = provider.take_pending() {
            break pending;
        }
        thread::yield_now();
    };
    assert_eq!(provider.flags.cleaned.load(Ordering::SeqCst), 0, "cleanup before completion");
    pending.complete();
    assert_eq!(unload.join().unwrap(), Ok(()));
    assert!(matches!(caller.join().unwrap(), None | Some(42)));
    assert_eq!(provider.flags.cleaned.load(Ordering::SeqCst), 1);
    assert_eq!(provider.flags.late_calls.load(Ordering::SeqCst), 0, "a call after cleanup");
    assert!(client.provider().is_none(), "the client saw its detach");
    drop(c);
}

/// WSK: two calls in flight on other threads while the client deregisters, and the provider
/// deregisters at the same time on a third. The client answers "done", and the calls keep its
/// detach pending: the provider never sees a call after its cleanup, and no call starts once
/// detach began.
fn wsk_calls_in_flight() {
    let provider = Arc::new(ModelProvider::new(false));
    let p = ProviderRegistration::register(Arc::clone(&provider)).unwrap();
    let client = Arc::new(ModelClient::new());
    let c = ClientRegistration::register(Arc::clone(&client)).unwrap();
    let binding = client.provider().expect("attached");
    let callers: Vec<_> = [binding.clone(), binding]
        .into_iter()
        .map(|binding| thread::spawn(move || binding.peer().map(|call| call.work(1))))
        .collect();
    let provider_unload = thread::spawn(move || p.deregister());
    drop(c);
    for caller in callers {
        let called = caller.join().unwrap();
        assert!(matches!(called, None | Some(2)), "{called:?}");
    }
    assert_eq!(provider_unload.join().unwrap(), Ok(()));
    assert_eq!(provider.flags.late_calls.load(Ordering::SeqCst), 0, "a call after cleanup");
    assert_eq!(provider.flags.cleaned.load(Ordering::SeqCst), 1);
}

/// The WSK port itself (`suite/src/real/wsk.rs`, whose modules use `real::sync`): the client
/// deregisters while a call of its is in flight on another thread; the call either went
/// through or was refused, and both sides are cleaned up once.
fn wsk_port_client_leaves_during_a_call() {
    let trace = Arc::new(Trace::new());
    let provider = Arc::new(WskProvider::new(1, Arc::clone(&trace)));
    let p = ProviderRegistration::register(Arc::clone(&provider)).unwrap();
    let client = Arc::new(WskClient::new(Arc::clone(&trace)));
    let c = ClientRegistration::register(Arc::clone(&client)).unwrap();
    let caller = {
        let client = Arc::clone(&client);
        thread::spawn(move || client.transport_list_size())
    };
    drop(c);
    let result = caller.join().unwrap();
    assert!(matches!(result, Ok(0) | Err(_)), "{result:?}");
    assert_eq!(client.cleaned.load(Ordering::SeqCst), 1);
    assert_eq!(provider.cleaned.load(Ordering::SeqCst), 1);
    drop(p);
}

/// The WSK port: the provider deregisters while a socket is open; its detach pends until the
/// socket, closed on another thread, was the last one.
fn wsk_port_provider_leaves_with_a_socket_open() {
    let trace = Arc::new(Trace::new());
    let provider = Arc::new(WskProvider::new(1, Arc::clone(&trace)));
    let p = ProviderRegistration::register(Arc::clone(&provider)).unwrap();
    let client = Arc::new(WskClient::new(Arc::clone(&trace)));
    let c = ClientRegistration::register(Arc::clone(&client)).unwrap();
    let socket = client.open_socket().expect("a socket");
    let closer = thread::spawn(move || drop(socket));
    drop(p);
    closer.join().unwrap();
    assert_eq!(provider.cleaned.load(Ordering::SeqCst), 1);
    assert_eq!(client.cleaned.load(Ordering::SeqCst), 1);
    assert!(client.open_socket().is_err(), "no provider any more");
    drop(c);
}

/// R28: the client registers (its attach runs on its thread) while the provider deregisters on
/// another: whether the pair binds or not, every binding formed is detached and cleaned up
/// once, and both waits return.
fn deregister_during_attach() {
    let provider = Arc::new(ModelProvider::new(false));
    let p = ProviderRegistration::register(Arc::clone(&provider)).unwrap();
    let client = Arc::new(ModelClient::new());
    let registering = {
        let client = Arc::clone(&client);
        thread::spawn(move || {
            let c = ClientRegistration::register(Arc::clone(&client)).unwrap();
            let bound = client.provider().is_some_and(|b| b.peer().is_some());
            drop(c);
            bound
        })
    };
    drop(p);
    let bound = registering.join().unwrap();
    let attached = provider.flags.attached.load(Ordering::SeqCst);
    assert!(attached <= 1, "proposed once at most");
    assert!(!bound || attached == 1);
    assert_eq!(provider.flags.cleaned.load(Ordering::SeqCst), attached, "each attach cleaned up");
    assert!(client.provider().is_none(), "a binding that formed was detached");
}

/// The seeded bug's scenario: a worker uses the client's resource while the client
/// deregisters; the resource must never be used after the client's cleanup.
fn worker_during_detach(buggy: bool) {
    let p = ProviderRegistration::register(Arc::new(ModelProvider::new(false))).unwrap();
    let client = Arc::new(WorkerClient::new(buggy));
    let c = ClientRegistration::register(Arc::clone(&client)).unwrap();
    let worker = {
        let client = Arc::clone(&client);
        thread::spawn(move || client.work())
    };
    drop(c);
    worker.join().unwrap();
    assert!(
        !client.used_after_cleanup.load(Ordering::Acquire),
        "the worker used the resource after cleanup: the detach completed while it was in flight"
    );
    drop(p);
}

// ---------------------------------------------------------------------------------------------
// Under loom: every interleaving within the preemption bound.

#[cfg(loom)]
mod under_loom {
    use std::panic::{AssertUnwindSafe, catch_unwind};

    use npi_runtime::host::model::{Explored, Model};

    fn report(name: &str, explored: Explored) -> Explored {
        eprintln!("{name}: {} executions in {:?}", explored.iterations, explored.elapsed);
        explored
    }

    #[test]
    fn exnpi_pending_detach_in_every_interleaving() {
        let explored =
            report("exnpi", Model::new().preemption_bound(3).check(super::exnpi_pending_detach));
        assert!(explored.iterations > 10, "loom explored interleavings: {explored:?}");
    }

    #[test]
    fn wsk_calls_in_flight_in_every_interleaving() {
        let explored =
            report("wsk", Model::new().preemption_bound(3).check(super::wsk_calls_in_flight));
        assert!(explored.iterations > 10, "loom explored interleavings: {explored:?}");
    }

    #[test]
    fn wsk_port_in_every_interleaving() {
        let a = report(
            "wsk port, call",
            Model::new().preemption_bound(5).check(super::wsk_port_client_leaves_during_a_call),
        );
        let b = report(
            "wsk port, socket",
            Model::new()
                .preemption_bound(3)
                .check(super::wsk_port_provider_leaves_with_a_socket_open),
        );
        assert!(a.iterations > 10 && b.iterations > 10, "{a:?} {b:?}");
    }

    #[test]
    fn deregister_during_attach_in_every_interleaving() {
        let explored = report(
            "attach/deregister",
            Model::new().preemption_bound(4).check(super::deregister_during_attach),
        );
        assert!(explored.iterations > 10, "loom explored interleavings: {explored:?}");
    }

    #[test]
    fn the_correct_worker_passes_every_interleaving() {
        let explored = report("worker", Model::new().check(|| super::worker_during_detach(false)));
        assert!(explored.iterations > 1, "{explored:?}");
    }

    /// The checker proves it can fail: the seeded bug is found (the ordinary threaded test of
    /// the same scenario, `the_seeded_bug_passes_an_ordinary_threaded_test`, misses it).
    #[test]
    fn loom_finds_the_seeded_bug() {
        let failed = catch_unwind(AssertUnwindSafe(|| {
            Model::new().check(|| super::worker_during_detach(true))
        }))
        .expect_err("loom must find an interleaving where the detach completes too early");
        let message = failed
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| failed.downcast_ref::<&str>().copied())
            .unwrap_or_default();
        assert!(message.contains("used the resource after cleanup"), "{message}");
    }
}

// ---------------------------------------------------------------------------------------------
// Without loom: the same scenarios as ordinary threaded tests, each in a registrar of its own.

#[cfg(not(loom))]
mod threaded {
    use npi_runtime::host;

    const RUNS: usize = 200;

    #[test]
    fn exnpi_pending_detach_threaded() {
        for _ in 0..RUNS {
            host::isolated(super::exnpi_pending_detach);
        }
    }

    #[test]
    fn wsk_calls_in_flight_threaded() {
        for _ in 0..RUNS {
            host::isolated(super::wsk_calls_in_flight);
        }
    }

    #[test]
    fn wsk_port_threaded() {
        for _ in 0..RUNS {
            host::isolated(super::wsk_port_client_leaves_during_a_call);
            host::isolated(super::wsk_port_provider_leaves_with_a_socket_open);
        }
    }

    #[test]
    fn deregister_during_attach_threaded() {
        for _ in 0..RUNS {
            host::isolated(super::deregister_during_attach);
        }
    }

    #[test]
    fn the_correct_worker_passes_threaded() {
        for _ in 0..RUNS {
            host::isolated(|| super::worker_during_detach(false));
        }
    }

    /// The seeded bug's window is two instructions wide: real threads almost never preempt the
    /// worker inside it, so this ordinary test passes on the buggy module, as a user's own test
    /// would. `loom_finds_the_seeded_bug` (under `--cfg loom`) finds it every time.
    #[test]
    fn the_seeded_bug_passes_an_ordinary_threaded_test() {
        for _ in 0..RUNS {
            host::isolated(|| super::worker_during_detach(true));
        }
    }
}
