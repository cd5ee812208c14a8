//! EXNPI, the example NPI of Microsoft's NMR documentation ("Example Network Programming
//! Interface"): a provider function the client calls and a notification the provider sends
//! back, declared once, here, for every module that speaks it. Its providers and clients (the
//! host example `suite/examples/exnpi.rs`, the kernel driver `examples/kernel-driver/`) depend on this
//! crate and implement `ExProviderDispatchImpl` / `ExClientDispatchImpl` for their modules.
//!
//! Both tables start with the documentation's `Version` and `Length`; [`VERSION`] and
//! [`length_of`] fill them.
#![no_std]

use core::ffi::c_void;

use npi_runtime::{dispatch_table, npi};

/// What the provider offers its clients.
#[dispatch_table(c_name = "EXNPI_PROVIDER_DISPATCH", c_prefix = "EXNPI")]
pub struct ExProviderDispatch {
    /// Table version ([`VERSION`]).
    pub version: u16,
    /// `sizeof` the table ([`length_of`]).
    pub length: u16,
    /// Doubles `value`, telling the calling client about it first.
    pub provider_function: fn(#[context] binding: *mut c_void, value: u32) -> u32,
}

/// What a client offers its provider.
#[dispatch_table(c_name = "EXNPI_CLIENT_DISPATCH", c_prefix = "EXNPI")]
pub struct ExClientDispatch {
    /// Table version ([`VERSION`]).
    pub version: u16,
    /// `sizeof` the table ([`length_of`]).
    pub length: u16,
    /// The provider has news for this client.
    pub client_notify: fn(#[context] binding: *mut c_void, value: u32),
}

/// EXNPI: `{F0B35B9A-3E1C-4C55-9E0B-52A64D5E71C2}`.
#[npi(
    id = "F0B35B9A-3E1C-4C55-9E0B-52A64D5E71C2",
    client_dispatch = ExClientDispatch,
    provider_dispatch = ExProviderDispatch
)]
pub struct Exnpi;
// SAFETY: this crate is EXNPI's one declaration: every module that speaks EXNPI takes these
// layouts from here, and no other declaration of this id exists in a program that uses it.
unsafe impl npi_runtime::NpiLayout for Exnpi {}

/// The version both tables carry.
pub const VERSION: u16 = 1;

/// A table's `Length`: its size in bytes.
#[must_use]
#[allow(clippy::cast_possible_truncation)] // a table of a few pointers
pub const fn length_of<T>() -> u16 {
    const { assert!(size_of::<T>() <= u16::MAX as usize) };
    size_of::<T>() as u16
}
