//! `cargo xtask driver`: build the kernel-driver example for each target, link it, check it.

use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use anyhow::{Context, bail};

use crate::cli::DriverOptions;
use crate::fmt_free;
use crate::image::Image;
use crate::inspect::{self, CheckResult, Inputs};
use crate::kbuild::{self, CrateType, KernelCrate, Profile};
use crate::map::LinkMap;
use crate::target::Target;
use crate::toolchain::{self, Toolchain, run_capture};
use crate::{log, workspace_root};

/// What one target came to, for the summary.
struct Outcome {
    target: Target,
    /// `Err` when the build or link failed before anything could be checked.
    result: Result<Checked, String>,
    seconds: f64,
}

struct Checked {
    sys: PathBuf,
    failed: usize,
    text: u32,
    rdata: u32,
    data: u32,
    file_size: usize,
}

pub(crate) fn run(options: &DriverOptions) -> anyhow::Result<()> {
    let root = workspace_root();
    let crate_dir = match &options.crate_dir {
        Some(dir) => dir.clone(),
        None => root.join("examples/kernel-driver"),
    };
    let crate_dir = crate_dir
        .canonicalize()
        .with_context(|| format!("driver crate directory {}", crate_dir.display()))?;
    let manifest = crate_dir.join("Cargo.toml");
    if !manifest.is_file() {
        bail!("{} not found", manifest.display());
    }
    // A copy of the crate elsewhere gets its own target directory, so its .sys never
    // overwrites the real one's.
    let target_dir = match (&options.target_dir, &options.crate_dir) {
        (Some(dir), _) => absolute(dir)?,
        (None, Some(_)) => crate_dir.join("target/xtask"),
        (None, None) => root.join("target/xtask"),
    };
    let profile = if options.release { Profile::Release } else { Profile::Dev };

    let toolchain = Toolchain::debian(options.install)?;
    let objdump = if options.targets.contains(&Target::X86) {
        Some(toolchain::objdump(options.install)?)
    } else {
        None
    };
    log(format_args!("{} | lld-link {}", toolchain.rustc_version, toolchain.lld_link.display()));
    let krate = KernelCrate { toolchain: &toolchain, manifest, target_dir, profile };

    let mut outcomes = Vec::new();
    for &target in &options.targets {
        let started = Instant::now();
        let result = build_and_check(&krate, target, objdump.as_deref());
        let result = result.map_err(|error| {
            println!("\n== {target}: FAILED before the checks\n   {error:#}");
            format!("{error:#}")
        });
        outcomes.push(Outcome { target, result, seconds: started.elapsed().as_secs_f64() });
    }

    print!("{}", summary(&outcomes, profile));
    let failed: Vec<&str> = outcomes
        .iter()
        .filter(|o| o.result.as_ref().map_or(true, |c| c.failed > 0))
        .map(|o| o.target.name())
        .collect();
    if failed.is_empty() {
        Ok(())
    } else {
        bail!("driver checks failed for {} (see above)", failed.join(", "))
    }
}

fn absolute(path: &Path) -> anyhow::Result<PathBuf> {
    if path.is_absolute() {
        Ok(path.to_path_buf())
    } else {
        Ok(std::env::current_dir()?.join(path))
    }
}

