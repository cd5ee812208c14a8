// A mistake inside a `#[dispatch_table]` is reported once, at the mistake: the table, its
// trait, its view and its constructor are still generated, so the NPI that names it, the
// provider that implements it and the code that calls through it add no error of their own.
use core::ffi::c_void;

use npi_runtime::*;

#[dispatch_table]
pub struct CounterDispatch {
    pub version: u16,
    pub add: extern "C" fn(#[context] binding: *mut c_void, n: u32) -> u32,
}

#[npi(id = "1D2C3B4A-5F6E-4A8B-9C0D-1E2F3A4B5C6D", provider_dispatch = CounterDispatch)]
pub struct CounterNpi;
// SAFETY: the only declaration of this id.
unsafe impl NpiLayout for CounterNpi {}

#[npi_provider(npi = CounterNpi, module_id = "1D2C3B4A-5F6E-4A8B-9C0D-1E2F3A4B5C6E")]
pub struct Counter;

impl Provider for Counter {
    type Binding = ();
    fn attach(&self, request: ProviderAttachRequest<'_, Self>) -> Attach {
        request.accept((), &TABLE).into()
    }
}

impl CounterDispatchImpl for Counter {
    fn add(_: &ProviderBinding<'_, Counter>, n: u32) -> u32 {
        n + 1
    }
}

static TABLE: ProviderTable<Counter> = CounterDispatch::new::<Counter>(1);

pub fn call(peer: &CounterDispatchCalls<'_>) -> u32 {
    peer.add(1)
}

fn main() {}
