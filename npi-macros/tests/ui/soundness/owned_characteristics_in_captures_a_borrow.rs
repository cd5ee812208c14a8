// Sibling of hole 2: characteristics inside an owned object are chosen by a function of the
// owner, so they can only point into what the registration keeps; a closure that reaches for a
// borrow elsewhere does not coerce to that function.
include!("../../support/soundness_npi.rs");

fn main() {
    let elsewhere = SoundCaps { magic: 1 };
    let owner = std::sync::Arc::new(SoundCaps { magic: 2 });
    let registration = ProviderRegistration::builder(&PROVIDER)
        .owned_characteristics_in(owner, |_| &elsewhere)
        .register();
    std::mem::forget(registration);
}
