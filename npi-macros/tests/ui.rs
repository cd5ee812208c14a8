//! Compile-time tests of the macros, through trybuild.
//!
//! - `tests/ui/<macro>/*.rs`: one mistake per file; each must fail to compile with the message
//!   in the `.stderr` file next to it.
//! - `tests/pass/*.rs`: programs that must compile and run (name shadowing, lints, cfg-gated
//!   members). The real NPIs are declared once, in `npis/`, and run by the ports in `src/real/`.
//!
//! The `.stderr` files are the exact output of one compiler, the one CI uses (rustc 1.95
//! stable); any other compiler words and spans its diagnostics differently. On another compiler
//! the compile-fail comparison is skipped with a message on stderr (the pass cases still run),
//! unless `NPI_REQUIRE_PINNED_UI` is set, as CI does: then it fails. After a change to a macro's messages, regenerate them
//! with `TRYBUILD=overwrite cargo test -p npi-macros --test ui` and review the diff.

use std::process::Command;

/// The compiler the `.stderr` files were generated with.
const PINNED: &str = "1.95";

/// The version `rustc --version` reports (`RUSTC`, else `rustc` on the `PATH`), e.g.
/// `1.95.0` or `1.96.0-nightly`.
fn rustc_version() -> String {
    let rustc = std::env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
    let output = Command::new(&rustc)
        .arg("--version")
        .output()
        .unwrap_or_else(|e| panic!("cannot run `{} --version`: {e}", rustc.to_string_lossy()));
    let text = String::from_utf8_lossy(&output.stdout);
    // "rustc 1.95.0 (59807616e 2026-04-14)"
    text.split_whitespace().nth(1).unwrap_or_default().to_owned()
}

/// `1.95.x` stable: no `-beta`/`-nightly`/`-dev` suffix.
fn is_pinned(version: &str) -> bool {
    version
        .strip_prefix(PINNED)
        .and_then(|rest| rest.strip_prefix('.'))
        .is_some_and(|patch| !patch.is_empty() && patch.bytes().all(|b| b.is_ascii_digit()))
}

/// Set (CI sets it) to make a compiler other than the pinned one an error instead of a skip of
/// the `.stderr` comparison.
const REQUIRE_PINNED: &str = "NPI_REQUIRE_PINNED_UI";

#[test]
fn ui() {
    let version = rustc_version();
    let t = trybuild::TestCases::new();
    if is_pinned(&version) {
        t.compile_fail("tests/ui/**/*.rs");
    } else {
        let advice = format!(
            "the compile-fail cases of npi-macros compare against tests/ui/**/*.stderr, the exact \
             diagnostics of rustc {PINNED}.x stable (the CI compiler), which other versions word \
             and place differently. This is rustc `{version}`. Run them with \
             `cargo +{PINNED} test -p npi-macros --test ui`, or, when moving CI to a new \
             compiler, update PINNED in tests/ui.rs and regenerate the files with \
             `TRYBUILD=overwrite cargo test -p npi-macros --test ui` and review the diff."
        );
        assert!(std::env::var_os(REQUIRE_PINNED).is_none(), "{REQUIRE_PINNED} is set: {advice}");
        // Loud: straight to the process's stderr, which libtest does not capture (it captures
        // `eprintln!`, shown only for failures). The pass cases below still run.
        let _ = std::io::Write::write_all(
            &mut std::io::stderr(),
            format!("\nSKIPPED (compile-fail comparison): {advice}\n").as_bytes(),
        );
    }
    t.pass("tests/pass/*.rs");
}

#[test]
fn version_check_accepts_only_pinned_stable() {
    assert!(is_pinned("1.95.0"));
    assert!(is_pinned("1.95.12"));
    assert!(!is_pinned("1.95.0-nightly"));
    assert!(!is_pinned("1.95.0-beta.3"));
    assert!(!is_pinned("1.96.0"));
    assert!(!is_pinned("1.9.0"));
    assert!(!is_pinned("1.950.0"));
    assert!(!is_pinned(""));
}
