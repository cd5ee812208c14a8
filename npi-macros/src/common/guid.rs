//! GUID string literals, checked at compile time: `"2227E803-8D8B-11D4-ABAD-009027719E09"`.

use darling::{Error, FromMeta};
use syn::{Expr, Lit, LitStr};

const EXAMPLE: &str = "\"2227E803-8D8B-11D4-ABAD-009027719E09\"";

/// A GUID written as a string literal, with its value.
#[derive(Debug, Clone)]
pub(crate) struct GuidLit {
    pub(crate) value: u128,
}

impl GuidLit {
    fn parse(lit: &LitStr) -> darling::Result<Self> {
        let text = lit.value();
        let err = |msg: String| Err(Error::custom(msg).with_span(lit));
        if text.is_empty() {
            return err(format!("the GUID is empty; write it as {EXAMPLE}"));
        }
        if text.starts_with('{') || text.ends_with('}') {
            let inner = text.trim_start_matches('{').trim_end_matches('}');
            return err(if uuid::Uuid::try_parse(inner).is_ok() && inner.len() == 36 {
                format!("write the GUID without braces: \"{inner}\"")
            } else {
                format!(
                    "write the GUID in registry form, 8-4-4-4-12 hex digits without braces, \
                     as {EXAMPLE} (not the C initializer `{{0x..., ...}}`)"
                )
            });
        }
        if text.chars().count() != 36 {
            return err(format!(
                "a GUID has 36 characters (8-4-4-4-12 hex digits with hyphens, as {EXAMPLE}); \
                 this one has {}",
                text.chars().count()
            ));
        }
        for (i, c) in text.chars().enumerate() {
            let hyphen = matches!(i, 8 | 13 | 18 | 23);
            if hyphen && c != '-' {
                return err(format!(
                    "expected `-` at position {} of the GUID, found `{c}` (the groups are \
                     8-4-4-4-12 hex digits)",
                    i + 1
                ));
            }
            if !hyphen && !c.is_ascii_hexdigit() {
                return err(format!("`{c}` at position {} is not a hex digit", i + 1));
            }
        }
        match uuid::Uuid::try_parse(&text) {
            Ok(u) => Ok(Self { value: u.as_u128() }),
            Err(e) => err(format!("not a GUID: {e}")),
        }
    }
}

impl FromMeta for GuidLit {
    /// `key = "…"`; a bare `key` or `key(..)` is told the form with the key's own name.
    fn from_meta(item: &syn::Meta) -> darling::Result<Self> {
        match item {
            syn::Meta::NameValue(nv) => Self::from_expr(&nv.value),
            other => {
                let key = other.path().get_ident().map(ToString::to_string).unwrap_or_default();
                Err(Error::custom(format!("`{key}` takes a GUID string: `{key} = {EXAMPLE}`"))
                    .with_span(other))
            }
        }
    }

    fn from_value(value: &Lit) -> darling::Result<Self> {
        match value {
            Lit::Str(s) => Self::parse(s),
            other => {
                Err(Error::custom(format!("a GUID is written as a string literal, e.g. {EXAMPLE}"))
                    .with_span(other))
            }
        }
    }

    fn from_expr(expr: &Expr) -> darling::Result<Self> {
        match expr {
            Expr::Lit(l) => Self::from_value(&l.lit),
            Expr::Group(g) => Self::from_expr(&g.expr),
            other => Err(Error::custom(format!(
                "a GUID is written as a string literal, e.g. {EXAMPLE}; constants and \
                 expressions are not read at compile time"
            ))
            .with_span(other)),
        }
    }
}

impl GuidLit {
    /// The `GUID` constant expression, as text for a template:
    /// `::npi_runtime::__private::GUID::from_u128(0x…)`.
    pub(crate) fn expr_text(&self) -> String {
        // Hex in registry grouping, so the expansion reads like the GUID it came from.
        let v = self.value;
        format!(
            "{}::GUID::from_u128(0x{:08X}_{:04X}_{:04X}_{:04X}_{:012X})",
            super::tpl::RT,
            v >> 96,
            (v >> 80) & 0xFFFF,
            (v >> 64) & 0xFFFF,
            (v >> 48) & 0xFFFF,
            v & 0xFFFF_FFFF_FFFF
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> Result<u128, String> {
        GuidLit::parse(&LitStr::new(s, proc_macro2::Span::call_site()))
            .map(|g| g.value)
            .map_err(|e| e.to_string())
    }

    #[test]
    fn registry_form_is_read_most_significant_first() {
        assert_eq!(
            parse("2227E803-8D8B-11D4-ABAD-009027719E09"),
            Ok(0x2227_E803_8D8B_11D4_ABAD_0090_2771_9E09)
        );
        assert_eq!(
            parse("2227e803-8d8b-11d4-abad-009027719e09").ok(),
            parse("2227E803-8D8B-11D4-ABAD-009027719E09").ok()
        );
    }

    #[test]
    fn malformed_guids_are_explained() {
        assert!(parse("").unwrap_err().contains("empty"));
        assert!(parse("{2227E803-8D8B-11D4-ABAD-009027719E09}").unwrap_err().contains("braces"));
        assert!(
            parse("2227E803-8D8B-11D4-ABAD-009027719E0").unwrap_err().contains("36 characters")
        );
        assert!(
            parse("2227E803-8D8B-11D4-ABAD-009027719E0G").unwrap_err().contains("not a hex digit")
        );
        assert!(
            parse("2227E8038-D8B-11D4-ABAD-009027719E09").unwrap_err().contains("expected `-`")
        );
        assert!(parse("2227E803-8D8B-11D4-ABAD-009027719É9").is_err(), "non-ASCII");
    }
}
