use npi_runtime::{npi};

/// A hand-written table: NPI data, but not declared with `#[dispatch_table]`.
#[npi_runtime::npi_data]
pub struct MsQuicNmrDispatch {
    pub version: u16,
    pub reserved: u16,
}


#[npi(id = "C43138E3-CD13-4CB1-9CAE-E005C8557ABA", provider_dispatch = MsQuicNmrDispatch)]
pub struct MsQuic;
// SAFETY: the types this declaration gives the NPI are its layouts, and it is the only
// declaration of this id in the program.
unsafe impl ::npi_runtime::NpiLayout for MsQuic {}

fn main() {}
