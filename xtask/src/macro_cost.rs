//! `cargo xtask macro-cost`: what the macros cost a crate that uses them, in `cargo check` wall
//! time, against the same crate with the expansion written out by hand.
//!
//! - **The crates** (generated under `target/macro-cost/pair/`, never checked in): `macros`
//!   declares N NPIs (default 50) as a driver author would, each with an `#[npi]` (and its
//!   `unsafe impl NpiLayout`), a provider and a client module (`#[npi_provider]`,
//!   `#[npi_client]`, their `impl Provider`/`impl Client`), a 3-function `#[dispatch_table]` on
//!   each side (two `#[context]` functions and one with raw pointers, so both a safe and an
//!   `unsafe` call), the `<Table>Impl`s, the `ProviderTable<..>`/`ClientTable<..>` statics and
//!   calls through the peer's table. `expanded` is that crate after the real macro expansion:
//!   npi-macros' own expansion functions run over the file (the test
//!   `npi-macros/src/tests.rs::expand_file`, as the snapshots do, with `NPI_EXPAND_IN`/`_OUT`
//!   naming the files) and prettyplease prints the
//!   result. Both depend on `npi-runtime` by path and must compile on stable.
//! - **Cold**: `cargo clean -p <crate>`, then `cargo check -p <crate>` (dependencies stay
//!   built). **Incremental**: the source's mtime set to now (what an editor's save does to a
//!   crate whose other files changed), then `cargo check -p <crate>`: rustc re-parses, re-runs
//!   every macro and replays the rest from its incremental cache.
//! - **Noise**: the two crates alternate, in alternating order (macros first in even rounds),
//!   so drift on a shared machine hits both; each figure is the median of the rounds with its
//!   min–max, and the ratio is given both as the ratio of medians and as the median of the
//!   per-round ratios (each from two runs seconds apart). CPU time (user + sys of the cargo
//!   process tree, from `/proc/self/stat`) is printed beside the wall time: it is less sensitive
//!   to a neighbour on the other core.
//! - **Dependency stack**: a cold `cargo check` (fresh target directory) of an empty crate that
//!   depends on `npi-macros` (syn 3, darling 0.24, quote, proc-macro2, uuid), on `npi-runtime`
//!   (all of npi), and, for reference, on `thiserror` only: the build time a user pays before
//!   the first line of their own code.
//! - `--instructions`: the instructions the `rustc` of each crate's incremental and cold check
//!   retires, counted by callgrind (through a `RUSTC_WRAPPER` that wraps only the two crates'
//!   rustc, so neither cargo nor the dependencies count): one run each, load-independent, about
//!   50 times slower than the check itself. The callgrind profiles stay in
//!   `target/macro-cost/callgrind/` for `callgrind_annotate`.
//! - `--quick`: one round and no stack builds, for CI (about a minute once the workspace is
//!   built): it asserts nothing about time, but fails if either generated crate does not
//!   compile.

use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Instant, SystemTime};

use anyhow::{Context, bail};

use crate::cli::MacroCostOptions;
use crate::toolchain::{run_capture, show};
use crate::{log, workspace_root};

/// The generated crates' package names.
const MACROS: &str = "npi-cost-macros";
const EXPANDED: &str = "npi-cost-expanded";

