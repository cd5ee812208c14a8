//! The little of `ntoskrnl.exe` this driver needs, without the WDK: pool allocation for `alloc`,
//! a bugcheck for panics, `DbgPrint` for the trace, and the `DRIVER_OBJECT` field that holds the
//! unload routine.
//!
//! The imports use `raw-dylib` with `+verbatim`, exactly like npi-runtime's `NETIO.SYS` imports,
//! so no import library is needed to link. On x86 the kernel exports undecorated names while
//! `extern "system"` (stdcall) link names are decorated (`_ExAllocatePool2@16`), which
//! `import_name_type = "undecorated"` reconciles.
#![allow(non_snake_case)] // kernel names, verbatim

use core::alloc::{GlobalAlloc, Layout};
use core::ffi::{c_char, c_void};
use core::panic::PanicInfo;
use core::ptr;

/// `POOL_FLAGS` (`wdm.h`): non-paged, because NMR detach and cleanup callbacks, which drop
/// binding contexts, may run at `DISPATCH_LEVEL`.
const POOL_FLAG_NON_PAGED: u64 = 0x40;
/// `POOL_FLAGS`: skip the zeroing that `ExAllocatePool2` does by default; `GlobalAlloc::alloc`
/// promises nothing about the contents, `alloc_zeroed` keeps the zeroing.
const POOL_FLAG_UNINITIALIZED: u64 = 0x2;
/// The pool tag, shown by `!pool` and poolmon: the bytes `Npi ` in memory order.
const POOL_TAG: u32 = u32::from_le_bytes(*b"Npi ");
/// `MEMORY_ALLOCATION_ALIGNMENT`: what every pool block is aligned to.
const POOL_ALIGNMENT: usize = if cfg!(target_pointer_width = "64") { 16 } else { 8 };

/// Bugcheck code for a panic in this driver. `KeBugCheckEx`'s documentation asks drivers for a
/// code distinct from the ones Windows and its drivers already use; this one reads "NPI!".
/// Parameters: the panic location's file name (pointer, length in bytes), line and column.
const NPI_DRIVER_PANIC: u32 = u32::from_be_bytes(*b"NPI!");

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
    /// `ExAllocatePool2` (Windows 10 2004 and later).
    fn ExAllocatePool2(Flags: u64, NumberOfBytes: usize, Tag: u32) -> *mut c_void;
    /// `ExFreePoolWithTag`.
    fn ExFreePoolWithTag(P: *mut c_void, Tag: u32);
    /// `KeBugCheckEx`, which does not return (`DECLSPEC_NORETURN`).
    fn KeBugCheckEx(
        BugCheckCode: u32,
        BugCheckParameter1: usize,
        BugCheckParameter2: usize,
        BugCheckParameter3: usize,
        BugCheckParameter4: usize,
    ) -> !;
}

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
unsafe extern "C" {
    /// `DbgPrint`: `__cdecl` and variadic, unlike the rest of the kernel API.
    pub(crate) fn DbgPrint(Format: *const c_char, ...) -> u32;
}

/// Prints a literal message to the kernel debugger, prefixed with the driver's name: one
/// string built at compile time, as a C driver's `DbgPrint("exnpi: ...\n")`.
macro_rules! trace {
    ($message:literal) => {
        // SAFETY: a NUL-terminated literal without conversion specifications; DbgPrint may be
        // called at any IRQL for messages shorter than 512 bytes.
        unsafe {
            $crate::kernel::DbgPrint(concat!("exnpi: ", $message, "\n\0").as_ptr().cast())
        }
    };
}
pub(crate) use trace;

/// Prints a literal message and a number to the kernel debugger, as [`trace!`] does.
macro_rules! trace_value {
    ($message:literal, $value:expr) => {
        // SAFETY: as in `trace!`; `%u` takes the `u32` promoted to `unsigned int`.
        unsafe {
            $crate::kernel::DbgPrint(
                concat!("exnpi: ", $message, " %u\n\0").as_ptr().cast(),
                $value as u32,
            )
        }
    };
}
pub(crate) use trace_value;

