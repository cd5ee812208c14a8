use npi_runtime::dispatch_table;

#[dispatch_table]
pub struct HashDispatch {
    pub version: u16,
    pub hash: for<'a> fn(data: &'a [u8]) -> &'a [u8],
}

fn main() {}
