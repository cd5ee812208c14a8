//! `#[npi(...)]`: declares an NPI on a unit struct that names it.
//!
//! Parse (`NpiArgs` from the attribute, the item as a struct) → validate (the item's shape) →
//! expand (one `unsafe impl Npi`).

use darling::FromMeta;
use darling::ast::NestedMeta;
use proc_macro2::TokenStream;
use quote::{quote, quote_spanned};

use syn::spanned::Spanned;
use syn::{Fields, Item, ItemStruct, Type};

use crate::common::c::screaming;
use crate::common::guid::GuidLit;
use crate::common::tpl::{Out, RT, Text, string_literal, tpl};
use crate::common::{check_keys, fallback};

impl NpiArgs {
    const KEYS: &[&str] = &[
        "id",
        "client_characteristics",
        "provider_characteristics",
        "client_dispatch",
        "provider_dispatch",
        "registration_version",
        "c_name",
        "c_id",
    ];
}

/// The attribute's arguments.
#[derive(FromMeta)]
struct NpiArgs {
    #[darling(default)]
    id: Option<GuidLit>,
    #[darling(default, with = crate::common::opt_type)]
    client_characteristics: Option<Type>,
    #[darling(default, with = crate::common::opt_type)]
    provider_characteristics: Option<Type>,
    #[darling(default, with = crate::common::opt_type)]
    client_dispatch: Option<Type>,
    #[darling(default, with = crate::common::opt_type)]
    provider_dispatch: Option<Type>,
    #[darling(default, with = crate::common::opt_u16)]
    registration_version: Option<u16>,
    /// The NPI's name in its C header's name and guard (default: the struct's, lowercase).
    #[darling(default, with = crate::common::c::c_ident)]
    c_name: Option<String>,
    /// The C name of the NPI id's constant (default: `NPI_<NAME>_ID`).
    #[darling(default, with = crate::common::c::c_ident)]
    c_id: Option<String>,
}

/// The arguments read leniently, for a stand-in impl when only the id is wrong or missing.
#[derive(FromMeta)]
struct LenientArgs {
    #[allow(dead_code)] // read only to accept the key
    id: Option<syn::Expr>,
    #[darling(default, with = crate::common::opt_type)]
    client_characteristics: Option<Type>,
    #[darling(default, with = crate::common::opt_type)]
    provider_characteristics: Option<Type>,
    #[darling(default, with = crate::common::opt_type)]
    client_dispatch: Option<Type>,
    #[darling(default, with = crate::common::opt_type)]
    provider_dispatch: Option<Type>,
    #[darling(default, with = crate::common::opt_u16)]
    registration_version: Option<u16>,
    /// The NPI's name in its C header's name and guard (default: the struct's, lowercase).
    #[darling(default, with = crate::common::c::c_ident)]
    c_name: Option<String>,
    /// The C name of the NPI id's constant (default: `NPI_<NAME>_ID`).
    #[darling(default, with = crate::common::c::c_ident)]
    c_id: Option<String>,
}

