use npi_runtime::npi;

#[npi(id = "")]
pub struct Wsk;

fn main() {}
