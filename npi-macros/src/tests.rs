//! In-crate tests of the macro cores: expansion snapshots (reviewed like code) and a corpus of
//! mangled inputs that must never make a macro panic.
//!
//! Snapshots live in `tests/snapshots/*.rs`. After a deliberate change to an expansion, run
//! `UPDATE_SNAPSHOTS=1 cargo test -p npi-macros --lib` and review the diff.

use std::path::PathBuf;

use proc_macro2::{TokenStream, TokenTree};
use quote::quote;

use crate::module::Role;

fn pretty(tokens: &TokenStream) -> String {
    match syn::parse2::<syn::File>(tokens.clone()) {
        Ok(file) => prettyplease::unparse(&file),
        Err(e) => panic!("expansion is not a valid file: {e}\n{tokens}"),
    }
}

fn check_snapshot(name: &str, tokens: &TokenStream) {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/snapshots")
        .join(format!("{name}.rs"));
    let actual = format!(
        "// Expansion snapshot: `cargo test -p npi-macros --lib` compares it; \
         UPDATE_SNAPSHOTS=1 rewrites it.\n{}",
        pretty(tokens)
    );
    if std::env::var_os("UPDATE_SNAPSHOTS").is_some() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, &actual).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        expected == actual,
        "expansion of {name} changed; rerun with UPDATE_SNAPSHOTS=1 and review the diff of \
         {}\n--- actual ---\n{actual}",
        path.display()
    );
}

#[test]
fn snapshot_npi_definition() {
    let out = crate::npi_def::expand(
        quote!(
            id = "F0B35B9A-3E1C-4C55-9E0B-52A64D5E71C2",
            client_dispatch = ExClientDispatch,
            provider_dispatch = ExProviderDispatch,
            provider_characteristics = ExProviderCharacteristics
        ),
        quote!(
            pub struct Exnpi;
        ),
    );
    check_snapshot("npi_definition", &out);
}

#[test]
fn snapshot_client() {
    let out = crate::module::expand(
        Role::Client,
        quote!(npi = Exnpi, module_id = "1B0E58E1-0A8F-4E2A-8B6A-0D3577B4C9E0", number = 1),
        quote!(
            struct ExClient {
                providers: Mutex<Vec<ClientBindingRef<ExClient>>>,
            }
        ),
    );
    check_snapshot("client", &out);
}

#[test]
fn snapshot_provider() {
    let out = crate::module::expand(
        Role::Provider,
        quote!(
            npi = Exnpi,
            module_id = "6D6C7F54-80C6-4A52-B0C8-4C9A1D0E3F21",
            characteristics = PROVIDER_CHARACTERISTICS
        ),
        quote!(
            struct ExProvider;
        ),
    );
    check_snapshot("provider", &out);
}

