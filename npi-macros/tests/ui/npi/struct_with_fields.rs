use npi_runtime::npi;

#[npi(id = "2227E803-8D8B-11D4-ABAD-009027719E09")]
pub struct Wsk {
    pub highest_version: u16,
    pub lowest_version: u16,
}

fn main() {}
