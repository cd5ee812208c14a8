use npi_runtime::npi;

#[npi(id = "2227E803-8D8B-11D4-ABAD-009027719E09", client_dispatch = "WskClientDispatch")]
pub struct Wsk;
// SAFETY: the types this declaration gives the NPI are its layouts, and it is the only
// declaration of this id in the program.
unsafe impl ::npi_runtime::NpiLayout for Wsk {}

fn main() {}
