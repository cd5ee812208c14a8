//! Command-line parsing. Hand-written: a handful of flags does not justify a dependency, and
//! clap's derive would bring a second `syn` major into the workspace.

use std::path::PathBuf;

use anyhow::{Context, bail};

use crate::target::Target;

pub(crate) const USAGE: &str = "\
usage: cargo xtask <command> [options]

commands:
  driver      build examples/kernel-driver into a .sys and check its PE image; the same for
              examples/kernel-driver-c (clang), then a Rust/C size table
      --target T       x64 | arm64 | x86 | all, or a comma-separated list (default x64);
                       may be repeated
      --release        release profile (default: dev)
      --crate-dir DIR  build another copy of the driver crate (e.g. a deliberately broken one)
      --target-dir DIR cargo target directory (default: <root>/target/xtask, or
                       DIR/target/xtask with --crate-dir)
      --no-c           skip the C driver and the size table
      --no-install     never run apt-get; fail if a package is missing

  abi-check   compare the NMR struct layouts of a C header (clang) and of npi-runtime (rustc)
      --target T       as above (default x64,x86)
      --source-dir DIR another copy of tests/abi-c (e.g. a deliberately broken one)
      --target-dir DIR as above
      --no-install     as above

  memcheck    run every test binary of the workspace under valgrind (installed with apt-get
              when missing): invalid accesses, uninitialised values and definite/indirect
              leaks fail it; a self-test on known-bad code runs first
      --bin NAME       only this test binary (cargo target name: soundness, conformance,
                       npi_macros, doctests, ...); may be repeated
      --jobs N         binaries run side by side (default: one per core)
      --timeout SECS   limit for one run (default 600)
      --no-leak-list   ignore the list of deliberate leaks (shows what it hides; fails)
      --self-test      only the self-test
      --no-install     as above

  asan        the same under AddressSanitizer + LeakSanitizer: `cargo +nightly`, RUSTFLAGS
              -Zsanitizer=address, into target/asan; fails if nightly is missing
      --bin, --jobs, --timeout, --no-leak-list, --self-test, --no-install as above
      --if-available   without a usable nightly, say so loudly and exit 0

  macro-cost  `cargo check` of a generated crate of NPIs declared with the macros against the
              same crate with the macros expanded (by npi-macros itself): cold and
              incremental wall time, interleaved rounds, medians, spread and ratios; then
              the cold build of the macros' dependency stack against a thiserror-only crate
              (everything under target/macro-cost)
      --quick          one round, no stack builds: fails only if a crate does not compile
      --rounds N       interleaved rounds of both crates (default 9)
      --stack-rounds N cold builds of each dependency-stack crate (default 3)
      --npis N         NPIs in the generated crate (default 50)
      --no-stack       skip the dependency-stack builds
      --instructions   also count the instructions of rustc for each crate's incremental and
                       cold check under callgrind (valgrind; slow, load-independent)

  bench       the whole benchmark suite of BENCHMARKS.md in one run, each against its
              reference (dispatch_cost, binding_cost, driver --target all --release,
              macro-cost --instructions), then one table of the ratios and their goals
      --quick          every part in its smoke mode (x64 only; CI): nothing is asserted
      --no-macros      skip macro-cost (its callgrind runs take several minutes)

  emulate     build the EXNPI pair as separate drivers (examples/drivers: Rust provider and
              client, C provider and client; x64 and x86, dev and release) and run them in a
              speakeasy-emulated Windows kernel whose NMR is xtask/emulate/nmr.py: every
              pairing in both load and unload orders, the broken images (each must fail for
              its reason), and the allocation sweep (each pool allocation failed in turn).
              speakeasy-emulator 1.5.11 goes into a venv under target/emulate-venv
      --only A         x64 or x86 (default both)
      --verbose        print every driver's DbgPrint trace
      --no-install     as above (also: never pip install)

  help        this text

The Windows builds use Debian's rustc-web/cargo-web/rust-web-src (-Zbuild-std) and lld-22,
installed with apt-get when missing (through sudo when not root).
";