/// Builds, links and checks one target, printing its report.
fn build_and_check(
    krate: &KernelCrate<'_>,
    target: Target,
    objdump: Option<&Path>,
) -> anyhow::Result<Checked> {
    log(format_args!(
        "building {} for {target} ({}, {})",
        krate.manifest.display(),
        target.rust_target_name(),
        krate.profile.name()
    ));
    let started = Instant::now();
    let staticlib = krate.build(target, CrateType::Staticlib)?;
    let built = Instant::now();
    let linked = kbuild::link_driver(krate.toolchain, target, &staticlib)?;
    let link_done = Instant::now();

    let bytes =
        fs::read(&linked.sys).with_context(|| format!("reading {}", linked.sys.display()))?;
    let image =
        Image::parse(&bytes).with_context(|| format!("parsing {}", linked.sys.display()))?;
    let map_text = fs::read_to_string(&linked.map)
        .with_context(|| format!("reading {}", linked.map.display()))?;
    let map =
        LinkMap::parse(&map_text).with_context(|| format!("parsing {}", linked.map.display()))?;
    let archive =
        fs::read(&staticlib).with_context(|| format!("reading {}", staticlib.display()))?;
    let (objects, archive_crt_sections) = inspect::archive_crt_sections(&archive)
        .with_context(|| format!("reading the objects of {}", staticlib.display()))?;
    let references = fmt_free::References::from_archive(&archive)
        .with_context(|| format!("reading the references of {}", staticlib.display()))?;
    let sys = linked.sys.clone();
    let mut disassemble = |range: Option<(u64, u64)>| -> anyhow::Result<String> {
        let objdump = objdump.context("no llvm-objdump")?;
        let mut command = Command::new(objdump);
        command.args(["-d", "--no-show-raw-insn"]);
        if let Some((start, stop)) = range {
            command
                .arg(format!("--start-address={start:#x}"))
                .arg(format!("--stop-address={stop:#x}"));
        }
        run_capture(command.arg(&sys))
    };
    let mut inputs = Inputs {
        target,
        image: &image,
        map: &map,
        archive_crt_sections: &archive_crt_sections,
        references: Some(&references),
        disassemble: (target == Target::X86).then_some(&mut disassemble),
    };
    let checks = inspect::run_checks(&mut inputs);
    let inspected = Instant::now();

    let size = |name: &str| image.section_named(name).map_or(0, |s| s.virtual_size);
    let checked = Checked {
        sys: linked.sys.clone(),
        failed: checks.iter().filter(|c| !c.passed()).count(),
        text: size(".text"),
        rdata: size(".rdata"),
        data: size(".data"),
        file_size: image.file_size,
    };
    println!(
        "\n== {target}: {} ({} objects in the staticlib)\n   build {:.1}s, link {:.2}s, inspect {:.2}s",
        linked.sys.display(),
        objects,
        built.duration_since(started).as_secs_f64(),
        link_done.duration_since(built).as_secs_f64(),
        inspected.duration_since(link_done).as_secs_f64(),
    );
    print!("{}", report(&checks));
    println!("   sections:");
    print!("{}", inspect::section_sizes(&image));
    println!(
        "   size: .text {} bytes, .rdata {} bytes, .data {} bytes (file {} bytes)",
        checked.text, checked.rdata, checked.data, checked.file_size
    );
    Ok(checked)
}

/// `ok`/`FAIL` per check, with what it saw; multi-line details indented under it.
fn report(checks: &[CheckResult]) -> String {
    let mut out = String::from("   checks:\n");
    for check in checks {
        let (mark, text) = match &check.outcome {
            Ok(text) => ("ok  ", text),
            Err(text) => ("FAIL", text),
        };
        let mut lines = text.lines();
        let first = lines.next().unwrap_or_default();
        let _ = writeln!(out, "    {mark} {}: {first}", check.name);
        for line in lines {
            let _ = writeln!(out, "           {line}");
        }
    }
    out
}

fn summary(outcomes: &[Outcome], profile: Profile) -> String {
    let mut out = format!(
        "\n== summary ({} profile)\n{:<7} {:<6} {:>8} {:>8} {:>8} {:>8} {:>7}  sys\n",
        profile.name(),
        "target",
        "result",
        ".text",
        ".rdata",
        ".data",
        "file",
        "time"
    );
    for outcome in outcomes {
        let _ = match &outcome.result {
            Ok(c) => writeln!(
                out,
                "{:<7} {:<6} {:>8} {:>8} {:>8} {:>8} {:>6.1}s  {}",
                outcome.target.name(),
                if c.failed == 0 { "ok" } else { "FAIL" },
                c.text,
                c.rdata,
                c.data,
                c.file_size,
                outcome.seconds,
                c.sys.display()
            ),
            Err(_) => writeln!(
                out,
                "{:<7} {:<6} {:>8} {:>8} {:>8} {:>8} {:>6.1}s  (build or link failed)",
                outcome.target.name(),
                "FAIL",
                "-",
                "-",
                "-",
                "-",
                outcome.seconds
            ),
        };
    }
    out
}
