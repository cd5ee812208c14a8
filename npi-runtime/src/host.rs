//! The in-process NMR's extras for tests, traces and examples.
//!
//! The NMR itself is reached only through the nine functions in [`crate::sys`], exactly as on
//! Windows. This module adds what a test needs on top and the kernel has no equivalent for:
//!
//! - **Violations.** Every breach of the NMR contract (completing a detach twice, attaching
//!   outside the attach callback, a bad or wrong-kind handle, …) is recorded as a [`Violation`]
//!   naming the NPI, the handle and the function. Tests read them with [`violations_of`] or
//!   [`take_violations_of`]. The NMR is process-wide, like the real one, and tests run in
//!   parallel: a test either uses its own NPI id or runs in a registrar of its own
//!   ([`isolated`], [`Registrar`]).
//! - **Registrars of a test's own** ([`isolated`], [`Registrar`]): registrations made inside
//!   belong to that registrar alone, so tests registering the same (real) NPI id run in
//!   parallel without seeing each other; at the end of the scope whatever is still registered
//!   or bound is reported, like a stuck wait.
//! - **Strict mode** ([`set_strict`]) turns a violation of that NPI into a process abort with the
//!   diagnostic, the way Driver Verifier bugchecks, so no test can miss it. Warnings
//!   ([`ViolationKind::NonZeroCharacteristicsVersion`], [`ViolationKind::CompleteBeforeDetach`])
//!   never abort; in strict mode a non-zero characteristics `Version` is rejected instead.
//! - **Listings** of registrations and bindings with their NPI ids, module ids and states, and
//!   the same as a picture ([`binding_graph`], Graphviz DOT or Mermaid; a stuck wait draws its
//!   own with [`StuckWait::graph`]).
//! - **Bounded waits** that return a [`StuckWait`] report (which binding, which side, which
//!   modules) instead of hanging. An unbounded `NmrWaitFor*` prints the same report to stderr
//!   every [`set_stuck_report_interval`] while it makes no progress.
//! - **Simulated IRQL** per thread (R34): an NMR call above its limit is a violation and fails
//!   with `STATUS_INVALID_DEVICE_STATE`.
//! - **Model checking** (`model`, only with `RUSTFLAGS="--cfg loom"`): a scenario run in every
//!   interleaving loom explores within a preemption bound, each from a fresh registrar.
//! - **Refusing providers** ([`AttachFaults`]): chosen `NmrClientAttachProvider` calls of this
//!   thread answer as a refusing provider would, to test a client's retry or decline.
//! - **Late detaches** (`DetachFaults`): deregistrations started on this thread run their
//!   detach callbacks later, on a thread of their own, as NETIO may.
//! - **Allocation faults** ([`AllocationFaults`]): fail the N-th allocation of the runtime (a
//!   binding record, a registration's characteristics) or of the NMR (a registration, a
//!   binding) on this thread, to see a module survive `STATUS_INSUFFICIENT_RESOURCES`; and
//!   [`live_runtime_allocations`] to see that nothing was left behind.
//!
//! # Where the host NMR differs from Windows on purpose
//! Windows bugchecks or deadlocks where this NMR returns an error: a bad handle or parameter is
//! `STATUS_INVALID_PARAMETER`; a wait from inside a callback it would wait for, and a call above
//! the IRQL limit, are `STATUS_INVALID_DEVICE_STATE`. All are recorded as violations.

use core::marker::PhantomData;
use core::time::Duration;
use std::vec::Vec;

use crate::backend::host::faults::{self, Plan};
pub use crate::backend::host::graph::BindingGraph;
pub use crate::backend::host::report::{
    BindingInfo, BindingState, HalfState, Handle, Irql, RegistrationInfo, Role as Side, StuckWait,
    Violation, ViolationKind, WaitError,
};
use crate::backend::host::{self as imp, Role, current};
pub use crate::heap::AllocationSite;
use crate::sys::{GUID, HANDLE, NTSTATUS};

// The free functions below act on the calling thread's registrar: the one it entered
// ([`Registrar::enter`], [`isolated`]), else the default, process-wide one.

