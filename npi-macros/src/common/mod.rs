//! Pieces every macro shares: GUID literals, the one runtime path, error fallback.

pub(crate) mod guid;

use proc_macro2::TokenStream;
use quote::quote;

/// The only path generated code uses to reach the runtime.
pub(crate) fn rt() -> TokenStream {
    quote!(::npi_runtime::__private)
}

/// On error: the errors, plus the user's item unchanged, so one mistake does not cascade into
/// "cannot find type" errors everywhere the item is used.
pub(crate) fn fallback(item: TokenStream, errors: darling::Error) -> TokenStream {
    let errors = errors.write_errors();
    quote!(#errors #item)
}
