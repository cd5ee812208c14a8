//! `#[npi_client(...)]` and `#[npi_provider(...)]`: one implementation, two roles.
//!
//! Parse (`ModuleArgs`, the struct) → validate (module id given exactly once; the struct can be
//! a `'static` registration context) → expand (one `unsafe impl ClientModule`/`ProviderModule`
//! whose characteristics are a `static` built by the runtime's generic code).

use darling::ast::NestedMeta;
use darling::util::Flag;
use darling::{Error, FromMeta};
use proc_macro2::TokenStream;
use quote::{format_ident, quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{GenericParam, Item, ItemStruct, Path};

use crate::common::guid::GuidLit;
use crate::common::tpl::{Out, RT, Text, tpl};
use crate::common::{check_keys, fallback};
use crate::npi_def::item_keyword;

/// Which macro is expanding.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Role {
    Client,
    Provider,
}

impl Role {
    /// The side's name, from which the runtime's names for it follow: `ClientKind`,
    /// `ClientModule`, `AsClient`, `ClientVTableCharacteristics` (and `Provider…`).
    fn name(self) -> &'static str {
        match self {
            Role::Client => "Client",
            Role::Provider => "Provider",
        }
    }

    fn noun(self) -> &'static str {
        match self {
            Role::Client => "client",
            Role::Provider => "provider",
        }
    }

    fn attr(self) -> &'static str {
        match self {
            Role::Client => "npi_client",
            Role::Provider => "npi_provider",
        }
    }
}

impl ModuleArgs {
    const KEYS: &[&str] = &[
        "npi",
        "module_id",
        "dynamic_module_id",
        "number",
        "version",
        "characteristics",
        DUAL_ROLE,
    ];
}

/// Added by the first of a struct's two role attributes to the other, so that neither
/// implements `SoleRole`. Not for users (`check_keys` does not list it).
const DUAL_ROLE: &str = "__dual_role";

/// The attribute's arguments.
#[derive(FromMeta)]
struct ModuleArgs {
    /// The NPI type (declared with `#[npi]`).
    #[darling(default, with = crate::common::opt_npi_path)]
    npi: Option<Path>,
    /// The module id, known at compile time.
    module_id: Option<GuidLit>,
    /// The module id is supplied per registration (`RegistrationBuilder::module_guid`).
    #[darling(default, with = crate::common::flag)]
    dynamic_module_id: Flag,
    /// The registration instance's `Number`.
    #[darling(default, with = crate::common::opt_u32)]
    number: Option<u32>,
    /// The registration instance's `Version`, if not the NPI's.
    #[darling(default, with = crate::common::opt_u16)]
    version: Option<u16>,
    /// A `static` holding this side's NPI-specific characteristics.
    #[darling(default, with = crate::common::opt_static_path)]
    characteristics: Option<Path>,
    /// See [`DUAL_ROLE`].
    #[darling(default, rename = "__dual_role")]
    dual_role: Flag,
}

