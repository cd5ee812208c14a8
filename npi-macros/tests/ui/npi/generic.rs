use npi_runtime::npi;

#[npi(id = "2227E803-8D8B-11D4-ABAD-009027719E09")]
pub struct Wsk<const VERSION: u16>;

fn main() {}
