use npi_runtime::{Attach, ProviderAttachRequest, Provider, npi, npi_provider};

/// The client side's characteristics (the shape of `XDP_CAPABILITIES_EX`, shortened).
#[npi_runtime::npi_data]
pub struct ClientCapabilities {
    pub revision: u32,
    pub size: u32,
}


/// The provider side's characteristics.
#[npi_runtime::npi_data]
pub struct ProviderInfo {
    pub highest_version: u16,
    pub lowest_version: u16,
}


#[npi(
    id = "E1CADF68-E3DD-4A4A-932D-386A29399F5E",
    client_characteristics = ClientCapabilities,
    provider_characteristics = ProviderInfo
)]
pub struct Xdp;
// SAFETY: the types this declaration gives the NPI are its layouts, and it is the only
// declaration of this id in the program.
unsafe impl ::npi_runtime::NpiLayout for Xdp {}

static CAPABILITIES: ClientCapabilities = ClientCapabilities { revision: 1, size: 8 };

// A provider publishes `ProviderInfo`, not the clients' capabilities.
#[npi_provider(npi = Xdp, dynamic_module_id, characteristics = CAPABILITIES)]
struct XdpProvider;

impl Provider for XdpProvider {
    type Binding = ();

    fn attach(&self, request: ProviderAttachRequest<'_, Self>) -> Attach {
        request.decline()
    }
}

fn main() {}
