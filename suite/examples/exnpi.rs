//! EXNPI, the example NPI of Microsoft's NMR documentation, with npi's macros: the NPI and its
//! two dispatch tables declared once, a provider and a client written in safe Rust,
//! `DriverEntry`/`Unload`-shaped functions that register and deregister, calls through both
//! tables, and a provider detach that pends until another thread completes it.
//!
//! ```text
//! cargo run --example exnpi
//! ```
//! `raw_exnpi.rs` is the same pair written against the raw ABI, as the C samples are.

use std::sync::Mutex;
use std::thread;
use std::time::Duration;

use npi_runtime::sys::GUID;
use npi_runtime::{
    Attach, Client, ClientAttachRequest, ClientBinding, ClientBindingRef, ClientDetachRequest,
    ClientRegistration, ClientTable, Detach, Npi, Provider, ProviderAttachRequest, ProviderBinding,
    ProviderDetachRequest, ProviderPendingDetach, ProviderRegistration, ProviderTable, host,
    npi_client, npi_provider,
};

// ---------------------------------------------------------------------------------------------
// The NPI: what both sides agree on.

// EXNPI's tables and id come from its definition crate, `npis/exnpi`: this module only
// implements them.
use exnpi::{
    ExClientDispatch, ExClientDispatchImpl, ExProviderDispatch, ExProviderDispatchImpl, Exnpi,
    VERSION, length_of,
};

// ---------------------------------------------------------------------------------------------
// The provider module.

#[npi_provider(npi = Exnpi, module_id = "6D6C7F54-80C6-4A52-B0C8-4C9A1D0E3F21")]
struct ExProvider {
    /// Detaches answered with "pending", for the worker to complete.
    pending: Mutex<Vec<ProviderPendingDetach<ExProvider>>>,
}

/// The provider's per-binding state.
struct ProviderBindingState {
    client_number: u32,
}

impl Provider for ExProvider {
    type Binding = ProviderBindingState;

    fn attach(&self, request: ProviderAttachRequest<'_, Self>) -> Attach {
        let client_number = request.client().number();
        println!("  provider: attach from client #{client_number} -> accept");
        request.accept(ProviderBindingState { client_number }, &PROVIDER_DISPATCH).into()
    }

    fn detach(
        &self,
        binding: &ProviderBinding<'_, Self>,
        request: ProviderDetachRequest<'_, Self>,
    ) -> Detach {
        println!("  provider: detach client #{} -> pending", binding.client_number);
        let (answer, pending) = request.pend();
        self.pending.lock().unwrap().push(pending);
        answer
    }

    fn cleanup(&self, binding: &ProviderBindingState) {
        println!("  provider: cleanup binding of client #{}", binding.client_number);
    }
}

impl ExProviderDispatchImpl for ExProvider {
    fn provider_function(binding: &ProviderBinding<'_, ExProvider>, value: u32) -> u32 {
        println!("  provider: provider_function({value}) from client #{}", binding.client_number);
        if let Some(client) = binding.peer() {
            client.client_notify(value * 2);
        }
        value * 2
    }
}

static PROVIDER_DISPATCH: ProviderTable<ExProvider> =
    ExProviderDispatch::new::<ExProvider>(VERSION, length_of::<ExProviderDispatch>());
static PROVIDER: ExProvider = ExProvider { pending: Mutex::new(Vec::new()) };

// ---------------------------------------------------------------------------------------------
// The client module: registered twice (Number 1 and 2) at run time.

#[npi_client(npi = Exnpi, module_id = "1B0E58E1-0A8F-4E2A-8B6A-0D3577B4C9E0")]
struct ExClient {
    number: u32,
    providers: Mutex<Vec<ClientBindingRef<ExClient>>>,
}

impl Client for ExClient {
    type Binding = ();

    fn attach(&self, request: ClientAttachRequest<'_, Self>) -> Attach {
        let provider = request.provider().module_id().guid().unwrap_or_default();
        println!("  client #{}: attach to provider {provider} -> accept", self.number);
        match request.accept((), &CLIENT_DISPATCH) {
            Ok(accepted) => {
                self.providers.lock().unwrap().push(accepted.binding().to_ref());
                accepted.into()
            }
            Err(refused) => refused.into(),
        }
    }

    fn detach(
        &self,
        binding: &ClientBinding<'_, Self>,
        request: ClientDetachRequest<'_, Self>,
    ) -> Detach {
        println!("  client #{}: detach -> done (nothing in flight)", self.number);
        self.providers.lock().unwrap().retain(|b| b.handle() != binding.handle());
        request.done()
    }

    fn cleanup(&self, (): &()) {
        println!("  client #{}: cleanup", self.number);
    }
}

impl ExClientDispatchImpl for ExClient {
    fn client_notify(binding: &ClientBinding<'_, ExClient>, value: u32) {
        let _ = binding;
        println!("  client: notified of {value}");
    }
}

static CLIENT_DISPATCH: ClientTable<ExClient> =
    ExClientDispatch::new::<ExClient>(VERSION, length_of::<ExClientDispatch>());

// ---------------------------------------------------------------------------------------------

fn main() {
    println!("provider DriverEntry: register (no client yet, so no callbacks)");
    let provider = ProviderRegistration::register(&PROVIDER).expect("register provider");

    println!("client DriverEntry: register two clients (attaches run inside the call)");
    let clients: Vec<ClientRegistration<ExClient>> = (1..=2)
        .map(|number| {
            let module = std::sync::Arc::new(ExClient { number, providers: Mutex::default() });
            ClientRegistration::builder(module).number(number).register().expect("register client")
        })
        .collect();

    println!("host NMR bindings now:");
    for b in host::bindings_of(&Exnpi::ID) {
        println!("  {b}");
    }

    println!("clients call the provider through its dispatch table:");
    for (i, c) in clients.iter().enumerate() {
        for b in c.module().providers.lock().unwrap().iter() {
            let provider = b.peer().expect("attached");
            let doubled = provider.provider_function(10 + i as u32);
            println!("  -> returned {doubled}");
        }
    }

    println!("provider Unload: deregister; its detaches pend until a worker completes them");
    let worker = thread::spawn(|| {
        thread::sleep(Duration::from_millis(50));
        for pending in PROVIDER.pending.lock().unwrap().drain(..) {
            println!("  provider worker: completing the detach of {:?}", pending.handle());
            pending.complete();
        }
    });
    provider.deregister().expect("provider deregistered");
    worker.join().unwrap();

    println!("client Unload: deregister (dropping a registration deregisters and waits)");
    drop(clients);

    let violations = host::violations_of(&Exnpi::ID);
    println!("contract violations recorded: {}", violations.len());
    assert!(violations.is_empty(), "{violations:?}");
    assert_eq!(Exnpi::ID, GUID::from_u128(0xF0B3_5B9A_3E1C_4C55_9E0B_52A6_4D5E_71C2));
}
