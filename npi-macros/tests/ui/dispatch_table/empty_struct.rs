use npi_runtime::dispatch_table;

#[dispatch_table]
pub struct ProgramInfoClientDispatch {}

fn main() {}
