#![doc = include_str!("../docs/guide.md")]
#![no_std]
#![deny(missing_docs)]
#![deny(missing_debug_implementations)]
#![cfg_attr(docsrs, feature(doc_cfg))]

#[cfg(feature = "alloc")]
extern crate alloc;
#[cfg(npi_host)]
extern crate std;

mod backend;
mod binding;
pub mod c_header;
mod heap;
mod module;
mod npi;
mod registration;
mod status;
mod sync;
pub mod sys;
mod unwind;

// `npi_host`: every target but a Windows kernel build (and Windows with the `host` feature).
#[cfg(npi_host)]
#[cfg_attr(docsrs, doc(cfg(npi_host)))]
pub mod host;

#[doc(hidden)]
pub mod __private;

#[doc = include_str!("../docs/soundness.md")]
pub mod soundness {}

#[doc(inline)]
pub use npi_macros::{dispatch_table, npi, npi_client, npi_data, npi_provider};

// The root: what a module author writes, one name per concept, client and provider named alike
// (the prefix is the module's own side). The role-generic forms these names stand for are in
// [`generic`].
pub use binding::Detach;
pub use module::{
    Attach, Client, ClientAttachRequest, ClientBinding, ClientBindingRef, ClientDetachRequest,
    ClientPendingDetach, ClientTable, Provider, ProviderAttachRequest, ProviderBinding,
    ProviderBindingRef, ProviderDetachRequest, ProviderPendingDetach, ProviderTable, Refused,
};
pub use npi::{Npi, NpiLayout};
pub use registration::{
    ClientRegistration, ProviderRegistration, StaticClientRegistration, StaticProviderRegistration,
};
pub use status::Status;

/// The machinery under the root's names, generic over the side (client or provider): for code
/// that serves both sides at once, and for the types the root's names are aliases of.
///
/// A module author rarely names these: `ClientBinding<'_, M>` is
/// `generic::Binding<'_, generic::AsClient<M>>`, `ProviderRegistration<M>` is
/// `generic::Registration<generic::AsProvider<M>>`, and so on. The traits here are sealed or
/// implemented by the macros; their hidden items are the runtime's own.
pub mod generic {
    pub use crate::binding::{
        AsClient, AsProvider, Binding, BindingRef, DetachRequest, PeerCall, PendingDetach, Side,
    };
    pub use crate::module::{
        Accepted, AttachRequest, ClientKind, ClientModule, ModuleDecl, PeerRegistration,
        ProviderKind, ProviderModule, SideKind,
    };
    pub use crate::npi::{DispatchTable, NpiData, OwnTable, Peer, PeerTable, Table};
    #[cfg(npi_host)]
    #[cfg_attr(docsrs, doc(cfg(npi_host)))]
    pub use crate::registration::Deregistering;
    #[cfg(feature = "alloc")]
    #[cfg_attr(docsrs, doc(cfg(feature = "alloc")))]
    pub use crate::registration::ModuleRef;
    pub use crate::registration::{
        IntoModule, Registration, RegistrationBuilder, StaticRegistration,
    };
}
