//! `#[npi_data]`: a struct an NPI shares by pointer (NPI-specific characteristics, or a struct
//! its table functions pass), laid out as C lays it out and spelled in the NPI's C header.
//!
//! Parse (the arguments; the item as a struct with named fields) → validate (no generics, no
//! other `repr`) → expand (`#[repr(C)]`, `unsafe impl NpiData`, the C description).

use darling::ast::NestedMeta;
use darling::{Error, FromMeta};
use proc_macro2::TokenStream;
use quote::quote;
use syn::{Fields, Item, ItemStruct};

use crate::common::tpl::{Out, tpl};
use crate::common::{c, check_keys, fallback};
use crate::npi_def::item_keyword;

#[derive(FromMeta)]
struct DataArgs {
    /// The struct's name in the C header (default: its name in SCREAMING_CASE).
    #[darling(default, with = c::c_ident)]
    c_name: Option<String>,
}

pub(crate) fn expand(args: TokenStream, item: TokenStream) -> TokenStream {
    match try_expand(args, item.clone()) {
        Ok(out) => out,
        Err(e) => fallback(item, e),
    }
}

fn try_expand(args: TokenStream, item: TokenStream) -> darling::Result<TokenStream> {
    let mut errors = Error::accumulator();
    let args =
        errors.handle(NestedMeta::parse_meta_list(args).map_err(Error::from).and_then(|list| {
            check_keys(&list, "npi_data", &["c_name"])?;
            DataArgs::from_list(&list)
        }));
    let parsed = errors.handle(parse_item(item));
    errors.finish()?;
    let (Some(args), Some(s)) = (args, parsed) else {
        return Err(Error::custom("unreachable: errors were reported"));
    };
    let c_name = args.c_name.unwrap_or_else(|| c::screaming(&s.ident.to_string()));
    Ok(generate(&s, &c_name))
}

const HINT: &str = "`#[npi_data]` goes on a struct with named fields, e.g. \
                    `pub struct Characteristics { pub version: u16, pub flags: u32 }`";

fn parse_item(item: TokenStream) -> darling::Result<ItemStruct> {
    let item: Item = syn::parse2(item)?;
    let s = match item {
        Item::Struct(s) => s,
        other => return Err(Error::custom(HINT).with_span(&item_keyword(&other))),
    };
    let mut errors = Error::accumulator();
    if !s.generics.params.is_empty() {
        errors.push(
            Error::custom("NPI data has one C layout: it cannot be generic").with_span(&s.generics),
        );
    }
    match &s.fields {
        Fields::Named(f) if !f.named.is_empty() => {}
        Fields::Named(f) => errors.push(
            Error::custom("NPI data needs at least one member (C has no empty structs)")
                .with_span(f),
        ),
        Fields::Unit => errors.push(Error::custom(HINT).with_span(&s.ident)),
        Fields::Unnamed(f) => errors.push(Error::custom(HINT).with_span(f)),
    }
    for attr in s.attrs.iter().filter(|a| a.path().is_ident("repr")) {
        let only_c = attr.parse_args::<syn::Ident>().is_ok_and(|repr| repr == "C");
        if !only_c {
            errors.push(
                Error::custom(
                    "NPI data is laid out as C lays it out: `#[npi_data]` makes it `#[repr(C)]`, \
                     so leave other `repr`s out",
                )
                .with_span(attr),
            );
        }
    }
    errors.finish_with(s)
}

fn generate(s: &ItemStruct, c_name: &str) -> TokenStream {
    let mut out = Out::default();
    let has_repr_c = s.attrs.iter().any(|a| a.path().is_ident("repr"));
    if !has_repr_c {
        out.push("#[repr(C)]", &[]);
    }
    out.tokens(quote!(#s));
    tpl!(
        out,
        r"
        #[automatically_derived]
        // SAFETY: `#[repr(C)]`, and every member is `CType` (the asserts below name each), so
        // plain data without interior mutability: immutable while published. `NpiData`'s
        // `Sync` bound is checked by the compiler.
        unsafe impl $rt::NpiData for $ident {}",
        ident = &s.ident,
    );
    let Fields::Named(fields) = &s.fields else { return out.finish() };
    let cfgs: Vec<TokenStream> = fields
        .named
        .iter()
        .map(|f| {
            let cfgs = f.attrs.iter().filter(|a| a.path().is_ident("cfg"));
            quote!(#(#cfgs)*)
        })
        .collect();
    let descs: Vec<c::CMemberDesc<'_>> = fields
        .named
        .iter()
        .zip(&cfgs)
        .filter_map(|(f, cfgs)| {
            let field = f.ident.as_ref()?;
            let name = c::pascal(&field.to_string());
            let ty = c::type_ref(&f.ty);
            let value = quote!(::npi_runtime::__private::CMember {
                name: #name,
                ty: #ty,
                function: ::npi_runtime::__private::None,
                end_of: ::npi_runtime::__private::None,
            });
            Some(c::CMemberDesc { field, cfgs, value })
        })
        .collect();
    c::gen_struct(&mut out, &s.ident, c_name, &descs);
    out.finish()
}
