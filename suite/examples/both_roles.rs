//! A module that is a client and a provider at once: a "filter" that provides the upper NPI
//! to its own clients and is a client of the lower NPI, forwarding every call down. One
//! struct carries both attributes; each role has its own registration.
//!
//! ```text
//! cargo run --example both_roles
//! ```

use std::sync::Mutex;

use npi_runtime::generic::AsProvider;
use npi_runtime::{
    Attach, Client, ClientAttachRequest, ClientBinding, ClientBindingRef, ClientDetachRequest,
    ClientRegistration, Detach, Provider, ProviderAttachRequest, ProviderRegistration,
    ProviderTable, dispatch_table, host, npi, npi_client, npi_provider,
};

/// The one function both NPIs request.
#[dispatch_table]
pub struct ComputeDispatch {
    /// Table version.
    pub version: u16,
    /// Returns `value` transformed.
    pub compute: fn(value: u32) -> u32,
}

/// The lower NPI: a base service.
#[npi(id = "A1B2C3D4-0001-4000-8000-00000000B001", provider_dispatch = ComputeDispatch)]
pub struct Lower;
// SAFETY: both sides in this program use this one declaration: the layouts are whatever
// it says, and no other declaration of this id exists.
unsafe impl ::npi_runtime::NpiLayout for Lower {}

/// The upper NPI: the same service, filtered.
#[npi(id = "A1B2C3D4-0002-4000-8000-00000000B002", provider_dispatch = ComputeDispatch)]
pub struct Upper;
// SAFETY: both sides in this program use this one declaration: the layouts are whatever
// it says, and no other declaration of this id exists.
unsafe impl ::npi_runtime::NpiLayout for Upper {}

/// The base service: doubles.
#[npi_provider(npi = Lower, module_id = "A1B2C3D4-0003-4000-8000-00000000B003")]
struct Base;

impl Provider for Base {
    type Binding = ();
    fn attach(&self, request: ProviderAttachRequest<'_, Self>) -> Attach {
        println!(
            "  base: attach from module {}",
            request.client().module_id().guid().unwrap_or_default()
        );
        request.accept((), &BASE_DISPATCH).into()
    }
}

impl ComputeDispatchImpl for Base {
    fn compute(value: u32) -> u32 {
        value * 2
    }
}

static BASE_DISPATCH: ProviderTable<Base> = ComputeDispatch::new::<Base>(1);

/// The filter: client of `Lower`, provider of `Upper`, one module id for both roles.
#[npi_client(npi = Lower, module_id = "A1B2C3D4-0004-4000-8000-00000000B004")]
#[npi_provider(npi = Upper, module_id = "A1B2C3D4-0004-4000-8000-00000000B004")]
struct Filter {
    lower: Mutex<Option<ClientBindingRef<Filter>>>,
}

impl Client for Filter {
    type Binding = ();
    fn attach(&self, request: ClientAttachRequest<'_, Self>) -> Attach {
        let mut lower = self.lower.lock().unwrap();
        if lower.is_some() {
            println!("  filter (client): already bound below -> decline");
            return request.decline();
        }
        println!("  filter (client): attach to the base");
        match request.accept((), &()) {
            Ok(accepted) => {
                *lower = Some(accepted.binding().to_ref());
                accepted.into()
            }
            Err(refused) => refused.into(),
        }
    }

    fn detach(
        &self,
        _: &ClientBinding<'_, Self>,
        request: ClientDetachRequest<'_, Self>,
    ) -> Detach {
        println!("  filter (client): the base is going; forget it");
        self.lower.lock().unwrap().take();
        request.done()
    }
}

impl Provider for Filter {
    type Binding = ();
    fn attach(&self, request: ProviderAttachRequest<'_, Self>) -> Attach {
        println!("  filter (provider): attach from an upper client");
        request.accept((), &FILTER_DISPATCH).into()
    }
}

// Filter is a client and a provider: its table impl and constructor name the side they are for.
impl ComputeDispatchImpl<AsProvider<Filter>> for Filter {
    fn compute(value: u32) -> u32 {
        // Forward to the lower provider, then add one.
        let lower = FILTER.lower.lock().unwrap();
        let below = lower.as_ref().and_then(|b| b.peer().map(|p| p.compute(value)));
        below.map_or(0, |v| v + 1)
    }
}

static FILTER_DISPATCH: ProviderTable<Filter> = ComputeDispatch::new_for::<AsProvider<Filter>>(1);
static FILTER: Filter = Filter { lower: Mutex::new(None) };

/// A user of the upper NPI.
#[npi_client(npi = Upper, module_id = "A1B2C3D4-0005-4000-8000-00000000B005")]
struct App {
    result: Mutex<Vec<u32>>,
}

impl Client for App {
    type Binding = ();
    fn attach(&self, request: ClientAttachRequest<'_, Self>) -> Attach {
        match request.accept((), &()) {
            Ok(accepted) => {
                if let Some(filter) = accepted.binding().peer() {
                    let r = filter.compute(20);
                    println!("  app: compute(20) through the filter = {r}");
                    self.result.lock().unwrap().push(r);
                }
                accepted.into()
            }
            Err(refused) => refused.into(),
        }
    }
}

static APP: App = App { result: Mutex::new(Vec::new()) };

fn main() {
    println!("register the base, the filter's two roles, then the app");
    let base = ProviderRegistration::register(&Base).unwrap();
    let filter_below = ClientRegistration::register(&FILTER).unwrap();
    let filter_above = ProviderRegistration::register(&FILTER).unwrap();
    let app = ClientRegistration::register(&APP).unwrap();
    assert_eq!(*APP.result.lock().unwrap(), [41], "20 doubled below, plus one in the filter");
    assert_eq!(host::bindings_of(&<Lower as npi_runtime::Npi>::ID).len(), 1);
    assert_eq!(host::bindings_of(&<Upper as npi_runtime::Npi>::ID).len(), 1);

    println!("unload in reverse order");
    drop(app);
    drop(filter_above);
    drop(filter_below);
    drop(base);
    assert!(host::violations_of(&<Lower as npi_runtime::Npi>::ID).is_empty());
    assert!(host::violations_of(&<Upper as npi_runtime::Npi>::ID).is_empty());
    println!("done: no violations");
}
