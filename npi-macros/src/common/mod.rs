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

/// `key = N` for an optional `u16` argument, with the range in the error.
pub(crate) fn opt_u16(meta: &syn::Meta) -> darling::Result<Option<u16>> {
    unsigned(meta, "u16", u16::MAX.into()).map(|v| u16::try_from(v).ok())
}

/// `key = N` for an optional `u32` argument, with the range in the error.
pub(crate) fn opt_u32(meta: &syn::Meta) -> darling::Result<Option<u32>> {
    unsigned(meta, "u32", u32::MAX.into()).map(|v| u32::try_from(v).ok())
}

fn unsigned(meta: &syn::Meta, ty: &str, max: u64) -> darling::Result<u64> {
    let key = meta.path().get_ident().map(ToString::to_string).unwrap_or_default();
    let msg = format!("`{key}` is a `{ty}`: an integer literal from 0 to {max}");
    let syn::Meta::NameValue(nv) = meta else {
        return Err(darling::Error::custom(msg).with_span(meta));
    };
    match &nv.value {
        syn::Expr::Lit(syn::ExprLit { lit: syn::Lit::Int(i), .. }) => i
            .base10_parse::<u64>()
            .ok()
            .filter(|v| *v <= max)
            .ok_or_else(|| darling::Error::custom(msg).with_span(i)),
        other => Err(darling::Error::custom(msg).with_span(other)),
    }
}
