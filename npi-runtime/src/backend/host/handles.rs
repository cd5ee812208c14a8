//! What a handle value is made of (OQ-17).
//!
//! Every handle is `HANDLE_BASE + (registrar << REGISTRAR_SHIFT) + payload * 4 + tag`:
//! - `HANDLE_BASE` keeps handles far from small integers, so a made-up value is never live;
//! - the **registrar id** (0 for the default registrar, then one per `host::Registrar`, never
//!   reused) routes a call that names a handle to its own registrar from any thread
//!   (`routing::for_handle`); a handle of another registrar than the one the calling thread
//!   entered is refused as `ViolationKind::ForeignHandle`;
//! - the **payload** of a registration handle is a serial that only grows (so handle order is
//!   registration order, OQ-2); that of a binding handle is a slab slot and its generation
//!   (`slab.rs`), so slots are reused but handle values never are;
//! - the two **tag** bits tell client, provider and binding handles apart, so a handle of the
//!   wrong kind is refused (`WrongHandleKind`), not mixed up.

use core::ptr;

use super::report::Role;
use super::slab;
use super::tables::State;
use crate::sys::HANDLE;

pub(super) const TAG_CLIENT: usize = 1;
pub(super) const TAG_PROVIDER: usize = 2;
pub(super) const TAG_BINDING: usize = 3;
const TAG_MASK: usize = 3;
/// Handles start far from small integers, so a made-up value such as `1` or `0x1234` is never
/// mistaken for a live handle. A multiple of 4, so the tag bits stay free and order is kept.
const HANDLE_BASE: usize = 0x4E50_0000;

/// Where the registrar id starts in a handle: above the tag and one registrar's own payload.
const REGISTRAR_SHIFT: u32 = 2 + slab::PAYLOAD_BITS;
/// The largest registrar id; a handle of the largest id still fits above `HANDLE_BASE`.
pub(super) const MAX_REGISTRAR: usize = if usize::BITS == 64 { (1 << 19) - 1 } else { 63 };
const _: () = assert!(
    (MAX_REGISTRAR << REGISTRAR_SHIFT) < usize::MAX - HANDLE_BASE - (1 << REGISTRAR_SHIFT) + 1
);

/// Where the handles of registrar `registrar` start.
pub(super) fn base(registrar: usize) -> usize {
    HANDLE_BASE + (registrar << REGISTRAR_SHIFT)
}

/// The id of the registrar `handle` belongs to, if it is shaped like a handle at all.
pub(super) fn registrar_id(handle: usize) -> Option<usize> {
    let id = handle.checked_sub(HANDLE_BASE)? >> REGISTRAR_SHIFT;
    (id <= MAX_REGISTRAR).then_some(id)
}

/// Client or provider, for a registration handle; `None` for a binding or no handle at all.
pub(crate) fn role_of_handle(handle: usize) -> Option<Role> {
    match handle & TAG_MASK {
        TAG_CLIENT => Some(Role::Client),
        TAG_PROVIDER => Some(Role::Provider),
        _ => None,
    }
}

pub(super) fn as_handle(value: usize) -> HANDLE {
    ptr::without_provenance_mut(value)
}

impl State {
    /// A fresh registration handle, or `None` once the handle space is used up (never reuse
    /// one: OQ-17).
    pub(super) fn issue(&mut self, tag: usize) -> Option<usize> {
        let serial = self.next_serial.checked_add(1)?;
        if serial >> slab::PAYLOAD_BITS != 0 {
            return None;
        }
        let handle = (self.base + serial * 4) | tag;
        self.next_serial = serial;
        Some(handle)
    }
}
