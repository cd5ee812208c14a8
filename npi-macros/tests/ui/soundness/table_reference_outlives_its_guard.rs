// Sibling of hole 1: the peer's table itself may be freed once this side's detach completes,
// so a reference to it must not outlive the guard.
include!("../../support/soundness_npi.rs");

fn table(binding: &ClientBindingRef<SoundClient>) -> &SoundProviderDispatch {
    let call = binding.peer().unwrap();
    call.as_table()
}

fn main() {}
