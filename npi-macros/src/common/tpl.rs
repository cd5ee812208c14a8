//! Boilerplate written as Rust text and lexed by the compiler, with the user's tokens spliced in
//! as tokens.
//!
//! Why: a proc macro is built at opt-level 0 in a user's debug profile, and `quote!` there costs
//! several unoptimised calls per generated token, each token then crossing the proc-macro bridge
//! on its own. `proc_macro::TokenStream::from_str` hands a run of text to the compiler's own
//! (optimised) lexer in one call. The tokens it makes have the span `Span::call_site()`, the
//! span `quote!` gives its own tokens, so the expansion is the same token for token. Tokens from
//! the user's input are never turned into text: they are spliced in as they are, with their
//! spans, so errors still point at what the user wrote.
//!
//! An expansion is written into one [`Out`]; [`Out::finish`] lexes each run of text between
//! spliced tokens in one call (a group that holds spliced tokens is built around them here) and
//! joins the pieces in one call. No lexed stream is taken apart again: iterating a compiler
//! token stream sends every token back across the bridge.
//!
//! A template is Rust source in which:
//! - `$rt` stands for `::npi_runtime::__private`, the one path generated code uses to reach the
//!   runtime;
//! - `$name` (lowercase letters, digits, `_`) is replaced by what is given for `name`: tokens
//!   (spliced in after lexing) or [`Text`] (copied into the text: generated names and doc
//!   strings, whose span is the call site's either way).
//!
//! Templates pushed one after another form one text, so a template may open a bracket that a
//! later one closes. In the text, `$` marks where tokens go; a `$` inside a string literal or
//! a `//` comment is text. The generated code contains no `$` of its own (no `macro_rules!`).

use std::cell::RefCell;
use std::rc::Rc;
use std::str::FromStr;

use proc_macro2::{Delimiter, Group, TokenStream, TokenTree};
use quote::ToTokens;

/// `tpl!(out, "text with $a and $b", a = &tokens, b = Text(&name))`: [`Out::push`] with named
/// arguments.
macro_rules! tpl {
    ($out:expr, $template:expr $(, $name:ident = $value:expr)* $(,)?) => {
        $out.push(
            $template,
            &[$((stringify!($name), $crate::common::tpl::Arg::from($value))),*],
        )
    };
}
pub(crate) use tpl;

/// What `$rt` stands for.
pub(crate) const RT: &str = "::npi_runtime::__private";

/// What a placeholder stands for.
pub(crate) enum Arg<'a> {
    Tokens(&'a dyn ToTokens),
    Text(&'a str),
}

/// Text put in place of a placeholder before lexing.
pub(crate) struct Text<'a>(pub(crate) &'a str);

impl<'a, T: ToTokens> From<&'a T> for Arg<'a> {
    fn from(tokens: &'a T) -> Self {
        Arg::Tokens(tokens)
    }
}

impl<'a> From<Text<'a>> for Arg<'a> {
    fn from(text: Text<'a>) -> Self {
        Arg::Text(text.0)
    }
}

/// `text` as a string literal, for a [`Text`] argument (`#[doc = $doc]`).
pub(crate) fn string_literal(text: &str) -> String {
    format!("{text:?}")
}

/// An expansion being written: the text, with a `$` where each of `splices` goes.
#[derive(Default)]
pub(crate) struct Out {
    text: String,
    splices: Vec<TokenStream>,
}

impl Out {
    /// Appends `template` with its placeholders filled from `args` (`(name, value)`).
    ///
    /// # Panics
    /// On a placeholder without an argument: a mistake in this crate's templates, which the
    /// expansion tests run through.
    pub(crate) fn push(&mut self, template: &'static str, args: &[(&str, Arg<'_>)]) {
        let compiled = compiled(template);
        for piece in compiled.iter() {
            match piece {
                Piece::Text(text) => self.text.push_str(text),
                Piece::Hole(name) => match args.iter().find(|(n, _)| n == name) {
                    Some((_, Arg::Text(text))) => self.text.push_str(text),
                    Some((_, Arg::Tokens(tokens))) => self.tokens(tokens.to_token_stream()),
                    None => panic!("no argument for `${name}` in a template"),
                },
            }
        }
    }

    /// Appends tokens as they are.
    pub(crate) fn tokens(&mut self, tokens: TokenStream) {
        if !tokens.is_empty() {
            self.text.push_str(" $ ");
            self.splices.push(tokens);
        }
    }

    /// The tokens: the text lexed in one call per run between spliced tokens, the groups
    /// around spliced tokens built here, the spliced tokens in place of their `$`.
    ///
    /// # Panics
    /// If the text does not lex or its brackets do not balance: a mistake in this crate's
    /// templates.
    pub(crate) fn finish(self) -> TokenStream {
        let closes = marked_groups(self.text.as_bytes());
        let mut splices = self.splices.into_iter();
        let mut out = Runs::default();
        build(&self.text, 0, self.text.len(), &closes, &mut splices, &mut out);
        assert!(splices.next().is_none(), "a splice for each `$`");
        out.finish()
    }
}

