// Members may be named like anything a C table uses (`table`, `peer`, even `as_peer`): the
// generated view's own accessors are `as_table` and `peer_context`.
use npi_runtime::dispatch_table;

// `table` (and `peer`) are also the names of the accessors of the generated `HelperDispatchCalls`.
#[dispatch_table(abi = "C")]
pub struct HelperDispatch {
    pub version: u16,
    pub table: fn(index: u32) -> u64,
    pub peer: fn() -> u32,
    pub as_peer: fn() -> u32,
}

fn main() {}
