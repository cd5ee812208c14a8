// A client implements its NPI's client table only to offer it. Declining needs none; accepting
// with no table (`&()`) is refused where the NPI has a client table, since the provider may
// call it.
use core::ffi::c_void;

use npi_runtime::{Attach, Client, ClientAttachRequest, dispatch_table, npi, npi_client};

#[dispatch_table]
pub struct NotifyDispatch {
    pub version: u16,
    pub notify: fn(#[context] binding: *mut c_void, value: u32),
}

#[npi(id = "2B3C4D5E-6F70-4182-93A4-B5C6D7E8F901", client_dispatch = NotifyDispatch)]
pub struct Notify;
// SAFETY: the only declaration of this id.
unsafe impl npi_runtime::NpiLayout for Notify {}

#[npi_client(npi = Notify, module_id = "2B3C4D5E-6F70-4182-93A4-B5C6D7E8F902")]
struct OnlyDeclines;

impl Client for OnlyDeclines {
    type Binding = ();
    fn attach(&self, request: ClientAttachRequest<'_, Self>) -> Attach {
        request.decline()
    }
}

#[npi_client(npi = Notify, module_id = "2B3C4D5E-6F70-4182-93A4-B5C6D7E8F903")]
struct AcceptsWithoutTable;

impl Client for AcceptsWithoutTable {
    type Binding = ();
    fn attach(&self, request: ClientAttachRequest<'_, Self>) -> Attach {
        request.accept((), &()).into()
    }
}

fn main() {}
