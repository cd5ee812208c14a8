//! XDP for Windows' interface NPI, roles as XDP has them: the NIC driver registers each
//! interface as a client (module id = the interface's `InstanceId`, `Number` = its `IfIndex`,
//! capabilities, owned by the interface, as NPI-specific characteristics); XDP core opens one
//! provider per interface with the same key, checks every part of it, binds once, and keeps
//! its detach pending until it cleans up.
//!
//! ```text
//! cargo run --example xdp
//! ```

use std::sync::Arc;
use std::thread;
use std::time::Duration;

use npi_runtime::sys::GUID;
use npi_runtime::{Npi, host};
use npi_suite::real::Trace;
use npi_suite::real::xdp::{open_provider, register_interface};
use npi_xdp::{XDP_DRIVER_API_VERSION, Xdp, XdpCapabilities};

fn main() {
    let trace = Arc::new(Trace::echoing());
    println!(
        "NPI_XDP_ID = {}, registration Version {}",
        Xdp::ID,
        <Xdp as Npi>::REGISTRATION_VERSION
    );

    let instance_id = GUID::from_u128(0x3F2B_9C41_7D0E_4A8B_B1C2_5E6F_7A8B_9C0D);
    let if_index = 7;
    println!("\nthe NIC driver registers interface #{if_index}, InstanceId {instance_id}");
    let capabilities = Arc::new(XdpCapabilities::new(instance_id));
    let (interface, client) = register_interface(if_index, capabilities, Arc::clone(&trace))
        .expect("XdpRegisterInterfaceEx");

    println!("\nXDP core opens a provider for interface #{}: wrong Number", if_index + 1);
    let refused = open_provider(if_index + 1, instance_id, Arc::clone(&trace)).err();
    println!("   -> {:?}", refused.map(|(s, _)| format!("{s:#x}")));

    println!("\nXDP core opens a provider with another InstanceId");
    let other = GUID::from_u128(0x3F2B_9C41_7D0E_4A8B_B1C2_5E6F_7A8B_FFFF);
    let refused = open_provider(if_index, other, Arc::clone(&trace)).err();
    println!("   -> {:?}", refused.map(|(s, _)| format!("{s:#x}")));

    println!("\nXDP core opens the right provider: attach is synchronous, checked at once");
    let open = open_provider(if_index, instance_id, Arc::clone(&trace)).expect("XdpOpenProvider");
    println!(
        "   GetInterfaceDispatch + OpenInterface -> {:?}",
        open.open_interface(&XDP_DRIVER_API_VERSION)
    );

    println!("\na second provider for the same interface: the interface is bound already");
    let refused = open_provider(if_index, instance_id, Arc::clone(&trace)).err();
    println!("   -> {:?}", refused.map(|(s, _)| format!("{s:#x}")));

    println!("\nthe NIC driver removes the interface: XDP's detach pends until XdpCleanupProvider");
    thread::scope(|scope| {
        let removal = scope.spawn(move || client.deregister());
        while open.pending_detach().is_none() {
            thread::yield_now();
        }
        thread::sleep(Duration::from_millis(50));
        for b in host::bindings_of(&Xdp::ID) {
            println!("   {b}");
        }
        println!("   removal finished? {}", removal.is_finished());
        open.cleanup();
        removal.join().unwrap().expect("interface deregistered");
        println!("   removal finished");
    });
    assert!(interface.binding_handle().is_none());

    let violations = host::violations_of(&Xdp::ID);
    println!("\ncontract violations recorded: {}", violations.len());
    assert!(violations.is_empty(), "{violations:?}");
}
