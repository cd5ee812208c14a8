// Hole 1: the typed view of the peer's table was `Copy`, so `*guard` kept a view after the
// guard (and with it the hold that keeps detach pending) was gone.
include!("../../support/soundness_npi.rs");

fn call_later(binding: &ClientBindingRef<SoundClient>) -> u32 {
    let view = *binding.peer().unwrap();
    view.get()
}

fn main() {}
