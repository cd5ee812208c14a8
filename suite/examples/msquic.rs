//! MsQuic's NMR interface: msquic.sys as the provider (accepts every client, detaches at once)
//! and the header's client helper (`MsQuicNmrClientRegister`): first provider only, a wait for
//! the first attach with a timeout, and a detach that pends until the owner deregisters.
//!
//! ```text
//! cargo run --example msquic
//! ```

use std::sync::Arc;
use std::thread;
use std::time::Duration;

use npi_msquic::{MSQUIC_MODULE_ID, MsQuic};
use npi_runtime::{Npi, ProviderRegistration, host};
use npi_suite::real::Trace;
use npi_suite::real::msquic::{MsQuicProvider, msquic_nmr_client_register};

fn main() {
    let trace = Arc::new(Trace::echoing());
    println!("MSQUIC_NPI_ID = {}, MSQUIC_MODULE_ID = {MSQUIC_MODULE_ID}", MsQuic::ID);

    println!("\n1. No msquic.sys loaded: the helper times out after 100 ms");
    let result = msquic_nmr_client_register(
        MSQUIC_MODULE_ID,
        Duration::from_millis(100),
        Arc::clone(&trace),
    );
    println!("   -> {:?}", result.as_ref().err().map(|s| format!("{s:#x}")));

    println!("\n2. The client waits (5 s) and msquic.sys loads 50 ms later: the attach wakes it");
    let waiter = {
        let trace = Arc::clone(&trace);
        thread::spawn(move || {
            msquic_nmr_client_register(MSQUIC_MODULE_ID, Duration::from_secs(5), trace)
        })
    };
    thread::sleep(Duration::from_millis(50));
    let msquic = Arc::new(MsQuicProvider::new(Arc::clone(&trace)));
    let registration = ProviderRegistration::register(Arc::clone(&msquic)).expect("msquic.sys");
    let client = waiter.join().unwrap().expect("bound");
    println!("   MsQuicOpenVersion(2) + MsQuicClose -> {:?}", client.open_and_close_api());

    println!("\n3. A second msquic provider registers: the client keeps its first one");
    let private = Arc::new(MsQuicProvider::new(Arc::clone(&trace)));
    let private_registration =
        ProviderRegistration::register(Arc::clone(&private)).expect("register");
    for b in host::bindings_of(&MsQuic::ID) {
        println!("   {b}");
    }

    println!("\n4. msquic.sys unloads: the client's detach pends until its owner deregisters");
    let unload = thread::spawn(move || registration.deregister());
    while client.pending_detach().is_none() {
        thread::yield_now();
    }
    thread::sleep(Duration::from_millis(50));
    println!("   unload finished? {}", unload.is_finished());
    println!("   the owner deregisters");
    client.deregister();
    unload.join().unwrap().expect("msquic.sys deregistered");
    println!("   unload finished");
    drop(private_registration);

    let violations = host::violations_of(&MsQuic::ID);
    println!("\ncontract violations recorded: {}", violations.len());
    assert!(violations.is_empty(), "{violations:?}");
}