pub(crate) fn run(options: &MacroCostOptions) -> anyhow::Result<()> {
    let root = workspace_root();
    let work = root.join("target/macro-cost");
    let cargo = std::env::var_os("CARGO").map_or_else(|| PathBuf::from("cargo"), PathBuf::from);
    let rounds = if options.quick { 1 } else { options.rounds };

    let pair = work.join("pair");
    log(format_args!("generating a crate with {} NPIs in {}", options.npis, pair.display()));
    let stats = generate_pair(&root, &cargo, &pair, options.npis)?;

    log(format_args!("building both crates once (dependencies, and whether they compile)"));
    for name in [MACROS, EXPANDED] {
        let output = cargo_check(&cargo, &pair, name)
            .output()
            .with_context(|| format!("could not run cargo check -p {name}"))?;
        let stderr = String::from_utf8_lossy(&output.stderr);
        if !output.status.success() {
            bail!("{name} does not compile:\n{stderr}");
        }
        // Warnings cost time too (and a hand-expanded crate may get some the macro output
        // does not): say how many, and show the first.
        let warnings = stderr.lines().filter(|l| l.starts_with("warning")).count();
        if warnings > 0 {
            let first: Vec<&str> = stderr.lines().take(8).collect();
            log(format_args!("{name}: {warnings} warnings; the first:\n{}", first.join("\n")));
        }
    }

    let mut cold = Pairs::default();
    let mut incremental = Pairs::default();
    for round in 0..rounds {
        log(format_args!("round {} of {rounds}", round + 1));
        let order = if round % 2 == 0 { [0, 1] } else { [1, 0] };
        let mut cold_round = [Sample::default(); 2];
        let mut incremental_round = [Sample::default(); 2];
        for which in order {
            let name = [MACROS, EXPANDED][which];
            run_capture(
                Command::new(&cargo)
                    .args(["clean", "--offline", "--quiet", "-p", name])
                    .current_dir(&pair),
            )?;
            cold_round[which] = timed(&mut cargo_check(&cargo, &pair, name))?;
        }
        for which in order {
            let name = [MACROS, EXPANDED][which];
            touch(&pair.join(crate_dir(name)).join("src/lib.rs"))?;
            incremental_round[which] = timed(&mut cargo_check(&cargo, &pair, name))?;
        }
        cold.push(cold_round);
        incremental.push(incremental_round);
    }

    let instructions = if options.instructions {
        count_instructions(&cargo, &pair, &work.join("callgrind"))?
    } else {
        Vec::new()
    };

    let stack = if options.no_stack || options.quick {
        Vec::new()
    } else {
        measure_stack(&root, &cargo, &work.join("stack"), options.stack_rounds)?
    };

    let measured = Measured { cold, incremental, instructions, stack };
    print!("{}", report(options, rounds, &pair, &stats, &measured)?);
    Ok(())
}

/// `cargo check -p name` in the generated workspace, offline (everything is local or cached).
fn cargo_check(cargo: &Path, dir: &Path, name: &str) -> Command {
    let mut command = Command::new(cargo);
    command.args(["check", "--offline", "--quiet", "-p", name]).current_dir(dir);
    scrub(&mut command);
    command
}

/// Nothing from the caller's environment that would redirect or change the build.
fn scrub(command: &mut Command) {
    for var in [
        "CARGO_TARGET_DIR",
        "CARGO_BUILD_TARGET_DIR",
        "CARGO_BUILD_TARGET",
        "RUSTFLAGS",
        "CARGO_ENCODED_RUSTFLAGS",
        "CARGO_BUILD_RUSTFLAGS",
        "RUSTC_WRAPPER",
        "RUSTC_WORKSPACE_WRAPPER",
        "CARGO_BUILD_RUSTC_WRAPPER",
        "CARGO_INCREMENTAL",
    ] {
        command.env_remove(var);
    }
}

fn crate_dir(name: &str) -> &'static str {
    if name == MACROS { "macros" } else { "expanded" }
}

fn touch(path: &Path) -> anyhow::Result<()> {
    fs::File::options()
        .append(true)
        .open(path)
        .and_then(|f| f.set_modified(SystemTime::now()))
        .with_context(|| format!("touching {}", path.display()))
}

/// One timed command: wall seconds and CPU seconds of its process tree.
#[derive(Clone, Copy, Default, Debug)]
struct Sample {
    wall: f64,
    cpu: f64,
}

fn timed(command: &mut Command) -> anyhow::Result<Sample> {
    let cpu_before = children_cpu();
    let start = Instant::now();
    let output = command.output().with_context(|| format!("could not run {}", show(command)))?;
    let wall = start.elapsed().as_secs_f64();
    if !output.status.success() {
        bail!(
            "{} failed ({}):\n{}",
            show(command),
            output.status,
            String::from_utf8_lossy(&output.stderr).trim_end()
        );
    }
    Ok(Sample { wall, cpu: children_cpu() - cpu_before })
}

/// User + system seconds of this process's waited-for children (`cutime`, `cstime`): every
/// rustc a cargo runs is counted in cargo's, and cargo's in ours once it has been waited for.
/// 0 where `/proc` is missing.
fn children_cpu() -> f64 {
    /// `USER_HZ`, the unit of `/proc/<pid>/stat` times: 100 on every Linux ABI Rust targets.
    const TICKS_PER_SECOND: f64 = 100.0;
    let Ok(stat) = fs::read_to_string("/proc/self/stat") else { return 0.0 };
    // Fields after `(comm)`: state is field 3, cutime 16 and cstime 17.
    let Some((_, rest)) = stat.rsplit_once(')') else { return 0.0 };
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| fields.get(i).and_then(|f| f.parse::<f64>().ok()).unwrap_or(0.0);
    (ticks(13) + ticks(14)) / TICKS_PER_SECOND
}

