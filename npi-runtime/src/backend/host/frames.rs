//! Per-thread facts the registrar needs: which module callbacks are on this thread's stack, and
//! the simulated IRQL.
//!
//! Every access tolerates a thread whose thread-locals are already destroyed (NMR calls from
//! another thread-local's destructor): no frame is recorded there, and the IRQL reads as
//! passive.

use std::cell::{Cell, RefCell};
use std::vec::Vec;

use super::report::Irql;
use super::sync::host_thread_local;

host_thread_local! {
    static FRAMES: RefCell<Vec<usize>> = RefCell::new(Vec::new());
    static IRQL: Cell<Irql> = Cell::new(Irql::Passive);
}

/// Marks a module callback for binding `handle` as running on this thread until dropped.
pub(super) struct Frame(());

impl Frame {
    pub(super) fn enter(binding: usize) -> Self {
        let _ = FRAMES.try_with(|f| f.borrow_mut().push(binding));
        Frame(())
    }
}

impl Drop for Frame {
    fn drop(&mut self) {
        let _ = FRAMES.try_with(|f| {
            f.borrow_mut().pop();
        });
    }
}

/// The first binding whose callback is on this thread's stack and satisfies `pred`.
pub(super) fn find_active(mut pred: impl FnMut(usize) -> bool) -> Option<usize> {
    FRAMES.try_with(|f| f.borrow().iter().copied().find(|b| pred(*b))).ok().flatten()
}

/// The binding whose callback runs innermost on this thread, if any.
pub(super) fn innermost() -> Option<usize> {
    FRAMES.try_with(|f| f.borrow().last().copied()).ok().flatten()
}

pub(crate) fn irql() -> Irql {
    IRQL.try_with(Cell::get).unwrap_or(Irql::Passive)
}

pub(crate) fn set_irql(level: Irql) -> Irql {
    IRQL.try_with(|c| c.replace(level)).unwrap_or(Irql::Passive)
}