/// Every violation recorded so far, oldest first.
#[must_use]
pub fn violations() -> Vec<Violation> {
    current().violations()
}

/// The violations recorded for one NPI, oldest first.
#[must_use]
pub fn violations_of(npi: &GUID) -> Vec<Violation> {
    current().violations().into_iter().filter(|v| v.npi.as_ref() == Some(npi)).collect()
}

/// Removes and returns the violations recorded for one NPI.
pub fn take_violations_of(npi: &GUID) -> Vec<Violation> {
    current().take_violations(Some(npi))
}

/// Strict mode for one NPI: any violation concerning it (other than a warning) aborts the
/// process with the diagnostic on stderr, like a Driver Verifier bugcheck.
pub fn set_strict(npi: &GUID, strict: bool) {
    current().set_strict(*npi, strict);
}

/// All live registrations, in registration order.
#[must_use]
pub fn registrations() -> Vec<RegistrationInfo> {
    current().registrations()
}

/// The live registrations of one NPI, in registration order.
#[must_use]
pub fn registrations_of(npi: &GUID) -> Vec<RegistrationInfo> {
    registrations().into_iter().filter(|r| r.npi == *npi).collect()
}

/// All bindings that exist (attaches in flight included), oldest first.
#[must_use]
pub fn bindings() -> Vec<BindingInfo> {
    current().bindings()
}

/// The registrations and bindings of this thread's registrar as a graph, to draw
/// ([`BindingGraph::to_dot`], [`BindingGraph::to_mermaid`]): which binding holds up which
/// unload, at a glance. [`StuckWait::graph`] draws just what one wait is stuck on.
#[must_use]
pub fn binding_graph() -> BindingGraph {
    BindingGraph { registrations: registrations(), bindings: bindings() }
}

/// The bindings of one NPI, oldest first.
#[must_use]
pub fn bindings_of(npi: &GUID) -> Vec<BindingInfo> {
    bindings().into_iter().filter(|b| b.npi == *npi).collect()
}

/// `NmrWaitForClientDeregisterComplete` or `NmrWaitForProviderDeregisterComplete` (picked by
/// the handle), giving up after `limit`.
///
/// # Errors
/// [`WaitError::Stuck`] if bindings remain after `limit`; [`WaitError::Status`] if the handle is
/// not a registration that was deregistered.
pub fn wait_for_deregister_complete(handle: HANDLE, limit: Duration) -> Result<(), WaitError> {
    let h = handle.addr();
    let nmr =
        imp::for_handle(h, "host::wait_for_deregister_complete").map_err(WaitError::Status)?;
    // A handle of no known kind: the registrar classifies and records it.
    let role = imp::role_of_handle(h).unwrap_or(Role::Client);
    nmr.wait(role, h, Some(limit))
}

/// How often an unbounded `NmrWaitFor*` that makes no progress prints its [`StuckWait`] report
/// to stderr (default 10 s).
pub fn set_stuck_report_interval(interval: Duration) {
    current().set_report_interval(interval);
}

/// The calling thread's simulated IRQL.
#[must_use]
pub fn irql() -> Irql {
    imp::current_irql()
}

/// Sets the calling thread's simulated IRQL and returns the previous one.
pub fn set_irql(level: Irql) -> Irql {
    imp::set_irql(level)
}

/// Runs `f` at the simulated IRQL `level` on this thread, then restores the previous level.
pub fn at_irql<R>(level: Irql, f: impl FnOnce() -> R) -> R {
    struct Restore(Irql);
    impl Drop for Restore {
        fn drop(&mut self) {
            imp::set_irql(self.0);
        }
    }
    let _restore = Restore(imp::set_irql(level));
    f()
}

