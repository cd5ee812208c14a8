//! Winsock Kernel over the NMR: a WSK application negotiates its version with a mock WSK
//! subsystem (retrying after `STATUS_NOINTERFACE`), calls it through the typed
//! `WSK_PROVIDER_DISPATCH`, and both detaches wait for what is in flight: the client's for a
//! call that is still running, the provider's for the sockets that are still open.
//!
//! ```text
//! cargo run --example wsk
//! ```

use std::sync::Arc;
use std::thread;
use std::time::Duration;

use npi_runtime::{ClientRegistration, Npi, ProviderRegistration, host};
use npi_suite::real::Trace;
use npi_suite::real::wsk::{WskClient, WskProvider, show_version};
use npi_wsk::{Wsk, WskProviderCharacteristics, make_wsk_version};

/// What this WSK subsystem advertises (a static: its registration outlives `main`'s frame on
/// the unloading thread).
static RANGE: WskProviderCharacteristics = WskProviderCharacteristics {
    highest_version: make_wsk_version(2, 0),
    lowest_version: make_wsk_version(1, 0),
};

fn main() {
    let trace = Arc::new(Trace::echoing());
    println!("NPI_WSK_INTERFACE_ID = {}", Wsk::ID);

    println!("\n1. The WSK subsystem advertises 1.0..=2.0 but implements 1.x only");
    let provider = Arc::new(WskProvider::new(1, Arc::clone(&trace)));
    let registration = ProviderRegistration::builder(Arc::clone(&provider))
        .characteristics(&RANGE)
        .register()
        .expect("register the WSK subsystem");
    let client = Arc::new(WskClient::new(Arc::clone(&trace)));
    let client_registration =
        ClientRegistration::register(Arc::clone(&client)).expect("register the WSK application");
    println!(
        "   negotiated {} after {} retr{}",
        client.negotiated().map_or_else(|| "nothing".into(), show_version),
        client.retries(),
        if client.retries() == 1 { "y" } else { "ies" }
    );
    println!(
        "   WskControlClient(WSK_TRANSPORT_LIST_QUERY) -> {:?} bytes",
        client.transport_list_size()
    );

    println!("\n2. The application unloads while a call is in flight");
    provider.gate.close();
    let caller = {
        let client = Arc::clone(&client);
        thread::spawn(move || client.blocking_query())
    };
    while provider.gate.waiting() == 0 {
        thread::yield_now();
    }
    let unload = thread::spawn(move || client_registration.deregister());
    thread::sleep(Duration::from_millis(50));
    for b in host::bindings_of(&Wsk::ID) {
        println!("   {b}");
    }
    println!("   unload finished? {}", unload.is_finished());
    println!("   releasing the call");
    provider.gate.open();
    caller.join().unwrap().expect("the call returns");
    unload.join().unwrap().expect("client deregistered");
    println!("   unload finished once the call returned");

    println!("\n3. The WSK subsystem unloads while the application holds two sockets");
    let client = Arc::new(WskClient::new(Arc::clone(&trace)));
    let client_registration =
        ClientRegistration::register(Arc::clone(&client)).expect("register the WSK application");
    let sockets = vec![client.open_socket().unwrap(), client.open_socket().unwrap()];
    let unload = thread::spawn(move || registration.deregister());
    thread::sleep(Duration::from_millis(50));
    for b in host::bindings_of(&Wsk::ID) {
        println!("   {b}");
    }
    println!("   provider unload finished? {}", unload.is_finished());
    for socket in sockets {
        println!("   the application closes socket {}", socket.id());
        drop(socket);
    }
    unload.join().unwrap().expect("provider deregistered");
    drop(client_registration);

    let violations = host::violations_of(&Wsk::ID);
    println!("\ncontract violations recorded: {}", violations.len());
    assert!(violations.is_empty(), "{violations:?}");
    assert!(host::registrations_of(&Wsk::ID).is_empty());
}
