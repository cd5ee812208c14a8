use npi_runtime::dispatch_table;

// `as_peer` is the generated view's own accessor.
#[dispatch_table]
pub struct HelperDispatch {
    pub version: u16,
    pub as_peer: fn() -> u32,
}

fn main() {}
