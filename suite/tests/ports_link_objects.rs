//! eBPF link objects at scale: a thousand run-time client registrations (one per link, each
//! with its own module id and `client_data`, kept by its registration) created and destroyed
//! while the hook provider registers and deregisters on another thread. Nothing may leak.

use std::sync::Arc;

use npi_ebpf::hook::EbpfHook;
use npi_runtime::host;
use npi_runtime::sys::GUID;
use npi_runtime::{ClientRegistration, Npi, ProviderRegistration};
use npi_suite::real::Trace;
use npi_suite::real::link::{
    Counters, HookProvider, LinkObject, SAMPLE_ATTACH_TYPE, SAMPLE_PROGRAM_TYPE, hook_npi_is_empty,
    run_churn,
};

#[test]
fn a_thousand_links_come_and_go_with_the_provider_and_nothing_leaks() {
    host::isolated(|| {
        let trace = Trace::new();
        let report = run_churn(1000, 50, &trace);
        assert_eq!(report.links, 1000);
        assert!(report.provider_cycles >= 2);
        assert_eq!(
            report.first_batch_invoked, 50,
            "the first batch bound while the provider was there"
        );
        assert!(report.link_counters.0 >= 50);

        let (attached, detached, cleaned, _declined, invoked) = report.link_counters;
        assert_eq!(attached, detached, "every link binding was detached: {report:?}");
        assert_eq!(attached, cleaned, "and cleaned up: {report:?}");
        let (p_attached, p_detached, p_cleaned, p_declined, _) = report.provider_counters;
        assert_eq!(
            (p_attached, p_detached, p_cleaned),
            (attached, attached, attached),
            "{report:?}"
        );
        assert_eq!(p_declined, 0);
        assert_eq!(invoked, report.invocations, "each hook call reached its link's program");

        assert!(
            hook_npi_is_empty(),
            "{:?} {:?}",
            host::registrations_of(&EbpfHook::ID),
            host::bindings_of(&EbpfHook::ID)
        );
        let v = host::violations_of(&EbpfHook::ID);
        assert!(v.is_empty(), "{v:?}");
    });
}

#[test]
fn a_link_binds_only_its_attach_and_program_type() {
    host::isolated(|| {
        let provider = HookProvider::new();
        let p = ProviderRegistration::register(Arc::clone(&provider)).unwrap();
        let counters = Arc::new(Counters::default());
        let data = Arc::new(LinkObject::client_data(0));

        let good = Arc::new(LinkObject::new(
            SAMPLE_ATTACH_TYPE,
            SAMPLE_PROGRAM_TYPE,
            Arc::clone(&counters),
        ));
        let other_attach = Arc::new(LinkObject::new(
            GUID::from_u128(1),
            SAMPLE_PROGRAM_TYPE,
            Arc::clone(&counters),
        ));
        let other_program = Arc::new(LinkObject::new(
            SAMPLE_ATTACH_TYPE,
            GUID::from_u128(2),
            Arc::clone(&counters),
        ));
        let regs: Vec<ClientRegistration<LinkObject>> = [&good, &other_attach, &other_program]
            .iter()
            .enumerate()
            .map(|(i, l)| {
                l.register(GUID::from_u128(0x1000 + i as u128), Arc::clone(&data)).unwrap()
            })
            .collect();
        assert_eq!(counters.snapshot().0, 1, "only the matching link attached");
        assert_eq!(counters.snapshot().3, 2, "the others declined");
        assert_eq!(provider.fire(), 1);
        assert_eq!(counters.snapshot().4, 1);
        // Each link registered its own module id: three client registrations of one NPI.
        let clients = host::registrations_of(&EbpfHook::ID).len();
        assert_eq!(clients, 4);
        drop(regs);
        drop(p);
        assert!(hook_npi_is_empty());
        assert!(host::violations_of(&EbpfHook::ID).is_empty());
    });
}
