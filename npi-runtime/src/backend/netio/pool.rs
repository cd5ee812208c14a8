//! The runtime's heap in the kernel: the non-paged pool, called directly.
//!
//! The runtime allocates its own blocks (binding records, per-registration characteristics)
//! with `ExAllocatePool2` instead of through `alloc`'s global allocator, so that:
//! - a driver needs no `#[global_allocator]` for npi, and one built without npi-runtime's
//!   `alloc` feature links no allocator shim at all (what a C driver's image carries);
//! - the runtime's blocks carry their own pool tag, `NpiR`, which `!pool`, poolmon and Driver
//!   Verifier's leak check at unload show apart from the driver's own allocations;
//! - the memory is non-paged, as it must be: detach and cleanup callbacks, which free binding
//!   records, may run at `DISPATCH_LEVEL`.
//!
//! Pool blocks are aligned to `MEMORY_ALLOCATION_ALIGNMENT`; a layout that asks for more (a
//! record with extra hold-count shards, aligned to 128 bytes) is over-allocated, and the pool
//! block's address is kept in the word just below the aligned one. Every layout the runtime
//! allocates is a constant, so `alloc`/`free` are inlined and the branch folds away.
#![allow(non_snake_case)] // kernel names, verbatim

use core::alloc::Layout;
use core::ffi::c_void;
use core::ptr::NonNull;

/// `POOL_FLAG_NON_PAGED` (`wdm.h`).
const POOL_FLAG_NON_PAGED: u64 = 0x40;
/// `POOL_FLAG_UNINITIALIZED`: skip the zeroing `ExAllocatePool2` does by default; every block
/// is written in full before it is read.
const POOL_FLAG_UNINITIALIZED: u64 = 0x2;
/// The runtime's pool tag: the bytes `NpiR` in memory order, as `!pool` prints them.
const POOL_TAG: u32 = u32::from_le_bytes(*b"NpiR");
/// `MEMORY_ALLOCATION_ALIGNMENT`: what every pool block is aligned to.
const POOL_ALIGNMENT: usize = if cfg!(target_pointer_width = "64") { 16 } else { 8 };

#[cfg_attr(
    not(target_arch = "x86"),
    link(name = "ntoskrnl.exe", kind = "raw-dylib", modifiers = "+verbatim")
)]
#[cfg_attr(
    target_arch = "x86",
    link(
        name = "ntoskrnl.exe",
        kind = "raw-dylib",
        modifiers = "+verbatim",
        import_name_type = "undecorated"
    )
)]
unsafe extern "system" {
    /// `ExAllocatePool2` (`wdm.h`, Windows 10 version 2004 and later): NULL when no memory is
    /// available (without `POOL_FLAG_RAISE_ON_FAILURE`).
    fn ExAllocatePool2(Flags: u64, NumberOfBytes: usize, Tag: u32) -> *mut c_void;
    /// `ExFreePoolWithTag` (`wdm.h`).
    fn ExFreePoolWithTag(P: *mut c_void, Tag: u32);
}

/// A block of `layout` (non-zero size) from the non-paged pool, uninitialised; `None` if the
/// pool has no memory.
#[inline]
pub(crate) fn alloc(layout: Layout) -> Option<NonNull<u8>> {
    if layout.align() <= POOL_ALIGNMENT {
        // SAFETY: a plain pool allocation; NULL (no memory) is passed on as `None`.
        let block = unsafe {
            ExAllocatePool2(POOL_FLAG_NON_PAGED | POOL_FLAG_UNINITIALIZED, layout.size(), POOL_TAG)
        };
        return NonNull::new(block.cast());
    }
    alloc_over_aligned(layout)
}

/// [`alloc`] for an alignment above the pool's: `align` bytes more, the result rounded up
/// (which leaves at least `POOL_ALIGNMENT` bytes, room for a pointer, in front of it).
#[inline(never)]
fn alloc_over_aligned(layout: Layout) -> Option<NonNull<u8>> {
    let size = layout.size().checked_add(layout.align())?;
    // SAFETY: as in `alloc`.
    let block =
        unsafe { ExAllocatePool2(POOL_FLAG_NON_PAGED | POOL_FLAG_UNINITIALIZED, size, POOL_TAG) };
    let block = NonNull::new(block.cast::<u8>())?;
    let offset = layout.align() - (block.as_ptr().addr() & (layout.align() - 1));
    // SAFETY: `offset` is in `POOL_ALIGNMENT..=align` (the block is `POOL_ALIGNMENT`-aligned and
    // `align` a larger power of two), so the aligned address is inside the `size + align` block
    // with `layout.size()` bytes after it.
    let aligned = unsafe { block.add(offset) };
    // SAFETY: the word just below `aligned` is at least `POOL_ALIGNMENT` (>= a pointer) bytes
    // past `block`, inside the block, pointer-aligned (`aligned` is, and so is its distance).
    unsafe { aligned.cast::<*mut u8>().sub(1).write(block.as_ptr()) };
    Some(aligned)
}

/// Gives a block from [`alloc`] back to the pool.
///
/// # Safety
/// `block` came from `alloc(layout)` with this `layout` and is freed once.
#[inline]
pub(crate) unsafe fn free(block: NonNull<u8>, layout: Layout) {
    let original = if layout.align() <= POOL_ALIGNMENT {
        block.as_ptr()
    } else {
        // SAFETY: `alloc_over_aligned` stored the pool block's address in the word just below
        // every over-aligned block it returned.
        unsafe { block.cast::<*mut u8>().sub(1).read() }
    };
    // SAFETY: a block from ExAllocatePool2 with our tag, freed once (the caller's contract).
    unsafe { ExFreePoolWithTag(original.cast(), POOL_TAG) };
}
