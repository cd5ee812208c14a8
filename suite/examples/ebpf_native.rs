//! eBPF for Windows' native-module NPI: a client shaped like bpf2c's generated driver (module
//! id read from its configuration at `DriverEntry`, metadata table as its client dispatch,
//! single provider) against ebpfcore, whose detach always pends and completes on a worker.
//!
//! ```text
//! cargo run --example ebpf_native
//! EBPF_NATIVE_NPI_MODULE_ID=6a1f93c0-55e2-4b7d-8c04-e1b927a6d350 cargo run --example ebpf_native
//! ```

use std::sync::Arc;
use std::time::Duration;

use npi_ebpf::native::EbpfNative;
use npi_runtime::generic::ClientModule;
use npi_runtime::sys::GUID;
use npi_runtime::{Npi, ProviderRegistration, host};
use npi_suite::real::Trace;
use npi_suite::real::ebpf::{
    Bpf2cClient, EbpfCore, NPI_MODULE_ID_ENV, ServiceParameters, driver_entry,
};

fn main() {
    let trace = Arc::new(Trace::echoing());
    println!("native-module NPI id = {}", EbpfNative::ID);

    println!("\nebpfcore registers");
    let core = Arc::new(EbpfCore::new(Duration::from_millis(50), Arc::clone(&trace)));
    let provider = ProviderRegistration::register(Arc::clone(&core)).expect("register ebpfcore");

    // `<service key>\Parameters\NpiModuleId`: from the environment, or a default.
    let mut parameters = ServiceParameters::from_env();
    if parameters.npi_module_id.is_none() {
        println!("({NPI_MODULE_ID_ENV} unset: using a default NpiModuleId)");
        parameters = ServiceParameters::with_module_id(GUID::from_u128(
            0x0B7F_3E2A_51C4_4D8E_9A06_7C21_E4F5_A9D3,
        ));
    }

    println!("\nthe generated driver loads");
    let template = <Bpf2cClient as ClientModule>::characteristics();
    println!(
        "  template: Version {}, Length {}, instance Version {}, Size {}, Number {}, NpiSpecificCharacteristics {:?}",
        template.Version,
        template.Length,
        template.ClientRegistrationInstance.Version,
        template.ClientRegistrationInstance.Size,
        template.ClientRegistrationInstance.Number,
        template.ClientRegistrationInstance.NpiSpecificCharacteristics,
    );
    let client = Arc::new(Bpf2cClient::new(Arc::clone(&trace)));
    let registration = match driver_entry(Arc::clone(&client), &parameters) {
        Ok(r) => r,
        Err(status) => {
            println!("  DriverEntry failed: {status:#x}");
            return;
        }
    };
    for s in core.seen() {
        println!(
            "  ebpfcore saw: Version {}, Size {}, NpiId {}, ModuleId {:?}, Number {}, \
             NpiSpecificCharacteristics NULL: {}",
            s.version, s.size, s.npi_id, s.module_id, s.number, s.npi_specific_characteristics_null
        );
    }

    println!("\nthe driver unloads: ebpfcore's detach pends until its worker completes it");
    registration.deregister().expect("deregistered");
    println!("  DriverUnload returned; completed on {:?}", core.completers());

    drop(provider);
    let violations = host::violations_of(&EbpfNative::ID);
    println!("\ncontract violations recorded: {}", violations.len());
    assert!(violations.is_empty(), "{violations:?}");
}
