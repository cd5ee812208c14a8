use npi_runtime::npi;

#[npi(id = "2227E8038-D8B-11D4-ABAD-009027719E09")]
pub struct Wsk;

fn main() {}
