//! Allocation fault injection: the calling thread's plan, and the count of runtime blocks alive.
//!
//! The plan is per thread so that tests running in parallel never fail each other's
//! allocations: the allocations of a registration and of the attaches it causes all happen on
//! the registering thread (R7), which is the thread a test arms.

use std::cell::RefCell;
use std::sync::atomic::{AtomicIsize, Ordering};
use std::vec::Vec;

#[cfg(loom)]
use super::sync::host_static;
use super::sync::host_thread_local;
use crate::heap::AllocationSite;
use crate::sys::NTSTATUS;

#[derive(Default)]
pub(crate) struct Plan {
    /// Index (0-based, among the allocations seen since the plan was armed) of the one to fail.
    pub(crate) fail_at: Option<usize>,
    /// Every allocation seen, in order, the failed one included.
    pub(crate) seen: Vec<AllocationSite>,
}

host_thread_local! {
    static PLAN: RefCell<Option<Plan>> = RefCell::new(None);
}

/// The count of runtime blocks alive. Under loom each explored execution has its own, so a
/// model can check that every interleaving frees what it allocated.
#[cfg(not(loom))]
fn live_count() -> &'static AtomicIsize {
    static LIVE: AtomicIsize = AtomicIsize::new(0);
    &LIVE
}
#[cfg(loom)]
host_static!(
    fn live_count() -> AtomicIsize {
        AtomicIsize::new(0)
    }
);

/// Records an allocation at `site` and says whether the plan wants it to fail.
pub(crate) fn should_fail(site: AllocationSite) -> bool {
    // A thread whose thread-locals are gone has no plan.
    PLAN.try_with(|p| {
        let mut p = p.borrow_mut();
        let Some(plan) = p.as_mut() else { return false };
        let n = plan.seen.len();
        plan.seen.push(site);
        plan.fail_at == Some(n)
    })
    .unwrap_or(false)
}

/// Installs `plan` on this thread and returns the one it replaces.
pub(crate) fn arm(plan: Option<Plan>) -> Option<Plan> {
    PLAN.try_with(|p| p.replace(plan)).unwrap_or(None)
}

/// Reads the armed plan of this thread.
pub(crate) fn with_plan<R>(f: impl FnOnce(Option<&Plan>) -> R) -> R {
    match PLAN.try_with(|p| {
        p.borrow().as_ref().map(|plan| Plan { fail_at: plan.fail_at, seen: plan.seen.clone() })
    }) {
        Ok(plan) => f(plan.as_ref()),
        Err(_) => f(None),
    }
}

pub(crate) fn count_live(delta: isize) {
    live_count().fetch_add(delta, Ordering::Relaxed);
}

pub(crate) fn live() -> usize {
    usize::try_from(live_count().load(Ordering::Relaxed)).unwrap_or(0)
}

/// What `host::AttachFaults` does to a chosen `NmrClientAttachProvider` call.
#[derive(Clone, Copy)]
pub(crate) enum AttachFault {
    /// Answer this status without calling the provider, as a refusing provider would.
    Refuse(NTSTATUS),
    /// Once the provider accepted, its deregistration begins, as if its owner called
    /// `NmrDeregisterProvider` on another thread at that moment (R28).
    #[cfg_attr(loom, allow(dead_code))] // needs a real thread: not offered under loom
    ProviderLeaves,
}

#[derive(Clone, Copy)]
pub(crate) struct AttachPlan {
    /// Which call (0-based, among the calls since the plan was armed); `None` for every one.
    pub(crate) nth: Option<usize>,
    pub(crate) fault: AttachFault,
    /// Calls seen since the plan was armed, faulted ones included.
    pub(crate) seen: usize,
    pub(crate) faulted: usize,
}

host_thread_local! {
    static ATTACH: RefCell<Option<AttachPlan>> = RefCell::new(None);
}

/// Counts an `NmrClientAttachProvider` on this thread; the fault to inject into it, if any.
pub(crate) fn attach_fault() -> Option<AttachFault> {
    ATTACH
        .try_with(|p| {
            let mut p = p.borrow_mut();
            let plan = p.as_mut()?;
            let n = plan.seen;
            plan.seen += 1;
            if plan.nth.is_some_and(|i| i != n) {
                return None;
            }
            plan.faulted += 1;
            Some(plan.fault)
        })
        .ok()
        .flatten()
}

/// Installs an attach plan on this thread and returns the one it replaces.
pub(crate) fn arm_attach(plan: Option<AttachPlan>) -> Option<AttachPlan> {
    ATTACH.try_with(|p| p.replace(plan)).unwrap_or(None)
}

/// This thread's attach plan, if armed.
pub(crate) fn attach_plan() -> Option<AttachPlan> {
    ATTACH.try_with(|p| *p.borrow()).ok().flatten()
}

// Not under loom: a late detach needs a real thread and real time.
#[cfg(not(loom))]
host_thread_local! {
    /// Set while `host::DetachFaults` is armed on this thread: how long a deregistration
    /// started here waits, on another thread, before it runs its detach callbacks.
    static DETACH_LATER: core::cell::Cell<Option<core::time::Duration>> =
        core::cell::Cell::new(None);
}

/// This thread's detach plan.
#[cfg(not(loom))]
pub(crate) fn detach_later() -> Option<core::time::Duration> {
    DETACH_LATER.try_with(core::cell::Cell::get).ok().flatten()
}

/// Installs a detach plan on this thread and returns the one it replaces.
#[cfg(not(loom))]
pub(crate) fn arm_detach(plan: Option<core::time::Duration>) -> Option<core::time::Duration> {
    DETACH_LATER.try_with(|c| c.replace(plan)).ok().flatten()
}
