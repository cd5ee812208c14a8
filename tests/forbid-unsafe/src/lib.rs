//! A module crate that forbids `unsafe_code`, built and tested by `cargo test --workspace`.
//!
//! It uses `#[npi_client]` and `#[npi_provider]` for an NPI declared in another crate (EXNPI,
//! from `npis/exnpi`), implements both of its tables, calls through them, and declares a table
//! of its own with `#[dispatch_table]`: none of the expansions may carry an `unsafe` the lint
//! sees, nor an `#[allow(unsafe_code)]` (which `forbid` turns into error E0453). Declaring an NPI
//! (`#[npi]`) takes `unsafe impl NpiLayout`, a promise about binary layouts, so it stays with
//! the crate that declares the NPI; so does implementing a table function that is `unsafe fn`.
#![forbid(unsafe_code)]
#![no_std]

use core::ffi::c_void;
use core::sync::atomic::{AtomicU32, Ordering};

use exnpi::{
    ExClientDispatch, ExClientDispatchImpl, ExProviderDispatch, ExProviderDispatchImpl, Exnpi,
    VERSION, length_of,
};
use npi_runtime::{
    Attach, Client, ClientAttachRequest, ClientBinding, ClientTable, Provider,
    ProviderAttachRequest, ProviderBinding, ProviderTable, dispatch_table, npi_client,
    npi_provider,
};

/// A table declared here: safe functions only (plain values, the `#[context]` binding).
#[dispatch_table]
pub struct CounterDispatch {
    /// Version.
    pub version: u16,
    /// Adds `n`, returns the new count.
    pub add: fn(#[context] binding: *mut c_void, n: u32) -> u32,
    /// May be NULL.
    #[optional]
    pub reset: fn(),
}

/// EXNPI's provider.
#[npi_provider(npi = Exnpi, module_id = "3E0C5B2A-8F14-4D6B-9A07-51C2E8D4F6A1")]
pub struct Doubler {
    /// How many calls it served.
    pub calls: AtomicU32,
}

impl Provider for Doubler {
    type Binding = ();
    fn attach(&self, request: ProviderAttachRequest<'_, Self>) -> Attach {
        request.accept((), &PROVIDER_TABLE).into()
    }
}

impl ExProviderDispatchImpl for Doubler {
    fn provider_function(binding: &ProviderBinding<'_, Doubler>, value: u32) -> u32 {
        binding.module().calls.fetch_add(1, Ordering::Relaxed);
        if let Some(client) = binding.peer() {
            client.client_notify(value * 2);
        }
        value * 2
    }
}

static PROVIDER_TABLE: ProviderTable<Doubler> =
    ExProviderDispatch::new::<Doubler>(VERSION, length_of::<ExProviderDispatch>());

/// EXNPI's client: asks the provider to double 21 as soon as it is attached.
#[npi_client(npi = Exnpi, module_id = "3E0C5B2A-8F14-4D6B-9A07-51C2E8D4F6A2")]
pub struct Asker {
    /// The last notification.
    pub notified: AtomicU32,
    /// The provider's answer.
    pub answer: AtomicU32,
}

impl Client for Asker {
    type Binding = ();
    fn attach(&self, request: ClientAttachRequest<'_, Self>) -> Attach {
        match request.accept((), &CLIENT_TABLE) {
            Ok(accepted) => {
                if let Some(answer) = ask(&accepted.binding(), 21) {
                    self.answer.store(answer, Ordering::Relaxed);
                }
                accepted.into()
            }
            Err(refused) => refused.into(),
        }
    }
}

impl ExClientDispatchImpl for Asker {
    fn client_notify(binding: &ClientBinding<'_, Asker>, value: u32) {
        binding.module().notified.store(value, Ordering::Relaxed);
    }
}

static CLIENT_TABLE: ClientTable<Asker> =
    ExClientDispatch::new::<Asker>(VERSION, length_of::<ExClientDispatch>());

/// A client of EXNPI that only declines: it offers no table, so it implements none
/// (`ExClientDispatchImpl` is needed only to build the table an `accept` would request).
#[npi_client(npi = Exnpi, module_id = "3E0C5B2A-8F14-4D6B-9A07-51C2E8D4F6A3")]
pub struct Decliner {
    /// How many providers it declined.
    pub declined: AtomicU32,
}

impl Client for Decliner {
    type Binding = ();
    fn attach(&self, request: ClientAttachRequest<'_, Self>) -> Attach {
        self.declined.fetch_add(1, Ordering::Relaxed);
        request.decline()
    }
}

/// Calls the provider through `binding`: a safe call, in a crate that forbids `unsafe`.
#[must_use]
pub fn ask(binding: &ClientBinding<'_, Asker>, value: u32) -> Option<u32> {
    binding.peer().map(|provider| provider.provider_function(value))
}

#[cfg(test)]
mod tests {
    extern crate std;

    use super::*;
    use npi_runtime::{ClientRegistration, ProviderRegistration, host};

    #[test]
    fn a_pair_from_a_crate_that_forbids_unsafe_code_binds_and_calls() {
        static PROVIDER: Doubler = Doubler { calls: AtomicU32::new(0) };
        static CLIENT: Asker = Asker { notified: AtomicU32::new(0), answer: AtomicU32::new(0) };
        host::isolated(|| {
            let provider = ProviderRegistration::register(&PROVIDER).unwrap();
            let client = ClientRegistration::register(&CLIENT).unwrap();
            // Both tables were called: the client's call, the provider's notification back.
            assert_eq!(CLIENT.answer.load(Ordering::Relaxed), 42);
            assert_eq!(CLIENT.notified.load(Ordering::Relaxed), 42);
            assert_eq!(PROVIDER.calls.load(Ordering::Relaxed), 1);
            client.deregister().unwrap();
            provider.deregister().unwrap();
        });
    }

    #[test]
    fn a_client_that_only_declines_implements_no_table() {
        static PROVIDER: Doubler = Doubler { calls: AtomicU32::new(0) };
        static DECLINER: Decliner = Decliner { declined: AtomicU32::new(0) };
        host::isolated(|| {
            let provider = ProviderRegistration::register(&PROVIDER).unwrap();
            let client = ClientRegistration::register(&DECLINER).unwrap();
            assert_eq!(DECLINER.declined.load(Ordering::Relaxed), 1);
            assert!(host::bindings_of(&<Exnpi as npi_runtime::Npi>::ID).is_empty());
            client.deregister().unwrap();
            provider.deregister().unwrap();
        });
    }
}