/// Allocation fault injection on the calling thread, while this guard lives.
///
/// Every allocation the runtime makes (binding records in `accept`, a registration's own copy
/// of its characteristics) and every allocation the host NMR stands in for NETIO's (a
/// registration block in `NmrRegister*`, a binding block before a pair is proposed) is counted,
/// in order; [`AllocationFaults::fail_nth`] makes exactly one of them fail. A failure is what
/// the kernel would show: `accept` returns a refusal with `STATUS_INSUFFICIENT_RESOURCES`,
/// `register` fails with it, and a pair whose binding block cannot be allocated is not
/// proposed.
///
/// The plan belongs to this thread only, so tests in parallel never see each other's faults;
/// a registration's attach callbacks run on the registering thread (R7), so arming the thread
/// that registers covers its attaches. Dropping the guard restores the plan it replaced.
///
/// ```
/// use npi_runtime::host::{AllocationFaults, AllocationSite};
/// let faults = AllocationFaults::fail_nth(0);
/// // ... register a module: its first allocation fails ...
/// assert_eq!(faults.failed(), None); // nothing was allocated yet
/// ```
#[must_use = "the plan is disarmed when the guard is dropped"]
pub struct AllocationFaults {
    previous: Option<Plan>,
    // The plan is the calling thread's: the guard stays on it.
    _thread: PhantomData<*const ()>,
}

impl AllocationFaults {
    /// Counts allocations on this thread and fails none: run a scenario once under it to learn
    /// how many allocations [`fail_nth`](Self::fail_nth) can choose from.
    pub fn count() -> Self {
        Self::arm(None)
    }

    /// Fails the `n`-th allocation (0-based) made on this thread from now; the others succeed.
    pub fn fail_nth(n: usize) -> Self {
        Self::arm(Some(n))
    }

    fn arm(fail_at: Option<usize>) -> Self {
        let previous = faults::arm(Some(Plan { fail_at, seen: Vec::new() }));
        Self { previous, _thread: PhantomData }
    }

    /// The allocations seen so far, in order, the failed one included.
    #[must_use]
    pub fn seen(&self) -> Vec<AllocationSite> {
        faults::with_plan(|p| p.map(|p| p.seen.clone()).unwrap_or_default())
    }

    /// The allocation that was failed, once it happened.
    #[must_use]
    pub fn failed(&self) -> Option<AllocationSite> {
        faults::with_plan(|p| p.and_then(|p| p.seen.get(p.fail_at?).copied()))
    }
}

impl Drop for AllocationFaults {
    fn drop(&mut self) {
        faults::arm(self.previous.take());
    }
}

impl core::fmt::Debug for AllocationFaults {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("AllocationFaults")
            .field("seen", &self.seen())
            .field("failed", &self.failed())
            .finish()
    }
}

/// Providers that refuse or leave, on the calling thread, while this guard lives: chosen
/// `NmrClientAttachProvider` calls answer with a status, as a provider whose attach callback
/// failed would, without calling the provider ([`refuse_nth`](Self::refuse_nth)); or see the
/// provider start deregistering while the attach runs (`provider_leaves_during_nth`).
///
/// For testing a client's answer to a refusal — retrying with another version or table (R12),
/// declining, or failing its attach — against a real provider module that would otherwise
/// accept. A refused call changes nothing: the binding stays proposed, the client may call
/// `NmrClientAttachProvider` again in the same attach callback, and no cleanup follows (R10).
/// Attach callbacks run on the registering thread (R7), so arming the thread that registers
/// the client (or the provider that comes second) covers its attaches. Dropping the guard
/// restores the plan it replaced.
///
/// ```
/// use npi_runtime::host::AttachFaults;
/// use npi_runtime::sys::STATUS_NOINTERFACE;
/// let refusals = AttachFaults::refuse_nth(0, STATUS_NOINTERFACE);
/// // ... register a client: its first NmrClientAttachProvider is refused; a retry goes through ...
/// assert_eq!((refusals.attempts(), refusals.refused()), (0, 0)); // nothing registered here
/// ```
/// `suite/tests/ports_wsk.rs::wsk_client_retries_when_the_provider_refuses` shows the WSK client
/// retrying with version 1.0 when its 2.0 table is refused, and declining when every attempt is.
#[must_use = "the plan is disarmed when the guard is dropped"]
pub struct AttachFaults {
    previous: Option<faults::AttachPlan>,
    // The plan is the calling thread's: the guard stays on it.
    _thread: PhantomData<*const ()>,
}

impl AttachFaults {
    /// The `n`-th `NmrClientAttachProvider` call (0-based) made on this thread from now answers
    /// `status`; the others reach the provider.
    pub fn refuse_nth(n: usize, status: NTSTATUS) -> Self {
        Self::arm(Some(n), faults::AttachFault::Refuse(status))
    }

