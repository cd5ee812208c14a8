//! The registrar: one lock over all its tables, the condition variable its waits sleep on, and
//! its diagnostics. Its NMR functions live by concern in `registration.rs`, `attach.rs`,
//! `detach.rs` and `wait.rs`; this file creates registrars and marks module callbacks.

use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Weak};
use std::vec::Vec;

use super::diagnostics::Diagnostics;
use super::frames;
use super::handles::MAX_REGISTRAR;
use super::report::{BindingInfo, StuckWait};
use super::routing::{Entered, current_id, lock_directory};
use super::sync::{self, Condvar, Mutex};
use super::tables::State;
use super::wait::DEFAULT_REPORT_INTERVAL_MS;

pub(crate) struct Registrar {
    /// 0 for the default registrar; the rest are never reused.
    pub(super) id: usize,
    /// This registrar itself, for module callbacks to make it current (empty for the default).
    pub(super) me: Weak<Registrar>,
    /// Every registration and binding. Never held while a module callback runs (R32).
    pub(super) state: Mutex<State>,
    /// Signalled when a deregistering registration loses its last binding.
    pub(super) emptied: Condvar,
    pub(super) diagnostics: Mutex<Diagnostics>,
    pub(super) report_interval_ms: AtomicU64,
}

impl Registrar {
    pub(super) fn new(id: usize, me: Weak<Registrar>) -> Self {
        Self {
            id,
            me,
            state: Mutex::new(State::new(id)),
            emptied: Condvar::new(),
            diagnostics: Mutex::new(Diagnostics::default()),
            report_interval_ms: AtomicU64::new(DEFAULT_REPORT_INTERVAL_MS),
        }
    }

    /// A registrar of a test's own, with a fresh id; `None` once ids run out.
    pub(crate) fn scoped() -> Option<Arc<Registrar>> {
        let mut dir = lock_directory();
        let id = dir.last.checked_add(1).filter(|id| *id <= MAX_REGISTRAR)?;
        dir.last = id;
        let registrar = Arc::new_cyclic(|me| Registrar::new(id, me.clone()));
        dir.live.insert(id, Arc::downgrade(&registrar));
        Some(registrar)
    }

    pub(crate) fn id(&self) -> usize {
        self.id
    }

    /// Marks a module callback of `binding` as running on this thread, with this registrar
    /// current there (unless the thread entered it already), until dropped.
    #[inline]
    pub(super) fn frame(&self, binding: usize) -> CallbackFrame {
        // The default registrar's callbacks run only on threads in no registrar (a thread in
        // one has its calls with default handles refused), which use the default anyway.
        let previous = if self.id == 0 || self.id == current_id() {
            None
        } else {
            self.me.upgrade().map(|me| Entered::set(Some(me)))
        };
        CallbackFrame { _frame: frames::Frame::enter(binding), previous }
    }

    /// What is still registered or bound: what a scope that ends should have cleaned up.
    pub(crate) fn leftovers(&self) -> Option<Leftovers> {
        let st = sync::lock(&self.state);
        if st.registrations.is_empty() && st.bindings.iter().next().is_none() {
            return None;
        }
        let mut handles: Vec<usize> = st.registrations.keys().copied().collect();
        handles.sort_unstable();
        let waits = handles.into_iter().map(|h| self.stuck_report(&st, h)).collect();
        let mut bindings: Vec<_> =
            st.bindings.iter().map(|(h, b)| (b.serial, st.binding_info(h, b))).collect();
        bindings.sort_by_key(|(serial, _)| *serial);
        Some(Leftovers { waits, bindings: bindings.into_iter().map(|(_, b)| b).collect() })
    }
}

impl Drop for Registrar {
    fn drop(&mut self) {
        if self.id != 0 {
            lock_directory().live.remove(&self.id);
        }
    }
}

/// A module callback running on this thread ([`Registrar::frame`]): its binding's frame, and
/// the registrar entered for it (restored when dropped) if the thread was in another.
pub(super) struct CallbackFrame {
    _frame: frames::Frame,
    previous: Option<Option<Arc<Registrar>>>,
}

impl Drop for CallbackFrame {
    #[inline]
    fn drop(&mut self) {
        if let Some(previous) = self.previous.take() {
            Entered::set(previous);
        }
    }
}

/// What `Registrar::leftovers` found at the end of a scope.
pub(crate) struct Leftovers {
    pub(crate) waits: Vec<StuckWait>,
    pub(crate) bindings: Vec<BindingInfo>,
}