/// What to do.
#[derive(Debug)]
pub(crate) enum Command {
    Help,
    Driver(DriverOptions),
    AbiCheck(AbiOptions),
    Memcheck(CheckOptions),
    Asan(CheckOptions),
    MacroCost(MacroCostOptions),
    Bench(BenchOptions),
    Emulate(EmulateOptions),
}

/// `cargo xtask emulate`.
#[derive(Debug)]
pub(crate) struct EmulateOptions {
    /// `x64`, `x86` (empty: both).
    pub(crate) only: Vec<Target>,
    pub(crate) verbose: bool,
    pub(crate) install: bool,
}

/// `cargo xtask bench`.
#[derive(Debug)]
pub(crate) struct BenchOptions {
    pub(crate) quick: bool,
    pub(crate) no_macros: bool,
}

/// `cargo xtask macro-cost`.
#[derive(Debug)]
pub(crate) struct MacroCostOptions {
    pub(crate) quick: bool,
    pub(crate) rounds: usize,
    pub(crate) stack_rounds: usize,
    pub(crate) npis: usize,
    pub(crate) no_stack: bool,
    /// Also count rustc's instructions under callgrind.
    pub(crate) instructions: bool,
}

/// `cargo xtask driver`.
#[derive(Debug)]
pub(crate) struct DriverOptions {
    pub(crate) targets: Vec<Target>,
    pub(crate) release: bool,
    pub(crate) crate_dir: Option<PathBuf>,
    pub(crate) target_dir: Option<PathBuf>,
    pub(crate) install: bool,
    /// Also build and check the C driver, and compare sizes.
    pub(crate) c: bool,
}

/// `cargo xtask abi-check`.
#[derive(Debug)]
pub(crate) struct AbiOptions {
    pub(crate) targets: Vec<Target>,
    pub(crate) source_dir: Option<PathBuf>,
    pub(crate) target_dir: Option<PathBuf>,
    pub(crate) install: bool,
}

/// `cargo xtask memcheck` and `cargo xtask asan`.
#[derive(Debug)]
pub(crate) struct CheckOptions {
    /// Test binaries to run (all when empty).
    pub(crate) bins: Vec<String>,
    pub(crate) jobs: Option<usize>,
    pub(crate) timeout_secs: u64,
    /// Use the list of deliberate leaks.
    pub(crate) leak_list: bool,
    pub(crate) self_test: bool,
    pub(crate) install: bool,
    /// asan: a missing nightly is a loud skip with exit status 0, not a failure.
    pub(crate) if_available: bool,
}

pub(crate) fn parse(args: &[String]) -> anyhow::Result<Command> {
    let Some((command, rest)) = args.split_first() else {
        return Ok(Command::Help);
    };
    match command.as_str() {
        "help" | "-h" | "--help" => Ok(Command::Help),
        "driver" => parse_driver(rest).map(Command::Driver),
        "abi-check" => parse_abi(rest).map(Command::AbiCheck),
        "memcheck" => parse_check(rest, "memcheck").map(Command::Memcheck),
        "asan" => parse_check(rest, "asan").map(Command::Asan),
        "macro-cost" => parse_macro_cost(rest).map(Command::MacroCost),
        "bench" => parse_bench(rest).map(Command::Bench),
        "emulate" => parse_emulate(rest).map(Command::Emulate),
        other => bail!("unknown command `{other}`\n\n{USAGE}"),
    }
}

fn parse_driver(args: &[String]) -> anyhow::Result<DriverOptions> {
    let mut options = DriverOptions {
        targets: Vec::new(),
        release: false,
        crate_dir: None,
        target_dir: None,
        install: true,
        c: true,
    };
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--target" | "-t" => add_targets(&mut options.targets, value(&mut args, arg)?)?,
            "--release" | "-r" => options.release = true,
            "--no-c" => options.c = false,
            "--crate-dir" => options.crate_dir = Some(PathBuf::from(value(&mut args, arg)?)),
            "--target-dir" => options.target_dir = Some(PathBuf::from(value(&mut args, arg)?)),
            "--no-install" => options.install = false,
            other => bail!("unknown option `{other}` for `driver`\n\n{USAGE}"),
        }
    }
    if options.targets.is_empty() {
        options.targets.push(Target::X64);
    }
    Ok(options)
}

