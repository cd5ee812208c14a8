use npi_runtime::dispatch_table;

#[dispatch_table(abi = "stdcall")]
pub struct MsQuicNmrDispatch {
    pub version: u16,
    pub reserved: u16,
    pub close: fn(api: *const u8),
}

fn main() {}
