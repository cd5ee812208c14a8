use npi_runtime::dispatch_table;

// `#[optional]` is for function members that may be NULL, not for data.
#[dispatch_table]
pub struct HelperDispatch {
    #[optional]
    pub version: u16,
    pub get: fn() -> u32,
}

fn main() {}
