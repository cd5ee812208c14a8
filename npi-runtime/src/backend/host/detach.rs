//! Deregistration, detach and cleanup (R17–R24, R27, R28): `NmrDeregister*` marks the
//! registration and starts the detach of each established binding; both detach callbacks run,
//! client first (OQ-3); each half completes by `STATUS_SUCCESS` or by `Nmr*DetachComplete`
//! after `STATUS_PENDING`; whoever completes the second half runs both cleanups. The halves
//! move through `binding_state::transition`.

use core::ffi::c_void;
#[cfg(not(loom))]
use core::time::Duration;
use std::string::String;
use std::vec::Vec;

use super::binding_state::{Cleanup, DetachFn, DetachJob, Event, Move, Next};
#[cfg(not(loom))]
use super::faults;
use super::registrar::Registrar;
use super::report::{Role, ViolationKind};
#[cfg(not(loom))]
use super::routing::{Nmr, nmr};
use super::sync;
use super::tables::State;
use crate::sys::{NTSTATUS, STATUS_INVALID_PARAMETER, STATUS_PENDING};

impl Registrar {
    /// `NmrDeregister*`: stop proposals, start detaching every established binding, return
    /// `STATUS_PENDING` without waiting for anything (R24).
    pub(crate) fn deregister(&self, role: Role, handle: usize) -> NTSTATUS {
        let jobs = match self.begin_deregistration(role, handle, false) {
            Ok(jobs) => jobs,
            Err(status) => return status,
        };
        #[cfg(not(loom))]
        let Some(jobs) = self.detach_later(jobs, faults::detach_later()) else {
            return STATUS_PENDING;
        };
        for job in jobs {
            self.run_detach(job);
        }
        STATUS_PENDING
    }

    /// Marks a registration deregistering, takes it out of the NPI's index and marks its
    /// established bindings detaching; the detach callbacks to run. `by_fault`: started by
    /// `host::AttachFaults`, not by the owner, whose own call is still to come.
    pub(super) fn begin_deregistration(
        &self,
        role: Role,
        handle: usize,
        by_fault: bool,
    ) -> Result<Vec<DetachJob>, NTSTATUS> {
        let function = match role {
            Role::Client => "NmrDeregisterClient",
            Role::Provider => "NmrDeregisterProvider",
        };
        let mut st = sync::lock(&self.state);
        let r = match st.registrations.get_mut(&handle) {
            Some(r) if r.role == role => r,
            _ => {
                self.bad_registration_handle(&st, role, handle, function);
                return Err(STATUS_INVALID_PARAMETER);
            }
        };
        let npi = r.npi;
        if r.deregistering {
            if by_fault {
                return Err(STATUS_PENDING);
            }
            if r.deregistered_by_fault {
                // The owner's own call, after a fault started the deregistration for it.
                r.deregistered_by_fault = false;
                return Ok(Vec::new());
            }
            drop(st);
            self.violation(
                ViolationKind::DeregisterTwice,
                Some(npi),
                handle,
                function,
                String::from("this registration is already deregistering"),
            );
            return Err(STATUS_INVALID_PARAMETER);
        }
        r.deregistering = true;
        r.deregistered_by_fault = by_fault;
        let bindings = core::mem::take(&mut r.bindings);
        if let Some(e) = st.npis.get_mut(&npi) {
            e.clients.remove(&handle);
            e.providers.remove(&handle);
            if e.clients.is_empty() && e.providers.is_empty() {
                st.npis.remove(&npi);
            }
        }
        // Oldest binding first; the list is in creation order already.
        let mut jobs = Vec::new();
        let mut kept = Vec::with_capacity(bindings.len());
        for h in bindings {
            if let Some(b) = st.bindings.get_mut(&h) {
                kept.push(h);
                // R19: only an established binding starts detaching; one already detaching
                // (the other side left first) is only waited for.
                if let Ok(Move { next: Next::To(_), .. }) = b.advance(Event::Deregistered) {
                    jobs.push(b.detach_job(h));
                }
            }
        }
        if let Some(r) = st.registrations.get_mut(&handle) {
            r.bindings = kept;
        }
        Ok(jobs)
    }

    /// `host::DetachFaults`: hands `jobs` to a thread of their own that runs them after the
    /// thread's delay, as NETIO may run detach from a worker, after `NmrDeregister*` returned.
    /// Gives the jobs back to run here if no plan is armed or no thread can be started.
    #[cfg(not(loom))]
    pub(super) fn detach_later(
        &self,
        jobs: Vec<DetachJob>,
        delay: Option<Duration>,
    ) -> Option<Vec<DetachJob>> {
        let delay = delay.filter(|_| !jobs.is_empty());
        let Some(delay) = delay else {
            return Some(jobs);
        };
        let registrar = match self.me.upgrade() {
            Some(me) => Nmr::Scoped(me),
            None if self.id == 0 => Nmr::Default(nmr()),
            // A scoped registrar being dropped cannot have live registrations to deregister.
            None => return Some(jobs),
        };
        /// The jobs and their registrar, moved to the detaching thread.
        struct Later(Nmr, Vec<DetachJob>);
        // SAFETY: the jobs' pointers are module callbacks and binding contexts, which the
        // contract makes callable and valid from any thread until cleanup (R33, R14); the
        // registrar is `Sync`.
        unsafe impl Send for Later {}
        let later = std::sync::Arc::new(std::sync::Mutex::new(Some(Later(registrar, jobs))));
        let moved = std::sync::Arc::clone(&later);
        let spawned =
            std::thread::Builder::new().name(String::from("npi-detach")).spawn(move || {
                std::thread::sleep(delay);
                let taken = moved.lock().unwrap_or_else(std::sync::PoisonError::into_inner).take();
                if let Some(Later(registrar, jobs)) = taken {
                    for job in jobs {
                        registrar.run_detach(job);
                    }
                }
            });
        match spawned {
            Ok(_) => None,
            // No thread: detach here after all (the jobs were not moved).
            Err(_) => later
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .take()
                .map(|Later(_, jobs)| jobs),
        }
    }

