//! Type aliases of plain values (`NTSTATUS`, `ULONG`, `c_int`) make a safe table function: the
//! implementation and the call are written without `unsafe`.
#![deny(unsafe_code, unused_unsafe)]
#![allow(non_camel_case_types, clippy::upper_case_acronyms)]

use core::ffi::{c_int, c_void};

use npi_runtime::{
    Attach, ProviderAttachRequest, Provider, ProviderBinding, ProviderTable, dispatch_table,
    npi, npi_provider,
};

type NTSTATUS = i32;
type ULONG = u32;

#[dispatch_table]
pub struct StatusDispatch {
    pub version: u16,
    pub reserved: u16,
    pub query: fn(#[context] binding: *mut c_void, flags: ULONG, count: c_int) -> NTSTATUS,
    pub scale: fn(values: &[u32; 4], factor: Option<&u32>) -> u64,
}

#[npi(id = "7C3E2A10-4B5D-4E6F-8A9B-0C1D2E3F4A5B", provider_dispatch = StatusDispatch)]
pub struct StatusNpi;
#[allow(unsafe_code)]
// SAFETY: the only declaration of this id; the table is this file's.
unsafe impl npi_runtime::NpiLayout for StatusNpi {}

#[npi_provider(npi = StatusNpi, module_id = "7C3E2A10-4B5D-4E6F-8A9B-0C1D2E3F4A5C")]
pub struct StatusProvider;

impl Provider for StatusProvider {
    type Binding = ();
    fn attach(&self, request: ProviderAttachRequest<'_, Self>) -> Attach {
        request.accept((), &TABLE).into()
    }
}

impl StatusDispatchImpl for StatusProvider {
    fn query(_: &ProviderBinding<'_, StatusProvider>, flags: ULONG, count: c_int) -> NTSTATUS {
        flags.cast_signed() + count
    }
    fn scale(values: &[u32; 4], factor: Option<&u32>) -> u64 {
        u64::from(values.iter().sum::<u32>() * factor.copied().unwrap_or(1))
    }
}

static TABLE: ProviderTable<StatusProvider> = StatusDispatch::new::<StatusProvider>(1, 0);

/// Safe calls: this crate denies `unsafe_code`.
pub fn call(peer: &StatusDispatchCalls<'_>) -> (NTSTATUS, u64) {
    (peer.query(1, 2), peer.scale(&[1, 2, 3, 4], Some(&2)))
}

fn main() {}
