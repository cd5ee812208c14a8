use core::ffi::c_void;

use npi_runtime::dispatch_table;

#[dispatch_table]
pub struct ExProviderDispatch {
    pub version: u16,
    pub provider_function: fn(#[context] binding: *const c_void, value: u32) -> u32,
}

fn main() {}