fn parse_emulate(args: &[String]) -> anyhow::Result<EmulateOptions> {
    let mut options = EmulateOptions { only: Vec::new(), verbose: false, install: true };
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--only" => add_targets(&mut options.only, value(&mut args, arg)?)?,
            "--verbose" | "-v" => options.verbose = true,
            "--no-install" => options.install = false,
            other => bail!("unknown option `{other}` for `emulate`\n\n{USAGE}"),
        }
    }
    if options.only.contains(&Target::Arm64) {
        bail!("speakeasy emulates x64 and x86 only: no arm64");
    }
    Ok(options)
}

fn parse_abi(args: &[String]) -> anyhow::Result<AbiOptions> {
    let mut options =
        AbiOptions { targets: Vec::new(), source_dir: None, target_dir: None, install: true };
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--target" | "-t" => add_targets(&mut options.targets, value(&mut args, arg)?)?,
            "--source-dir" => options.source_dir = Some(PathBuf::from(value(&mut args, arg)?)),
            "--target-dir" => options.target_dir = Some(PathBuf::from(value(&mut args, arg)?)),
            "--no-install" => options.install = false,
            other => bail!("unknown option `{other}` for `abi-check`\n\n{USAGE}"),
        }
    }
    if options.targets.is_empty() {
        options.targets.extend([Target::X64, Target::X86]);
    }
    Ok(options)
}

fn parse_check(args: &[String], command: &str) -> anyhow::Result<CheckOptions> {
    let mut options = CheckOptions {
        bins: Vec::new(),
        jobs: None,
        timeout_secs: 600,
        leak_list: true,
        self_test: false,
        install: true,
        if_available: false,
    };
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--bin" => options.bins.push(value(&mut args, arg)?.to_owned()),
            "--jobs" | "-j" => options.jobs = Some(number(value(&mut args, arg)?, arg)?),
            "--timeout" => options.timeout_secs = number(value(&mut args, arg)?, arg)?,
            "--no-leak-list" => options.leak_list = false,
            "--self-test" => options.self_test = true,
            "--no-install" => options.install = false,
            "--if-available" if command == "asan" => options.if_available = true,
            other => bail!("unknown option `{other}` for `{command}`\n\n{USAGE}"),
        }
    }
    Ok(options)
}

fn parse_bench(args: &[String]) -> anyhow::Result<BenchOptions> {
    let mut options = BenchOptions { quick: false, no_macros: false };
    for arg in args {
        match arg.as_str() {
            "--quick" => options.quick = true,
            "--no-macros" => options.no_macros = true,
            other => bail!("unknown option `{other}` for `bench`\n\n{USAGE}"),
        }
    }
    Ok(options)
}

fn parse_macro_cost(args: &[String]) -> anyhow::Result<MacroCostOptions> {
    let mut options = MacroCostOptions {
        quick: false,
        rounds: 9,
        stack_rounds: 3,
        npis: 50,
        no_stack: false,
        instructions: false,
    };
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--quick" => options.quick = true,
            "--rounds" => options.rounds = number(value(&mut args, arg)?, arg)?,
            "--stack-rounds" => options.stack_rounds = number(value(&mut args, arg)?, arg)?,
            "--npis" => options.npis = number(value(&mut args, arg)?, arg)?,
            "--no-stack" => options.no_stack = true,
            "--instructions" => options.instructions = true,
            other => bail!("unknown option `{other}` for `macro-cost`\n\n{USAGE}"),
        }
    }
    if options.rounds == 0 || options.stack_rounds == 0 {
        bail!("`--rounds` and `--stack-rounds` need at least 1");
    }
    Ok(options)
}

