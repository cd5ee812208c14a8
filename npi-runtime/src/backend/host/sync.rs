//! The synchronisation primitives the registrar uses, in one place.
//!
//! The state machine touches threads only through these names, so a model checker (loom) can
//! swap them for its own under `cfg(loom)` without touching the registrar: the lock and the
//! condition variable, the thread-locals (a callback frame or a current registrar belongs to a
//! loom thread, not to the OS thread loom runs all of them on), and the process-wide statics
//! (loom gives each explored execution fresh ones, so every interleaving starts from an empty
//! registrar).
//!
//! Poisoning is ignored on purpose: the registrar never panics while holding its lock, and a
//! module's panic cannot reach us (callbacks are `extern "system"`, which aborts on unwind), so
//! a poisoned lock still guards consistent state.

#[cfg(loom)]
pub(crate) use loom::sync::{Condvar, Mutex, MutexGuard};
#[cfg(not(loom))]
pub(crate) use std::sync::{Condvar, Mutex, MutexGuard};

/// `Mutex::lock`, ignoring poison (see the module comment).
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// `Condvar::wait_timeout`, ignoring poison.
#[cfg(not(loom))]
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

/// `Condvar::wait`, ignoring poison. Under loom there is no time: a wait blocks until it is
/// notified, and a wait nothing will ever end is a deadlock loom reports.
#[cfg(loom)]
pub(crate) fn wait<'a, T>(cv: &Condvar, guard: MutexGuard<'a, T>) -> MutexGuard<'a, T> {
    cv.wait(guard).unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Declares thread-locals that are per loom thread under `cfg(loom)`. The initialiser must be
/// usable in a `const` block (it is one outside loom).
macro_rules! host_thread_local {
    ($($(#[$attr:meta])* static $name:ident: $t:ty = $init:expr;)*) => {$(
        #[cfg(not(loom))]
        std::thread_local! { $(#[$attr])* static $name: $t = const { $init }; }
        #[cfg(loom)]
        loom::thread_local! { $(#[$attr])* static $name: $t = $init; }
    )*};
}
pub(crate) use host_thread_local;

/// Declares a process-wide value, created on first use: a `LazyLock` static, or under loom one
/// created afresh in each explored execution. Expands to a function returning `&'static $t`.
macro_rules! host_static {
    ($vis:vis fn $name:ident() -> $t:ty { $init:expr }) => {
        $vis fn $name() -> &'static $t {
            #[cfg(not(loom))]
            {
                static VALUE: std::sync::LazyLock<$t> = std::sync::LazyLock::new(|| $init);
                &VALUE
            }
            #[cfg(loom)]
            {
                loom::lazy_static! { static ref VALUE: $t = $init; }
                &VALUE
            }
        }
    };
}
pub(crate) use host_static;