pub(crate) fn expand(args: TokenStream, item: TokenStream) -> TokenStream {
    match try_expand(args.clone(), item.clone()) {
        Ok(out) => out,
        Err(e) => match stub(args, item.clone()) {
            // The errors, plus a stand-in impl, so code that uses the NPI does not add a
            // cascade of "not an NPI" errors to the one mistake.
            Some(stub) => {
                let errors = e.write_errors();
                quote!(#errors #stub)
            }
            None => fallback(item, e),
        },
    }
}

fn stub(args: TokenStream, item: TokenStream) -> Option<TokenStream> {
    let parsed = parse_item(item.clone()).ok()?;
    let list = NestedMeta::parse_meta_list(args).ok()?;
    let lenient = LenientArgs::from_list(&list).ok()?;
    let args = NpiArgs {
        id: Some(GuidLit { value: 0 }),
        client_characteristics: lenient.client_characteristics,
        provider_characteristics: lenient.provider_characteristics,
        client_dispatch: lenient.client_dispatch,
        provider_dispatch: lenient.provider_dispatch,
        registration_version: lenient.registration_version,
        c_name: lenient.c_name,
        c_id: lenient.c_id,
    };
    Some(gen_npi_impl(&args, &parsed, item))
}

fn try_expand(args: TokenStream, item: TokenStream) -> darling::Result<TokenStream> {
    let mut errors = darling::Error::accumulator();
    let args = errors.handle(
        NestedMeta::parse_meta_list(args).map_err(darling::Error::from).and_then(|list| {
            check_keys(&list, "npi", NpiArgs::KEYS)?;
            NpiArgs::from_list(&list)
        }),
    );
    let parsed = errors.handle(parse_item(item.clone()));
    if let Some(a) = &args
        && a.id.is_none()
    {
        errors.push(darling::Error::custom(
            "missing `id = \"...\"`: the NPI's GUID in registry form, e.g. \
             `#[npi(id = \"2227E803-8D8B-11D4-ABAD-009027719E09\")]`",
        ));
    }
    let out = match (&args, &parsed) {
        (Some(args), Some(parsed)) => gen_npi_impl(args, parsed, item),
        // `handle` recorded why one of them could not be read: `finish` returns that error.
        _ => item,
    };
    errors.finish_with(out)
}

/// The NPI is named by a unit struct without generics: `pub struct Wsk;`.
fn parse_item(item: TokenStream) -> darling::Result<ItemStruct> {
    const HINT: &str = "`#[npi]` goes on a unit struct that names the NPI, e.g. `pub struct Wsk;`";
    let item: Item = syn::parse2(item)?;
    let s = match item {
        Item::Struct(s) => s,
        other => return Err(darling::Error::custom(HINT).with_span(&item_keyword(&other))),
    };
    let mut errors = darling::Error::accumulator();
    if !s.generics.params.is_empty() {
        errors.push(
            darling::Error::custom("an NPI is one interface with one id: it cannot be generic")
                .with_span(&s.generics),
        );
    }
    if !matches!(s.fields, Fields::Unit) {
        errors.push(
            darling::Error::custom(format!(
                "{HINT}; its characteristics and dispatch tables are separate types named in \
                 the attribute"
            ))
            .with_span(&s.fields),
        );
    }
    errors.finish_with(s)
}

/// The token that says what kind of item this is (`enum`, `fn`, …), for errors: the first
/// token after the attributes and the visibility.
pub(crate) fn item_keyword(item: &Item) -> TokenStream {
    use proc_macro2::{Delimiter, TokenTree};
    let mut tokens = quote::ToTokens::to_token_stream(item).into_iter().peekable();
    loop {
        match tokens.next() {
            // `#[...]` (doc comments included)
            Some(TokenTree::Punct(p)) if p.as_char() == '#' => {
                tokens.next();
            }
            // `pub`, `pub(crate)`, …
            Some(TokenTree::Ident(i)) if i == "pub" => {
                if matches!(tokens.peek(), Some(TokenTree::Group(g)) if g.delimiter() == Delimiter::Parenthesis)
                {
                    tokens.next();
                }
            }
            Some(t) => return TokenStream::from(t),
            None => return quote_spanned!(item.span()=> item),
        }
    }
}

/// The struct as the user wrote it (`item`), and `unsafe impl Npi` for it.
fn gen_npi_impl(args: &NpiArgs, parsed: &ItemStruct, item: TokenStream) -> TokenStream {
    let ident = &parsed.ident;
    let name = string_literal(&ident.to_string());
    let id =
        args.id.as_ref().map_or_else(|| format!("{RT}::GUID::from_u128(0)"), GuidLit::expr_text);
    // The user's own tokens, so a type that is not NPI data or not a dispatch table is
    // reported at the type the user wrote. `()` stands for "none".
    let ty = |t: &Option<Type>| t.as_ref().map_or_else(|| quote!(()), |t| quote!(#t));
    let version = args
        .registration_version
        .map(|v| format!("const REGISTRATION_VERSION: {RT}::u16 = {v}u16;"));
    let c_name = args.c_name.clone().unwrap_or_else(|| ident.to_string().to_lowercase());
    let c_id =
        args.c_id.clone().unwrap_or_else(|| format!("NPI_{}_ID", screaming(&ident.to_string())));
    let mut out = Out::default();
    out.tokens(item);
    // SAFETY (of the generated impl): each associated type is checked to implement `NpiData`
    // or `DispatchTable`, whose own safety contracts fix the layouts the peer reads.
    tpl!(
        out,
        r"
        #[automatically_derived]
        unsafe impl $rt::Npi for $ident {
            const ID: $rt::GUID = $id;
            const NAME: &'static $rt::str = $name;
            const C_NAME: &'static $rt::str = $c_name;
            const C_ID: &'static $rt::str = $c_id;
            $version
            type ClientCharacteristics = $cc;
            type ProviderCharacteristics = $pc;
            type ClientDispatch = $cd;
            type ProviderDispatch = $pd;
        }",
        ident = ident,
        id = Text(&id),
        name = Text(&name),
        version = Text(version.as_deref().unwrap_or_default()),
        c_name = Text(&string_literal(&c_name)),
        c_id = Text(&string_literal(&c_id)),
        cc = &ty(&args.client_characteristics),
        pc = &ty(&args.provider_characteristics),
        cd = &ty(&args.client_dispatch),
        pd = &ty(&args.provider_dispatch),
    );
    out.finish()
}
