//! The atomics the runtime uses, in one place: `core`'s, or loom's under `cfg(loom)`.
//!
//! The binding records' hold and reference counts are part of what a model check must explore
//! (a detach completing while a call is in flight), so they go through these names; with
//! `RUSTFLAGS="--cfg loom"` loom sees every load, store and fence. A kernel build never sets
//! `loom`, and then these are exactly `core::sync::atomic`.

#[cfg(not(loom))]
pub(crate) use core::sync::atomic::{AtomicPtr, AtomicUsize, Ordering, fence};
#[cfg(loom)]
pub(crate) use loom::sync::atomic::{AtomicPtr, AtomicUsize, Ordering, fence};