/// A template made ready once: comments dropped, doc comments turned into `#[doc = "…"]`,
/// whitespace squeezed, `$rt` written out, split at its placeholders.
enum Piece {
    Text(String),
    Hole(String),
}

/// A template's address and length: the linker may store one literal as the start of another.
type TemplateKey = (usize, usize);

thread_local! {
    /// Templates already made ready, by address: a macro expands many items in one
    /// compilation, each with the same few templates.
    static COMPILED: RefCell<Vec<(TemplateKey, Rc<[Piece]>)>> = const { RefCell::new(Vec::new()) };
}

fn compiled(template: &'static str) -> Rc<[Piece]> {
    let key: TemplateKey = (template.as_ptr() as usize, template.len());
    COMPILED.with_borrow_mut(|cache| {
        if let Some((_, pieces)) = cache.iter().find(|(k, _)| *k == key) {
            return Rc::clone(pieces);
        }
        let pieces: Rc<[Piece]> = compile(template).into();
        cache.push((key, Rc::clone(&pieces)));
        pieces
    })
}

fn compile(template: &str) -> Vec<Piece> {
    let bytes = template.as_bytes();
    let mut pieces = Vec::new();
    let mut text = String::new();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'"' => {
                let end = skip_string(bytes, i) + 1;
                text.push_str(&template[i..end]);
                i = end;
            }
            b'/' if bytes.get(i + 1) == Some(&b'/') => {
                let end = skip_line(bytes, i);
                let doc = bytes.get(i + 2) == Some(&b'/') && bytes.get(i + 3) != Some(&b'/');
                if doc {
                    text.push_str(&format!("#[doc = {:?}] ", &template[i + 3..end]));
                }
                i = end;
            }
            b'$' => {
                let stop = placeholder_end(bytes, i);
                let name = &template[i + 1..stop];
                if name == "rt" {
                    text.push_str(RT);
                } else {
                    pieces.push(Piece::Text(std::mem::take(&mut text)));
                    pieces.push(Piece::Hole(name.to_owned()));
                }
                i = stop;
            }
            b if b.is_ascii_whitespace() => {
                if !text.ends_with(' ') {
                    text.push(' ');
                }
                i += 1;
            }
            _ => {
                let c = template[i..].chars().next().unwrap_or(' ');
                text.push(c);
                i += c.len_utf8();
            }
        }
    }
    pieces.push(Piece::Text(text));
    pieces
}

/// For each opening bracket with a `$` between it and its closing bracket: the closing
/// bracket's position. Other positions: `None`.
fn marked_groups(bytes: &[u8]) -> Vec<Option<usize>> {
    let mut closes = vec![None; bytes.len()];
    // (position of an open bracket, whether a `$` is inside it so far)
    let mut open: Vec<(usize, bool)> = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'"' => i = skip_string(bytes, i),
            b'/' if bytes.get(i + 1) == Some(&b'/') => i = skip_line(bytes, i),
            b'(' | b'[' | b'{' => open.push((i, false)),
            b')' | b']' | b'}' => {
                let (at, marked) = open.pop().expect("a template's brackets are balanced");
                if marked {
                    closes[at] = Some(i);
                    if let Some(outer) = open.last_mut() {
                        outer.1 = true;
                    }
                }
            }
            b'$' => {
                if let Some(top) = open.last_mut() {
                    top.1 = true;
                }
            }
            _ => {}
        }
        i += 1;
    }
    assert!(open.is_empty(), "a template's brackets are balanced");
    closes
}

/// Text waiting to be lexed, and the streams made so far, at one level of nesting.
#[derive(Default)]
struct Runs {
    text: String,
    streams: Vec<TokenStream>,
}

impl Runs {
    /// Lexes the waiting text.
    fn flush(&mut self) {
        if !self.text.trim().is_empty() {
            let lexed = lex(&self.text);
            self.streams.push(lexed);
        }
        self.text.clear();
    }

    fn push(&mut self, tokens: TokenStream) {
        self.streams.push(tokens);
    }

    /// The streams joined in one call, without taking any apart.
    fn finish(mut self) -> TokenStream {
        self.flush();
        match self.streams.len() {
            1 => self.streams.pop().unwrap_or_default(),
            _ => self.streams.into_iter().collect(),
        }
    }
}

