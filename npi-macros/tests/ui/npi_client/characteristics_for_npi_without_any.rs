use npi_runtime::{Attach, Client, ClientAttachRequest, npi, npi_client};

#[npi(id = "C43138E3-CD13-4CB1-9CAE-E005C8557ABA")]
pub struct MsQuic;
// SAFETY: the types this declaration gives the NPI are its layouts, and it is the only
// declaration of this id in the program.
unsafe impl ::npi_runtime::NpiLayout for MsQuic {}

#[npi_runtime::npi_data]
pub struct QuicClientInfo {
    pub flags: u32,
}


static CLIENT_INFO: QuicClientInfo = QuicClientInfo { flags: 0 };

// MsQuic declares no client characteristics.
#[npi_client(npi = MsQuic, module_id = "698F7C72-C2E6-49CD-8C39-98851D501901", characteristics = CLIENT_INFO)]
struct QuicClient;

impl Client for QuicClient {
    type Binding = ();

    fn attach(&self, request: ClientAttachRequest<'_, Self>) -> Attach {
        request.decline()
    }
}

fn main() {}
