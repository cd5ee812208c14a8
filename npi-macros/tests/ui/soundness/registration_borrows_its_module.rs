// Sibling of hole 2: the registration context (the module) is handed to the NMR too; a borrowed
// one would dangle after `mem::forget`. Only `'static` or `Arc` modules register.
include!("../../support/soundness_npi.rs");

fn main() {
    let module = SoundProvider;
    let registration = ProviderRegistration::register(&module);
    std::mem::forget(registration);
}
