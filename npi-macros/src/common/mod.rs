//! Pieces every macro shares: GUID literals, the one runtime path, error fallback.

pub(crate) mod guid;
pub(crate) mod tpl;

use darling::FromMeta;
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

fn key_of(meta: &syn::Meta) -> String {
    meta.path().get_ident().map(ToString::to_string).unwrap_or_default()
}

/// `key = SomeType` for an optional type argument.
pub(crate) fn opt_type(meta: &syn::Meta) -> darling::Result<Option<syn::Type>> {
    let key = key_of(meta);
    let msg = || format!("`{key}` takes a type, e.g. `{key} = WskProviderCharacteristics`");
    let syn::Meta::NameValue(nv) = meta else {
        return Err(darling::Error::custom(msg()).with_span(meta));
    };
    match &nv.value {
        syn::Expr::Lit(l) => Err(darling::Error::custom(msg()).with_span(l)),
        other => syn::parse2::<syn::Type>(quote::ToTokens::to_token_stream(other))
            .map(Some)
            .map_err(|_| darling::Error::custom(msg()).with_span(other)),
    }
}

/// `characteristics = SOME_STATIC`.
pub(crate) fn opt_static_path(meta: &syn::Meta) -> darling::Result<Option<syn::Path>> {
    let msg = "`characteristics` names a `static` holding them, e.g. \
               `characteristics = PROVIDER_CHARACTERISTICS`";
    let syn::Meta::NameValue(nv) = meta else {
        return Err(darling::Error::custom(msg).with_span(meta));
    };
    match &nv.value {
        syn::Expr::Path(p) if p.qself.is_none() => Ok(Some(p.path.clone())),
        other => Err(darling::Error::custom(msg).with_span(other)),
    }
}

/// A bare word such as `dynamic_module_id`.
pub(crate) fn flag(meta: &syn::Meta) -> darling::Result<darling::util::Flag> {
    match meta {
        syn::Meta::Path(_) => Ok(darling::util::Flag::from_meta(meta)?),
        other => Err(darling::Error::custom(format!(
            "`{}` is a flag: write it alone, without a value",
            key_of(other)
        ))
        .with_span(other)),
    }
}
