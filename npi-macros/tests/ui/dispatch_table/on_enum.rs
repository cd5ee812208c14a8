use npi_runtime::dispatch_table;

#[dispatch_table]
pub enum WskDispatch {
    Vista,
    Win7,
}

fn main() {}
