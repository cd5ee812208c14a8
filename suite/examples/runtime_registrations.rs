//! Registrations created at run time, one per object, as eBPF for Windows does for its link
//! objects: each object is a client registration of its own, with a module id chosen when the
//! object is created, registered while the provider comes and goes.
//!
//! ```text
//! cargo run --example runtime_registrations
//! ```

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use npi_runtime::sys::GUID;
use npi_runtime::{
    Attach, Client, ClientAttachRequest, ClientRegistration, Npi, Provider, ProviderAttachRequest,
    ProviderRegistration, host, npi, npi_client, npi_provider,
};

/// A hook NPI objects attach to.
#[npi(id = "E1E1E1E1-0001-4000-8000-00000000E001")]
pub struct Hook;
// SAFETY: both sides in this program use this one declaration: the layouts are whatever
// it says, and no other declaration of this id exists.
unsafe impl ::npi_runtime::NpiLayout for Hook {}

/// One link object: its own registration, its own module id.
#[npi_client(npi = Hook, dynamic_module_id)]
struct Link {
    id: u32,
    attaches: AtomicUsize,
}

impl Client for Link {
    type Binding = u32;
    fn attach(&self, request: ClientAttachRequest<'_, Self>) -> Attach {
        self.attaches.fetch_add(1, Ordering::SeqCst);
        request.accept(self.id, &()).into()
    }
}

#[npi_provider(npi = Hook, module_id = "E1E1E1E1-0002-4000-8000-00000000E002")]
struct HookProvider {
    bound: AtomicUsize,
}

impl Provider for HookProvider {
    type Binding = ();
    fn attach(&self, request: ProviderAttachRequest<'_, Self>) -> Attach {
        self.bound.fetch_add(1, Ordering::SeqCst);
        request.accept((), &()).into()
    }
}

static PROVIDER: HookProvider = HookProvider { bound: AtomicUsize::new(0) };

fn link(id: u32) -> (Arc<Link>, ClientRegistration<Link>) {
    let object = Arc::new(Link { id, attaches: AtomicUsize::new(0) });
    let registration = ClientRegistration::builder(Arc::clone(&object))
        .module_guid(GUID::from_u128(0xE1E1_E1E1_0003_4000_8000_0000_0000_0000 | u128::from(id)))
        .register()
        .expect("register link");
    (object, registration)
}

fn main() {
    println!("create 1000 link objects while the hook provider comes and goes");
    let mut links = Vec::new();
    let mut provider = None;
    for id in 0..1000 {
        if id % 250 == 0 {
            // Replace the provider: its bindings detach; every live link attaches to the next.
            drop(provider.take());
            provider = Some(ProviderRegistration::register(&PROVIDER).unwrap());
        }
        links.push(link(id));
        if id % 3 == 0 {
            links.swap_remove(links.len() / 2); // destroy an older object
        }
    }
    let live = links.len();
    println!("  {live} links alive, {} bindings", host::bindings_of(&Hook::ID).len());
    assert_eq!(host::bindings_of(&Hook::ID).len(), live, "every live link is bound");
    assert!(links.iter().all(|(l, _)| l.attaches.load(Ordering::SeqCst) >= 1));

    println!("destroy every object, then the provider");
    links.clear();
    drop(provider);
    assert!(host::registrations_of(&Hook::ID).is_empty());
    assert!(host::bindings_of(&Hook::ID).is_empty());
    assert!(host::violations_of(&Hook::ID).is_empty());
    println!(
        "  nothing left registered; {} attaches in all",
        PROVIDER.bound.load(Ordering::SeqCst)
    );
}
