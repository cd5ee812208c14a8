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
