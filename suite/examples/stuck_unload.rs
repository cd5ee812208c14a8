//! The picture of a stuck unload: a provider deregisters (its driver is unloading) while one of
//! its two clients still has a call in flight and pends its detach. The provider's bounded
//! deregistration reports what it waits for, and the host NMR draws it: the deregistering
//! provider, the binding whose client half is pending, and the call that client still owes.
//!
//! ```text
//! cargo run --example stuck_unload                     # the report and the Mermaid text
//! cargo run --example stuck_unload -- --write docs     # also docs/stuck-unload.{dot,mmd}
//! dot -Tsvg docs/stuck-unload.dot -o docs/stuck-unload.svg   # (Debian: apt-get install graphviz)
//! ```
//!
//! Then the client's call returns, it completes its detach, and the unload finishes.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use npi_runtime::generic::*;
use npi_runtime::host::{self, HalfState, WaitError};
use npi_runtime::*;

#[npi(id = "5E1F0A0D-0000-4000-8000-000000000001")]
struct UnloadNpi;
// SAFETY: the only declaration of this id in the program; all its types are `()`.
unsafe impl NpiLayout for UnloadNpi {}

#[npi_provider(npi = UnloadNpi, module_id = "5E1F0A0D-0000-4000-8000-0000000000AA")]
struct Provider1;

impl Provider for Provider1 {
    type Binding = ();
    fn attach(&self, request: ProviderAttachRequest<'_, Self>) -> Attach {
        request.accept((), &()).into()
    }
}

/// A client that, when `busy`, pends its detach (a call of its own still in flight) and keeps
/// the pending detach to complete when the call returns.
#[npi_client(npi = UnloadNpi, dynamic_module_id)]
struct Client1 {
    busy: bool,
    pending: Mutex<Option<ClientPendingDetach<Client1>>>,
}

impl Client for Client1 {
    type Binding = ();
    fn attach(&self, request: ClientAttachRequest<'_, Self>) -> Attach {
        request.accept((), &()).into()
    }
    fn detach(
        &self,
        _: &ClientBinding<'_, Self>,
        request: ClientDetachRequest<'_, Self>,
    ) -> Detach {
        if !self.busy {
            return request.done();
        }
        let (answer, pending) = request.pend();
        *self.pending.lock().unwrap() = Some(pending);
        answer
    }
}

fn client(busy: bool, id: u128) -> ClientRegistration<Client1> {
    let module = Arc::new(Client1 { busy, pending: Mutex::new(None) });
    Registration::builder(module).module_guid(sys::GUID::from_u128(id)).register().unwrap()
}

fn main() {
    let write_to = std::env::args().skip_while(|a| a != "--write").nth(1);
    host::isolated(|| {
        let provider = ProviderRegistration::register(&Provider1).unwrap();
        let idle = client(false, 0x1D1E_0000_0000_4000_8000_0000_0000_00B1);
        let busy = client(true, 0xB05E_0000_0000_4000_8000_0000_0000_00B2);

        // The driver unloads: the provider deregisters and gives its wait 100 ms.
        let stuck = provider.deregister_within(Duration::from_millis(100)).unwrap_err();
        let WaitError::Stuck(report) = stuck.stuck() else { panic!("{stuck}") };
        println!("{report}\n");
        assert_eq!(report.bindings.len(), 1, "only the busy client's binding holds it up");
        assert_eq!(report.bindings[0].client_half, HalfState::Pending);

        // The whole registrar (`report.graph()` would draw only what the wait is stuck on).
        let graph = host::binding_graph();
        assert_eq!(graph.registrations.len(), 3);
        let (dot, mermaid) = (graph.to_dot(), graph.to_mermaid());
        assert!(dot.contains("owes NmrClientDetachProviderComplete"));
        assert!(report.graph().to_dot().contains("owes NmrClientDetachProviderComplete"));
        println!("{mermaid}");
        if let Some(dir) = write_to {
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::write(format!("{dir}/stuck-unload.dot"), &dot).unwrap();
            std::fs::write(format!("{dir}/stuck-unload.mmd"), &mermaid).unwrap();
            eprintln!("wrote {dir}/stuck-unload.dot and .mmd");
        }

        // The busy client's call returns: it completes its detach, and the unload finishes.
        let pending = busy.module().pending.lock().unwrap().take().unwrap();
        pending.complete();
        stuck.wait_within(Duration::from_secs(10)).unwrap();
        busy.deregister().unwrap();
        idle.deregister().unwrap();
    });
}
