// A pending detach is completed exactly once: the second completion does not compile.
include!("../../support/soundness_npi.rs");

#[npi_client(npi = SoundNpi, module_id = "50C0D000-0000-4000-8000-0000000000DD")]
struct Twice;

impl Client for Twice {
    type Binding = ();
    fn attach(&self, request: ClientAttachRequest<'_, Self>) -> Attach {
        request.accept((), &()).into()
    }
    fn detach(&self, _: &ClientBinding<'_, Self>, request: ClientDetachRequest<'_, Self>) -> Detach {
        let (answer, pending) = request.pend();
        pending.complete();
        pending.complete();
        answer
    }
}

fn main() {}
