// The functions a table points at read whatever binding context they are given: calling one
// directly with a stale or made-up context is `unsafe`, like calling the table's entry.
include!("../../support/soundness_npi.rs");

fn main() {
    let _ = SoundProviderDispatch::__npi_get::<AsProvider<SoundProvider>, SoundProvider>(core::ptr::null_mut());
}