    /// Every `NmrClientAttachProvider` call made on this thread from now answers `status`.
    pub fn refuse_all(status: NTSTATUS) -> Self {
        Self::arm(None, faults::AttachFault::Refuse(status))
    }

    /// A deregistration during an attach (R28): on the `n`-th `NmrClientAttachProvider` call
    /// (0-based) made on this thread from now, once the provider accepted, the provider's
    /// registration starts deregistering, as if its owner called `NmrDeregisterProvider` on
    /// another thread at that moment. The client's attach callback finishes as usual; the
    /// binding is detached as soon as it returns, and the provider's other bindings are detached
    /// on a thread of their own. The provider's owner deregisters and waits as usual later: its
    /// `NmrDeregisterProvider` is then answered `STATUS_PENDING`, without a violation. Not
    /// available under loom (a real thread detaches the other bindings).
    #[cfg(not(loom))]
    pub fn provider_leaves_during_nth(n: usize) -> Self {
        Self::arm(Some(n), faults::AttachFault::ProviderLeaves)
    }

    fn arm(nth: Option<usize>, fault: faults::AttachFault) -> Self {
        let plan = faults::AttachPlan { nth, fault, seen: 0, faulted: 0 };
        Self { previous: faults::arm_attach(Some(plan)), _thread: PhantomData }
    }

    /// `NmrClientAttachProvider` calls made on this thread since the guard was created.
    #[must_use]
    pub fn attempts(&self) -> usize {
        faults::attach_plan().map_or(0, |p| p.seen)
    }

    /// How many of them were refused (or had their provider leave).
    #[must_use]
    pub fn refused(&self) -> usize {
        faults::attach_plan().map_or(0, |p| p.faulted)
    }
}

impl Drop for AttachFaults {
    fn drop(&mut self) {
        faults::arm_attach(self.previous.take());
    }
}

impl core::fmt::Debug for AttachFaults {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("AttachFaults")
            .field("attempts", &self.attempts())
            .field("refused", &self.refused())
            .finish()
    }
}

/// Detaches that come late, from another thread, while this guard lives on the calling thread.
///
/// The host NMR normally runs the detach callbacks of a deregistration inside `NmrDeregister*`,
/// on the calling thread. NETIO may run them later, from a worker: all the contract promises is
/// that they run before the deregistration wait returns. While this guard lives, a
/// deregistration started on this thread returns `STATUS_PENDING` at once and its detach
/// callbacks (and whatever completes in them, cleanups included) run on a thread of their own,
/// after `delay`. A module that frees what a detach callback uses between `NmrDeregister*` and
/// the wait, or that expects detach on its unloading thread, fails under it; the synchronous
/// default hides both. Dropping the guard restores the plan it replaced; deregistrations
/// already handed over still run late. Not available under loom.
///
/// `suite/tests/conformance.rs` (`detach_faults`) shows a C-style unload that frees its client state
/// before waiting: it passes against the synchronous default and is caught with this guard.
#[cfg(not(loom))]
#[must_use = "the plan is disarmed when the guard is dropped"]
pub struct DetachFaults {
    previous: Option<Duration>,
    // The plan is the calling thread's: the guard stays on it.
    _thread: PhantomData<*const ()>,
}

#[cfg(not(loom))]
impl DetachFaults {
    /// Deregistrations started on this thread detach on another thread, after `delay`.
    pub fn later(delay: Duration) -> Self {
        Self { previous: faults::arm_detach(Some(delay)), _thread: PhantomData }
    }
}

#[cfg(not(loom))]
impl Drop for DetachFaults {
    fn drop(&mut self) {
        faults::arm_detach(self.previous.take());
    }
}

#[cfg(not(loom))]
impl core::fmt::Debug for DetachFaults {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("DetachFaults").field("delay", &faults::detach_later()).finish()
    }
}

/// Heap blocks the runtime has allocated and not yet freed, process-wide: binding records
/// (from attach until the last of cleanup and the module's `BindingRef`s) and registrations'
/// own characteristics (until the deregistration wait returns). A test that ends with every
/// registration deregistered and every reference dropped should see it back where it started.
#[must_use]
pub fn live_runtime_allocations() -> usize {
    faults::live()
}

