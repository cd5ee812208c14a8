use npi_runtime::npi;

#[npi]
pub struct Xdp;

fn main() {}
