//! npi: the Windows Network Module Registrar (NMR) for Rust.
//!
//! - [`sys`] is the raw ABI (`netioddk.h`), C names verbatim, with the nine `Nmr*` functions.
//!   On a Windows kernel build those functions are imports from `NETIO.SYS` and this crate is
//!   `#![no_std]`: it takes its binding records from the non-paged pool itself, so a driver
//!   needs no global allocator for it (`alloc` is linked only for the `Arc`-based
//!   registrations of the default `alloc` feature). On every other target, and on Windows
//!   with the `host` feature, they are a faithful in-process NMR ([`host`]) so a driver's NPI
//!   code runs in `cargo test` unchanged.
//! - The safe layer: an NPI is a type implementing [`Npi`]; a module is a registration-context
//!   type implementing [`Client`] or [`Provider`]; [`Registration`] registers it and, when
//!   dropped, deregisters and waits. Binding contexts are owned by the runtime from attach to
//!   cleanup ([`Binding`], [`BindingRef`]); a pending detach is a [`PendingDetach`] value
//!   completed exactly once.
//!
//! What "safe" means here — what safe code cannot do to the NMR, its peers or the runtime,
//! whatever it does with the guards it gets, and what each `unsafe` item asks of its caller —
//! is argued item by item in [`soundness`].
#![no_std]
#![deny(missing_docs)]
#![cfg_attr(docsrs, feature(doc_cfg))]

#[cfg(feature = "alloc")]
extern crate alloc;
#[cfg(npi_host)]
extern crate std;

mod backend;
mod binding;
mod heap;
mod module;
mod npi;
mod registration;
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
pub use npi_macros::{dispatch_table, npi, npi_client, npi_provider};

pub use binding::{
    AsClient, AsProvider, Binding, BindingRef, Detach, DetachRequest, PeerCall, PendingDetach, Side,
};
pub use module::{
    Accepted, Attach, Client, ClientBinding, ClientBindingRef, ClientDetach, ClientModule,
    ClientOffer, ClientPendingDetach, ClientTable, ClientVTable, Offer, PeerRegistration, Provider,
    ProviderBinding, ProviderBindingRef, ProviderDetach, ProviderModule, ProviderOffer,
    ProviderPendingDetach, ProviderTable, ProviderVTable, Refused,
};
pub use npi::{DispatchTable, Npi, NpiData, NpiLayout, OwnTable, Peer, PeerTable, Table};
#[cfg(npi_host)]
pub use registration::Deregistering;
#[cfg(feature = "alloc")]
pub use registration::ModuleRef;
pub use registration::{
    ClientRegistration, IntoModule, ProviderRegistration, Registration, RegistrationBuilder, Role,
    StaticClientRegistration, StaticProviderRegistration, StaticRegistration,
};