#[test]
fn snapshot_dispatch_table() {
    let out = crate::dispatch::expand(
        quote!(),
        quote!(
            /// What the provider offers its clients.
            pub struct ExProviderDispatch {
                pub version: u16,
                pub length: u16,
                /// Doubles `value`.
                pub provider_function: fn(#[context] binding: *mut c_void, value: u32) -> u32,
                pub raw_function: fn(buffer: *const u8, length: usize) -> i32,
            }
        ),
    );
    check_snapshot("dispatch_table", &out);
}

/// Valid inputs the corpus is mangled from: (macro, args, item).
fn seeds() -> Vec<(&'static str, TokenStream, TokenStream)> {
    vec![
        (
            "npi",
            quote!(
                id = "F0B35B9A-3E1C-4C55-9E0B-52A64D5E71C2",
                client_dispatch = A,
                registration_version = 1
            ),
            quote!(
                pub struct Exnpi;
            ),
        ),
        (
            "client",
            quote!(
                npi = a::Exnpi,
                module_id = "1B0E58E1-0A8F-4E2A-8B6A-0D3577B4C9E0",
                number = 1,
                version = 2,
                characteristics = C
            ),
            quote!(
                struct ExClient {
                    a: u32,
                    b: Mutex<Vec<u8>>,
                }
            ),
        ),
        (
            "provider",
            quote!(npi = Exnpi, dynamic_module_id),
            quote!(
                pub(crate) struct P;
            ),
        ),
        (
            "dispatch",
            quote!(abi = "C"),
            quote!(
                pub struct T {
                    pub v: u16,
                    pub f: fn(#[context] b: *mut c_void, x: u32) -> u32,
                    g: fn(),
                }
            ),
        ),
    ]
}

fn run(which: &str, args: TokenStream, item: TokenStream) -> TokenStream {
    match which {
        "npi" => crate::npi_def::expand(args, item),
        "client" => crate::module::expand(Role::Client, args, item),
        "provider" => crate::module::expand(Role::Provider, args, item),
        _ => crate::dispatch::expand(args, item),
    }
}

/// Every way of damaging `tokens` by one edit: drop a token, duplicate one, swap two
/// neighbours, replace one with a stray punctuation, literal or keyword. Groups are mangled
/// recursively.
fn mutations(tokens: &TokenStream) -> Vec<TokenStream> {
    let tts: Vec<TokenTree> = tokens.clone().into_iter().collect();
    let strays: Vec<TokenTree> =
        quote!(= , : # "" 0 -1 enum fn {} () < > 'a ! ::).into_iter().collect();
    let mut out = Vec::new();
    for i in 0..tts.len() {
        let mut v = tts.clone();
        v.remove(i);
        out.push(v.into_iter().collect());
        let mut v = tts.clone();
        v.insert(i, tts[i].clone());
        out.push(v.into_iter().collect());
        if i + 1 < tts.len() {
            let mut v = tts.clone();
            v.swap(i, i + 1);
            out.push(v.into_iter().collect());
        }
        for s in &strays {
            let mut v = tts.clone();
            v[i] = s.clone();
            out.push(v.into_iter().collect());
        }
        if let TokenTree::Group(g) = &tts[i] {
            for inner in mutations(&g.stream()) {
                let mut v = tts.clone();
                v[i] = TokenTree::Group(proc_macro2::Group::new(g.delimiter(), inner));
                out.push(v.into_iter().collect());
            }
        }
    }
    out
}

#[test]
fn mangled_inputs_never_panic_and_always_answer() {
    let mut cases = 0;
    for (which, args, item) in seeds() {
        let valid = run(which, args.clone(), item.clone());
        assert!(!valid.to_string().contains("compile_error"), "seed {which} is valid: {valid}");
        let damaged_args = mutations(&args).into_iter().map(|a| (a, item.clone()));
        let damaged_items = mutations(&item).into_iter().map(|i| (args.clone(), i));
        for (a, i) in damaged_args.chain(damaged_items) {
            cases += 1;
            let result = std::panic::catch_unwind(|| run(which, a.clone(), i.clone()));
            let out =
                result.unwrap_or_else(|_| panic!("{which} panicked on args `{a}` item `{i}`"));
            // Either an error or a well-formed expansion: never an empty or broken answer.
            if !out.to_string().contains("compile_error") {
                assert!(
                    syn::parse2::<syn::File>(out.clone()).is_ok(),
                    "{which}: `{a}` / `{i}` -> {out}"
                );
            }
        }
    }
    assert!(cases > 2000, "the corpus exercised {cases} inputs");
}

// ------------------------------------------------------------------------------------------
// Whole-file expansion, for `cargo xtask macro-cost`.

/// The attribute macros this crate defines, by the name a user writes.
const MACROS: [&str; 4] = ["npi", "dispatch_table", "npi_client", "npi_provider"];

/// Tokens in a stream, counting a group and everything in it.
fn count_tokens(tokens: &TokenStream) -> usize {
    tokens
        .clone()
        .into_iter()
        .map(|t| match t {
            TokenTree::Group(g) => 1 + count_tokens(&g.stream()),
            _ => 1,
        })
        .sum()
}

/// Per macro (in [`MACROS`] order): invocations, tokens in (arguments and item), tokens out.
type Stats = [[usize; 3]; 4];

/// Expands every npi attribute in `items`, recursively into inline modules, with the macro
/// cores as the compiler would call them.
fn expand_items(items: Vec<syn::Item>, stats: &mut Stats) -> Vec<syn::Item> {
    let mut out = Vec::new();
    for mut item in items {
        if let syn::Item::Mod(m) = &mut item
            && let Some((_, content)) = m.content.take()
        {
            m.content = Some((syn::token::Brace::default(), expand_items(content, stats)));
        }
        if let syn::Item::Use(u) = &mut item {
            // A hand-written expansion imports no macros.
            if !drop_macro_imports(&mut u.tree) {
                continue;
            }
        }
        let attrs = match &mut item {
            syn::Item::Struct(s) => &mut s.attrs,
            _ => {
                out.push(item);
                continue;
            }
        };
        let found = attrs.iter().position(|a| {
            a.path().segments.last().is_some_and(|s| MACROS.iter().any(|m| s.ident == m))
        });
        let Some(index) = found else {
            out.push(item);
            continue;
        };
        let attr = attrs.remove(index);
        let name = attr.path().segments.last().unwrap().ident.to_string();
        let args = match &attr.meta {
            syn::Meta::List(list) => list.tokens.clone(),
            _ => TokenStream::new(),
        };
        let item_tokens = quote!(#item);
        let which = MACROS.iter().position(|m| *m == name).unwrap();
        let tokens_in = count_tokens(&args) + count_tokens(&item_tokens);
        let expanded = match name.as_str() {
            "npi" => crate::npi_def::expand(args, item_tokens),
            "dispatch_table" => crate::dispatch::expand(args, item_tokens),
            "npi_client" => crate::module::expand(Role::Client, args, item_tokens),
            _ => crate::module::expand(Role::Provider, args, item_tokens),
        };
        let row = &mut stats[which];
        row[0] += 1;
        row[1] += tokens_in;
        row[2] += count_tokens(&expanded);
        let file: syn::File = syn::parse2(expanded.clone())
            .unwrap_or_else(|e| panic!("#[{name}] expanded to no items: {e}\n{expanded}"));
        // An expansion may hold further npi attributes (it does not today): expand them too.
        out.extend(expand_items(file.items, stats));
    }
    out
}

/// Takes the npi macros out of a `use` tree; false when nothing is left of it.
fn drop_macro_imports(tree: &mut syn::UseTree) -> bool {
    match tree {
        syn::UseTree::Name(n) => !MACROS.iter().any(|m| n.ident == m),
        syn::UseTree::Path(p) => drop_macro_imports(&mut p.tree),
        syn::UseTree::Group(g) => {
            let kept: Vec<syn::UseTree> = std::mem::take(&mut g.items)
                .into_iter()
                .filter_map(|mut t| drop_macro_imports(&mut t).then_some(t))
                .collect();
            g.items.extend(kept);
            !g.items.is_empty()
        }
        _ => true,
    }
}

/// `source` with every npi macro expanded, printed by prettyplease; and the statistics.
fn expand_source(source: &str) -> (String, Stats) {
    let file: syn::File = syn::parse_str(source).expect("the input parses as a Rust file");
    let mut stats = Stats::default();
    let mut expanded = file;
    expanded.items = expand_items(std::mem::take(&mut expanded.items), &mut stats);
    (prettyplease::unparse(&expanded), stats)
}

/// With `NPI_EXPAND_IN` and `NPI_EXPAND_OUT` set (by `cargo xtask macro-cost`): expands the
/// input file into the output file, and writes per-macro token counts to `NPI_EXPAND_STATS`
/// (tab-separated, with a header) when that is set too. Without them: expands a small sample
/// and checks that the result is a file with no npi attribute left.
#[test]
fn expand_file() {
    let (input, output) = (std::env::var_os("NPI_EXPAND_IN"), std::env::var_os("NPI_EXPAND_OUT"));
    let (Some(input), Some(output)) = (input, output) else {
        let sample = r#"
            use npi_runtime::{dispatch_table, npi, npi_client, npi_provider, Client};
            #[dispatch_table]
            pub struct Table { pub version: u16, pub f: fn(#[context] b: *mut c_void, x: u32) -> u32 }
            #[npi(id = "F0B35B9A-3E1C-4C55-9E0B-52A64D5E71C2", provider_dispatch = Table)]
            pub struct Exnpi;
            pub mod sides {
                #[npi_provider(npi = super::Exnpi, module_id = "6D6C7F54-80C6-4A52-B0C8-4C9A1D0E3F21")]
                pub struct P;
                #[npi_runtime::npi_client(npi = super::Exnpi, dynamic_module_id)]
                pub struct C;
            }
        "#;
        let (text, stats) = expand_source(sample);
        let file: syn::File = syn::parse_str(&text).expect("the expansion prints as a file");
        assert_eq!(stats.map(|s| s[0]), [1, 1, 1, 1], "one invocation of each macro");
        let left = text.lines().find(|l| MACROS.iter().any(|m| l.contains(&format!("#[{m}"))));
        assert!(left.is_none(), "an npi attribute survived: {left:?}\n{text}");
        assert!(!text.contains("compile_error"), "the sample is valid:\n{text}");
        assert!(text.contains("use npi_runtime::Client;"), "only macro imports go:\n{text}");
        assert!(file.items.len() > 6, "the items and their impls:\n{text}");
        return;
    };
    let source = std::fs::read_to_string(&input)
        .unwrap_or_else(|e| panic!("reading {}: {e}", input.display()));
    let (text, stats) = expand_source(&source);
    let header = "// Generated by `cargo xtask macro-cost`: the `macros` crate after npi-macros' \
                  expansion.\n";
    std::fs::write(&output, format!("{header}{text}"))
        .unwrap_or_else(|e| panic!("writing {}: {e}", output.display()));
    if let Some(path) = std::env::var_os("NPI_EXPAND_STATS") {
        let mut tsv = String::from("macro\tinvocations\ttokens_in\ttokens_out\n");
        for (name, [calls, tokens_in, tokens_out]) in MACROS.iter().zip(stats) {
            tsv.push_str(&format!("{name}\t{calls}\t{tokens_in}\t{tokens_out}\n"));
        }
        std::fs::write(&path, tsv).unwrap_or_else(|e| panic!("writing {}: {e}", path.display()));
    }
}
