use npi_runtime::dispatch_table;

#[dispatch_table(abi = "C")]
pub struct TraceDispatch {
    pub version: u16,
    pub trace: fn(format: *const u8, ...),
}

fn main() {}
