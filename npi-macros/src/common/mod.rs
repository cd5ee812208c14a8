//! Pieces every macro shares: GUID literals, the one runtime path, error fallback.

pub(crate) mod c;
pub(crate) mod guid;
pub(crate) mod tpl;

use darling::FromMeta;
use darling::ast::NestedMeta;
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

/// Unknown, repeated and literal arguments of `#[attr(..)]`, reported in the attribute's words
/// (before darling reads the list, whose own messages speak of "fields").
pub(crate) fn check_keys(list: &[NestedMeta], attr: &str, known: &[&str]) -> darling::Result<()> {
    let mut errors = darling::Error::accumulator();
    let mut seen: Vec<String> = Vec::new();
    for item in list {
        let path = match item {
            NestedMeta::Meta(meta) => meta.path(),
            // `key = <not an expression>`: darling reports the value; the key is checked here.
            NestedMeta::NameValueInvalidExpr(nv) => &nv.path,
            NestedMeta::Lit(lit) => {
                errors.push(
                    darling::Error::custom(format!(
                        "`#[{attr}]` takes named arguments (`key = value`): {}",
                        names(known)
                    ))
                    .with_span(lit),
                );
                continue;
            }
        };
        let key: Vec<String> = path.segments.iter().map(|s| s.ident.to_string()).collect();
        let key = key.join("::");
        if !known.contains(&key.as_str()) {
            let hint = match closest(&key, known) {
                Some(k) => format!("did you mean `{k}`?"),
                None if known.len() == 1 => format!("its one argument is `{}`", known[0]),
                None => format!("its arguments are {}", names(known)),
            };
            errors.push(
                darling::Error::custom(format!(
                    "`{key}` is not an argument of `#[{attr}]`; {hint}"
                ))
                .with_span(path),
            );
        } else if seen.contains(&key) {
            errors.push(
                darling::Error::custom(format!(
                    "`{key}` is given twice: each argument of `#[{attr}]` is given once"
                ))
                .with_span(path),
            );
        } else {
            seen.push(key);
        }
    }
    errors.finish()
}

/// `` `a`, `b` and `c` ``.
fn names(known: &[&str]) -> String {
    let quoted: Vec<String> =
        known.iter().filter(|k| !k.starts_with("__")).map(|k| format!("`{k}`")).collect();
    match quoted.split_last() {
        Some((last, rest)) if !rest.is_empty() => format!("{} and {last}", rest.join(", ")),
        _ => quoted.concat(),
    }
}

/// The known key a misspelt one most likely meant: within a third of its length in edits.
fn closest<'a>(key: &str, known: &[&'a str]) -> Option<&'a str> {
    known
        .iter()
        .filter(|k| !k.starts_with("__"))
        .map(|k| (edit_distance(key, k), *k))
        .filter(|(d, k)| *d * 3 <= k.len().max(3))
        .min_by_key(|(d, _)| *d)
        .map(|(_, k)| k)
}

/// Levenshtein distance, by bytes (keys are ASCII).
fn edit_distance(a: &str, b: &str) -> usize {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.iter().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let next = (diagonal + usize::from(ca != cb)).min(row[j] + 1).min(row[j + 1] + 1);
            diagonal = row[j + 1];
            row[j + 1] = next;
        }
    }
    row[b.len()]
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
    let side = if key.starts_with("client") { "Client" } else { "Provider" };
    let kind = if key.ends_with("dispatch") { "Dispatch" } else { "Characteristics" };
    let example = format!("Wsk{side}{kind}");
    let msg = || format!("`{key}` takes a type, e.g. `{key} = {example}`");
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

/// `npi = SomeNpi`.
pub(crate) fn opt_npi_path(meta: &syn::Meta) -> darling::Result<Option<syn::Path>> {
    let msg = "`npi` names the NPI: the unit struct declared with `#[npi(..)]`, e.g. `npi = Exnpi`";
    let syn::Meta::NameValue(nv) = meta else {
        return Err(darling::Error::custom(msg).with_span(meta));
    };
    match &nv.value {
        syn::Expr::Path(p) if p.qself.is_none() => Ok(Some(p.path.clone())),
        other => Err(darling::Error::custom(msg).with_span(other)),
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

#[cfg(test)]
mod tests {
    #[test]
    fn misspelt_keys_find_their_match() {
        let known = ["npi", "module_id", "dynamic_module_id", "number", "version"];
        assert_eq!(super::closest("modul_id", &known), Some("module_id"));
        assert_eq!(super::closest("nmuber", &known), Some("number"));
        assert_eq!(super::closest("packed", &["abi"]), None);
        assert_eq!(super::closest("np", &known), Some("npi"));
        assert_eq!(super::edit_distance("kitten", "sitting"), 3);
    }
}
