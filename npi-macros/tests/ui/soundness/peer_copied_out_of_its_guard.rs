// Sibling of hole 1: for an NPI without a table on the other side, the guard lends the bare
// `Peer` (context and NULL table), which is not `Copy` either.
include!("../../support/soundness_npi.rs");

fn context_later(binding: &ProviderBindingRef<SoundProvider>) -> *mut c_void {
    let peer = *binding.peer().unwrap();
    peer.context()
}

fn main() {}
