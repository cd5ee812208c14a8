//! eBPF link objects at scale: each link registers its own NMR client at run time (the
//! template copied, its own module id, its `client_data` owned by the registration), a
//! thousand of them created and destroyed while the hook provider comes and goes on another
//! thread.
//!
//! ```text
//! cargo run --example link_objects
//! ```

use npi_ebpf::hook::EbpfHook;
use npi_runtime::{Npi, host};
use npi_suite::real::Trace;
use npi_suite::real::link::{hook_npi_is_empty, run_churn};

fn main() {
    println!("EBPF_HOOK_EXTENSION_IID = {}", EbpfHook::ID);
    let trace = Trace::echoing();
    let report = run_churn(1000, 100, &trace);
    let (attached, detached, cleaned, declined, invoked) = report.link_counters;
    println!("\nlinks: {} created and destroyed", report.links);
    println!("provider registered and deregistered {} times", report.provider_cycles);
    println!(
        "link bindings: {attached} attached, {detached} detached, {cleaned} cleaned, {declined} declined"
    );
    println!("programs invoked through links: {invoked}");
    let (p_attached, p_detached, p_cleaned, _, _) = report.provider_counters;
    println!(
        "provider bindings: {p_attached} attached, {p_detached} detached, {p_cleaned} cleaned"
    );
    assert_eq!((attached, p_attached), (cleaned, p_cleaned));
    assert!(hook_npi_is_empty(), "something leaked");
    let violations = host::violations_of(&EbpfHook::ID);
    println!("registrations and bindings left: none; contract violations: {}", violations.len());
    assert!(violations.is_empty(), "{violations:?}");
}