/// Samples of the two crates, round by round: `[macros, expanded]`.
#[derive(Default)]
struct Pairs(Vec<[Sample; 2]>);

impl Pairs {
    fn push(&mut self, pair: [Sample; 2]) {
        self.0.push(pair);
    }

    fn side(&self, which: usize, cpu: bool) -> Vec<f64> {
        self.0.iter().map(|p| if cpu { p[which].cpu } else { p[which].wall }).collect()
    }

    fn ratios(&self, cpu: bool) -> Vec<f64> {
        self.0
            .iter()
            .map(|p| if cpu { p[0].cpu / p[1].cpu } else { p[0].wall / p[1].wall })
            .collect()
    }
}

fn median(values: &[f64]) -> f64 {
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    match v.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => v[n / 2],
        n => f64::midpoint(v[n / 2 - 1], v[n / 2]),
    }
}

fn min_max(values: &[f64]) -> (f64, f64) {
    values.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), &v| (lo.min(v), hi.max(v)))
}

/// `1.23 s (1.20–1.31)`.
fn seconds(values: &[f64]) -> String {
    let (lo, hi) = min_max(values);
    if values.len() == 1 {
        format!("{:.2} s", values[0])
    } else {
        format!("{:.2} s ({lo:.2}–{hi:.2})", median(values))
    }
}

fn ratio(values: &[f64]) -> String {
    let (lo, hi) = min_max(values);
    if values.len() == 1 {
        format!("{:.3}", values[0])
    } else {
        format!("{:.3} ({lo:.3}–{hi:.3})", median(values))
    }
}

// ------------------------------------------------------------------------------------------
// The crates.

/// Per macro: invocations, tokens in, tokens out (from the expansion).
struct ExpansionStats(Vec<(String, [usize; 3])>);

/// Writes the generated workspace: both crates, the macro crate expanded by npi-macros.
fn generate_pair(
    root: &Path,
    cargo: &Path,
    pair: &Path,
    npis: usize,
) -> anyhow::Result<ExpansionStats> {
    let runtime = root.join("npi-runtime");
    write(
        &pair.join("Cargo.toml"),
        "# Generated by `cargo xtask macro-cost`.\n[workspace]\nmembers = [\"macros\", \
         \"expanded\"]\nresolver = \"3\"\n",
    )?;
    // The workspace's lock file, so the runtime's dependencies are the versions it tests with.
    fs::copy(root.join("Cargo.lock"), pair.join("Cargo.lock")).context("copying Cargo.lock")?;
    for (dir, name, what) in [
        ("macros", MACROS, "uses npi's macros"),
        ("expanded", EXPANDED, "is npi-cost-macros with the macros expanded"),
    ] {
        write(
            &pair.join(dir).join("Cargo.toml"),
            &format!(
                "# Generated by `cargo xtask macro-cost`.\n[package]\nname = \"{name}\"\n\
                 description = \"{npis} NPIs; {what}\"\nversion = \"0.0.0\"\nedition = \
                 \"2024\"\npublish = false\n\n[dependencies]\nnpi-runtime = {{ path = \"{}\" \
                 }}\n",
                runtime.display()
            ),
        )?;
    }
    let source = pair.join("macros/src/lib.rs");
    write(&source, &macro_crate(npis))?;

    let expanded = pair.join("expanded/src/lib.rs");
    let stats_file = pair.join("expansion-stats.tsv");
    let _ = fs::remove_file(&expanded);
    write(&expanded, "")?;
    log(format_args!("expanding it with npi-macros (npi-macros/src/tests.rs::expand_file)"));
    let mut command = Command::new(cargo);
    command
        .args(["test", "--quiet", "-p", "npi-macros", "--lib", "--"])
        .args(["--exact", "tests::expand_file"])
        .env("NPI_EXPAND_IN", &source)
        .env("NPI_EXPAND_OUT", &expanded)
        .env("NPI_EXPAND_STATS", &stats_file)
        .current_dir(root);
    run_capture(&mut command)?;
    if fs::metadata(&expanded).map_or(0, |m| m.len()) == 0 {
        bail!("{} wrote no {}", show(&command), expanded.display());
    }
    let stats = fs::read_to_string(&stats_file)
        .with_context(|| format!("reading {}", stats_file.display()))?;
    let rows = stats
        .lines()
        .skip(1)
        .map(|line| {
            let mut fields = line.split('\t');
            let name = fields.next().unwrap_or_default().to_owned();
            let mut numbers = [0; 3];
            for n in &mut numbers {
                *n = fields.next().and_then(|f| f.parse().ok()).unwrap_or(0);
            }
            (name, numbers)
        })
        .collect();
    Ok(ExpansionStats(rows))
}

