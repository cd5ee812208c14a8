// Hole 2: a registration that borrowed its characteristics could be forgotten, leaving the NMR
// a dangling pointer. Safe code may only give `'static` (or owned) characteristics.
include!("../../support/soundness_npi.rs");

fn main() {
    let caps = Box::new(SoundCaps { magic: 1 });
    let registration =
        ProviderRegistration::builder(&PROVIDER).characteristics(&*caps).register();
    std::mem::forget(registration);
    drop(caps);
}
