use npi_runtime::npi;

#[npi(id = "E1CADF68-E3DD-4A4A-932D-386A29399F5E", registration_version = 65536)]
pub struct Xdp;
// SAFETY: the types this declaration gives the NPI are its layouts, and it is the only
// declaration of this id in the program.
unsafe impl ::npi_runtime::NpiLayout for Xdp {}

fn main() {}
