// Shared by the `tests/ui/soundness/` cases (through `include!`): a small NPI with a provider
// table that reads its binding context, provider characteristics, one provider, one client.

use core::ffi::c_void;
#[allow(unused_imports)] // shared by cases that need some of it
use npi_runtime::generic::*;
use npi_runtime::*;

/// The provider's table: `get` reads the provider's binding value.
#[dispatch_table]
pub struct SoundProviderDispatch {
    /// Version.
    pub version: u16,
    /// The provider binding's value.
    pub get: fn(#[context] binding: *mut c_void) -> u32,
}

/// The provider's NPI-specific characteristics.
#[npi_data]
pub struct SoundCaps {
    /// Anything.
    pub magic: u32,
}

#[npi(
    id = "50C0D000-0000-4000-8000-000000000001",
    provider_dispatch = SoundProviderDispatch,
    provider_characteristics = SoundCaps
)]
pub struct SoundNpi;
// SAFETY: the types this declaration gives the NPI are its layouts, and it is the only
// declaration of this id in the program.
unsafe impl NpiLayout for SoundNpi {}

#[npi_provider(npi = SoundNpi, module_id = "50C0D000-0000-4000-8000-0000000000AA")]
pub struct SoundProvider;

impl Provider for SoundProvider {
    type Binding = u32;
    fn attach(&self, request: ProviderAttachRequest<'_, Self>) -> Attach {
        request.accept(7, &TABLE).into()
    }
}

impl SoundProviderDispatchImpl for SoundProvider {
    fn get(binding: &ProviderBinding<'_, SoundProvider>, ) -> u32 {
        **binding
    }
}

pub static TABLE: ProviderTable<SoundProvider> = SoundProviderDispatch::new::<SoundProvider>(1);
pub static PROVIDER: SoundProvider = SoundProvider;

#[npi_client(npi = SoundNpi, module_id = "50C0D000-0000-4000-8000-0000000000BB")]
pub struct SoundClient;

impl Client for SoundClient {
    type Binding = ();
    fn attach(&self, request: ClientAttachRequest<'_, Self>) -> Attach {
        request.accept((), &()).into()
    }
}
