use npi_runtime::npi;

#[npi(id = 0x2227E803_8D8B_11D4_ABAD_009027719E09)]
pub struct Wsk;
// SAFETY: the types this declaration gives the NPI are its layouts, and it is the only
// declaration of this id in the program.
unsafe impl ::npi_runtime::NpiLayout for Wsk {}

fn main() {}
