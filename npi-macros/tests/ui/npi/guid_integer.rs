use npi_runtime::npi;

#[npi(id = 0x2227E803_8D8B_11D4_ABAD_009027719E09)]
pub struct Wsk;

fn main() {}
