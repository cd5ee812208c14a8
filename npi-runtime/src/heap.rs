//! The runtime's own heap blocks, allocated fallibly.
//!
//! A kernel allocation can fail, and `Box::new`/`Arc::new` answer a failure with
//! `handle_alloc_error`, which formats a message and ends in the driver's panic handler: a
//! bugcheck where the C driver would have returned `STATUS_INSUFFICIENT_RESOURCES`. Every block
//! the runtime allocates goes through [`RtBox::try_new`] instead, which hands the value back on
//! failure so the caller can answer with a status and give the value back to the module.
//!
//! On the host every allocation here first asks the fault plan of the calling thread
//! ([`crate::host::AllocationFaults`]) whether it should fail, and the blocks alive are counted
//! ([`crate::host::live_runtime_allocations`]), so tests can fail each allocation in turn and see
//! that nothing is left behind.

use core::alloc::Layout;
use core::marker::PhantomData;
use core::ops::Deref;
use core::ptr::NonNull;

/// What a runtime allocation is for: named in fault-injection reports.
#[cfg_attr(not(npi_host), allow(dead_code, unreachable_pub))]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum AllocationSite {
    /// A binding record: the module's binding value and the runtime's bookkeeping, allocated by
    /// `accept` inside an attach callback.
    BindingRecord,
    /// A registration's own copy of its characteristics (a module id, `Number` or NPI-specific
    /// characteristics chosen at run time), allocated by `RegistrationBuilder::register`.
    RegistrationCharacteristics,
    /// The NMR's block for a registration (`NmrRegister*`). Only the host NMR injects faults
    /// here, standing in for NETIO's own allocation.
    NmrRegistration,
    /// The NMR's block for a binding, before the client's attach callback is called. Only the
    /// host NMR injects faults here; the pair is then not proposed.
    NmrBinding,
}

/// An owned heap block of the runtime: `Box` without the abort on allocation failure.
pub(crate) struct RtBox<T> {
    ptr: NonNull<T>,
    _owns: PhantomData<T>,
}

// SAFETY: `RtBox<T>` owns its `T` exactly as `Box<T>` does.
unsafe impl<T: Send> Send for RtBox<T> {}
// SAFETY: as above; `&RtBox<T>` only gives `&T`.
unsafe impl<T: Sync> Sync for RtBox<T> {}

impl<T> RtBox<T> {
    /// Moves `value` to the heap, or gives it back if no memory is available.
    pub(crate) fn try_new(value: T, site: AllocationSite) -> Result<Self, T> {
        const { assert!(size_of::<T>() > 0, "the runtime allocates no zero-sized blocks") };
        if should_fail(site) {
            return Err(value);
        }
        let Some(block) = raw_alloc(Layout::new::<T>()) else {
            return Err(value);
        };
        let ptr = block.cast::<T>();
        // SAFETY: freshly allocated for a `T`, properly aligned, not aliased.
        unsafe { ptr.write(value) };
        counted(1);
        Ok(Self { ptr, _owns: PhantomData })
    }

    /// Gives up ownership without freeing: the block lives until [`RtBox::from_raw`].
    pub(crate) fn into_raw(this: Self) -> NonNull<T> {
        let ptr = this.ptr;
        core::mem::forget(this);
        ptr
    }

    /// Takes ownership back.
    ///
    /// # Safety
    /// `ptr` came from [`RtBox::into_raw`] and is owned by no other `RtBox`.
    pub(crate) unsafe fn from_raw(ptr: NonNull<T>) -> Self {
        Self { ptr, _owns: PhantomData }
    }
}

impl<T> Deref for RtBox<T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: owned and initialised until drop.
        unsafe { self.ptr.as_ref() }
    }
}

impl<T> core::ops::DerefMut for RtBox<T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: owned, initialised, and `&mut self` makes the access unique.
        unsafe { self.ptr.as_mut() }
    }
}

impl<T> Drop for RtBox<T> {
    fn drop(&mut self) {
        // SAFETY: owned and initialised; dropped once, here.
        unsafe { self.ptr.drop_in_place() };
        // SAFETY: allocated by `try_new` with this layout; the value is gone.
        unsafe { dealloc(self.ptr) };
    }
}

/// A block of `layout` (non-zero size), uninitialised, or `None` if no memory is available:
/// for runtime blocks whose size is known only per type at run time (a binding record with its
/// hold-count shards).
#[inline(always)] // the layout is a per-type constant: the pool's alignment test folds away
pub(crate) fn try_alloc_layout(layout: Layout, site: AllocationSite) -> Option<NonNull<u8>> {
    if should_fail(site) {
        return None;
    }
    let ptr = raw_alloc(layout)?;
    counted(1);
    Some(ptr)
}

/// Frees a block from [`try_alloc_layout`].
///
/// # Safety
/// `ptr` came from `try_alloc_layout(layout, _)` with this `layout`, and whatever it held has
/// been dropped or moved out.
#[inline(always)] // as `try_alloc_layout`
pub(crate) unsafe fn dealloc_layout(ptr: NonNull<u8>, layout: Layout) {
    // SAFETY: per the caller.
    unsafe { raw_free(ptr, layout) };
    counted(-1);
}

/// # Safety
/// `ptr` was allocated by [`RtBox::try_new`] and its value has been dropped or moved out.
unsafe fn dealloc<T>(ptr: NonNull<T>) {
    // SAFETY: per the caller, with the layout `try_new` used.
    unsafe { raw_free(ptr.cast(), Layout::new::<T>()) };
    counted(-1);
}

/// A block of `layout` (non-zero size) from the backend's heap: the process heap on the host,
/// the non-paged pool in the kernel (`backend::netio::pool`, no global allocator involved).
#[inline]
fn raw_alloc(layout: Layout) -> Option<NonNull<u8>> {
    debug_assert!(layout.size() > 0);
    #[cfg(npi_host)]
    {
        // SAFETY: every caller's layout has a non-zero size (`RtBox::try_new` asserts it for its
        // type; `try_alloc_layout`'s callers pass records).
        NonNull::new(unsafe { std::alloc::alloc(layout) })
    }
    #[cfg(not(npi_host))]
    {
        crate::backend::netio::pool::alloc(layout)
    }
}

/// Frees a block from [`raw_alloc`].
///
/// # Safety
/// `block` came from `raw_alloc(layout)` with this `layout` and is freed once.
#[inline]
unsafe fn raw_free(block: NonNull<u8>, layout: Layout) {
    #[cfg(npi_host)]
    // SAFETY: per the caller: a block of the process heap with this layout.
    unsafe {
        std::alloc::dealloc(block.as_ptr(), layout);
    }
    #[cfg(not(npi_host))]
    // SAFETY: per the caller: a pool block from `pool::alloc(layout)`.
    unsafe {
        crate::backend::netio::pool::free(block, layout);
    }
}

#[cfg(npi_host)]
fn should_fail(site: AllocationSite) -> bool {
    crate::backend::host::faults::should_fail(site)
}

#[cfg(not(npi_host))]
fn should_fail(_: AllocationSite) -> bool {
    false
}

#[cfg(npi_host)]
fn counted(delta: isize) {
    crate::backend::host::faults::count_live(delta);
}

#[cfg(not(npi_host))]
fn counted(_: isize) {}
