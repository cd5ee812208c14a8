use npi_runtime::npi;

/// `WSK_PROVIDER_CHARACTERISTICS`, but the `unsafe impl NpiData` is missing.
#[repr(C)]
pub struct WskProviderCharacteristics {
    pub highest_version: u16,
    pub lowest_version: u16,
}

#[npi(id = "2227E803-8D8B-11D4-ABAD-009027719E09", provider_characteristics = WskProviderCharacteristics)]
pub struct Wsk;
// SAFETY: the types this declaration gives the NPI are its layouts, and it is the only
// declaration of this id in the program.
unsafe impl ::npi_runtime::NpiLayout for Wsk {}

fn main() {}