    /// Calls both detach callbacks of a binding already marked `Detaching`, client first
    /// (OQ-3), then settles the halves; runs the cleanups if this thread finished the pair.
    pub(super) fn run_detach(&self, job: DetachJob) {
        let call = |(f, context): (DetachFn, *mut c_void)| {
            let _frame = self.frame(job.binding);
            // SAFETY: registered callback, called with the binding context its module gave at
            // attach; both stay valid until cleanup (R14, R22).
            unsafe { f(context) }
        };
        let client = job.client.map(call);
        // The client's half is settled before the provider runs: a pending half's completion
        // may come at any moment, and a finished one is shown as done (listings, stuck-wait
        // reports). The same critical section marks the provider's callback as invoked.
        if let Some(cleanup) = self.detach_returned(job.binding, client, None, true) {
            self.run_cleanup(cleanup);
            return;
        }
        let provider = job.provider.map(call);
        if let Some(cleanup) = self.detach_returned(job.binding, None, provider, false) {
            self.run_cleanup(cleanup);
        }
    }

    /// Settles the halves whose detach callbacks returned these statuses (R20, R21, OQ-10).
    fn detach_returned(
        &self,
        binding: usize,
        client: Option<NTSTATUS>,
        provider: Option<NTSTATUS>,
        start_provider: bool,
    ) -> Option<Cleanup> {
        let mut st = sync::lock(&self.state);
        let b = st.bindings.get_mut(&binding)?;
        if start_provider {
            b.invoke_provider();
        }
        let npi = b.npi;
        let mut complaints = Vec::new();
        for (role, status) in [(Role::Client, client), (Role::Provider, provider)] {
            let Some(status) = status else { continue };
            if let Some(complaint) = b.detach_returned(role, status) {
                complaints.push((role, complaint));
            }
        }
        let cleanup = take_cleanup(&mut st, binding);
        drop(st);
        for (role, complaint) in complaints {
            let function = match role {
                Role::Client => "ClientDetachProvider",
                Role::Provider => "ProviderDetachClient",
            };
            self.violation(complaint.kind(), Some(npi), binding, function, complaint.detail());
        }
        cleanup
    }

    /// `Nmr*DetachComplete` (R20, R21, R30, OQ-11).
    pub(crate) fn detach_complete(&self, role: Role, binding: usize) {
        let function = match role {
            Role::Client => "NmrClientDetachProviderComplete",
            Role::Provider => "NmrProviderDetachClientComplete",
        };
        let mut st = sync::lock(&self.state);
        let Some(b) = st.bindings.get_mut(&binding) else {
            let npi = st.registrations.get(&binding).map(|r| r.npi);
            let kind = if npi.is_some() {
                ViolationKind::WrongHandleKind
            } else {
                ViolationKind::BadHandle
            };
            drop(st);
            self.violation(
                kind,
                npi,
                binding,
                function,
                String::from("not a live binding handle; ignored"),
            );
            return;
        };
        let npi = b.npi;
        let complaint = b.detach_complete(role);
        let cleanup = take_cleanup(&mut st, binding);
        drop(st);
        if let Some(complaint) = complaint {
            self.violation(complaint.kind(), Some(npi), binding, function, complaint.detail());
        }
        if let Some(cleanup) = cleanup {
            self.run_cleanup(cleanup);
        }
    }

    /// Runs the cleanup callbacks, client first, then forgets the binding (R22, OQ-5).
    fn run_cleanup(&self, cleanup: Cleanup) {
        for (f, context) in [cleanup.client, cleanup.provider].into_iter().flatten() {
            let _frame = self.frame(cleanup.binding);
            // SAFETY: registered cleanup callback with the binding context its module gave.
            unsafe { f(context) };
        }
        let wake = sync::lock(&self.state).remove_binding(cleanup.binding);
        if wake {
            self.emptied.notify_all();
        }
    }
}

/// If both halves of `binding` are done, moves it to `CleaningUp` and returns what to call.
/// Exactly one thread sees this move, so cleanups run once (R22).
fn take_cleanup(st: &mut State, binding: usize) -> Option<Cleanup> {
    st.bindings.get_mut(&binding)?.take_cleanup(binding)
}
