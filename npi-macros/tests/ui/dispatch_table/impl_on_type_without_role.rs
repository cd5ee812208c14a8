use npi_runtime::dispatch_table;

#[dispatch_table]
pub struct ComputeDispatch {
    pub version: u16,
    pub compute: fn(value: u32) -> u32,
}

// Not a module (no `#[npi_client]`/`#[npi_provider]`): there is no role to implement the table
// for, so its side cannot be left out.
pub struct Module;

impl ComputeDispatchImpl for Module {
    fn compute(value: u32) -> u32 {
        value
    }
}

fn main() {}
