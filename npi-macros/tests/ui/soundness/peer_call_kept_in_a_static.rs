// A `PeerCall` keeps this side's detach open and borrows its binding, so it cannot be kept in a
// `static` for later. The error names that borrow, the real reason: the guard is `Send` and
// `Sync`, so the compiler does not stop earlier at a raw pointer inside the view.
include!("../../support/soundness_npi.rs");

static KEPT: std::sync::Mutex<Option<PeerCall<'static, AsClient<SoundClient>>>> =
    std::sync::Mutex::new(None);

fn keep(binding: &ClientBinding<'_, SoundClient>) {
    if let Some(call) = binding.peer() {
        *KEPT.lock().unwrap() = Some(call);
    }
}

fn main() {}