pub(crate) fn expand(role: Role, args: TokenStream, item: TokenStream) -> TokenStream {
    match try_expand(role, args.clone(), item.clone()) {
        Ok(out) => out,
        Err(e) => match stub(role, args, item.clone()) {
            // The errors, plus a stand-in impl, so the user's `impl Client` does not add a
            // cascade of "not an NPI client module" errors to the one mistake.
            Some(stub) => {
                let errors = e.write_errors();
                quote!(#errors #stub)
            }
            None => fallback(item, e),
        },
    }
}

/// The item with a module impl built from defaults, when the struct and the `npi` path could
/// be read despite the errors.
fn stub(role: Role, args: TokenStream, item: TokenStream) -> Option<TokenStream> {
    let parsed = parse_item(role, item.clone()).ok()?;
    let list = NestedMeta::parse_meta_list(args).ok()?;
    let dual = list
        .iter()
        .any(|m| matches!(m, NestedMeta::Meta(syn::Meta::Path(p)) if p.is_ident(DUAL_ROLE)));
    // Without a readable `npi`, the stand-in serves a placeholder NPI with no types.
    let npi = list.into_iter().find_map(|m| match m {
        NestedMeta::Meta(syn::Meta::NameValue(nv)) if nv.path.is_ident("npi") => {
            Path::from_expr(&nv.value).ok()
        }
        _ => None,
    });
    let args = ModuleArgs {
        npi,
        module_id: None,
        dynamic_module_id: Flag::present(),
        number: None,
        version: None,
        characteristics: None,
        dual_role: Flag::default(),
    };
    // Checked again for the stand-in (its errors are in the ones already reported), so that a
    // table impl that leaves out its side still finds it.
    let mut ignored = Error::accumulator();
    let (item, sole) = with_other_roles(role, &parsed, dual, item, &mut ignored);
    drop(ignored.finish());
    Some(gen_module_impl(role, &args, &parsed, item, sole))
}

fn try_expand(role: Role, args: TokenStream, item: TokenStream) -> darling::Result<TokenStream> {
    let mut errors = Error::accumulator();
    let args =
        errors.handle(NestedMeta::parse_meta_list(args).map_err(Error::from).and_then(|list| {
            check_keys(&list, role.attr(), ModuleArgs::KEYS)?;
            ModuleArgs::from_list(&list)
        }));
    let parsed = errors.handle(parse_item(role, item.clone()));
    if let Some(args) = &args {
        errors.handle(validate(role, args));
    }
    let out = match (&args, &parsed) {
        (Some(args), Some(parsed)) => {
            let dual = args.dual_role.is_present();
            let (item, sole) = with_other_roles(role, parsed, dual, item, &mut errors);
            gen_module_impl(role, args, parsed, item, sole)
        }
        // `handle` recorded why one of them could not be read: `finish` returns that error.
        _ => item,
    };
    errors.finish_with(out)
}

fn parse_item(role: Role, item: TokenStream) -> darling::Result<ItemStruct> {
    let what = match role {
        Role::Client => "client",
        Role::Provider => "provider",
    };
    let item: Item = syn::parse2(item)?;
    let s = match item {
        Item::Struct(s) => s,
        other => {
            return Err(Error::custom(format!(
                "`#[{}]` goes on the struct that is the {what}'s registration context",
                role.attr()
            ))
            .with_span(&item_keyword(&other)));
        }
    };
    let mut errors = Error::accumulator();
    for p in &s.generics.params {
        let e = match p {
            GenericParam::Lifetime(l) => Error::custom(format!(
                "the registration context must be `'static`: the NMR keeps it for as long as the \
                 {what} is registered, so it cannot borrow `{}`",
                l.lifetime
            )),
            _ => Error::custom(
                "a generic registration context is not supported: each registration needs one \
                 static set of characteristics; declare a concrete struct (or a newtype of one \
                 instantiation)",
            ),
        };
        errors.push(e.with_span(p));
    }
    if let Some(w) = &s.generics.where_clause {
        errors
            .push(Error::custom("a registration context cannot have a where clause").with_span(w));
    }
    errors.finish_with(s)
}

/// The struct as it is to be emitted, and whether this attribute is its only role (so it
/// implements `SoleRole`). The struct's module attributes still to expand are checked here:
/// one of the same role is an error at it, and is taken off (its expansion would conflict with
/// this one); one of the other role is told, through [`DUAL_ROLE`], that the struct has two
/// roles, as the later attribute cannot see the earlier one.
fn with_other_roles(
    role: Role,
    parsed: &ItemStruct,
    dual: bool,
    item: TokenStream,
    errors: &mut darling::error::Accumulator,
) -> (TokenStream, bool) {
    let kind = |a: &syn::Attribute| {
        let last = a.path().segments.last()?;
        [Role::Client, Role::Provider].into_iter().find(|r| last.ident == r.attr())
    };
    if !parsed.attrs.iter().any(|a| kind(a).is_some()) {
        return (item, !dual);
    }
    let mut s = parsed.clone();
    let mut other = false;
    s.attrs.retain_mut(|a| match kind(a) {
        Some(r) if r == role => {
            errors.push(
                Error::custom(format!(
                    "`#[{0}]` is on this struct twice: a struct is the registration context of \
                     one {1} module; declare another struct for a {1} of another NPI",
                    role.attr(),
                    role.noun(),
                ))
                .with_span(a.path()),
            );
            false
        }
        Some(_) => {
            other = true;
            mark_dual(a);
            true
        }
        None => true,
    });
    (quote!(#s), !dual && !other)
}

/// Adds [`DUAL_ROLE`] to the arguments of a role attribute.
fn mark_dual(attr: &mut syn::Attribute) {
    let flag = format_ident!("{DUAL_ROLE}");
    match &mut attr.meta {
        syn::Meta::List(list) => {
            let ends_with_comma = list.tokens.clone().into_iter().last().is_some_and(
                |t| matches!(t, proc_macro2::TokenTree::Punct(p) if p.as_char() == ','),
            );
            if list.tokens.is_empty() || ends_with_comma {
                list.tokens.extend(quote!(#flag));
            } else {
                list.tokens.extend(quote!(, #flag));
            }
        }
        syn::Meta::Path(path) => {
            let path = path.clone();
            attr.meta = syn::parse_quote!(#path(#flag));
        }
        // `#[npi_provider = ..]`: that attribute reports its own error.
        syn::Meta::NameValue(_) => {}
    }
}

fn validate(role: Role, args: &ModuleArgs) -> darling::Result<()> {
    if args.npi.is_none() {
        return Err(Error::custom(format!(
            "missing `npi = ...` in `#[{}]`: the NPI this module serves, a unit struct declared \
             with `#[npi(...)]`",
            role.attr()
        )));
    }
    match (&args.module_id, args.dynamic_module_id.is_present()) {
        (None, false) => Err(Error::custom(format!(
            "missing `module_id = \"...\"` in `#[{}]` (or `dynamic_module_id` when the id is \
             chosen at run time, per registration)",
            role.attr()
        ))),
        (Some(_), true) => Err(Error::custom(
            "`dynamic_module_id` and `module_id` exclude each other: the id is either fixed \
             here or supplied per registration",
        )
        .with_span(&args.dynamic_module_id.span())),
        _ => Ok(()),
    }
}

/// The struct as the user wrote it (`item`), and `unsafe impl ClientModule` (or
/// `ProviderModule`) for it.
fn gen_module_impl(
    role: Role,
    args: &ModuleArgs,
    parsed: &ItemStruct,
    item: TokenStream,
    sole: bool,
) -> TokenStream {
    let ident = &parsed.ident;
    // The user's path, so a path that is not an NPI is reported at it; without a readable
    // `npi` (a stand-in after an error), the placeholder NPI.
    let npi_ty = match &args.npi {
        Some(npi) => quote!(#npi),
        None => quote!(::npi_runtime::__private::NoNpi),
    };
    // What differs between the sides is the kind's (`Characteristics<Kind>`, …); the traits are
    // named per side because errors and the driver image's symbols name them.
    let side = role.name();
    let kind = format!("{side}Kind");
    let module_id = args
        .module_id
        .as_ref()
        .map_or_else(|| format!("{RT}::GUID::from_u128(0)"), GuidLit::expr_text);
    let number = format!("{}u32", args.number.unwrap_or(0));
    let version = match args.version {
        Some(v) => quote!(#v),
        None => quote!(<#npi_ty as ::npi_runtime::__private::Npi>::REGISTRATION_VERSION),
    };
    let characteristics = args.characteristics.as_ref().map_or_else(
        || quote!(::npi_runtime::__private::None),
        |p| {
            let span = p.span();
            let rt = crate::common::rt();
            let kind = format_ident!("{kind}");
            // A typed binding, so a static of another type is one plain "mismatched types"
            // at the path.
            quote_spanned!(span=> #rt::Some({
                let characteristics: &'static #rt::NpiCharacteristics<#rt::#kind, #npi_ty> = &#p;
                characteristics
            }))
        },
    );
    // At the struct's name, so a missing `impl Client` is reported there.
    let rt = crate::common::rt();
    let vtable_trait = format_ident!("{side}VTableCharacteristics");
    let vtable_const =
        quote_spanned!(ident.span()=> <#ident as #rt::#vtable_trait>::CHARACTERISTICS);
    let mut out = Out::default();
    out.tokens(item);
    // SAFETY (of the generated impl): the characteristics are the runtime's own for this type
    // (`VTable<Kind, Self>`), kept in an immutable static.
    tpl!(
        out,
        r"
        #[automatically_derived]
        unsafe impl $rt::$module_trait for $ident {
            type Npi = $npi;
            const MODULE_ID: $rt::NPI_MODULEID = $rt::NPI_MODULEID::from_guid($module_id);
            const DYNAMIC_MODULE_ID: $rt::bool = $dynamic;
            const NUMBER: $rt::u32 = $number;
            const REGISTRATION_VERSION: $rt::u16 = $version;
            const CHARACTERISTICS: $rt::Option<&'static $rt::NpiCharacteristics<$rt::$kind, $npi>> =
                $characteristics;
            fn characteristics() -> &'static $rt::Characteristics<$rt::$kind> {
                static CHARACTERISTICS: $rt::Static<$rt::Characteristics<$rt::$kind>> =
                    $rt::Static($vtable_const);
                &CHARACTERISTICS.0
            }
        }",
        module_trait = Text(&format!("{side}Module")),
        kind = Text(&kind),
        ident = ident,
        npi = &npi_ty,
        module_id = Text(&module_id),
        dynamic = Text(if args.dynamic_module_id.is_present() { "true" } else { "false" }),
        number = Text(&number),
        version = &version,
        characteristics = &characteristics,
        vtable_const = &vtable_const,
    );
    if sole {
        tpl!(
            out,
            r"
            #[automatically_derived]
            impl $rt::SoleRole for $ident {
                type Side = $rt::$side<$ident>;
            }",
            ident = ident,
            side = Text(&format!("As{side}")),
        );
    }
    out.finish()
}
