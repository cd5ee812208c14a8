use npi_runtime::dispatch_table;

// `peer_context` is the generated view's own accessor.
#[dispatch_table]
pub struct HelperDispatch {
    pub version: u16,
    pub peer_context: fn() -> u32,
}

fn main() {}
