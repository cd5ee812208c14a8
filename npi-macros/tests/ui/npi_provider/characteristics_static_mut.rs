use npi_runtime::{Attach, ProviderAttachRequest, Provider, npi, npi_provider};

/// `WSK_PROVIDER_CHARACTERISTICS`.
#[npi_runtime::npi_data]
pub struct WskProviderCharacteristics {
    pub highest_version: u16,
    pub lowest_version: u16,
}


#[npi(
    id = "2227E803-8D8B-11D4-ABAD-009027719E09",
    provider_characteristics = WskProviderCharacteristics
)]
pub struct Wsk;
// SAFETY: the types this declaration gives the NPI are its layouts, and it is the only
// declaration of this id in the program.
unsafe impl ::npi_runtime::NpiLayout for Wsk {}

// Mutable, as a C port might keep it: the NMR reads it while registered, so it must not change.
static mut CHARACTERISTICS: WskProviderCharacteristics =
    WskProviderCharacteristics { highest_version: 0x0100, lowest_version: 0x0100 };

#[npi_provider(
    npi = Wsk,
    module_id = "5E0A9B51-7C1D-4E43-9A8B-2F3C4D5E6F70",
    characteristics = CHARACTERISTICS
)]
struct WskProvider;

impl Provider for WskProvider {
    type Binding = ();

    fn attach(&self, request: ProviderAttachRequest<'_, Self>) -> Attach {
        request.decline()
    }
}

fn main() {}
