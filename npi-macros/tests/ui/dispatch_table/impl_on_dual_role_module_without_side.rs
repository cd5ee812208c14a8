// A struct that is a client and a provider has no one role to default to: its table impls name
// the side. Both orders of the attributes.
use npi_runtime::*;

#[dispatch_table]
pub struct ComputeDispatch {
    pub version: u16,
    pub compute: fn(value: u32) -> u32,
}

#[npi(id = "A1B2C3D4-0001-4000-8000-00000000C001", provider_dispatch = ComputeDispatch)]
pub struct Lower;
// SAFETY: the only declaration of this id.
unsafe impl NpiLayout for Lower {}

#[npi(id = "A1B2C3D4-0002-4000-8000-00000000C002", provider_dispatch = ComputeDispatch)]
pub struct Upper;
// SAFETY: the only declaration of this id.
unsafe impl NpiLayout for Upper {}

#[npi_client(npi = Lower, module_id = "A1B2C3D4-0004-4000-8000-00000000C004")]
#[npi_provider(npi = Upper, module_id = "A1B2C3D4-0004-4000-8000-00000000C004")]
pub struct ClientFirst;

#[npi_provider(npi = Upper, module_id = "A1B2C3D4-0005-4000-8000-00000000C005")]
#[npi_client(npi = Lower, module_id = "A1B2C3D4-0005-4000-8000-00000000C005")]
pub struct ProviderFirst;

macro_rules! roles {
    ($($t:ty),*) => {$(
        impl Client for $t {
            type Binding = ();
            fn attach(&self, request: ClientAttachRequest<'_, Self>) -> Attach {
                request.decline()
            }
        }
        impl Provider for $t {
            type Binding = ();
            fn attach(&self, request: ProviderAttachRequest<'_, Self>) -> Attach {
                request.decline()
            }
        }
    )*};
}
roles!(ClientFirst, ProviderFirst);

impl ComputeDispatchImpl for ClientFirst {
    fn compute(value: u32) -> u32 {
        value
    }
}

impl ComputeDispatchImpl for ProviderFirst {
    fn compute(value: u32) -> u32 {
        value
    }
}

fn main() {}
