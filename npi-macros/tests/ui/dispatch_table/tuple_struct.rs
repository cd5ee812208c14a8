use npi_runtime::dispatch_table;

#[dispatch_table]
pub struct MsQuicNmrDispatch(u16, u16, fn(u32) -> i32);

fn main() {}
