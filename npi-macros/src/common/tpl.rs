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
//! later one closes. A `$` inside a string literal or a `//` comment is text; the generated code
//! contains no `$` of its own (no `macro_rules!`). Each template is made ready once per
//! compilation (comments dropped, whitespace squeezed, its brackets found), so writing an
//! expansion scans no text at the user's opt-level.

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

/// An expansion being written: the text, the tokens to splice in (at a position in the text),
/// and the brackets that hold spliced tokens (so that only those groups are built here).
#[derive(Default)]
pub(crate) struct Out {
    text: String,
    splices: Vec<(usize, TokenStream)>,
    /// Brackets opened and not yet closed: position, bracket, whether tokens go inside.
    open: Vec<(usize, u8, bool)>,
    /// Groups that hold spliced tokens: open position, close position, bracket.
    groups: Vec<(usize, usize, u8)>,
}

impl Out {
    /// Appends `template` with its placeholders filled from `args` (`(name, value)`). A
    /// [`Text`] argument must have balanced brackets (it is a name, a string literal or a short
    /// expression).
    ///
    /// # Panics
    /// On a placeholder without an argument: a mistake in this crate's templates, which the
    /// expansion tests run through.
    pub(crate) fn push(&mut self, template: &'static str, args: &[(&str, Arg<'_>)]) {
        let compiled = compiled(template);
        for piece in compiled.iter() {
            match piece {
                Piece::Text { text, brackets } => {
                    let base = self.text.len();
                    self.text.push_str(text);
                    for &(offset, bracket) in brackets {
                        self.bracket(base + offset, bracket);
                    }
                }
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
            self.splices.push((self.text.len(), tokens));
            if let Some(top) = self.open.last_mut() {
                top.2 = true;
            }
        }
    }

    fn bracket(&mut self, at: usize, bracket: u8) {
        if matches!(bracket, b'(' | b'[' | b'{') {
            self.open.push((at, bracket, false));
            return;
        }
        let (open, kind, marked) = self.open.pop().expect("a template's brackets are balanced");
        if marked {
            self.groups.push((open, at, kind));
            if let Some(outer) = self.open.last_mut() {
                outer.2 = true;
            }
        }
    }

    /// The tokens: each run of text between spliced tokens lexed in one call, the groups that
    /// hold spliced tokens built around them here, everything joined in one call per group.
    ///
    /// # Panics
    /// If the text does not lex or its brackets do not balance: a mistake in this crate's
    /// templates.
    pub(crate) fn finish(mut self) -> TokenStream {
        assert!(self.open.is_empty(), "a template's brackets are balanced");
        self.groups.sort_unstable_by_key(|g| g.0);
        let mut splices = std::mem::take(&mut self.splices).into_iter().peekable();
        let mut groups = self.groups.iter().peekable();
        let out = build(&self.text, 0, self.text.len(), &mut groups, &mut splices);
        assert!(splices.next().is_none(), "every spliced token is placed");
        out
    }
}

type Splices = std::iter::Peekable<std::vec::IntoIter<(usize, TokenStream)>>;
type Groups<'a> = std::iter::Peekable<std::slice::Iter<'a, (usize, usize, u8)>>;

/// The tokens of `text[start..end]` with what is spliced there (moved, not copied).
fn build(
    text: &str,
    start: usize,
    end: usize,
    groups: &mut Groups<'_>,
    splices: &mut Splices,
) -> TokenStream {
    let mut streams = Vec::new();
    let lex_run = |streams: &mut Vec<TokenStream>, from: usize, to: usize| {
        let run = &text[from..to];
        if !run.trim().is_empty() {
            streams.push(lex(run));
        }
    };
    let mut pos = start;
    loop {
        let splice = splices.peek().map(|s| s.0).filter(|&p| p <= end);
        let group = groups.peek().copied().copied().filter(|g| g.0 < end);
        match (splice, group) {
            (Some(p), g) if g.is_none_or(|g| p <= g.0) => {
                lex_run(&mut streams, pos, p);
                streams.extend(splices.next().map(|s| s.1));
                pos = p;
            }
            (_, Some((open, close, bracket))) => {
                lex_run(&mut streams, pos, open);
                groups.next();
                let inner = build(text, open + 1, close, groups, splices);
                let delimiter = match bracket {
                    b'(' => Delimiter::Parenthesis,
                    b'[' => Delimiter::Bracket,
                    _ => Delimiter::Brace,
                };
                streams.push(TokenStream::from(TokenTree::Group(Group::new(delimiter, inner))));
                pos = close + 1;
            }
            _ => {
                lex_run(&mut streams, pos, end);
                break;
            }
        }
    }
    // Joined in one call, without taking any stream apart.
    match streams.len() {
        1 => streams.pop().unwrap_or_default(),
        _ => streams.into_iter().collect(),
    }
}

/// A template made ready once: comments dropped, doc comments turned into `#[doc = "…"]`,
/// whitespace squeezed, `$rt` written out, split at its placeholders.
enum Piece {
    /// Text, with the position and kind of each bracket outside its string literals.
    Text {
        text: String,
        brackets: Vec<(usize, u8)>,
    },
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
                    pieces.push(text_piece(std::mem::take(&mut text)));
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
    pieces.push(text_piece(text));
    pieces
}

fn text_piece(text: String) -> Piece {
    let bytes = text.as_bytes();
    let mut brackets = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'"' => i = skip_string(bytes, i),
            b @ (b'(' | b'[' | b'{' | b')' | b']' | b'}') => brackets.push((i, b)),
            _ => {}
        }
        i += 1;
    }
    Piece::Text { text, brackets }
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
        // Tokens right before, inside at both ends of, and right after a group.
        let mut out = Out::default();
        tpl!(out, "$a($a g $a)$a [($a)] h", a = &a);
        assert_same(&out.finish(), &quote!(x(x g x)x [(x)] h));
        let empty = TokenStream::new();
        assert_same(&one("a($e) $e b", &[("e", (&empty).into())]), &quote!(a() b));
    }

    #[test]
    #[should_panic = "no argument for `$missing`"]
    fn a_missing_argument_is_a_bug() {
        one("fn f() { $missing }", &[]);
    }
}
