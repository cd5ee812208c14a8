//! Which registrar a call goes to.
//!
//! Process-wide there is one default registrar ([`nmr`], id 0), which is what code that never
//! opts in uses, like the real NMR. A test may create registrars of its own
//! ([`Registrar::scoped`], `host::Registrar`) so that tests registering the same NPI id run in
//! parallel without seeing each other. The nine functions have no context argument, so the
//! registrar is found from the call:
//! - `NmrRegister*` uses the calling thread's *current* registrar (one it entered, see
//!   [`Entered`]), else the default one;
//! - every call that names a handle goes to the registrar the handle names (its id is in the
//!   handle, `handles.rs`), so a completion or deregistration from a thread that never entered
//!   it — a worker, a timer — lands in the right one. A thread that entered a registrar and
//!   passes a handle of another is refused with `STATUS_INVALID_PARAMETER` and a
//!   [`ViolationKind::ForeignHandle`] violation in its own registrar;
//! - module callbacks run with their registrar current on that thread
//!   (`Registrar::frame`), so whatever a callback registers or asks the host
//!   about belongs to the same registrar.

use std::format;
use std::sync::{Arc, Weak};

use super::handles::registrar_id;
use super::registrar::Registrar;
use super::report::ViolationKind;
use super::sync::{host_static, host_thread_local};
use super::tables::FxHashMap;
use crate::sys::{NTSTATUS, STATUS_INVALID_PARAMETER};

host_static!(
    fn default_registrar() -> Registrar {
        Registrar::new(0, Weak::new())
    }
);

/// The default, process-wide registrar: what code that never opts into a registrar of its own
/// uses.
pub(crate) fn nmr() -> &'static Registrar {
    default_registrar()
}

/// The registrars created by tests, by id, so that a handle finds its own from any thread.
#[derive(Default)]
pub(super) struct Directory {
    /// The last id handed out; ids are never reused, so neither are handle values.
    pub(super) last: usize,
    pub(super) live: FxHashMap<usize, Weak<Registrar>>,
}

// Not the registrar's lock type: the directory is held only for a lookup, never across a
// module callback or a wait, so loom need not see it (it is still fresh per execution).
host_static!(
    fn directory() -> std::sync::Mutex<Directory> {
        std::sync::Mutex::new(Directory::default())
    }
);

pub(super) fn lock_directory() -> std::sync::MutexGuard<'static, Directory> {
    directory().lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

host_thread_local! {
    /// The registrar this thread entered (`Entered`), if any.
    static CURRENT: core::cell::RefCell<Option<Arc<Registrar>>> = core::cell::RefCell::new(None);
    /// Its id, 0 for none: what every NMR call reads first, without the `RefCell` or the `Arc`.
    static CURRENT_ID: core::cell::Cell<usize> = core::cell::Cell::new(0);
}

pub(super) fn current_id() -> usize {
    CURRENT_ID.try_with(core::cell::Cell::get).unwrap_or(0)
}

/// A registrar to call into: the default one, or one a test created.
pub(crate) enum Nmr {
    Default(&'static Registrar),
    Scoped(Arc<Registrar>),
}

impl core::ops::Deref for Nmr {
    type Target = Registrar;
    fn deref(&self) -> &Registrar {
        match self {
            Nmr::Default(r) => r,
            Nmr::Scoped(r) => r,
        }
    }
}

/// The registrar this thread entered, if any.
fn entered() -> Option<Arc<Registrar>> {
    if current_id() == 0 {
        return None;
    }
    CURRENT.try_with(|c| c.borrow().clone()).ok().flatten()
}

/// The calling thread's registrar: the one it entered, else the default one. `NmrRegister*`
/// and the host's listings use it.
pub(crate) fn current() -> Nmr {
    entered().map_or(Nmr::Default(nmr()), Nmr::Scoped)
}

/// The registrar a call naming `handle` goes to: the handle's own. `Err` when the calling
/// thread entered another registrar; the violation is then already recorded in the caller's.
pub(crate) fn for_handle(handle: usize, function: &'static str) -> Result<Nmr, NTSTATUS> {
    // The common case, a thread in no registrar of its own and a default handle, reads one
    // thread-local cell.
    if current_id() == 0 && registrar_id(handle).is_none_or(|id| id == 0) {
        return Ok(Nmr::Default(nmr()));
    }
    let here = entered();
    let Some(id) = registrar_id(handle) else {
        // Not a handle of any registrar: the caller's registrar records it as a bad handle.
        return Ok(here.map_or(Nmr::Default(nmr()), Nmr::Scoped));
    };
    let mine = here.as_ref().map_or(0, |r| r.id);
    if id == mine {
        return Ok(here.map_or(Nmr::Default(nmr()), Nmr::Scoped));
    }
    if let Some(here) = here {
        here.violation(
            ViolationKind::ForeignHandle,
            None,
            handle,
            function,
            format!(
                "a handle of registrar {id}, passed on a thread that entered registrar {}; \
                 ignored",
                here.id
            ),
        );
        return Err(STATUS_INVALID_PARAMETER);
    }
    if id == 0 {
        return Ok(Nmr::Default(nmr()));
    }
    let found = lock_directory().live.get(&id).and_then(Weak::upgrade);
    // A registrar that is gone has no live handles: its default neighbour says so.
    Ok(found.map_or(Nmr::Default(nmr()), Nmr::Scoped))
}

/// Makes a registrar current on this thread until dropped, restoring the previous one.
pub(crate) struct Entered {
    previous: Option<Arc<Registrar>>,
    // Thread-local state: the guard stays on its thread.
    _thread: core::marker::PhantomData<*const ()>,
}

impl Entered {
    pub(crate) fn enter(registrar: Option<Arc<Registrar>>) -> Self {
        Self { previous: Self::set(registrar), _thread: core::marker::PhantomData }
    }

    /// Makes `registrar` this thread's; the one it replaces.
    pub(super) fn set(registrar: Option<Arc<Registrar>>) -> Option<Arc<Registrar>> {
        let _ = CURRENT_ID.try_with(|c| c.set(registrar.as_ref().map_or(0, |r| r.id)));
        CURRENT.try_with(|c| c.replace(registrar)).ok().flatten()
    }
}

impl Drop for Entered {
    fn drop(&mut self) {
        Self::set(self.previous.take());
    }
}
