use npi_runtime::npi;

#[npi(id = "E1CADF68-E3DD-4A4A-932D-386A29399F5E", registration_version = 65536)]
pub struct Xdp;

fn main() {}