/// A registrar of a test's own: an NMR separate from the process-wide one and from every other
/// `Registrar`, so that tests registering the same NPI id run in parallel without seeing each
/// other's modules, bindings or violations.
///
/// The nine `Nmr*` functions take no registrar argument, so it is found from the call:
/// - `NmrRegister*` (and so every `Registration`) goes to the registrar the calling thread
///   entered ([`enter`](Self::enter), [`run`](Self::run), [`isolated`]); a thread that entered
///   none uses the default, process-wide registrar, as all code that never opts in does.
/// - Every call that names a handle (deregistration, wait, attach, detach completion) goes to
///   the registrar that issued the handle, whichever thread makes it: a worker thread spawned
///   without entering the registrar may complete a pending detach or drop a `Registration`.
/// - Module callbacks run with their registrar entered, so what a callback registers, and
///   what it asks the free functions of this module, stays in the same registrar.
/// - The free functions of this module ([`registrations_of`], [`violations_of`], …) read the
///   calling thread's registrar.
///
/// A thread that entered a registrar and passes a handle of another one (the default one
/// included) gets `STATUS_INVALID_PARAMETER` and a [`ViolationKind::ForeignHandle`] in its own
/// registrar, never a mix-up: handle values name their registrar and are never reused, in one
/// registrar or across them. A thread spawned by the test registers in the default registrar
/// unless it enters this one: spawn it with [`spawn`](Self::spawn), or pass it a clone
/// (`Registrar` is a cheap, `Send` handle) and [`run`](Self::run) in it.
///
/// ```
/// use npi_runtime::host::{self, Registrar};
/// let registrar = Registrar::new();
/// registrar.run(|| {
///     // ... register modules, spawn workers, deregister ...
///     assert!(host::registrations().is_empty());
/// });
/// assert!(registrar.check_clean().is_ok());
/// ```
#[derive(Clone)]
pub struct Registrar {
    inner: std::sync::Arc<imp::Registrar>,
}

impl Registrar {
    /// A new, empty registrar.
    ///
    /// # Panics
    /// If the process has used up registrar ids (ids are never reused, so that neither are
    /// handle values; there are 524 287 on a 64-bit host, 63 on a 32-bit one).
    #[must_use]
    pub fn new() -> Self {
        let inner = imp::Registrar::scoped().expect("npi host NMR: registrar ids are used up");
        Self { inner }
    }

    /// The registrar the calling thread entered, if any (for handing to a thread it spawns).
    #[must_use]
    pub fn current() -> Option<Self> {
        match current() {
            imp::Nmr::Scoped(inner) => Some(Self { inner }),
            imp::Nmr::Default(_) => None,
        }
    }

    /// Makes this registrar the calling thread's until the guard is dropped; the previous one
    /// (or none) is restored then.
    pub fn enter(&self) -> Entered {
        Entered { _inner: imp::Entered::enter(Some(self.inner.clone())) }
    }

    /// Runs `f` with this registrar entered on the calling thread.
    pub fn run<R>(&self, f: impl FnOnce() -> R) -> R {
        let _entered = self.enter();
        f()
    }

