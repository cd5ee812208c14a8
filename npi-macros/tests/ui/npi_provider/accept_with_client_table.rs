use core::ffi::c_void;

use npi_runtime::{Attach, ProviderAttachRequest, Provider, dispatch_table, npi, npi_provider};

#[dispatch_table]
pub struct ExClientDispatch {
    pub version: u16,
    pub client_notify: fn(#[context] binding: *mut c_void, value: u32),
}

#[dispatch_table]
pub struct ExProviderDispatch {
    pub version: u16,
    pub provider_function: fn(#[context] binding: *mut c_void, value: u32) -> u32,
}

#[npi(
    id = "F0B35B9A-3E1C-4C55-9E0B-52A64D5E71C2",
    client_dispatch = ExClientDispatch,
    provider_dispatch = ExProviderDispatch
)]
pub struct Exnpi;
// SAFETY: the types this declaration gives the NPI are its layouts, and it is the only
// declaration of this id in the program.
unsafe impl ::npi_runtime::NpiLayout for Exnpi {}

#[npi_provider(npi = Exnpi, module_id = "6D6C7F54-80C6-4A52-B0C8-4C9A1D0E3F21")]
struct ExProvider;

static CLIENT_TABLE: Option<ExClientDispatch> = None;

impl Provider for ExProvider {
    type Binding = ();

    fn attach(&self, request: ProviderAttachRequest<'_, Self>) -> Attach {
        // The provider offers its own table, not one of the client's.
        match &CLIENT_TABLE {
            Some(table) => request.accept((), table).into(),
            None => request.decline(),
        }
    }
}

fn main() {}
