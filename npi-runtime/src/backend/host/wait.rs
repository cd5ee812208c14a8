//! `NmrWaitFor*DeregisterComplete` (R25, R26, R31), bounded or not: it sleeps until the
//! deregistered registration has no binding left, and says what it is stuck on.

use core::time::Duration;
use std::format;
use std::string::String;
use std::sync::atomic::Ordering;
#[cfg(not(loom))]
use std::time::Instant;
use std::vec::Vec;

use super::registrar::Registrar;
use super::report::{
    BindingInfo, Handle, Irql, RegistrationInfo, Role, StuckWait, ViolationKind, WaitError,
};
use super::tables::State;
use super::{frames, sync};
use crate::sys::{
    GUID, NPI_MODULEID, NTSTATUS, STATUS_INVALID_DEVICE_STATE, STATUS_INVALID_PARAMETER,
    STATUS_SUCCESS,
};

/// How often an unbounded `NmrWaitFor*` that makes no progress prints what it waits for.
pub(super) const DEFAULT_REPORT_INTERVAL_MS: u64 = 10_000;

impl Registrar {
    pub(crate) fn set_report_interval(&self, interval: Duration) {
        let ms = u64::try_from(interval.as_millis()).unwrap_or(u64::MAX).max(1);
        self.report_interval_ms.store(ms, Ordering::Relaxed);
    }

    pub(crate) fn wait_status(&self, role: Role, handle: usize) -> NTSTATUS {
        match self.wait(role, handle, None) {
            Ok(()) => STATUS_SUCCESS,
            Err(WaitError::Status(s)) => s,
            Err(WaitError::Stuck(_)) => crate::sys::STATUS_TIMEOUT,
        }
    }

    /// `NmrWaitFor*DeregisterComplete`, optionally bounded. After success the handle is dead.
    pub(crate) fn wait(
        &self,
        role: Role,
        handle: usize,
        limit: Option<Duration>,
    ) -> Result<(), WaitError> {
        let function = match role {
            Role::Client => "NmrWaitForClientDeregisterComplete",
            Role::Provider => "NmrWaitForProviderDeregisterComplete",
        };
        let mut st = sync::lock(&self.state);
        let (npi, deregistering, waiting) = match st.registrations.get(&handle) {
            // A deregistration a fault started is the owner's only once it called NmrDeregister*.
            Some(r) if r.role == role => {
                (r.npi, r.deregistering && !r.deregistered_by_fault, r.waiting)
            }
            _ => {
                self.bad_registration_handle(&st, role, handle, function);
                return Err(WaitError::Status(STATUS_INVALID_PARAMETER));
            }
        };
        if !deregistering || waiting {
            drop(st);
            self.violation(
                ViolationKind::WaitWithoutDeregister,
                Some(npi),
                handle,
                function,
                String::from(if waiting {
                    "another thread is already waiting for this registration"
                } else {
                    "NmrDeregister* has not been called for this handle"
                }),
            );
            return Err(WaitError::Status(STATUS_INVALID_PARAMETER));
        }
        if !self.check_irql(Irql::Apc, function, Some(npi), handle) {
            return Err(WaitError::Status(STATUS_INVALID_DEVICE_STATE));
        }
        let on_stack = frames::find_active(|b| {
            st.bindings.get(&b).is_some_and(|b| b.client == handle || b.provider == handle)
        });
        if let Some(b) = on_stack {
            drop(st);
            self.violation(
                ViolationKind::WaitWouldDeadlock,
                Some(npi),
                handle,
                function,
                format!(
                    "called from inside a callback of binding {b:#x}, which this wait would wait \
                     for forever"
                ),
            );
            return Err(WaitError::Status(STATUS_INVALID_DEVICE_STATE));
        }
        let Some(r) = st.registrations.get_mut(&handle) else {
            return Ok(());
        };
        if r.live == 0 {
            // Nothing to wait for: the common case at unload, without reading the clock.
            st.registrations.remove(&handle);
            return Ok(());
        }
        r.waiting = true;
        #[cfg(loom)]
        {
            // No time under loom: bounded or not, the wait blocks until the last binding goes.
            // A wait nothing can end is a deadlock, which loom reports with every thread's
            // state; a bounded wait is then a failed model, as an unbounded one would hang.
            let _ = limit;
            loop {
                if st.registrations.get(&handle).is_none_or(|r| r.live == 0) {
                    st.registrations.remove(&handle);
                    return Ok(());
                }
                st = sync::wait(&self.emptied, st);
            }
        }
        #[cfg(not(loom))]
        let start = Instant::now();
        // A limit too far to add to `now` (`Duration::MAX`) is no limit: the sum must not panic
        // here, with the lock held and `waiting` set.
        #[cfg(not(loom))]
        let limit = limit.filter(|l| start.checked_add(*l).is_some());
        #[cfg(not(loom))]
        let mut last_report = start;
        #[cfg(not(loom))]
        loop {
            let empty = st.registrations.get(&handle).is_none_or(|r| r.live == 0);
            if empty {
                st.registrations.remove(&handle);
                return Ok(());
            }
            let interval = Duration::from_millis(self.report_interval_ms.load(Ordering::Relaxed));
            let now = Instant::now();
            if let Some(limit) = limit
                && now >= start + limit
            {
                let stuck = self.stuck_report(&st, handle);
                if let Some(r) = st.registrations.get_mut(&handle) {
                    r.waiting = false;
                }
                return Err(WaitError::Stuck(stuck));
            }
            if limit.is_none() && now >= last_report + interval {
                std::eprintln!("npi host NMR: {}", self.stuck_report(&st, handle));
                last_report = now;
            }
            let mut slice = (last_report + interval).saturating_duration_since(now);
            if let Some(limit) = limit {
                slice = slice.min((start + limit).saturating_duration_since(now));
            }
            st = sync::wait_timeout(&self.emptied, st, slice.max(Duration::from_millis(1)));
        }
    }

    pub(super) fn stuck_report(&self, st: &State, handle: usize) -> StuckWait {
        let registration = st.registrations.get(&handle).map_or_else(
            || RegistrationInfo {
                handle: Handle::from_value(handle),
                role: Role::Client,
                npi: GUID::default(),
                module_id: NPI_MODULEID::from_guid(GUID::default()),
                number: 0,
                deregistering: true,
                bindings: 0,
            },
            |r| st.registration_info(handle, r),
        );
        let bindings: Vec<BindingInfo> = st
            .registrations
            .get(&handle)
            .map(|r| {
                st.live_bindings(r)
                    .filter_map(|h| Some(st.binding_info(h, st.bindings.get(&h)?)))
                    .collect()
            })
            .unwrap_or_default();
        StuckWait { registration, bindings }
    }
}