/// The front of `DRIVER_OBJECT` (`wdm.h`), up to the member this driver writes. The I/O manager
/// owns the object; only `DriverUnload` is ever written, nothing else is read.
#[repr(C)]
pub(crate) struct DRIVER_OBJECT {
    Type: i16,
    Size: i16,
    DeviceObject: *mut c_void,
    Flags: u32,
    DriverStart: *mut c_void,
    DriverSize: u32,
    DriverSection: *mut c_void,
    DriverExtension: *mut c_void,
    /// `UNICODE_STRING`: two `USHORT` lengths and a buffer pointer.
    DriverName: [usize; 2],
    HardwareDatabase: *mut c_void,
    FastIoDispatch: *mut c_void,
    DriverInit: *mut c_void,
    DriverStartIo: *mut c_void,
    /// `PDRIVER_UNLOAD`: the routine the I/O manager calls before unmapping the driver. A driver
    /// that leaves it NULL cannot be unloaded.
    pub(crate) DriverUnload: Option<unsafe extern "system" fn(DriverObject: *mut DRIVER_OBJECT)>,
}

// The offsets of the public layout (DriverUnload at +0x68 on 64-bit Windows, +0x34 on x86), so a
// wrong field above fails the build instead of overwriting another member at run time.
const _: () = {
    #[cfg(target_pointer_width = "64")]
    assert!(core::mem::offset_of!(DRIVER_OBJECT, DriverUnload) == 0x68);
    #[cfg(target_pointer_width = "32")]
    assert!(core::mem::offset_of!(DRIVER_OBJECT, DriverUnload) == 0x34);
};

/// `alloc` on the kernel's non-paged pool: npi-runtime keeps each binding context in an `Arc`.
pub(crate) struct PoolAllocator;

// SAFETY: blocks come from ExAllocatePool2 and go back to ExFreePoolWithTag with the same tag;
// alignments above the pool's are served by over-allocating (see `alloc_with`).
unsafe impl GlobalAlloc for PoolAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        alloc_with(layout, POOL_FLAG_NON_PAGED | POOL_FLAG_UNINITIALIZED)
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        alloc_with(layout, POOL_FLAG_NON_PAGED)
    }

    unsafe fn dealloc(&self, block: *mut u8, layout: Layout) {
        let original = if layout.align() <= POOL_ALIGNMENT {
            block
        } else {
            // SAFETY: `alloc_with` stored the pool block's address in the word just below every
            // over-aligned block it returned.
            unsafe { block.cast::<*mut u8>().sub(1).read() }
        };
        // SAFETY: a block from ExAllocatePool2 with our tag, freed once (GlobalAlloc contract).
        unsafe { ExFreePoolWithTag(original.cast(), POOL_TAG) }
    }
}

/// Allocates `layout` from the pool. Pool blocks are `POOL_ALIGNMENT`-aligned; for a larger
/// alignment the block is over-allocated by `align` bytes, the result rounded up (which leaves at
/// least `POOL_ALIGNMENT` bytes in front of it) and the pool address kept just below it.
fn alloc_with(layout: Layout, flags: u64) -> *mut u8 {
    if layout.align() <= POOL_ALIGNMENT {
        // SAFETY: plain pool allocation; a NULL result is passed on as the allocation failure.
        return unsafe { ExAllocatePool2(flags, layout.size(), POOL_TAG) }.cast();
    }
    let Some(size) = layout.size().checked_add(layout.align()) else {
        return ptr::null_mut();
    };
    // SAFETY: as above.
    let block: *mut u8 = unsafe { ExAllocatePool2(flags, size, POOL_TAG) }.cast();
    if block.is_null() {
        return block;
    }
    let offset = layout.align() - (block.addr() & (layout.align() - 1));
    // SAFETY: `offset` is in `POOL_ALIGNMENT..=align` (the block is POOL_ALIGNMENT-aligned and
    // align is a larger power of two), so the result and the word below it, which is at least
    // `POOL_ALIGNMENT` (>= a pointer) bytes past `block`, lie inside the `size + align` block.
    unsafe {
        let aligned = block.add(offset);
        aligned.cast::<*mut u8>().sub(1).write(block);
        aligned
    }
}

/// A panic cannot unwind out of a kernel driver (`panic = "abort"`) and must not return, so it
/// stops the machine with a bugcheck that says where. The message itself is not formatted: that
/// would pull `core::fmt` into every driver for a string nobody can read from a dump without the
/// symbols that also give the location.
#[panic_handler]
fn panic(info: &PanicInfo<'_>) -> ! {
    let (file, line, column) =
        info.location().map_or(("", 0, 0), |l| (l.file(), l.line(), l.column()));
    // SAFETY: KeBugCheckEx may be called at any IRQL and does not return.
    unsafe {
        KeBugCheckEx(
            NPI_DRIVER_PANIC,
            file.as_ptr().addr(),
            file.len(),
            line as usize,
            column as usize,
        )
    }
}
