// The shims of a table read the binding context as the binding of the module that built the
// table; offering another module's table would make them read a foreign binding value.
include!("../../support/soundness_npi.rs");

#[npi_provider(npi = SoundNpi, module_id = "50C0D000-0000-4000-8000-0000000000CC")]
struct OtherProvider;

impl Provider for OtherProvider {
    type Binding = String;
    fn attach(&self, request: ProviderAttachRequest<'_, Self>) -> Attach {
        request.accept(String::new(), &TABLE).into()
    }
}

fn main() {}
