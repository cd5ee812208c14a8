// The raw `#[repr(C)]` table says nothing about whose functions it holds: it cannot be offered.
include!("../../support/soundness_npi.rs");

static RAW: SoundProviderDispatch = SoundProviderDispatch::new::<SoundProvider>(1).into_raw();

#[npi_provider(npi = SoundNpi, module_id = "50C0D000-0000-4000-8000-0000000000CC")]
struct RawProvider;

impl Provider for RawProvider {
    type Binding = u32;
    fn attach(&self, request: ProviderAttachRequest<'_, Self>) -> Attach {
        request.accept(1, &RAW).into()
    }
}

fn main() {}
