use core::ffi::c_void;

use npi_runtime::dispatch_table;

/// `XDP_NPI_CLIENT`: a header, a context pointer passed back to the function, and the function.
#[dispatch_table(abi = "C")]
pub struct XdpNpiClient {
    pub revision: u32,
    pub size: u32,
    pub get_interface_context: *mut c_void,
    pub get_interface_dispatch: fn(
        version: *const u32,
        get_interface_context: *mut c_void,
        interface_context: *mut *mut c_void,
        interface_dispatch: *mut *const c_void,
    ) -> i32,
}

fn main() {}