    /// Spawns a thread that runs `f` with this registrar entered: what a test's thread that
    /// registers modules needs (calls that name a handle need nothing).
    ///
    /// # Panics
    /// As [`std::thread::spawn`], if the thread cannot be created.
    pub fn spawn<T: Send + 'static>(
        &self,
        f: impl FnOnce() -> T + Send + 'static,
    ) -> std::thread::JoinHandle<T> {
        let registrar = self.clone();
        std::thread::spawn(move || registrar.run(f))
    }

    /// A number naming this registrar in diagnostics (the default registrar is 0).
    #[must_use]
    pub fn id(&self) -> usize {
        self.inner.id()
    }

    /// The live registrations of this registrar, in registration order.
    #[must_use]
    pub fn registrations(&self) -> Vec<RegistrationInfo> {
        self.inner.registrations()
    }

    /// The bindings of this registrar, oldest first.
    #[must_use]
    pub fn bindings(&self) -> Vec<BindingInfo> {
        self.inner.bindings()
    }

    /// The violations recorded in this registrar, oldest first.
    #[must_use]
    pub fn violations(&self) -> Vec<Violation> {
        self.inner.violations()
    }

    /// Nothing registered and nothing bound: what a test leaves behind when every registration
    /// was deregistered and waited for.
    ///
    /// # Errors
    /// [`Leftovers`]: every registration still there (with what its wait would wait for, as in
    /// a [`StuckWait`]) and every binding still there.
    pub fn check_clean(&self) -> Result<(), Leftovers> {
        match self.inner.leftovers() {
            None => Ok(()),
            Some(l) => Err(Leftovers {
                registrar: self.id(),
                registrations: l.waits,
                bindings: l.bindings,
                violations: self.inner.violations(),
            }),
        }
    }
}

impl Default for Registrar {
    fn default() -> Self {
        Self::new()
    }
}

impl core::fmt::Debug for Registrar {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Registrar").field("id", &self.id()).finish_non_exhaustive()
    }
}

/// A registrar entered on this thread ([`Registrar::enter`]); dropping it restores the previous.
#[must_use = "the registrar is left again when the guard is dropped"]
pub struct Entered {
    _inner: imp::Entered,
}

impl core::fmt::Debug for Entered {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("Entered")
    }
}

/// What a registrar still held at the end of a scope ([`Registrar::check_clean`],
/// [`isolated`]).
#[derive(Debug)]
pub struct Leftovers {
    /// The registrar's id.
    pub registrar: usize,
    /// Each registration still there, with the bindings its wait would wait for.
    pub registrations: Vec<StuckWait>,
    /// Every binding still there, oldest first.
    pub bindings: Vec<BindingInfo>,
    /// The violations the registrar recorded, for context.
    pub violations: Vec<Violation>,
}

