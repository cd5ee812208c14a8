use core::ffi::c_void;

use npi_runtime::{dispatch_table};
use npi_runtime::generic::{Binding};

#[dispatch_table]
pub struct ExProviderDispatch {
    pub version: u16,
    pub provider_function: fn(#[context] binding: *mut c_void, value: u32) -> u32,
}

pub struct Module;

// `type Side` is missing: whose binding the `#[context]` parameter is cannot be known.
impl ExProviderDispatchImpl for Module {
    fn provider_function(binding: &Binding<'_, Self::Side>, value: u32) -> u32 {
        let _ = binding;
        value
    }
}

fn main() {}
