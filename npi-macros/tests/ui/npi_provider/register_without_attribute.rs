use npi_runtime::ProviderRegistration;

struct QuicProvider;

static PROVIDER: QuicProvider = QuicProvider;

fn main() {
    let _registration = ProviderRegistration::register(&PROVIDER);
}
