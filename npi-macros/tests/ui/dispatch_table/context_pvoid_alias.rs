use core::ffi::c_void;

use npi_runtime::dispatch_table;

/// `PVOID`, as a port of a WDK header would spell it.
pub type PVOID = *mut c_void;

#[dispatch_table]
pub struct ExProviderDispatch {
    pub version: u16,
    pub provider_function: fn(#[context] binding: PVOID, value: u32) -> u32,
}

fn main() {}
