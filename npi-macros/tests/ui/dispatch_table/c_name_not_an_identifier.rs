// The table's C name goes into the NPI's C header as it is: it must be a C identifier.
use npi_runtime::dispatch_table;

#[dispatch_table(c_name = "EX PROVIDER-DISPATCH")]
pub struct ExProviderDispatch {
    pub version: u16,
    pub function: fn(value: u32) -> u32,
}

fn main() {}
