use npi_runtime::npi;

#[npi(registration_version = 1)]
pub struct Xdp;

fn main() {}
