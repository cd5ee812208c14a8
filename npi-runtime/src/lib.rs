//! npi: the Windows Network Module Registrar (NMR) for Rust.
//!
//! - [`sys`] is the raw ABI (`netioddk.h`), C names verbatim, with the nine `Nmr*` functions.
//! - On a Windows kernel build those functions are imports from `NETIO.SYS` and this crate is
//!   `#![no_std]` with no other code. On every other target, and on Windows with the `host`
//!   feature, they are a faithful in-process NMR ([`host`]) so a driver's NPI code runs in
//!   `cargo test` unchanged.
#![no_std]
#![cfg_attr(docsrs, feature(doc_cfg))]

#[cfg(npi_host)]
extern crate std;

mod backend;
pub mod sys;

#[cfg(npi_host)]
pub mod host;
