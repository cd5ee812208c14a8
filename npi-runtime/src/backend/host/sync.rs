//! The synchronisation primitives the registrar uses, in one place.
//!
//! The state machine touches threads only through these names, so a model checker (loom) can
//! swap them for its own under `cfg(loom)` without touching the registrar. Poisoning is ignored
//! on purpose: the registrar never panics while holding its lock, and a module's panic cannot
//! reach us (callbacks are `extern "system"`, which aborts on unwind), so a poisoned lock still
//! guards consistent state.

#[cfg(loom)]
pub(crate) use loom::sync::{Condvar, Mutex, MutexGuard};
#[cfg(not(loom))]
pub(crate) use std::sync::{Condvar, Mutex, MutexGuard};

/// `Mutex::lock`, ignoring poison (see the module comment).
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// `Condvar::wait_timeout`, ignoring poison.
pub(crate) fn wait_timeout<'a, T>(
    cv: &Condvar,
    guard: MutexGuard<'a, T>,
    dur: std::time::Duration,
) -> MutexGuard<'a, T> {
    match cv.wait_timeout(guard, dur) {
        Ok((g, _)) => g,
        Err(e) => e.into_inner().0,
    }
}
