use npi_runtime::npi;

#[npi(id = "2227E803-8D8B-11D4-ABAD-009027719E0")]
pub struct Wsk;

fn main() {}
