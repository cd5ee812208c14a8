use npi_runtime::npi;

// The C initialiser form, as copied from a header.
#[npi(id = "{0x2227E803, 0x8D8B, 0x11D4, {0xAB,0xAD,0x00,0x90,0x27,0x71,0x9E,0x09}}")]
pub struct Wsk;
// SAFETY: the types this declaration gives the NPI are its layouts, and it is the only
// declaration of this id in the program.
unsafe impl ::npi_runtime::NpiLayout for Wsk {}

fn main() {}
