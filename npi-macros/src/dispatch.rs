//! `#[dispatch_table]`: a struct of functions becomes the `#[repr(C)]` table a C peer sees,
//! a trait the implementing side fills it from, and a typed view the other side calls through.
//!
//! Parse (`TableArgs`; the struct into `Member`s) → validate (each member's shape) → expand
//! (the table, `NpiData`/`DispatchTable` impls, `<Name>Impl`, `<Name>Calls`, shims).
//!
//! Errors are collected, not returned early: a mistake leaves a member (or the whole struct)
//! as far as it could be read, and the expansion is generated from that next to the errors, so
//! one mistake is one error, not a second one wherever the table is used.

use darling::ast::NestedMeta;
use darling::{Error, FromMeta};
use proc_macro2::{Span, TokenStream};
use quote::{format_ident, quote, quote_spanned};
use syn::{
    Attribute, Fields, Ident, Item, ItemStruct, LitStr, ReturnType, Type, TypeFnPtr, Visibility,
};

use crate::common::c;
use crate::common::check_keys;
use crate::common::tpl::{Out, RT, Text, string_literal, tpl};
use crate::npi_def::item_keyword;

#[derive(FromMeta)]
struct TableArgs {
    /// `"system"` (NTAPI, the default) or `"C"` (the compiler default; differs on x86).
    #[darling(default, with = abi_literal)]
    abi: Option<LitStr>,
    /// The table's name in the NPI's C header (default: the struct's name in SCREAMING_CASE).
    #[darling(default, with = c::c_ident)]
    c_name: Option<String>,
    /// What its function types' C names start with (default: `c_name` without `_DISPATCH`).
    #[darling(default, with = c::c_ident)]
    c_prefix: Option<String>,
}

/// One parameter of a table function.
struct Param {
    name: Ident,
    ty: Type,
    /// `name: ty`, made into tokens once: the table, the trait, the shim and the call method
    /// each repeat it.
    decl: TokenStream,
    /// `ty`, made into tokens once.
    ty_tokens: TokenStream,
}

/// One member of the table.
struct Member {
    /// The field's attributes (docs, `#[cfg]`), without `#[optional]`.
    attrs: Vec<Attribute>,
    vis: Visibility,
    name: Ident,
    kind: Kind,
    /// The `#[cfg]` attributes, made into tokens once.
    cfgs: TokenStream,
    /// The doc attributes, made into tokens once.
    docs: TokenStream,
}

enum Kind {
    /// Plain data (a header: version, size, reserved, …), copied as declared.
    Data(Box<Type>),
    /// A function pointer.
    Function(Function),
}

struct Function {
    /// The first parameter is the implementing side's binding context.
    context: bool,
    /// `#[optional]`: the entry may be NULL (`Option<fn>`); `Name::without_<member>()` clears it.
    optional: bool,
    /// The `<Name>Impl` method and the `<Name>Calls` method are `unsafe fn`: the member is
    /// declared `unsafe fn(..)`, or its signature (besides the `#[context]` parameter) spells a
    /// raw pointer or a function pointer (see [`spells_pointer`]). Decided here, once, from
    /// the tokens; a safe function's types are then checked to be plain by the type system.
    unsafety: bool,
    /// Read without a mistake: its types are checked to be plain (a member with a mistake
    /// already has its error, and its types may be stand-ins).
    checked: bool,
    params: Vec<Param>,
    output: ReturnType,
}

impl Function {
    /// The parameters besides the `#[context]` one: what a caller passes.
    fn own_params(&self) -> &[Param] {
        if self.context { &self.params[1..] } else { &self.params[..] }
    }
}