fn number<T: std::str::FromStr>(text: &str, flag: &str) -> anyhow::Result<T> {
    match text.parse() {
        Ok(n) => Ok(n),
        Err(_) => bail!("`{flag}` needs a positive number, not `{text}`"),
    }
}

fn value<'a>(args: &mut impl Iterator<Item = &'a String>, flag: &str) -> anyhow::Result<&'a str> {
    args.next().map(String::as_str).with_context(|| format!("`{flag}` needs a value"))
}

/// Adds `x64`, `x86,arm64`, `all`, ... keeping the order given and dropping repeats.
fn add_targets(targets: &mut Vec<Target>, list: &str) -> anyhow::Result<()> {
    for name in list.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let new: &[Target] = if name == "all" { &Target::ALL } else { &[Target::parse(name)?] };
        for target in new {
            if !targets.contains(target) {
                targets.push(*target);
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(s: &str) -> Vec<String> {
        s.split_whitespace().map(String::from).collect()
    }

    #[test]
    fn driver_defaults_to_x64_dev() {
        let Command::Driver(o) = parse(&args("driver")).unwrap() else { panic!() };
        assert_eq!(o.targets, [Target::X64]);
        assert!(!o.release && o.install && o.c);
        let Command::Driver(o) = parse(&args("driver --no-c")).unwrap() else { panic!() };
        assert!(!o.c);
    }

    #[test]
    fn targets_accumulate_without_repeats() {
        let Command::Driver(o) = parse(&args("driver -t x86,x64 --target all --release")).unwrap()
        else {
            panic!()
        };
        assert_eq!(o.targets, [Target::X86, Target::X64, Target::Arm64]);
        assert!(o.release);
    }

    #[test]
    fn abi_check_defaults_to_both_msvc_x86_targets() {
        let Command::AbiCheck(o) = parse(&args("abi-check")).unwrap() else { panic!() };
        assert_eq!(o.targets, [Target::X64, Target::X86]);
    }

    #[test]
    fn memcheck_and_asan_options() {
        let Command::Memcheck(o) = parse(&args("memcheck")).unwrap() else { panic!() };
        assert!(o.bins.is_empty() && o.leak_list && o.install && !o.self_test);
        assert_eq!((o.jobs, o.timeout_secs), (None, 600));
        let Command::Asan(o) =
            parse(&args("asan --bin soundness --bin conformance -j 1 --timeout 60 --no-leak-list --if-available"))
                .unwrap()
        else {
            panic!()
        };
        assert_eq!(o.bins, ["soundness", "conformance"]);
        assert_eq!((o.jobs, o.timeout_secs), (Some(1), 60));
        assert!(!o.leak_list && o.if_available);
        assert!(parse(&args("memcheck --if-available")).is_err());
        assert!(parse(&args("memcheck --jobs two")).is_err());
        assert!(parse(&args("memcheck --bin")).is_err());
    }

    #[test]
    fn macro_cost_options() {
        let Command::MacroCost(o) = parse(&args("macro-cost")).unwrap() else { panic!() };
        assert!(!o.quick && !o.no_stack && !o.instructions);
        assert_eq!((o.rounds, o.stack_rounds, o.npis), (9, 3, 50));
        let Command::MacroCost(o) =
            parse(&args("macro-cost --quick --rounds 3 --npis 5 --no-stack --instructions"))
                .unwrap()
        else {
            panic!()
        };
        assert!(o.quick && o.no_stack && o.instructions);
        assert_eq!((o.rounds, o.npis), (3, 5));
        assert!(parse(&args("macro-cost --rounds 0")).is_err());
        assert!(parse(&args("macro-cost --fast")).is_err());
    }

    #[test]
    fn mistakes_are_reported() {
        assert!(parse(&args("driver --target mips")).is_err());
        assert!(parse(&args("driver --target")).is_err());
        assert!(parse(&args("driver --frobnicate")).is_err());
        assert!(parse(&args("build")).is_err());
    }
}
