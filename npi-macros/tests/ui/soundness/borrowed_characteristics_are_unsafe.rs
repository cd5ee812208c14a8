// Hole 2: characteristics that are neither `'static` nor owned need a promise the compiler
// cannot check (the registration is never forgotten), so the method is `unsafe`.
include!("../../support/soundness_npi.rs");

fn main() {
    let caps = SoundCaps { magic: 1 };
    let registration =
        ProviderRegistration::builder(&PROVIDER).borrowed_characteristics(&caps).register();
    drop(registration);
}
