//! The little of `ntoskrnl.exe` this driver needs, without the WDK: a bugcheck for panics, `DbgPrint` for the trace, and the `DRIVER_OBJECT` field that holds the
//! unload routine.
//!
//! The imports use `raw-dylib` with `+verbatim`, exactly like npi-runtime's `NETIO.SYS` imports,
//! so no import library is needed to link. On x86 the kernel exports undecorated names while
//! `extern "system"` (stdcall) link names are decorated (`_ExAllocatePool2@16`), which
//! `import_name_type = "undecorated"` reconciles.
#![allow(non_snake_case)] // kernel names, verbatim

use core::ffi::{c_char, c_void};
use core::panic::PanicInfo;

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
        unsafe { $crate::kernel::DbgPrint(concat!("exnpi: ", $message, "\n\0").as_ptr().cast()) }
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
