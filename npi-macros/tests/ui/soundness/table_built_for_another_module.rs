// A table built with another module's functions cannot be declared as this module's table.
include!("../../support/soundness_npi.rs");

#[npi_provider(npi = SoundNpi, module_id = "50C0D000-0000-4000-8000-0000000000CC")]
struct OtherProvider;

impl Provider for OtherProvider {
    type Binding = String;
    fn attach(&self, request: ProviderAttachRequest<'_, Self>) -> Attach {
        request.accept(String::new(), &OTHER_TABLE).into()
    }
}

static OTHER_TABLE: ProviderTable<OtherProvider> = SoundProviderDispatch::new::<SoundProvider>(1);

fn main() {}
