//! The C side of the declarations: C names, and the struct description (`CStruct`) that
//! `#[dispatch_table]` and `#[npi_data]` hand to the runtime's header writer, with the
//! compile-time asserts that tie it to the Rust layout.

use darling::FromMeta;
use proc_macro2::TokenStream;
use quote::quote;
use syn::{Ident, LitStr, Type};

use crate::common::tpl::{Out, Text, string_literal, tpl};

/// A `c_name = "…"`-style argument: a C identifier, since it goes into the NPI's C header as is.
pub(crate) fn c_ident(meta: &syn::Meta) -> darling::Result<Option<String>> {
    let lit = LitStr::from_meta(meta)?;
    let value = lit.value();
    let first_ok = value.chars().next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_');
    if first_ok && value.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        Ok(Some(value))
    } else {
        Err(darling::Error::custom(format!(
            "`{value}` is not a C identifier: this name goes into the NPI's C header as it is, so \
             it may hold only ASCII letters, digits and `_`, and may not start with a digit"
        ))
        .with_span(&lit))
    }
}

/// `ExProviderDispatch` → `EX_PROVIDER_DISPATCH`, `XDPInterface` → `XDP_INTERFACE`.
pub(crate) fn screaming(name: &str) -> String {
    let chars: Vec<char> = name.trim_start_matches("r#").chars().collect();
    let mut out = String::new();
    for (i, &c) in chars.iter().enumerate() {
        if c == '_' {
            out.push('_');
            continue;
        }
        if c.is_ascii_uppercase() && i > 0 {
            let prev = chars[i - 1];
            let next_lower = chars.get(i + 1).is_some_and(char::is_ascii_lowercase);
            if prev != '_'
                && (prev.is_ascii_lowercase()
                    || prev.is_ascii_digit()
                    || next_lower && prev.is_ascii_uppercase())
            {
                out.push('_');
            }
        }
        out.push(c.to_ascii_uppercase());
    }
    out
}

/// `provider_function` → `ProviderFunction`, the WDK's member spelling.
pub(crate) fn pascal(name: &str) -> String {
    name.trim_start_matches("r#")
        .split('_')
        .filter(|part| !part.is_empty())
        .map(|part| {
            let mut chars = part.chars();
            chars
                .next()
                .map_or_else(String::new, |c| c.to_ascii_uppercase().to_string() + chars.as_str())
        })
        .collect()
}

/// What a type was written as, for its WDK spelling: the last segment of a plain path
/// (`NTSTATUS`, `sys::ULONG`), `PVOID` for `*mut c_void`, else `""`.
pub(crate) fn written(ty: &Type) -> String {
    match ty {
        Type::Ptr(p)
            if matches!(p.mutability, syn::PointerMutability::Mut(_))
                && written(&p.elem) == "c_void" =>
        {
            "PVOID".to_owned()
        }
        Type::Path(p) if p.qself.is_none() => match p.path.segments.last() {
            Some(seg) if seg.arguments.is_empty() => seg.ident.to_string(),
            _ => String::new(),
        },
        Type::Group(g) => written(&g.elem),
        Type::Paren(p) => written(&p.elem),
        _ => String::new(),
    }
}

/// `$rt::CTypeRef::of::<ty>("written")`. Only a name in the WDK's style (upper case, digits,
/// `_`) can be one of its typedefs, so any other is passed as `""`: the runtime then does not
/// look it up, which keeps the compile-time work per member small.
pub(crate) fn type_ref(ty: &Type) -> TokenStream {
    let name = written(ty);
    let wdk_style = !name.is_empty()
        && name.bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_');
    let written = string_literal(if wdk_style { &name } else { "" });
    let written: TokenStream = written.parse().unwrap_or_default();
    quote!(::npi_runtime::__private::CTypeRef::of::<#ty>(#written))
}

/// One member of a struct, as the runtime describes it.
pub(crate) struct CMemberDesc<'a> {
    /// The member's Rust name.
    pub(crate) field: &'a Ident,
    /// Its `#[cfg]`s.
    pub(crate) cfgs: &'a TokenStream,
    /// `$rt::CMember { .. }`.
    pub(crate) value: TokenStream,
}

/// The struct's description (`__C_STRUCT`), its `CType` impl, and the asserts that its layout
/// and every member's offset are the Rust struct's, on every target it is built for.
pub(crate) fn gen_struct(out: &mut Out, ident: &Ident, c_name: &str, members: &[CMemberDesc<'_>]) {
    let count = members.len().to_string();
    tpl!(
        out,
        r"
        impl $ident {
            #[doc(hidden)]
            pub const __C_STRUCT: $rt::CStruct = $rt::CStruct {
                name: $name,
                members: &{
                    let mut m: [$rt::Option<$rt::CMember>; $count] = [$rt::None; $count];",
        ident = ident,
        name = Text(&string_literal(c_name)),
        count = Text(&count),
    );
    for (i, m) in members.iter().enumerate() {
        tpl!(
            out,
            "$cfgs { m[$i] = $rt::Some($value); }",
            cfgs = m.cfgs,
            i = Text(&i.to_string()),
            value = &m.value,
        );
    }
    tpl!(
        out,
        r"
                    m
                },
            };
        }

        #[automatically_derived]
        // SAFETY: `LAYOUT` is computed from the members' own `CType` layouts by MSVC's rules,
        // and the asserts below prove it is this struct's layout, member by member, on every
        // target this is compiled for; the members are `CType`, so plain data.
        unsafe impl $rt::CType for $ident {
            const LAYOUT: $rt::CLayout = Self::__C_STRUCT.layout();
            fn declare(
                out: &mut dyn $rt::Write,
                qualifier: &$rt::str,
                declarator: &dyn $rt::Display,
            ) -> $rt::FmtResult {
                Self::__C_STRUCT.declare(out, qualifier, declarator)
            }
            fn define(header: &mut $rt::Header<'_>) -> $rt::FmtResult {
                Self::__C_STRUCT.define(header)
            }
        }

        const _: () = {
            $rt::assert!(
                <$ident as $rt::CType>::LAYOUT.is_layout_of::<$ident>(),
                $size_msg
            );",
        ident = ident,
        size_msg =
            Text(&string_literal(&format!("the C layout of `{ident}` is not its Rust layout"))),
    );
    for (i, m) in members.iter().enumerate() {
        tpl!(
            out,
            "$cfgs { $rt::assert!($ident::__C_STRUCT.member_at($i, $rt::offset_of!($ident, $field)), $msg); }",
            cfgs = m.cfgs,
            ident = ident,
            i = Text(&i.to_string()),
            field = m.field,
            msg = Text(&string_literal(&format!(
                "`{ident}::{}` is not at the offset the C header states",
                m.field
            ))),
        );
    }
    out.push("};", &[]);
}
