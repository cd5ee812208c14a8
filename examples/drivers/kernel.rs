//! The little of `ntoskrnl.exe` the two EXNPI drivers need, without the WDK, shared by both
//! crates (`#[path]`): a bugcheck for panics, `DbgPrint` for the trace, a system work item for
//! the provider's pending detach, and the `DRIVER_OBJECT` field that holds the unload routine.
//!
//! The imports use `raw-dylib` with `+verbatim`, like npi-runtime's `NETIO.SYS` imports, so no
//! import library is needed to link. On x86 the kernel exports undecorated names while
//! `extern "system"` (stdcall) link names are decorated, which `import_name_type =
//! "undecorated"` reconciles.
#![allow(non_snake_case, non_camel_case_types, dead_code)] // kernel names, verbatim

use core::ffi::{c_char, c_void};
use core::panic::PanicInfo;

/// Bugcheck code for a panic in these drivers: the bytes "NPI!" (as `examples/kernel-driver`).
/// Parameters: the panic location's file name (pointer, length in bytes), line and column.
pub(crate) const NPI_DRIVER_PANIC: u32 = u32::from_be_bytes(*b"NPI!");

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
    /// `KeBugCheckEx`, which does not return (`DECLSPEC_NORETURN`).
    fn KeBugCheckEx(
        BugCheckCode: u32,
        BugCheckParameter1: usize,
        BugCheckParameter2: usize,
        BugCheckParameter3: usize,
        BugCheckParameter4: usize,
    ) -> !;
    /// `ExQueueWorkItem` (`wdm.h`): runs `WorkItem->WorkerRoutine(WorkItem->Parameter)` on a
    /// system worker thread, at `PASSIVE_LEVEL`, later.
    pub(crate) fn ExQueueWorkItem(WorkItem: *mut WORK_QUEUE_ITEM, QueueType: u32);
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

/// Prints a literal message to the kernel debugger: one string built at compile time, as a C
/// driver's `DbgPrint("...\n")`.
macro_rules! trace {
    ($message:literal) => {
        // SAFETY: a NUL-terminated literal without conversion specifications; DbgPrint may be
        // called at any IRQL for messages shorter than 512 bytes.
        unsafe { $crate::kernel::DbgPrint(concat!($message, "\n\0").as_ptr().cast()) }
    };
}
pub(crate) use trace;

/// Prints a literal message and a number to the kernel debugger, as [`trace!`] does.
macro_rules! trace_value {
    ($message:literal, $value:expr) => {
        // SAFETY: as in `trace!`; `%u` takes the `u32` promoted to `unsigned int`.
        unsafe {
            $crate::kernel::DbgPrint(concat!($message, " %u\n\0").as_ptr().cast(), $value as u32)
        }
    };
}
pub(crate) use trace_value;

/// `DelayedWorkQueue` (`WORK_QUEUE_TYPE`).
pub(crate) const DELAYED_WORK_QUEUE: u32 = 1;

/// `PWORKER_THREAD_ROUTINE`.
pub(crate) type WorkerRoutine = unsafe extern "system" fn(Parameter: *mut c_void);

/// `WORK_QUEUE_ITEM` (`wdm.h`): the list links the kernel uses while the item is queued, the
/// routine and its parameter. `ExInitializeWorkItem` is a macro that fills the last two.
#[repr(C)]
pub(crate) struct WORK_QUEUE_ITEM {
    pub(crate) List: [*mut c_void; 2],
    pub(crate) WorkerRoutine: Option<WorkerRoutine>,
    pub(crate) Parameter: *mut c_void,
}

const _: () = {
    #[cfg(target_pointer_width = "64")]
    assert!(size_of::<WORK_QUEUE_ITEM>() == 32);
    #[cfg(target_pointer_width = "32")]
    assert!(size_of::<WORK_QUEUE_ITEM>() == 16);
};

/// The front of `DRIVER_OBJECT` (`wdm.h`), up to the member these drivers write.
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
    /// `PDRIVER_UNLOAD`.
    pub(crate) DriverUnload: Option<unsafe extern "system" fn(DriverObject: *mut DRIVER_OBJECT)>,
}

const _: () = {
    #[cfg(target_pointer_width = "64")]
    assert!(core::mem::offset_of!(DRIVER_OBJECT, DriverUnload) == 0x68);
    #[cfg(target_pointer_width = "32")]
    assert!(core::mem::offset_of!(DRIVER_OBJECT, DriverUnload) == 0x34);
};

/// Stores `unload` in the I/O manager's `DRIVER_OBJECT`.
///
/// # Safety
/// `driver_object` is the non-NULL `DRIVER_OBJECT` that `DriverEntry` received.
pub(crate) unsafe fn set_unload(
    driver_object: *mut c_void,
    unload: unsafe extern "system" fn(*mut DRIVER_OBJECT),
) {
    // SAFETY: the caller's promise; the offset of `DriverUnload` is asserted above.
    unsafe {
        (&raw mut (*driver_object.cast::<DRIVER_OBJECT>()).DriverUnload).write(Some(unload));
    }
}

/// A panic cannot unwind out of a kernel driver and must not return: a bugcheck that says where,
/// without formatting the message (no `core::fmt` in the image).
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
