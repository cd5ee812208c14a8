// Wrapping a raw table as one side's table is a promise about its functions: `unsafe`.
include!("../../support/soundness_npi.rs");

fn main() {
    let raw = SoundProviderDispatch::new::<SoundProvider>(1).into_raw();
    let _table = Table::<AsProvider<SoundProvider>, SoundProviderDispatch>::new_unchecked(raw);
}