impl Member {
    fn new(attrs: Vec<Attribute>, vis: Visibility, name: Ident, kind: Kind) -> Self {
        let cfgs = attrs.iter().filter(|a| a.path().is_ident("cfg"));
        let docs = attrs.iter().filter(|a| a.path().is_ident("doc"));
        let (cfgs, docs) = (quote!(#(#cfgs)*), quote!(#(#docs)*));
        Member { attrs, vis, name, kind, cfgs, docs }
    }

    /// The member's `#[cfg]`s, repeated on everything generated for it, so a member that is
    /// compiled out (an OS-gated tail member) takes its trait fn, shim, accessor and
    /// constructor parameter with it.
    fn cfgs(&self) -> &TokenStream {
        &self.cfgs
    }

    fn docs(&self) -> &TokenStream {
        &self.docs
    }
}

/// Names the generated `<Name>Calls` type uses for itself; a member may not take them.
const RESERVED: &[&str] = &["as_table", "peer_context"];

/// The table, its trait, view and constructor; with the errors in front when something in the
/// struct or the arguments is wrong. A mistake inside a member still yields every generated
/// item (from the members as far as they could be read), so code that names `<Name>Impl`,
/// `<Name>Calls`, `Name::new` or the table in `#[npi]` adds no second error to the one reported.
/// Only an item that is not a struct, or a generic one, falls back to the item alone.
pub(crate) fn expand(args: TokenStream, item: TokenStream) -> TokenStream {
    let mut errors = Error::accumulator();
    let (abi, c_name, c_prefix) = errors
        .handle(
            NestedMeta::parse_meta_list(args)
                .map_err(Error::from)
                .and_then(|list| {
                    check_keys(&list, "dispatch_table", &["abi", "c_name", "c_prefix"])?;
                    TableArgs::from_list(&list)
                })
                .and_then(|a| {
                    let abi = parse_abi(a.abi.as_ref())?;
                    Ok((abi, a.c_name, a.c_prefix))
                }),
        )
        .unwrap_or_else(|| (LitStr::new("system", Span::call_site()), None, None));
    let table = parse_table(item.clone(), &mut errors);
    let errors = errors.finish().err().map(|e| e.write_errors()).unwrap_or_default();
    match table {
        Some((item, members)) => {
            let c_name = c_name.unwrap_or_else(|| c::screaming(&item.ident.to_string()));
            let c_prefix = c_prefix
                .unwrap_or_else(|| c_name.strip_suffix("_DISPATCH").unwrap_or(&c_name).to_owned());
            let out = gen_all(&item, &members, &abi, &c_name, &c_prefix);
            quote!(#errors #out)
        }
        None => {
            let item = without_param_attrs(item);
            quote!(#errors #item)
        }
    }
}

/// The user's item with what only this macro understands taken out of its `fn` members
/// (`#[context]` and other parameter attributes, `...`), so the fallback does not add "cannot
/// find attribute `context`" or "C-variadic function" errors to the one already reported.
fn without_param_attrs(item: TokenStream) -> TokenStream {
    let Ok(mut s) = syn::parse2::<ItemStruct>(item.clone()) else { return item };
    for f in &mut s.fields {
        f.attrs.retain(|a| !a.path().is_ident("optional"));
        if let Type::FnPtr(func) = &mut f.ty {
            func.variadic = None;
            for arg in &mut func.inputs {
                arg.attrs.clear();
            }
        }
    }
    quote!(#s)
}

fn abi_literal(meta: &syn::Meta) -> darling::Result<Option<LitStr>> {
    let msg = "`abi` is a string: `abi = \"system\"` (the default) or `abi = \"C\"`";
    match meta {
        syn::Meta::NameValue(syn::MetaNameValue {
            value: syn::Expr::Lit(syn::ExprLit { lit: syn::Lit::Str(s), .. }),
            ..
        }) => Ok(Some(s.clone())),
        syn::Meta::NameValue(nv) => Err(Error::custom(msg).with_span(&nv.value)),
        other => Err(Error::custom(msg).with_span(other)),
    }
}

fn parse_abi(abi: Option<&LitStr>) -> darling::Result<LitStr> {
    match abi {
        None => Ok(LitStr::new("system", Span::call_site())),
        Some(l) if l.value() == "system" || l.value() == "C" => Ok(l.clone()),
        Some(l) => Err(Error::custom(
            "`abi` is \"system\" (NTAPI, WSKAPI: __stdcall on x86) or \"C\" (the compiler \
             default: __cdecl on x86)",
        )
        .with_span(l)),
    }
}

/// The struct and its members, each error pushed to `errors`. A struct of the wrong shape (no
/// named fields) is read as a table without members, a member with a mistake as far as it can
/// be read, so the expansion can still be generated; `None` only for an item that is not a
/// struct, or a generic struct.
fn parse_table(
    item: TokenStream,
    errors: &mut darling::error::Accumulator,
) -> Option<(ItemStruct, Vec<Member>)> {
    let item: Item = errors.handle(syn::parse2(item).map_err(Error::from))?;
    let s = match item {
        Item::Struct(s) => s,
        other => {
            errors.push(
                Error::custom(
                    "`#[dispatch_table]` goes on a struct whose fields are the table's members, \
                     e.g. `pub struct Dispatch { pub version: u16, pub open: fn(u32) -> i32 }`",
                )
                .with_span(&item_keyword(&other)),
            );
            return None;
        }
    };
    if !s.generics.params.is_empty() {
        errors.push(
            Error::custom("a dispatch table has one C layout: it cannot be generic")
                .with_span(&s.generics),
        );
        return None;
    }
    let fields = match &s.fields {
        Fields::Named(f) if !f.named.is_empty() => &f.named,
        Fields::Named(f) => {
            errors.push(
                Error::custom(
                    "a dispatch table needs at least one member (C has no empty structs)",
                )
                .with_span(f),
            );
            return Some((s, Vec::new()));
        }
        Fields::Unit => {
            errors.push(
                Error::custom(
                    "a dispatch table is a struct with named fields, one per member (for no \
                     table at all, leave the dispatch out of `#[npi]`: it is then `()`, NULL)",
                )
                .with_span(&s.ident),
            );
            return Some((s, Vec::new()));
        }
        Fields::Unnamed(other) => {
            errors.push(
                Error::custom("a dispatch table is a struct with named fields, one per member")
                    .with_span(other),
            );
            return Some((s, Vec::new()));
        }
    };
    let mut members = Vec::new();
    for f in fields {
        let Some(name) = f.ident.clone() else { continue };
        let reserved = RESERVED.contains(&name.to_string().as_str());
        if reserved {
            errors.push(
                Error::custom(format!(
                    "`{name}` is the name of an accessor the generated view needs; rename the \
                     member (the C layout only cares about its position)"
                ))
                .with_span(&name),
            );
        }
        let optional_attr = f.attrs.iter().find(|a| a.path().is_ident("optional"));
        let attrs: Vec<Attribute> =
            f.attrs.iter().filter(|a| !a.path().is_ident("optional")).cloned().collect();
        let vis = f.vis.clone();
        match &f.ty {
            Type::FnPtr(func) => {
                let mut function = parse_function(func, errors);
                function.optional = optional_attr.is_some();
                function.checked &= !reserved;
                members.push(Member::new(attrs, vis, name, Kind::Function(function)));
            }
            ty => {
                if let Some(a) = optional_attr {
                    errors.push(
                        Error::custom("`#[optional]` marks a function member that may be NULL")
                            .with_span(a.path()),
                    );
                }
                members.push(Member::new(attrs, vis, name, Kind::Data(Box::new(ty.clone()))));
            }
        }
    }
    Some((s, members))
}

/// Reads one `fn(...)` member (not yet `optional`), each mistake pushed to `errors` and left
/// out of the result: an `extern`, `for<..>` or `...` is ignored, a misplaced `#[context]` is an
/// ordinary parameter.
fn parse_function(func: &TypeFnPtr, outer: &mut darling::error::Accumulator) -> Function {
    let mut errors = Error::accumulator();
    if let Some(abi) = &func.abi {
        errors.push(
            Error::custom(
                "leave out `extern \"...\"`: every function of the table uses the calling \
                 convention of `#[dispatch_table(abi = ...)]`",
            )
            .with_span(abi),
        );
    }
    if let Some(l) = &func.lifetimes {
        errors.push(
            Error::custom("table functions cannot be higher-ranked (`for<'a>`)").with_span(l),
        );
    }
    if let Some(v) = &func.variadic {
        errors
            .push(Error::custom("a variadic function cannot be implemented in Rust").with_span(v));
    }
    let mut context = false;
    let mut params = Vec::new();
    for (i, arg) in func.inputs.iter().enumerate() {
        for a in &arg.attrs {
            if a.path().is_ident("context") {
                if i != 0 {
                    errors.push(
                        Error::custom(
                            "`#[context]` marks the first parameter only: the binding context \
                             the NPI passes first",
                        )
                        .with_span(a.path()),
                    );
                } else {
                    if !is_mut_c_void_ptr(&arg.ty) {
                        errors.push(
                            Error::custom(
                                "the `#[context]` parameter is the binding context: declare it \
                                 as `*mut c_void`",
                            )
                            .with_span(&arg.ty),
                        );
                    }
                    context = true;
                }
            } else {
                errors.push(
                    Error::custom("only `#[context]` is allowed on a table function's parameter")
                        .with_span(a.path()),
                );
            }
        }
        let name = arg.name.as_ref().map_or_else(|| format_ident!("arg{}", i), |(n, _)| n.clone());
        // The binding context is `*mut c_void` whatever was written (a wrong type is reported
        // above), so the shim that reads it adds no error of its own.
        let mut ty = if i == 0 && context && !is_mut_c_void_ptr(&arg.ty) {
            match &arg.ty {
                // `*const c_void`: the user's `c_void`, so its import stays used.
                Type::Ptr(p) if is_c_void(&p.elem) => {
                    let elem = &p.elem;
                    syn::parse_quote!(*mut #elem)
                }
                _ => syn::parse_quote!(*mut ::npi_runtime::__private::c_void),
            }
        } else {
            arg.ty.clone()
        };
        // `for<'a>` is reported above; without its binder, `'a` would be undeclared.
        if func.lifetimes.is_some() {
            erase_lifetimes(&mut ty);
        }
        let ty_tokens = quote!(#ty);
        let decl = quote!(#name: #ty_tokens);
        params.push(Param { name, ty, decl, ty_tokens });
    }
    let own = if context { &params[1..] } else { &params[..] };
    let unsafety = func.unsafety.is_some()
        || own.iter().any(|p| spells_pointer(&p.ty))
        || matches!(&func.output, ReturnType::Type(_, t) if spells_pointer(t));
    let mut output = func.output.clone();
    if let (Some(_), ReturnType::Type(_, t)) = (&func.lifetimes, &mut output) {
        erase_lifetimes(t);
    }
    let checked = match errors.finish() {
        Ok(()) => true,
        Err(e) => {
            outer.push(e);
            false
        }
    };
    Function { context, optional: false, unsafety, checked, params, output }
}

/// Every lifetime in `ty` made `'static`: the stand-in for a `for<'a>` function's types.
fn erase_lifetimes(ty: &mut Type) {
    let fresh = || syn::Lifetime::new("'static", Span::call_site());
    match ty {
        Type::Reference(r) => {
            r.lifetime = Some(fresh());
            erase_lifetimes(&mut r.elem);
        }
        Type::Ptr(p) => erase_lifetimes(&mut p.elem),
        Type::Array(a) => erase_lifetimes(&mut a.elem),
        Type::Slice(s) => erase_lifetimes(&mut s.elem),
        Type::Paren(p) => erase_lifetimes(&mut p.elem),
        Type::Group(g) => erase_lifetimes(&mut g.elem),
        Type::Tuple(t) => t.elems.iter_mut().for_each(erase_lifetimes),
        Type::Path(p) => {
            for seg in &mut p.path.segments {
                if let syn::PathArguments::AngleBracketed(a) = &mut seg.arguments {
                    for arg in &mut a.args {
                        match arg {
                            syn::GenericArgument::Lifetime(l) => *l = fresh(),
                            syn::GenericArgument::Type(t) => erase_lifetimes(t),
                            _ => {}
                        }
                    }
                }
            }
        }
        _ => {}
    }
}

fn is_mut_c_void_ptr(ty: &Type) -> bool {
    match ty {
        Type::Ptr(p) => {
            matches!(p.mutability, syn::PointerMutability::Mut(_)) && is_c_void(&p.elem)
        }
        _ => false,
    }
}

fn is_c_void(ty: &Type) -> bool {
    matches!(ty, Type::Path(tp) if tp.path.segments.last().is_some_and(|s| s.ident == "c_void"))
}

/// The type, as written, contains a raw pointer (`*const T`, `*mut T`) or a function pointer
/// (`fn(..)`), anywhere: behind a reference, in an array, a tuple or a generic argument
/// (`Option<unsafe extern "C" fn()>`). Such a function is `unsafe`. A pointer hidden behind a
/// name (`HANDLE`, `PVOID`) is not seen here; the `Plain` check of safe functions rejects it.
fn spells_pointer(ty: &Type) -> bool {
    match ty {
        Type::Ptr(_) | Type::FnPtr(_) => true,
        Type::Reference(r) => spells_pointer(&r.elem),
        Type::Array(a) => spells_pointer(&a.elem),
        Type::Slice(s) => spells_pointer(&s.elem),
        Type::Paren(p) => spells_pointer(&p.elem),
        Type::Group(g) => spells_pointer(&g.elem),
        Type::Tuple(t) => t.elems.iter().any(spells_pointer),
        Type::Path(p) => {
            p.qself.as_ref().is_some_and(|q| spells_pointer(&q.ty))
                || p.path.segments.iter().any(|s| match &s.arguments {
                    syn::PathArguments::AngleBracketed(a) => a.args.iter().any(
                        |arg| matches!(arg, syn::GenericArgument::Type(t) if spells_pointer(t)),
                    ),
                    syn::PathArguments::Parenthesized(_) | syn::PathArguments::None => false,
                })
        }
        _ => false,
    }
}

fn upper(name: &Ident) -> Ident {
    format_ident!(
        "END_OF_{}",
        name.to_string().trim_start_matches("r#").to_uppercase(),
        span = name.span()
    )
}

/// The name without `r#`, for the names generated from it.
fn unraw(name: &Ident) -> String {
    let name = name.to_string();
    match name.strip_prefix("r#") {
        Some(rest) => rest.to_owned(),
        None => name,
    }
}

/// The names generated from the table's: `<Name>Impl`, `<Name>Calls`.
struct Names {
    imp: String,
    calls: String,
}

fn gen_all(
    item: &ItemStruct,
    members: &[Member],
    abi: &LitStr,
    c_name: &str,
    c_prefix: &str,
) -> TokenStream {
    let base = unraw(&item.ident);
    let names = Names { imp: format!("{base}Impl"), calls: format!("{base}Calls") };
    // Each member's field type: the table and its `END_OF_` constant use it.
    let types: Vec<TokenStream> = members
        .iter()
        .map(|m| match &m.kind {
            Kind::Data(ty) => quote!(#ty),
            Kind::Function(f) => fn_type(abi, f),
        })
        .collect();
    let mut out = Out::default();
    gen_table(&mut out, item, members, &types);
    gen_data_impls(&mut out, item, &names);
    gen_impl_trait(&mut out, item, members, &names);
    gen_constructor(&mut out, item, members, abi, &types, &names);
    gen_calls(&mut out, item, members, &names);
    gen_c(&mut out, item, members, abi, c_name, c_prefix);
    out.finish()
}

/// The table as the NPI's C header declares it: a function type per function member
/// (`<PREFIX>_<MEMBER>`, the member a pointer to it), the struct with WDK-style member names,
/// `<TABLE>_END_OF_<MEMBER>` sizes, and the asserts tying it to the Rust layout.
fn gen_c(
    out: &mut Out,
    item: &ItemStruct,
    members: &[Member],
    abi: &LitStr,
    c_name: &str,
    c_prefix: &str,
) {
    let descs: Vec<c::CMemberDesc<'_>> = members
        .iter()
        .map(|m| {
            let field = unraw(&m.name);
            let name = c::pascal(&field);
            let end_of = format!("{c_name}_END_OF_{}", field.to_uppercase());
            let (ty, function) = match &m.kind {
                Kind::Data(ty) => (c::type_ref(ty), quote!(::npi_runtime::__private::None)),
                // A member read with a mistake has its error already: its types may be
                // stand-ins, so it is described without them (no second error).
                Kind::Function(f) if !f.checked => (
                    quote!(::npi_runtime::__private::CTypeRef::FUNCTION),
                    quote!(::npi_runtime::__private::None),
                ),
                Kind::Function(f) => {
                    let typedef = format!("{c_prefix}_{}", field.to_uppercase());
                    let system = abi.value() == "system";
                    let ret = match &f.output {
                        ReturnType::Default => quote!(::npi_runtime::__private::None),
                        ReturnType::Type(_, ty) => {
                            let r = c::type_ref(ty);
                            quote!(::npi_runtime::__private::Some(#r))
                        }
                    };
                    let params = f.params.iter().map(|p| {
                        let pname = c::pascal(&unraw(&p.name));
                        let r = c::type_ref(&p.ty);
                        quote!((#pname, #r))
                    });
                    let function = quote!(::npi_runtime::__private::Some(
                        ::npi_runtime::__private::CFunction {
                            typedef: #typedef,
                            system: #system,
                            ret: #ret,
                            params: &[#(#params),*],
                        }
                    ));
                    (quote!(::npi_runtime::__private::CTypeRef::FUNCTION), function)
                }
            };
            let value = quote!(::npi_runtime::__private::CMember {
                name: #name,
                ty: #ty,
                function: #function,
                end_of: ::npi_runtime::__private::Some(#end_of),
            });
            c::CMemberDesc { field: &m.name, cfgs: m.cfgs(), value }
        })
        .collect();
    c::gen_struct(out, &item.ident, c_name, &descs);
}

/// The table's field type for a function member: `unsafe extern ABI fn(..)`, in an `Option`
/// when the member may be NULL.
fn fn_type(abi: &LitStr, f: &Function) -> TokenStream {
    let tys = f.params.iter().map(|p| &p.decl);
    let output = &f.output;
    let ptr = quote!(unsafe extern #abi fn(#(#tys),*) #output);
    if f.optional { quote!(::npi_runtime::__private::Option<#ptr>) } else { ptr }
}

/// The `#[repr(C)]` table with `unsafe extern` function pointers.
fn gen_table(out: &mut Out, item: &ItemStruct, members: &[Member], types: &[TokenStream]) {
    let attrs = &item.attrs;
    tpl!(
        out,
        "$attrs #[repr(C)] #[derive($rt::Clone, $rt::Copy)] $vis struct $ident {",
        attrs = &quote!(#(#attrs)*),
        vis = &item.vis,
        ident = &item.ident,
    );
    for (m, ty) in members.iter().zip(types) {
        let (attrs, vis, name) = (&m.attrs, &m.vis, &m.name);
        out.tokens(quote!(#(#attrs)* #vis #name: #ty,));
    }
    out.push("}", &[]);
}

/// `NpiData` and `DispatchTable` for the table.
fn gen_data_impls(out: &mut Out, item: &ItemStruct, names: &Names) {
    tpl!(
        out,
        r"
        #[automatically_derived]
        // SAFETY: `#[repr(C)]`, built only from `'static` function pointers and plain data.
        unsafe impl $rt::NpiData for $ident {}

        #[automatically_derived]
        // SAFETY: the view only wraps the peer's table and context, is neither `Copy` nor
        // `Clone`, and lends nothing beyond a borrow of itself.
        unsafe impl $rt::DispatchTable for $ident {
            type Calls<'a> = $calls<'a>;
            fn calls(peer: $rt::Peer<'_, Self>) -> $rt::Option<$calls<'_>> {
                match peer.into_table() {
                    $rt::Some(table) => $rt::Some($calls(table)),
                    $rt::None => $rt::None,
                }
            }
        }",
        ident = &item.ident,
        calls = Text(&names.calls),
    );
}

/// `<Name>Impl`: what the implementing side writes, in safe Rust.
fn gen_impl_trait(out: &mut Out, item: &ItemStruct, members: &[Member], names: &Names) {
    if !members.iter().any(|m| matches!(m.kind, Kind::Function(_))) {
        return;
    }
    // The trait is generic over the side whose binding the `#[context]` functions receive, and
    // `new::<T>()` builds a table only that side may offer, so the shims can rely on the
    // binding context they receive. The side defaults to the module's one role.
    let doc = string_literal(&format!(
        "The functions of [`{}`], implemented in safe Rust by the module that offers the \
         table.\n\n`Side` is the module role whose binding the `#[context]` functions receive. \
         A module with one role (a client or a provider) leaves it out: \
         `impl {imp} for MyProvider`. A module with both names it: \
         `impl {imp}<AsProvider<MyModule>> for MyModule`, and builds the table with \
         `{}::new_for::<AsProvider<MyModule>>(..)`.",
        item.ident,
        item.ident,
        imp = names.imp,
    ));
    tpl!(
        out,
        r"
        #[doc = $doc]
        #[allow(clippy::too_many_arguments)] // as many as the C function has
        $vis trait $imp<Side: $rt::Side = <Self as $rt::SoleRole>::Side>: 'static {",
        doc = Text(&doc),
        vis = &item.vis,
        imp = Text(&names.imp),
    );
    for m in members {
        let Kind::Function(f) = &m.kind else { continue };
        let (docs, cfgs, name, output) = (m.docs(), m.cfgs(), &m.name, &f.output);
        let binding = quote!(&::npi_runtime::__private::Binding<'_, Side>);
        let args = f.params.iter().enumerate().map(|(i, p)| {
            let n = &p.name;
            if i == 0 && f.context { quote!(#n: #binding) } else { p.decl.clone() }
        });
        // Spanned at the member, so a mismatched impl is shown the member it implements (and a
        // crate that forbids `unsafe_code` is shown the member that makes an `unsafe fn`).
        let span = name.span();
        out.tokens(if f.unsafety {
            quote_spanned! {span=>
                #docs
                ///
                /// # Safety
                /// The peer passes the arguments as the NPI specifies: pointers are valid
                /// for the use the NPI describes, for the duration of the call.
                #cfgs
                unsafe fn #name(#(#args),*) #output;
            }
        } else {
            quote_spanned!(span=> #docs #cfgs fn #name(#(#args),*) #output;)
        });
    }
    out.push("}", &[]);
}

/// `Name::new::<T>(data members...)`, `without_<optional member>()`, `END_OF_<MEMBER>` and the
/// shims the table points at.
fn gen_constructor(
    out: &mut Out,
    item: &ItemStruct,
    members: &[Member],
    abi: &LitStr,
    types: &[TokenStream],
    names: &Names,
) {
    let vis = &item.vis;
    let has_fns = members.iter().any(|m| matches!(m.kind, Kind::Function(_)));
    let data_params = members.iter().zip(types).filter_map(|(m, ty)| {
        let Kind::Data(_) = &m.kind else { return None };
        let (cfgs, name) = (m.cfgs(), &m.name);
        Some(quote!(#cfgs #name: #ty))
    });
    let data_params = quote!(#(#data_params),*);
    tpl!(
        out,
        r"
        #[allow(clippy::too_many_arguments)] // as many as the C functions have
        impl $ident {",
        ident = &item.ident,
    );
    let imp = &names.imp;
    let ctors = if has_fns {
        vec![
            Ctor {
                name: "new",
                generics: "<T>".to_owned(),
                bounds: format!(
                    "where T: {RT}::SoleRole + {imp}<<T as {RT}::SoleRole>::Side>, \
                     <T as {RT}::SoleRole>::Side: {RT}::Side"
                ),
                side: format!("<T as {RT}::SoleRole>::Side"),
                shim: format!("<<T as {RT}::SoleRole>::Side, T>"),
                doc: format!(
                    "A table whose functions call `T`'s `{imp}`, for `T`'s one role (client \
                     or provider) to offer; the data members (header) in declaration order. A module with both roles uses \
                     [`new_for`](Self::new_for)."
                ),
            },
            Ctor {
                name: "new_for",
                generics: "<S>".to_owned(),
                bounds: format!("where S: {RT}::Side, <S as {RT}::Side>::Module: {imp}<S>"),
                side: "S".to_owned(),
                shim: format!("<S, <S as {RT}::Side>::Module>"),
                doc: format!(
                    "A table for the side `S` to offer (`AsProvider<M>` or `AsClient<M>`), whose \
                     functions call `M`'s `{imp}<S>`: for a module with both roles; the data \
                     members (header) in declaration order."
                ),
            },
        ]
    } else {
        vec![Ctor {
            name: "new",
            generics: "<S>".to_owned(),
            bounds: String::new(),
            side: "S".to_owned(),
            shim: String::new(),
            doc: "The table, from its data members in declaration order, for the side `S` to \
                  request."
                .to_owned(),
        }]
    };
    for ctor in &ctors {
        gen_new(out, members, vis, &data_params, ctor);
    }
    for m in members {
        let Kind::Function(f) = &m.kind else { continue };
        if !f.optional {
            continue;
        }
        let (cfgs, name) = (m.cfgs(), &m.name);
        let doc = format!("The table with `{name}` left NULL (the NPI allows it).");
        tpl!(
            out,
            r"
            $cfgs
            #[doc = $doc]
            #[must_use]
            $vis const fn without_$field<S>(table: $rt::Table<S, Self>) -> $rt::Table<S, Self> {
                let raw = Self { $name: $rt::None, ..table.into_raw() };
                // SAFETY: the functions the table was built with, for the same side, one of
                // them now NULL.
                unsafe { $rt::Table::new_unchecked(raw) }
            }",
            cfgs = cfgs,
            doc = Text(&string_literal(&doc)),
            vis = vis,
            field = Text(&unraw(name)),
            name = name,
        );
    }
    for (m, ty) in members.iter().zip(types) {
        let (cfgs, name) = (m.cfgs(), &m.name);
        let doc = format!(
            "Bytes up to and including `{name}` (`RTL_SIZEOF_THROUGH_FIELD`): the size of the \
             table as it was when `{name}` was its last member."
        );
        tpl!(
            out,
            r"
            $cfgs
            #[doc = $doc]
            pub const $c: $rt::usize = $rt::offset_of!(Self, $name) + $rt::size_of::<$ty>();",
            cfgs = cfgs,
            doc = Text(&string_literal(&doc)),
            c = &upper(name),
            name = name,
            ty = ty,
        );
    }
    for m in members {
        if let Kind::Function(f) = &m.kind {
            gen_shim(out, item, m, f, abi, names);
        }
    }
    out.push("}", &[]);
}

/// One constructor of the table.
struct Ctor {
    name: &'static str,
    generics: String,
    bounds: String,
    /// The side the table is for.
    side: String,
    /// The shims' generic arguments: `<side, implementing type>`.
    shim: String,
    doc: String,
}

/// `const fn new..(data members) -> Table<side, Self>`: the table with the shims for one side.
fn gen_new(out: &mut Out, members: &[Member], vis: &Visibility, data: &TokenStream, ctor: &Ctor) {
    tpl!(
        out,
        r"
        #[doc = $doc]
        #[must_use]
        $vis const fn $name $generics ($data) -> $rt::Table<$side, Self> $bounds {
            // SAFETY: every function that receives a binding context is a shim instantiated
            // for the side this table is for, which reads the context as a binding of it.
            unsafe { $rt::Table::new_unchecked(Self {",
        doc = Text(&string_literal(&ctor.doc)),
        vis = vis,
        name = Text(ctor.name),
        generics = Text(&ctor.generics),
        data = data,
        side = Text(&ctor.side),
        bounds = Text(&ctor.bounds),
    );
    for m in members {
        let (cfgs, name) = (m.cfgs(), &m.name);
        match &m.kind {
            Kind::Data(_) => out.tokens(quote!(#cfgs #name,)),
            Kind::Function(f) => tpl!(
                out,
                if f.optional {
                    "$cfgs $name: $rt::Some(Self::__npi_$field::$shim),"
                } else {
                    "$cfgs $name: Self::__npi_$field::$shim,"
                },
                cfgs = &cfgs,
                name = name,
                field = Text(&unraw(name)),
                shim = Text(&ctor.shim),
            ),
        }
    }
    out.push("}) } }", &[]);
}

/// The `unsafe extern` function the table points at for one member: it calls `T`'s.
fn gen_shim(
    out: &mut Out,
    item: &ItemStruct,
    m: &Member,
    f: &Function,
    abi: &LitStr,
    names: &Names,
) {
    let (cfgs, name) = (m.cfgs(), &m.name);
    let label = string_literal(&format!("{}::{name}", item.ident));
    let decl = f.params.iter().map(|p| &p.decl);
    tpl!(
        out,
        r"
        $cfgs
        #[doc(hidden)]
        /// # Safety
        /// Called only through a table built for the side `S`, by the peer of a binding of
        /// `S`, with that binding's context (where the function takes one) and arguments as
        /// the NPI says.
        unsafe extern $abi fn __npi_$field<S: $rt::Side, T: $imp<S>>($decl) $output {",
        cfgs = cfgs,
        abi = abi,
        field = Text(&unraw(name)),
        imp = Text(&names.imp),
        decl = &quote!(#(#decl),*),
        output = &f.output,
    );
    let names_in = f.params.iter().map(|p| &p.name);
    // The call of `T`'s function; an `unsafe fn` is called in an `unsafe` block whose SAFETY
    // is the peer's: the arguments come from it, and the NPI obliges it to pass them as
    // specified, exactly the promise the `unsafe fn` asks for.
    let call = if f.unsafety {
        "unsafe { <T as $imp<S>>::$name($args) }"
    } else {
        "<T as $imp<S>>::$name($args)"
    };
    if f.context {
        let rest = names_in.skip(1);
        let args = quote!(__npi_binding #(, #rest)*);
        tpl!(out, "let __npi_call = |__npi_binding: &$rt::Binding<'_, S>| ",);
        tpl!(out, call, imp = Text(&names.imp), name = name, args = &args);
        tpl!(
            out,
            r";
            // SAFETY: the NMR gave this table, built for `S`, to the peer of a binding of `S`;
            // the NPI has the peer pass that binding's context back.
            unsafe { $rt::dispatch_with_binding::<S, _>($label, $first, __npi_call) } }",
            label = Text(&label),
            first = &f.params[0].name,
        );
    } else {
        let args = quote!(#(#names_in),*);
        tpl!(out, "$rt::dispatch_guard($label, || ", label = Text(&label));
        tpl!(out, call, imp = Text(&names.imp), name = name, args = &args);
        out.push(") }", &[]);
    }
}

/// `<Name>Calls<'a>`: the peer's table, with one method per function.
fn gen_calls(out: &mut Out, item: &ItemStruct, members: &[Member], names: &Names) {
    let doc = string_literal(&format!(
        "The peer's [`{}`], as [`PeerCall`](::npi_runtime::generic::PeerCall) dereferences to it.",
        item.ident
    ));
    tpl!(
        out,
        r"
        #[doc = $doc]
        ///
        /// Neither `Copy` nor `Clone`: it is only lent by a `PeerCall`, which keeps this side's
        /// detach pending, and what it lends is borrowed from it.
        $vis struct $calls<'a>($rt::PeerTable<'a, $ident>);

        #[allow(clippy::too_many_arguments)] // as many as the C functions have
        impl<'a> $calls<'a> {
            /// The peer's table itself (its data members, for a version check).
            #[must_use]
            $vis fn as_table(&self) -> &$ident {
                self.0.table()
            }

            /// The peer's binding context, as the table's functions receive it.
            #[must_use]
            $vis fn peer_context(&self) -> *mut $rt::c_void {
                self.0.context()
            }",
        doc = Text(&doc),
        vis = &item.vis,
        calls = Text(&names.calls),
        ident = &item.ident,
    );
    for m in members {
        // A member named like an accessor is an error already reported; its method would be a
        // second one (a duplicate definition).
        if let Kind::Function(f) = &m.kind
            && !RESERVED.contains(&m.name.to_string().as_str())
        {
            gen_call(out, m, f);
        }
    }
    out.push("}", &[]);
}

/// One method of `<Name>Calls`.
fn gen_call(out: &mut Out, m: &Member, f: &Function) {
    let (docs, cfgs, vis, name) = (m.docs(), m.cfgs(), &m.vis, &m.name);
    let own = f.own_params();
    let decl = own.iter().map(|p| &p.decl);
    let plain = !f.unsafety;
    let check = plain && f.checked;
    let none_doc = if f.optional {
        r#"#[doc = ""] #[doc = "`None` if the peer left this entry NULL."]"#
    } else {
        ""
    };
    // A returned status or value is what the call is for.
    let must_use = if matches!(f.output, ReturnType::Type(..)) { "#[must_use]" } else { "" };
    let output = if f.optional {
        let ret = match &f.output {
            ReturnType::Default => quote!(()),
            ReturnType::Type(_, t) => quote!(#t),
        };
        quote!(-> ::npi_runtime::__private::Option<#ret>)
    } else {
        let output = &f.output;
        quote!(#output)
    };
    // Only the name carries the user's span: the body is the macro's, so the user's own
    // `#![deny(unsafe_code)]` does not see its `unsafe`. `#[inline]`: an NPI is usually its own
    // crate (`npis/`), and without it every call into the peer would be a call into that crate.
    tpl!(
        out,
        if plain {
            "$docs $none_doc $cfgs $must_use #[inline] $vis fn $name(&self, $decl) $output {"
        } else {
            r"
            $docs
            $none_doc
            ///
            /// # Safety
            /// The arguments must be what the NPI specifies for this function (pointers
            /// valid for the peer's use of them).
            $cfgs
            $must_use
            #[inline]
            $vis unsafe fn $name(&self, $decl) $output {"
        },
        docs = docs,
        none_doc = Text(none_doc),
        cfgs = cfgs,
        must_use = Text(must_use),
        vis = vis,
        name = name,
        decl = &quote!(#(#decl),*),
        output = &output,
    );
    // A safe function passes plain values only: each type is checked by the type system, with
    // the error at the type the user wrote (a struct, or an alias such as `HANDLE` that hides
    // a pointer, needs `unsafe fn(..)` in the table).
    if check {
        for p in own {
            tpl!(out, "$rt::assert_plain::<$t>();", t = &p.ty_tokens);
        }
        if let ReturnType::Type(_, t) = &f.output {
            tpl!(out, "$rt::assert_plain::<$t>();", t = t);
        }
    }
    // SAFETY (of the generated blocks): the peer's own table and binding context, valid while
    // this view exists (a `PeerCall` holds this side's detach open, R23); the arguments are
    // plain values, or the caller's promise in an `unsafe fn`.
    let names_in = own.iter().map(|p| &p.name);
    tpl!(
        out,
        if f.optional {
            r"
            match self.0.table().$name {
                $rt::Some(__npi_f) => {
                    $rt::Some(unsafe { __npi_f($context $args) })
                }
                $rt::None => $rt::None,
            }
        }"
        } else {
            "unsafe { (self.0.table().$name)($context $args) } }"
        },
        name = name,
        context = Text(if f.context { "self.0.context()," } else { "" }),
        args = &quote!(#(#names_in),*),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pointers_spelled_anywhere_make_unsafe_functions() {
        for t in [
            "*mut c_void",
            "*const u8",
            "&*const u8",
            "[*mut u8; 2]",
            "(u32, *mut u8)",
            "Option<*mut u8>",
            "Option<unsafe extern \"C\" fn(u32)>",
            "fn()",
            "<*mut u8 as Tr>::Out",
        ] {
            assert!(spells_pointer(&syn::parse_str(t).unwrap()), "{t}");
        }
        for t in ["u32", "NTSTATUS", "c_int", "&Foo", "[u8; 4]", "Option<u32>", "HANDLE"] {
            assert!(!spells_pointer(&syn::parse_str(t).unwrap()), "{t}");
        }
    }
}