/// Appends the tokens of `text[start..end]` to `out`.
fn build(
    text: &str,
    start: usize,
    end: usize,
    closes: &[Option<usize>],
    splices: &mut std::vec::IntoIter<TokenStream>,
    out: &mut Runs,
) {
    let bytes = text.as_bytes();
    let (mut i, mut copied) = (start, start);
    while i < end {
        match bytes[i] {
            b'"' => i = skip_string(bytes, i) + 1,
            b'/' if bytes.get(i + 1) == Some(&b'/') => i = skip_line(bytes, i),
            b'$' => {
                out.text.push_str(&text[copied..i]);
                out.flush();
                out.push(splices.next().expect("a splice for each `$`"));
                i += 1;
                copied = i;
            }
            open @ (b'(' | b'[' | b'{') if closes[i].is_some() => {
                out.text.push_str(&text[copied..i]);
                out.flush();
                let close = closes[i].unwrap_or(end);
                let mut inner = Runs::default();
                build(text, i + 1, close, closes, splices, &mut inner);
                let delimiter = match open {
                    b'(' => Delimiter::Parenthesis,
                    b'[' => Delimiter::Bracket,
                    _ => Delimiter::Brace,
                };
                out.push(TokenStream::from(TokenTree::Group(Group::new(
                    delimiter,
                    inner.finish(),
                ))));
                i = close + 1;
                copied = i;
            }
            _ => i += 1,
        }
    }
    out.text.push_str(&text[copied..end.max(copied)]);
}

/// `text` lexed by the compiler when in a macro, else (in this crate's tests) by proc_macro2.
/// Not `proc_macro2::TokenStream::from_str` in a macro: it first runs proc_macro2's own lexer,
/// built at the user's opt-level, over the text, to turn a lexer error into an `Err`.
fn lex(text: &str) -> TokenStream {
    let lexed = if proc_macro::is_available() {
        proc_macro::TokenStream::from_str(text).map(TokenStream::from).map_err(|e| e.to_string())
    } else {
        TokenStream::from_str(text).map_err(|e| e.to_string())
    };
    lexed.unwrap_or_else(|e| panic!("a template does not lex ({e}): {text}"))
}

/// The position of the closing `"` of the string literal that opens at `i`.
fn skip_string(bytes: &[u8], mut i: usize) -> usize {
    i += 1;
    while i < bytes.len() && bytes[i] != b'"' {
        i += if bytes[i] == b'\\' { 2 } else { 1 };
    }
    i
}

/// The position of the end of the line on which a `//` comment starts at `i`.
fn skip_line(bytes: &[u8], i: usize) -> usize {
    bytes[i..].iter().position(|&b| b == b'\n').map_or(bytes.len(), |n| i + n)
}

/// One past the last character of the placeholder whose `$` is at `i`.
fn placeholder_end(bytes: &[u8], i: usize) -> usize {
    let len = bytes[i + 1..]
        .iter()
        .position(|b| !(b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'_'))
        .unwrap_or(bytes.len() - i - 1);
    i + 1 + len
}

#[cfg(test)]
mod tests {
    use proc_macro2::TokenStream;
    use quote::quote;

    use super::{Out, Text};

    fn one(template: &'static str, args: &[(&str, super::Arg<'_>)]) -> TokenStream {
        let mut out = Out::default();
        out.push(template, args);
        out.finish()
    }

    /// Token for token; only the spacing of punctuation (`>>` lexed as one) may differ.
    fn assert_same(out: &TokenStream, expected: &TokenStream) {
        let squeeze = |t: &TokenStream| t.to_string().replace(' ', "");
        assert_eq!(squeeze(out), squeeze(expected));
    }

    #[test]
    fn same_tokens_as_quote() {
        let ty = quote!(Vec<u8>);
        let name = quote!(field);
        let mut out = Out::default();
        tpl!(
            out,
            "/// Docs with [brackets] and a `$`-free \"quote\".\n\
             pub struct S { pub $name: $ty, other: [u8; 4] }\n\
             // a comment with ( unbalanced brackets and a $\n\
             impl S { fn f(&self) -> $rt::Option<&$ty> { $rt::Some(&self.$name) } ",
            name = &name,
            ty = &ty,
        );
        // A later push closes the brace.
        tpl!(out, "fn $g() {} }", g = Text("g"));
        let expected = quote! {
            #[doc = " Docs with [brackets] and a `$`-free \"quote\"."]
            pub struct S { pub field: Vec<u8>, other: [u8; 4] }
            impl S {
                fn f(&self) -> ::npi_runtime::__private::Option<&Vec<u8>> {
                    ::npi_runtime::__private::Some(&self.field)
                }
                fn g() {}
            }
        };
        assert_same(&out.finish(), &expected);
    }

    #[test]
    fn placeholders_at_the_edges_and_nested() {
        let a = quote!(x);
        assert_eq!(one("$a", &[("a", (&a).into())]).to_string(), "x");
        let mut out = Out::default();
        tpl!(out, "f(g([$a]), { $a }, (h), [[i]], $t)", a = &a, t = Text("y"));
        assert_same(&out.finish(), &quote!(f(g([x]), { x }, (h), [[i]], y)));
        assert!(Out::default().finish().is_empty());
        let empty = TokenStream::new();
        assert_same(&one("a($e) $e b", &[("e", (&empty).into())]), &quote!(a() b));
    }

    #[test]
    #[should_panic = "no argument for `$missing`"]
    fn a_missing_argument_is_a_bug() {
        one("fn f() { $missing }", &[]);
    }
}
