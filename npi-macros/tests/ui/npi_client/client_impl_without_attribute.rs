use npi_runtime::{Attach, Client, ProviderOffer, npi};

#[npi(id = "C43138E3-CD13-4CB1-9CAE-E005C8557ABA")]
pub struct MsQuic;

struct QuicClient;

impl Client for QuicClient {
    type Binding = ();

    fn attach(&self, offer: ProviderOffer<'_, Self>) -> Attach {
        offer.decline()
    }
}

fn main() {}