impl core::fmt::Display for Leftovers {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        writeln!(
            f,
            "registrar {} still holds {} registration(s) and {} binding(s) at the end of its scope",
            self.registrar,
            self.registrations.len(),
            self.bindings.len()
        )?;
        for r in &self.registrations {
            writeln!(f, "  {r}")?;
        }
        for b in &self.bindings {
            writeln!(f, "  binding {b:?}")?;
        }
        for v in &self.violations {
            writeln!(f, "  violation: {v}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Leftovers {}

/// Runs `f` in a registrar of its own ([`Registrar`]), then checks that it ended clean.
///
/// This is how a test that registers a real NPI id (WSK, eBPF, …) runs in parallel with the
/// others: nothing it registers is seen outside, and nothing registered outside is seen in it.
///
/// # Panics
/// If `f` panics (after leaving the registrar), or if anything is still registered or bound
/// when `f` returns: the panic message lists it ([`Leftovers`]).
pub fn isolated<R>(f: impl FnOnce() -> R) -> R {
    let registrar = Registrar::new();
    let r = registrar.run(f);
    if let Err(leftovers) = registrar.check_clean() {
        panic!("npi host NMR: {leftovers}");
    }
    r
}

/// Model checking a module with [loom](https://docs.rs/loom): every interleaving of a
/// scenario's threads, within a preemption bound. Only with `RUSTFLAGS="--cfg loom"`.
///
/// Under `cfg(loom)` the host NMR's lock, condition variable, thread-locals and statics, and
/// the runtime's binding records (hold and reference counts), are loom's, so loom explores the
/// registrar's and the runtime's interleavings together with the module's. Each explored
/// execution starts from a fresh, empty registrar.
///
/// What a scenario must do:
/// - use loom's primitives for everything its threads share (`model::loom::sync`,
///   `model::loom::thread::spawn`, `model::loom::thread::yield_now` in any spin loop): a
///   `std::sync::Mutex` held across a loom switch blocks the one OS thread loom runs on;
/// - register its modules with run-time registrations (`Registration::register(Arc::new(..))`):
///   loom's atomics cannot live in a `static`;
/// - join every thread it spawns, and deregister everything, before it returns.
///
/// After each execution [`Model::check`] fails the model if anything is still registered or
/// bound, if a contract violation was recorded, or if a runtime heap block is still alive. A
/// wait that nothing can end (a `PendingDetach` never completed, say) is a deadlock, which loom
/// reports with each thread's state; under loom there is no time, so bounded waits block too.
/// A panic inside an NMR call or a module callback cannot unwind out of its `extern "system"`
/// frame, so a failure there (loom's deadlock report included) stops the process with loom's
/// message, as a bugcheck would; assert in the scenario's own code to get a test failure.
///
/// ```text
/// use npi_runtime::host::model::{Model, loom};
/// let explored = Model::new().preemption_bound(2).check(|| {
///     let p = ProviderRegistration::register(Arc::new(MyProvider::new())).unwrap();
///     let c = ClientRegistration::register(Arc::new(MyClient::new())).unwrap();
///     let caller = loom::thread::spawn(/* a call through the client's BindingRef */);
///     drop(c); // deregisters and waits while the call may be in flight
///     caller.join().unwrap();
///     drop(p);
/// });
/// assert!(explored.iterations > 1);
/// ```
#[cfg(loom)]
pub mod model {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::{Duration, Instant};

    pub use loom;

    /// A model check: loom's [`Builder`](loom::model::Builder) with the bounds that keep a
    /// scenario of an NMR client and provider tractable.
    #[derive(Debug)]
    pub struct Model {
        builder: loom::model::Builder,
    }

    /// What a model check explored.
    #[derive(Clone, Copy, Debug)]
    pub struct Explored {
        /// Executions (interleavings) run.
        pub iterations: usize,
        /// Wall-clock time the check took.
        pub elapsed: Duration,
    }

    impl Model {
        /// Preemption bound 2 (loom's own default is unbounded, which no NMR scenario
        /// finishes), 10 000 branches per execution; loom's `LOOM_*` environment variables
        /// still apply to the rest.
        #[must_use]
        pub fn new() -> Self {
            let mut builder = loom::model::Builder::new();
            builder.preemption_bound = Some(2);
            builder.max_branches = 10_000;
            Self { builder }
        }

        /// At most `bound` preemptions per execution: interleavings that need more thread
        /// switches than that (beyond those forced by blocking) are not explored.
        #[must_use]
        pub fn preemption_bound(mut self, bound: usize) -> Self {
            self.builder.preemption_bound = Some(bound);
            self
        }

        /// Stop after `limit` executions (a sampled check, not an exhaustive one).
        #[must_use]
        pub fn max_permutations(mut self, limit: usize) -> Self {
            self.builder.max_permutations = Some(limit);
            self
        }

        /// The loom builder itself, for settings not named here.
        pub fn builder(&mut self) -> &mut loom::model::Builder {
            &mut self.builder
        }

        /// Runs `scenario` in every interleaving loom explores, checking after each that the
        /// registrar ended empty, without violations, with every runtime block freed.
        ///
        /// # Panics
        /// With loom's report of the failing execution, if `scenario` panics in one, deadlocks,
        /// or leaves anything behind.
        pub fn check(&self, scenario: impl Fn() + Sync + Send + 'static) -> Explored {
            let iterations = Arc::new(AtomicUsize::new(0));
            let counted = Arc::clone(&iterations);
            let start = Instant::now();
            self.builder.check(move || {
                counted.fetch_add(1, Ordering::Relaxed);
                scenario();
                let nmr = super::imp::nmr();
                if let Some(leftovers) = nmr.leftovers() {
                    let report = super::Leftovers {
                        registrar: 0,
                        registrations: leftovers.waits,
                        bindings: leftovers.bindings,
                        violations: nmr.violations(),
                    };
                    panic!("npi model: {report}");
                }
                let violations = nmr.violations();
                assert!(violations.is_empty(), "npi model: contract violations: {violations:?}");
                let live = super::live_runtime_allocations();
                assert_eq!(live, 0, "npi model: {live} runtime heap block(s) still alive");
            });
            Explored { iterations: iterations.load(Ordering::Relaxed), elapsed: start.elapsed() }
        }
    }

    impl Default for Model {
        fn default() -> Self {
            Self::new()
        }
    }
}
