use npi_runtime::dispatch_table;

#[dispatch_table(abi = "C", packed)]
pub struct MetadataTable {
    pub size: usize,
    pub version: fn(version: *mut u32),
}

fn main() {}
