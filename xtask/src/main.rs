//! Project tooling, run as `cargo xtask <command>` (an alias in `.cargo/config.toml`).
//!
//! - `driver`: builds `examples/kernel-driver` into a Windows kernel driver (`.sys`) for x64,
//!   arm64 and/or x86 with Debian's Rust toolchain and `lld-link`, then inspects the PE image
//!   and fails unless it is shaped like a driver that uses the NMR correctly and links no
//!   `core::fmt` (naming the driver functions that pull it in, see `fmt_free`); then builds
//!   and checks the same driver written in C (`examples/kernel-driver-c`, see `cbuild`) and
//!   prints the two images' sizes side by side.
//! - `abi-check`: measures the NMR structure layouts twice, from a C header compiled by clang
//!   and from npi-runtime's Rust types compiled for the same targets, and compares them.
//!
//! - `memcheck`: runs every test binary of the workspace under valgrind's memcheck, after a
//!   self-test on known-bad code; `asan`: the same under AddressSanitizer with a nightly build
//!   (see `memcheck`).
//! - `macro-cost`: `cargo check` of a generated crate that uses the macros against the same
//!   crate expanded, and the cold build of the macros' dependency stack (see `macro_cost`).
//! - `emulate`: runs the EXNPI drivers of `examples/drivers` (Rust and C, x64 and x86) in a
//!   speakeasy-emulated kernel with an NMR written in Python (see `emulate`).
//! - `bench`: every benchmark of BENCHMARKS.md in one run, then one table of ratios against
//!   their references and goals (see `bench`).
//!
//! None needs a Windows SDK, WDK or Windows machine; each installs the Debian packages it
//! needs (see `toolchain`).

mod abi;
mod bench;
mod cbuild;
mod cli;
mod driver;
mod emulate;
mod fmt_free;
mod image;
mod inspect;
mod kbuild;
mod macro_cost;
mod map;
mod memcheck;
mod target;
mod toolchain;
mod x86_float;

use std::path::PathBuf;
use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match cli::parse(&args).and_then(run) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            // `{:#}` prints the whole context chain on one line: "what failed: because ...".
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(command: cli::Command) -> anyhow::Result<()> {
    match command {
        cli::Command::Help => {
            print!("{}", cli::USAGE);
            Ok(())
        }
        cli::Command::Driver(options) => driver::run(&options),
        cli::Command::AbiCheck(options) => abi::run(&options),
        cli::Command::Memcheck(options) => memcheck::run(memcheck::Tool::Memcheck, &options),
        cli::Command::Asan(options) => memcheck::run(memcheck::Tool::Asan, &options),
        cli::Command::MacroCost(options) => macro_cost::run(&options),
        cli::Command::Bench(options) => bench::run(&options),
        cli::Command::Emulate(options) => emulate::run(&options),
    }
}

/// The workspace root: xtask lives in `<root>/xtask`.
fn workspace_root() -> PathBuf {
    let manifest_dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    manifest_dir.parent().map_or(manifest_dir.clone(), std::path::Path::to_path_buf)
}

/// Progress on stderr, so stdout keeps only the reports.
pub(crate) fn log(message: std::fmt::Arguments<'_>) {
    eprintln!("==> {message}");
}
