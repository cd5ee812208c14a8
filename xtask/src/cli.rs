//! Command-line parsing. Hand-written: a handful of flags does not justify a dependency, and
//! clap's derive would bring a second `syn` major into the workspace.

use std::path::PathBuf;

use anyhow::{Context, bail};

use crate::target::Target;

pub(crate) const USAGE: &str = "\
usage: cargo xtask <command> [options]

commands:
  driver      build examples/kernel-driver into a .sys and check its PE image
      --target T       x64 | arm64 | x86 | all, or a comma-separated list (default x64);
                       may be repeated
      --release        release profile (default: dev)
      --crate-dir DIR  build another copy of the driver crate (e.g. a deliberately broken one)
      --target-dir DIR cargo target directory (default: <root>/target/xtask, or
                       DIR/target/xtask with --crate-dir)
      --no-install     never run apt-get; fail if a package is missing

  abi-check   compare the NMR struct layouts of a C header (clang) and of npi-runtime (rustc)
      --target T       as above (default x64,x86)
      --source-dir DIR another copy of tests/abi-c (e.g. a deliberately broken one)
      --target-dir DIR as above
      --no-install     as above

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
}

/// `cargo xtask driver`.
#[derive(Debug)]
pub(crate) struct DriverOptions {
    pub(crate) targets: Vec<Target>,
    pub(crate) release: bool,
    pub(crate) crate_dir: Option<PathBuf>,
    pub(crate) target_dir: Option<PathBuf>,
    pub(crate) install: bool,
}

/// `cargo xtask abi-check`.
#[derive(Debug)]
pub(crate) struct AbiOptions {
    pub(crate) targets: Vec<Target>,
    pub(crate) source_dir: Option<PathBuf>,
    pub(crate) target_dir: Option<PathBuf>,
    pub(crate) install: bool,
}

pub(crate) fn parse(args: &[String]) -> anyhow::Result<Command> {
    let Some((command, rest)) = args.split_first() else {
        return Ok(Command::Help);
    };
    match command.as_str() {
        "help" | "-h" | "--help" => Ok(Command::Help),
        "driver" => parse_driver(rest).map(Command::Driver),
        "abi-check" => parse_abi(rest).map(Command::AbiCheck),
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
    };
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--target" | "-t" => add_targets(&mut options.targets, value(&mut args, arg)?)?,
            "--release" | "-r" => options.release = true,
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
        assert!(!o.release && o.install);
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
    fn mistakes_are_reported() {
        assert!(parse(&args("driver --target mips")).is_err());
        assert!(parse(&args("driver --target")).is_err());
        assert!(parse(&args("driver --frobnicate")).is_err());
        assert!(parse(&args("build")).is_err());
    }
}
