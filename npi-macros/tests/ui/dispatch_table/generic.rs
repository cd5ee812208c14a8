use npi_runtime::dispatch_table;

#[dispatch_table]
pub struct ExtensionDispatch<F: Copy> {
    pub version: u16,
    pub count: u16,
    pub function: F,
}

fn main() {}