fn write(path: &Path, text: &str) -> anyhow::Result<()> {
    if let Some(dir) = path.parent() {
        fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    fs::write(path, text).with_context(|| format!("writing {}", path.display()))
}

/// The crate a driver author would write: `npis` modules like [`NPI_TEMPLATE`].
fn macro_crate(npis: usize) -> String {
    let mut out = String::from(
        "//! Generated by `cargo xtask macro-cost`: NPIs declared and served with npi's macros.\n",
    );
    for i in 0..npis {
        out.push_str(
            &NPI_TEMPLATE.replace("{I}", &format!("{i:03}")).replace("{X}", &format!("{i:04X}")),
        );
    }
    out
}

/// One NPI, both tables, a provider and a client. `{I}` is the number, `{X}` it in hex.
const NPI_TEMPLATE: &str = r#"
/// NPI {I}: a provider and a client, three functions in each direction.
pub mod npi_{I} {
    use core::ffi::c_void;
    use core::sync::atomic::{AtomicU32, Ordering};

    use npi_runtime::{
        Attach, Client, ClientAttachRequest, ClientBinding, ClientTable, NpiLayout, Provider,
        ProviderAttachRequest, ProviderBinding, ProviderTable, dispatch_table, npi, npi_client,
        npi_provider,
    };

    /// What the provider offers its clients.
    #[dispatch_table]
    pub struct ProviderDispatch {
        /// Table version.
        pub version: u16,
        /// `sizeof` the table.
        pub length: u16,
        /// Adds `value` to the binding's counter and returns the new count.
        pub add: fn(#[context] binding: *mut c_void, value: u32) -> u32,
        /// The binding's counter.
        pub get: fn(#[context] binding: *mut c_void) -> u32,
        /// Sums `length` bytes at `buffer`.
        pub checksum: fn(buffer: *const u8, length: usize) -> u32,
    }

    /// What a client offers its provider.
    #[dispatch_table]
    pub struct ClientDispatch {
        /// Table version.
        pub version: u16,
        /// `sizeof` the table.
        pub length: u16,
        /// The provider has news for this client.
        pub notify: fn(#[context] binding: *mut c_void, value: u32),
        /// The client's answer to a status code.
        pub status: fn(#[context] binding: *mut c_void, code: i32) -> i32,
        /// Data the provider indicates; returns how many bytes the client took.
        pub indicate: fn(data: *const u8, length: usize) -> usize,
    }

    /// NPI {I}.
    #[npi(
        id = "4E504900-{X}-4000-8000-000000000000",
        client_dispatch = ClientDispatch,
        provider_dispatch = ProviderDispatch
    )]
    pub struct Npi{I};
    // SAFETY: both sides in this crate use this one declaration, and no other declaration of
    // this id exists.
    unsafe impl NpiLayout for Npi{I} {}

    /// The provider.
    pub mod provider {
        use super::*;

        /// The provider's registration context.
        #[npi_provider(npi = Npi{I}, module_id = "4E504900-{X}-4000-8000-000000000001")]
        pub struct Module {
            /// Bindings attached so far.
            pub attached: AtomicU32,
        }

        impl Provider for Module {
            type Binding = AtomicU32;

            fn attach(&self, request: ProviderAttachRequest<'_, Self>) -> Attach {
                self.attached.fetch_add(1, Ordering::Relaxed);
                request.accept(AtomicU32::new(0), &TABLE).into()
            }
        }

        impl ProviderDispatchImpl for Module {
            fn add(binding: &ProviderBinding<'_, Module>, value: u32) -> u32 {
                if let Some(client) = binding.peer() {
                    client.notify(value);
                }
                binding.fetch_add(value, Ordering::Relaxed) + value
            }

            fn get(binding: &ProviderBinding<'_, Module>) -> u32 {
                binding.load(Ordering::Relaxed)
            }

            unsafe fn checksum(buffer: *const u8, length: usize) -> u32 {
                // SAFETY: the NPI has the client pass `length` readable bytes at `buffer`.
                let bytes = unsafe { core::slice::from_raw_parts(buffer, length) };
                bytes.iter().map(|&b| u32::from(b)).sum()
            }
        }

        /// The provider's table.
        pub static TABLE: ProviderTable<Module> =
            ProviderDispatch::new::<Module>(1, ProviderDispatch::END_OF_CHECKSUM as u16);
        /// The provider, to register.
        pub static MODULE: Module = Module { attached: AtomicU32::new(0) };
    }

    /// The client.
    pub mod client {
        use super::*;

        /// The client's registration context.
        #[npi_client(npi = Npi{I}, module_id = "4E504900-{X}-4000-8000-000000000002")]
        pub struct Module {
            /// Notifications so far.
            pub notified: AtomicU32,
        }

        impl Client for Module {
            type Binding = AtomicU32;

            fn attach(&self, request: ClientAttachRequest<'_, Self>) -> Attach {
                request.accept(AtomicU32::new(0), &TABLE).into()
            }
        }

        impl ClientDispatchImpl for Module {
            fn notify(binding: &ClientBinding<'_, Module>, value: u32) {
                binding.fetch_add(value, Ordering::Relaxed);
            }

            fn status(binding: &ClientBinding<'_, Module>, code: i32) -> i32 {
                match binding.peer() {
                    Some(provider) => code.wrapping_add_unsigned(provider.get()),
                    None => code,
                }
            }

            unsafe fn indicate(data: *const u8, length: usize) -> usize {
                if data.is_null() { 0 } else { length }
            }
        }

        /// The client's table.
        pub static TABLE: ClientTable<Module> =
            ClientDispatch::new::<Module>(1, ClientDispatch::END_OF_INDICATE as u16);
        /// The client, to register.
        pub static MODULE: Module = Module { notified: AtomicU32::new(0) };
    }
}
"#;

// ------------------------------------------------------------------------------------------
// Instructions.

/// Instructions of the two crates' rustc, `[macros, expanded]`, for an incremental check (after
/// a touch) and a cold one (after `cargo clean -p`).
fn count_instructions(
    cargo: &Path,
    pair: &Path,
    dir: &Path,
) -> anyhow::Result<Vec<(&'static str, [u64; 2])>> {
    run_capture(Command::new("valgrind").arg("--version"))
        .context("--instructions needs valgrind (apt-get install valgrind)")?;
    fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let wrapper = dir.join("rustc-wrapper.sh");
    // Only the generated crates run under callgrind; the log names the crate and the mode.
    write(
        &wrapper,
        "#!/bin/sh\n# Generated by `cargo xtask macro-cost --instructions`.\nrustc=\"$1\"; \
         shift\ncase \" $* \" in\n  *\" --crate-name npi_cost_\"*)\n    exec valgrind \
         --tool=callgrind --callgrind-out-file=\"$NPI_CALLGRIND_OUT\" \"$rustc\" \"$@\" \
         2>>\"$NPI_CALLGRIND_OUT.log\" ;;\nesac\nexec \"$rustc\" \"$@\"\n",
    )?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        fs::set_permissions(&wrapper, fs::Permissions::from_mode(0o755))
            .with_context(|| format!("making {} executable", wrapper.display()))?;
    }
    let mut rows = Vec::new();
    for mode in ["incremental (after touch)", "cold (after `cargo clean -p`)"] {
        let mut counts = [0; 2];
        for (which, name) in [MACROS, EXPANDED].into_iter().enumerate() {
            log(format_args!("instructions: {name}, {mode}"));
            if mode.starts_with("cold") {
                run_capture(
                    Command::new(cargo)
                        .args(["clean", "--offline", "--quiet", "-p", name])
                        .current_dir(pair),
                )?;
            } else {
                // Up to date first, so that only the touch is replayed.
                run_capture(&mut cargo_check(cargo, pair, name))?;
                touch(&pair.join(crate_dir(name)).join("src/lib.rs"))?;
            }
            let out = dir.join(format!("callgrind.{}.{}", crate_dir(name), &mode[..4]));
            let log_file = PathBuf::from(format!("{}.log", out.display()));
            let _ = fs::remove_file(&log_file);
            let mut check = cargo_check(cargo, pair, name);
            check.env("RUSTC_WRAPPER", &wrapper).env("NPI_CALLGRIND_OUT", &out);
            run_capture(&mut check)?;
            let log_text = fs::read_to_string(&log_file)
                .with_context(|| format!("reading {} (did rustc run?)", log_file.display()))?;
            // "==123== Collected : 1934567890"
            counts[which] = log_text
                .lines()
                .filter_map(|l| l.split("Collected :").nth(1))
                .filter_map(|n| n.trim().parse::<u64>().ok())
                .sum();
            if counts[which] == 0 {
                bail!("no instruction count in {}", log_file.display());
            }
        }
        rows.push((mode, counts));
    }
    Ok(rows)
}

// ------------------------------------------------------------------------------------------
// The dependency stack.

/// The crates whose cold build is compared: (directory, what it depends on, dependency line).
const STACK: [(&str, &str, &str); 3] = [
    ("thiserror", "thiserror 2 (syn 2, quote, proc-macro2)", "thiserror = \"2\""),
    (
        "npi-macros",
        "npi-macros (syn 3, darling 0.24, quote, proc-macro2, uuid)",
        "npi-macros = { path = \"@ROOT@/npi-macros\" }",
    ),
    (
        "npi-runtime",
        "npi-runtime (npi-macros, rustc-hash, the runtime)",
        "npi-runtime = { path = \"@ROOT@/npi-runtime\" }",
    ),
];

/// Cold `cargo check` of each crate of [`STACK`], in a fresh target directory, interleaved.
fn measure_stack(
    root: &Path,
    cargo: &Path,
    dir: &Path,
    rounds: usize,
) -> anyhow::Result<Vec<(&'static str, Vec<Sample>)>> {
    let mut results: Vec<(&'static str, Vec<Sample>)> = Vec::new();
    for (name, what, dependency) in STACK {
        let crate_dir = dir.join(name);
        let dependency = dependency.replace("@ROOT@", &root.display().to_string());
        write(
            &crate_dir.join("Cargo.toml"),
            &format!(
                "# Generated by `cargo xtask macro-cost`.\n[workspace]\n\n[package]\nname = \
                 \"stack-{name}\"\nversion = \"0.0.0\"\nedition = \"2024\"\npublish = \
                 false\n\n[dependencies]\n{dependency}\n"
            ),
        )?;
        write(&crate_dir.join("src/lib.rs"), "//! Depends on one crate and uses nothing.\n")?;
        if name != "thiserror" {
            fs::copy(root.join("Cargo.lock"), crate_dir.join("Cargo.lock"))
                .context("copying Cargo.lock")?;
        }
        // Resolves and downloads (thiserror, the first time) outside the timing.
        let mut fetch = Command::new(cargo);
        fetch.args(["fetch", "--quiet"]).current_dir(&crate_dir);
        scrub(&mut fetch);
        run_capture(&mut fetch)?;
        results.push((what, Vec::new()));
    }
    for round in 0..rounds {
        log(format_args!("dependency stack, cold build, round {} of {rounds}", round + 1));
        let mut order: Vec<usize> = (0..STACK.len()).collect();
        if round % 2 == 1 {
            order.reverse();
        }
        for i in order {
            let crate_dir = dir.join(STACK[i].0);
            let target = crate_dir.join("target");
            if target.exists() {
                fs::remove_dir_all(&target)
                    .with_context(|| format!("removing {}", target.display()))?;
            }
            let mut command = Command::new(cargo);
            command.args(["check", "--offline", "--quiet"]).current_dir(&crate_dir);
            scrub(&mut command);
            results[i].1.push(timed(&mut command)?);
        }
    }
    Ok(results)
}

// ------------------------------------------------------------------------------------------
// The report.

/// Everything measured, for the report.
struct Measured {
    cold: Pairs,
    incremental: Pairs,
    /// `(mode, [macros, expanded])`.
    instructions: Vec<(&'static str, [u64; 2])>,
    stack: Vec<(&'static str, Vec<Sample>)>,
}

fn report(
    options: &MacroCostOptions,
    rounds: usize,
    pair: &Path,
    stats: &ExpansionStats,
    measured: &Measured,
) -> anyhow::Result<String> {
    let Measured { cold, incremental, instructions, stack } = measured;
    let rustc = run_capture(Command::new("rustc").arg("-V")).unwrap_or_default();
    let mut out = String::new();
    let size = |name: &str| -> anyhow::Result<(usize, usize)> {
        let path = pair.join(crate_dir(name)).join("src/lib.rs");
        let text = fs::read_to_string(&path).with_context(|| format!("{}", path.display()))?;
        Ok((text.len(), text.lines().count()))
    };
    let (macro_bytes, macro_lines) = size(MACROS)?;
    let (expanded_bytes, expanded_lines) = size(EXPANDED)?;
    writeln!(
        out,
        "\n## macro cost: {} NPIs, {rounds} interleaved round(s), {}",
        options.npis,
        rustc.trim()
    )?;
    writeln!(
        out,
        "sources: {MACROS} {macro_lines} lines / {macro_bytes} B; {EXPANDED} {expanded_lines} \
         lines / {expanded_bytes} B (target/macro-cost/pair)\n"
    )?;
    writeln!(out, "| macro | invocations | tokens in | tokens out | out per invocation | share |")?;
    writeln!(out, "|---|---:|---:|---:|---:|---:|")?;
    let total: usize = stats.0.iter().map(|(_, n)| n[2]).sum();
    for (name, [calls, tokens_in, tokens_out]) in &stats.0 {
        writeln!(
            out,
            "| `#[{name}]` | {calls} | {tokens_in} | {tokens_out} | {} | {:.0} % |",
            tokens_out / (*calls).max(1),
            100.0 * *tokens_out as f64 / total.max(1) as f64
        )?;
    }
    writeln!(out)?;
    writeln!(
        out,
        "| `cargo check` | with macros: wall, median (min–max) | hand-expanded | ratio of \
         medians | per-round ratio, median (min–max) | CPU ratio (user+sys) |"
    )?;
    writeln!(out, "|---|---:|---:|---:|---:|---:|")?;
    for (what, pairs) in
        [("cold (after `cargo clean -p`)", cold), ("incremental (after touch)", incremental)]
    {
        let (m, e) = (pairs.side(0, false), pairs.side(1, false));
        let (mc, ec) = (pairs.side(0, true), pairs.side(1, true));
        writeln!(
            out,
            "| {what} | {} | {} | **{:.3}** | {} | {:.3} |",
            seconds(&m),
            seconds(&e),
            median(&m) / median(&e),
            ratio(&pairs.ratios(false)),
            median(&mc) / median(&ec),
        )?;
    }
    if !instructions.is_empty() {
        writeln!(out)?;
        writeln!(
            out,
            "| `cargo check`, rustc instructions (callgrind) | with macros | hand-expanded | ratio |"
        )?;
        writeln!(out, "|---|---:|---:|---:|")?;
        for (mode, [m, e]) in instructions {
            writeln!(
                out,
                "| {mode} | {:.3} G | {:.3} G | **{:.3}** |",
                *m as f64 / 1e9,
                *e as f64 / 1e9,
                *m as f64 / *e as f64
            )?;
        }
    }
    if !stack.is_empty() {
        writeln!(out)?;
        writeln!(
            out,
            "| cold `cargo check` of an empty crate depending on | wall, median (min–max) | CPU \
             | vs thiserror |"
        )?;
        writeln!(out, "|---|---:|---:|---:|")?;
        let base = median(&stack[0].1.iter().map(|s| s.wall).collect::<Vec<_>>());
        for (what, samples) in stack {
            let wall: Vec<f64> = samples.iter().map(|s| s.wall).collect();
            let cpu: Vec<f64> = samples.iter().map(|s| s.cpu).collect();
            writeln!(
                out,
                "| {what} | {} | {:.1} s | {:.2}× |",
                seconds(&wall),
                median(&cpu),
                median(&wall) / base
            )?;
        }
    }
    if options.quick {
        writeln!(out, "\n(--quick: one round, figures are not meaningful)")?;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn medians_and_spread() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&[4.0, 1.0, 2.0, 3.0]), 2.5);
        assert_eq!(min_max(&[2.0, 5.0, 1.0]), (1.0, 5.0));
        assert_eq!(seconds(&[1.0, 3.0, 2.0]), "2.00 s (1.00–3.00)");
    }

    #[test]
    fn the_template_is_filled_in() {
        let text = macro_crate(2);
        assert!(text.contains("pub mod npi_001") && text.contains("4E504900-0001-4000"));
        assert!(!text.contains("{I}") && !text.contains("{X}"));
    }
}
