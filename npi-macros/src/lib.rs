//! Procedural macros for npi. Use them through `npi_runtime`, which re-exports them; their
//! documentation lives there.
#![forbid(unsafe_code)]

mod common;
mod dispatch;
mod module;
mod npi_def;

use proc_macro::TokenStream;

/// Declares an NPI; see `npi_runtime::npi`.
#[proc_macro_attribute]
pub fn npi(args: TokenStream, item: TokenStream) -> TokenStream {
    npi_def::expand(args.into(), item.into()).into()
}

/// Declares a client module; see `npi_runtime::npi_client`.
#[proc_macro_attribute]
pub fn npi_client(args: TokenStream, item: TokenStream) -> TokenStream {
    module::expand(module::Role::Client, args.into(), item.into()).into()
}

/// Declares a provider module; see `npi_runtime::npi_provider`.
#[proc_macro_attribute]
pub fn npi_provider(args: TokenStream, item: TokenStream) -> TokenStream {
    module::expand(module::Role::Provider, args.into(), item.into()).into()
}

/// Declares a dispatch table; see `npi_runtime::dispatch_table`.
#[proc_macro_attribute]
pub fn dispatch_table(args: TokenStream, item: TokenStream) -> TokenStream {
    dispatch::expand(args.into(), item.into()).into()
}
