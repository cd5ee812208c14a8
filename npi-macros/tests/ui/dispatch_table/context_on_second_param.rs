use core::ffi::c_void;

use npi_runtime::dispatch_table;

#[dispatch_table]
pub struct ExProviderDispatch {
    pub version: u16,
    pub provider_function: fn(value: u32, #[context] binding: *mut c_void) -> u32,
}

fn main() {}
