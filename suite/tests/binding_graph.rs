//! The binding graph (`host::binding_graph`, `StuckWait::graph`): what it draws for a healthy
//! registrar and for a stuck unload, in DOT and in Mermaid.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use npi_runtime::host::{self, WaitError};
use npi_runtime::*;

#[npi(id = "96A9F000-0000-4000-8000-000000000001")]
struct GraphNpi;
// SAFETY: the only declaration of this id in the program; all its types are `()`.
unsafe impl NpiLayout for GraphNpi {}

#[npi_provider(npi = GraphNpi, module_id = "96A9F000-0000-4000-8000-0000000000AA")]
struct Prov;
impl Provider for Prov {
    type Binding = ();
    fn attach(&self, request: ProviderAttachRequest<'_, Self>) -> Attach {
        request.accept((), &()).into()
    }
}

#[npi_client(npi = GraphNpi, module_id = "96A9F000-0000-4000-8000-0000000000BB")]
struct Pender {
    pend: bool,
    pending: Mutex<Option<ClientPendingDetach<Pender>>>,
}
impl Client for Pender {
    type Binding = ();
    fn attach(&self, request: ClientAttachRequest<'_, Self>) -> Attach {
        request.accept((), &()).into()
    }
    fn detach(
        &self,
        _: &ClientBinding<'_, Self>,
        request: ClientDetachRequest<'_, Self>,
    ) -> Detach {
        if !self.pend {
            return request.done();
        }
        let (answer, pending) = request.pend();
        *self.pending.lock().unwrap() = Some(pending);
        answer
    }
}

#[test]
fn a_healthy_registrar_draws_both_registrations_and_their_binding() {
    host::isolated(|| {
        let provider = ProviderRegistration::register(&Prov).unwrap();
        let module = Arc::new(Pender { pend: false, pending: Mutex::new(None) });
        let client = ClientRegistration::register(module).unwrap();
        let graph = host::binding_graph();
        assert_eq!((graph.registrations.len(), graph.bindings.len()), (2, 1));
        let dot = graph.to_dot();
        assert!(dot.starts_with("digraph npi {") && dot.trim_end().ends_with('}'));
        assert!(dot.contains("label=\"NPI {96A9F000-0000-4000-8000-000000000001}\""));
        assert!(dot.contains("provider {96A9F000…}") && dot.contains("client {96A9F000…}"));
        assert!(dot.contains("Established"));
        assert!(dot.contains("client: Attached") && dot.contains("provider: Attached"));
        // Nothing is held up: no red, no wait edges.
        assert!(!dot.contains("red") && !dot.contains("waits for"), "{dot}");
        let mermaid = graph.to_mermaid();
        assert!(mermaid.starts_with("flowchart LR"));
        assert_eq!(mermaid.matches("-->|").count(), 2, "{mermaid}");
        assert!(!mermaid.contains("linkStyle"));

        client.deregister().unwrap();
        provider.deregister().unwrap();
        let empty = host::binding_graph();
        assert!(empty.registrations.is_empty() && empty.bindings.is_empty());
        assert_eq!(empty.to_dot().matches("subgraph").count(), 0);
    });
}

#[test]
fn a_stuck_unload_draws_the_pending_half_in_red_and_names_the_call_owed() {
    host::isolated(|| {
        let provider = ProviderRegistration::register(&Prov).unwrap();
        let module = Arc::new(Pender { pend: true, pending: Mutex::new(None) });
        let client = ClientRegistration::register(Arc::clone(&module)).unwrap();

        let stuck = provider.deregister_within(Duration::from_millis(50)).unwrap_err();
        let WaitError::Stuck(report) = stuck.stuck() else { panic!("{stuck}") };
        for graph in [report.graph(), host::binding_graph()] {
            let dot = graph.to_dot();
            // The deregistering provider stands out, waits for the binding, and the client's
            // pending half is the red dashed edge naming what it owes.
            assert!(dot.contains("shape=box3d, color=red"), "{dot}");
            assert!(dot.contains("deregistering"));
            assert_eq!(dot.matches("label=\"waits for\"").count(), 1);
            assert!(dot.contains(
                "style=dashed, label=\"client: pending, owes NmrClientDetachProviderComplete\""
            ));
            assert!(dot.contains("provider: Done"));
            let mermaid = graph.to_mermaid();
            assert!(
                mermaid.contains("-.->|\"client: pending, owes NmrClientDetachProviderComplete\"|")
            );
            assert!(mermaid.contains("==>|waits for|"));
            assert_eq!(mermaid.matches("linkStyle").count(), 2, "{mermaid}");
        }

        module.pending.lock().unwrap().take().unwrap().complete();
        stuck.wait_within(Duration::from_secs(10)).unwrap();
        client.deregister().unwrap();
    });
}
