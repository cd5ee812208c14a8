//! `cargo xtask driver`: build the kernel-driver example for each target, link it, check it;
//! then the same for its C counterpart (`examples/kernel-driver-c`, see `cbuild`), and compare
//! the two images' sizes.

use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use anyhow::{Context, bail};

use crate::cbuild::{self, CDriver};
use crate::cli::DriverOptions;
use crate::fmt_free;
use crate::image::Image;
use crate::inspect::{self, CheckResult, Inputs, Language, Roles};
use crate::kbuild::{self, CrateType, KernelCrate, LinkedDriver, Profile};
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
    /// The C driver for the same target, unless `--no-c`.
    c: Option<(Result<Checked, String>, f64)>,
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
    let c_driver = if options.c {
        let clang = toolchain::clang(options.install)?;
        log(format_args!("C driver: {}", cbuild::clang_version(&clang)));
        Some(CDriver {
            toolchain: &toolchain,
            clang,
            source_dir: root.join("examples/kernel-driver-c"),
            source: cbuild::SOURCE.into(),
            defines: Vec::new(),
            out_dir: target_dir.join("kernel-driver-c"),
            profile,
        })
    } else {
        None
    };
    let krate =
        KernelCrate { toolchain: &toolchain, manifest, target_dir, profile, features: Vec::new() };

    let mut outcomes = Vec::new();
    for &target in &options.targets {
        let started = Instant::now();
        let result = build_and_check(&krate, target, objdump.as_deref(), Roles::Both);
        let result = result.map_err(|error| {
            println!("\n== {target}: FAILED before the checks\n   {error:#}");
            format!("{error:#}")
        });
        let seconds = started.elapsed().as_secs_f64();
        let c = c_driver.as_ref().map(|c_driver| {
            let started = Instant::now();
            let result = build_and_check_c(c_driver, target, objdump.as_deref(), Roles::Both);
            let result = result.map_err(|error| {
                println!("\n== {target} (C): FAILED before the checks\n   {error:#}");
                format!("{error:#}")
            });
            (result, started.elapsed().as_secs_f64())
        });
        outcomes.push(Outcome { target, result, seconds, c });
    }

    // The EXNPI pair as two drivers (examples/drivers), which `cargo xtask emulate` runs: a
    // provider and a client in Rust and in C, each checked for its one role.
    let mut pair = Vec::new();
    if options.crate_dir.is_none() && options.c {
        let c_pair = c_driver.as_ref().map(|c| (c.clang.clone(), c.toolchain));
        for &target in &options.targets {
            for (label, roles) in [("provider", Roles::Provider), ("client", Roles::Client)] {
                let started = Instant::now();
                let krate = pair_crate(&toolchain, &root, &krate.target_dir, profile, label, &[]);
                let result = build_and_check(&krate, target, objdump.as_deref(), roles)
                    .map_err(|error| format!("{error:#}"));
                pair.push((format!("{target} exnpi-{label}"), result, started.elapsed()));
                if let Some((clang, toolchain)) = &c_pair {
                    let started = Instant::now();
                    let c = pair_c_driver(
                        toolchain,
                        clang,
                        &root,
                        &krate.target_dir,
                        profile,
                        label,
                        &[],
                    );
                    let result = build_and_check_c(&c, target, objdump.as_deref(), roles)
                        .map_err(|error| format!("{error:#}"));
                    pair.push((format!("{target} exnpi_{label}.c"), result, started.elapsed()));
                }
            }
        }
    }

    print!("{}", summary(&outcomes, profile));
    if c_driver.is_some() {
        print!("{}", comparison(&outcomes, profile));
    }
    if !pair.is_empty() {
        let mut out = format!(
            "\n== the EXNPI pair as separate drivers ({} profile)\n{:<26} {:<6} {:>8} {:>8} {:>8} {:>8} {:>7}  sys\n",
            profile.name(),
            "driver",
            "result",
            ".text",
            ".rdata",
            ".data",
            "file",
            "time"
        );
        for (name, result, elapsed) in &pair {
            summary_row(&mut out, &format!("{name:<26}"), result, elapsed.as_secs_f64());
        }
        print!("{out}");
    }
    let failed_check = |r: &Result<Checked, String>| r.as_ref().map_or(true, |c| c.failed > 0);
    let failed: Vec<String> = outcomes
        .iter()
        .flat_map(|o| {
            let rust = failed_check(&o.result).then(|| o.target.name().to_owned());
            let c =
                o.c.as_ref()
                    .filter(|(r, _)| failed_check(r))
                    .map(|_| format!("{} (C)", o.target.name()));
            rust.into_iter().chain(c)
        })
        .chain(pair.iter().filter(|(_, r, _)| failed_check(r)).map(|(name, _, _)| name.clone()))
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

/// The crate of one driver of the EXNPI pair (`examples/drivers/exnpi-<role>`), built into
/// `target_dir` with `features`.
pub(crate) fn pair_crate<'a>(
    toolchain: &'a Toolchain,
    root: &Path,
    target_dir: &Path,
    profile: Profile,
    role: &str,
    features: &[&str],
) -> KernelCrate<'a> {
    KernelCrate {
        toolchain,
        manifest: root.join(format!("examples/drivers/exnpi-{role}/Cargo.toml")),
        target_dir: target_dir.to_path_buf(),
        profile,
        features: features.iter().map(|f| (*f).to_owned()).collect(),
    }
}

/// The C driver of one role of the EXNPI pair (`examples/drivers/c/exnpi_<role>.c`), with
/// `defines` (a broken variant) or none.
pub(crate) fn pair_c_driver<'a>(
    toolchain: &'a Toolchain,
    clang: &Path,
    root: &Path,
    target_dir: &Path,
    profile: Profile,
    role: &str,
    defines: &[&str],
) -> CDriver<'a> {
    CDriver {
        toolchain,
        clang: clang.to_path_buf(),
        source_dir: root.join("examples/drivers/c"),
        source: format!("exnpi_{role}.c"),
        defines: defines.iter().map(|d| (*d).to_owned()).collect(),
        out_dir: target_dir.join("drivers-c"),
        profile,
    }
}

/// Builds, links and checks one target, printing its report.
fn build_and_check(
    krate: &KernelCrate<'_>,
    target: Target,
    objdump: Option<&Path>,
    roles: Roles,
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
    let map = read_map(&linked)?;
    let archive =
        fs::read(&staticlib).with_context(|| format!("reading {}", staticlib.display()))?;
    let (objects, archive_crt_sections) = inspect::archive_crt_sections(&archive)
        .with_context(|| format!("reading the objects of {}", staticlib.display()))?;
    let references = fmt_free::References::from_archive(&archive)
        .with_context(|| format!("reading the references of {}", staticlib.display()))?;
    let sys = linked.sys.clone();
    let mut disassemble = disassembler(objdump, &sys);
    let mut inputs = Inputs {
        target,
        language: Language::Rust,
        roles,
        image: &image,
        map: &map,
        archive_crt_sections: &archive_crt_sections,
        references: Some(&references),
        disassemble: (target == Target::X86).then_some(&mut disassemble),
    };
    let checks = inspect::run_checks(&mut inputs);
    let inspected = Instant::now();

    println!(
        "\n== {target}: {} ({} objects in the staticlib)\n   build {:.1}s, link {:.2}s, inspect {:.2}s",
        linked.sys.display(),
        objects,
        built.duration_since(started).as_secs_f64(),
        link_done.duration_since(built).as_secs_f64(),
        inspected.duration_since(link_done).as_secs_f64(),
    );
    Ok(print_image_report(&linked, &image, &map, &checks))
}

/// Builds, links and checks the C driver for one target, printing its report.
fn build_and_check_c(
    c_driver: &CDriver<'_>,
    target: Target,
    objdump: Option<&Path>,
    roles: Roles,
) -> anyhow::Result<Checked> {
    log(format_args!(
        "building {} for {target} ({}, {})",
        c_driver.source_dir.display(),
        target.clang_triple(),
        c_driver.profile.name()
    ));
    let started = Instant::now();
    let built = c_driver.build(target)?;
    let linked_at = Instant::now();
    let bytes = fs::read(&built.linked.sys)
        .with_context(|| format!("reading {}", built.linked.sys.display()))?;
    let image =
        Image::parse(&bytes).with_context(|| format!("parsing {}", built.linked.sys.display()))?;
    let map = read_map(&built.linked)?;
    let object =
        fs::read(&built.object).with_context(|| format!("reading {}", built.object.display()))?;
    let name = built.object.file_name().map(|n| n.to_string_lossy().into_owned());
    let crt_sections = inspect::object_crt_sections(name.as_deref().unwrap_or("?"), &object)?;
    let mut disassemble = disassembler(objdump, &built.linked.sys);
    let mut inputs = Inputs {
        target,
        language: Language::C,
        roles,
        image: &image,
        map: &map,
        archive_crt_sections: &crt_sections,
        references: None,
        disassemble: (target == Target::X86).then_some(&mut disassemble),
    };
    let checks = inspect::run_checks(&mut inputs);
    let inspected = Instant::now();
    println!(
        "\n== {target} (C): {} (clang {})\n   compile and link {:.2}s, inspect {:.2}s",
        built.linked.sys.display(),
        cbuild::clang_args(target, c_driver.profile).join(" "),
        linked_at.duration_since(started).as_secs_f64(),
        inspected.duration_since(linked_at).as_secs_f64(),
    );
    Ok(print_image_report(&built.linked, &image, &map, &checks))
}

fn read_map(linked: &LinkedDriver) -> anyhow::Result<LinkMap> {
    let map_text = fs::read_to_string(&linked.map)
        .with_context(|| format!("reading {}", linked.map.display()))?;
    LinkMap::parse(&map_text).with_context(|| format!("parsing {}", linked.map.display()))
}

/// Runs `llvm-objdump -d` over `sys` (the x86 checks' disassembler).
fn disassembler<'a>(
    objdump: Option<&'a Path>,
    sys: &'a Path,
) -> impl FnMut(Option<(u64, u64)>) -> anyhow::Result<String> + 'a {
    move |range: Option<(u64, u64)>| -> anyhow::Result<String> {
        let objdump = objdump.context("no llvm-objdump")?;
        let mut command = Command::new(objdump);
        command.args(["-d", "--no-show-raw-insn"]);
        if let Some((start, stop)) = range {
            command
                .arg(format!("--start-address={start:#x}"))
                .arg(format!("--stop-address={stop:#x}"));
        }
        run_capture(command.arg(sys))
    }
}

/// How many of the largest functions each report lists.
const LARGEST_FUNCTIONS: usize = 40;

/// The checks, sections, largest functions and sizes of one image; what the summary needs.
fn print_image_report(
    linked: &LinkedDriver,
    image: &Image,
    map: &LinkMap,
    checks: &[CheckResult],
) -> Checked {
    let size = |name: &str| image.section_named(name).map_or(0, |s| s.virtual_size);
    let checked = Checked {
        sys: linked.sys.clone(),
        failed: checks.iter().filter(|c| !c.passed()).count(),
        text: size(".text"),
        rdata: size(".rdata"),
        data: size(".data"),
        file_size: image.file_size,
    };
    print!("{}", report(checks));
    println!("   sections:");
    print!("{}", inspect::section_sizes(image));
    let functions = inspect::function_sizes(image, map);
    println!(
        "   largest functions ({} of {}, bytes without padding):",
        functions.len().min(LARGEST_FUNCTIONS),
        functions.len()
    );
    for (name, bytes) in functions.iter().take(LARGEST_FUNCTIONS) {
        println!("    {bytes:>6}  {name}");
    }
    println!(
        "   size: .text {} bytes, .rdata {} bytes, .data {} bytes (file {} bytes)",
        checked.text, checked.rdata, checked.data, checked.file_size
    );
    checked
}

/// `ok`/`FAIL` per check, with what it saw; multi-line details indented under it.
fn report(checks: &[CheckResult]) -> String {
    let mut out = String::from("   checks:\n");
    for check in checks {
        let (mark, text) = match &check.outcome {
            Ok(text) if check.skipped => ("skip", text),
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
        "\n== summary ({} profile)\n{:<9} {:<6} {:>8} {:>8} {:>8} {:>8} {:>7}  sys\n",
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
        let name = outcome.target.name();
        summary_row(&mut out, name, &outcome.result, outcome.seconds);
        if let Some((result, seconds)) = &outcome.c {
            summary_row(&mut out, &format!("{name} (C)"), result, *seconds);
        }
    }
    out
}

fn summary_row(out: &mut String, name: &str, result: &Result<Checked, String>, seconds: f64) {
    let _ = match result {
        Ok(c) => writeln!(
            out,
            "{:<9} {:<6} {:>8} {:>8} {:>8} {:>8} {:>6.1}s  {}",
            name,
            if c.failed == 0 { "ok" } else { "FAIL" },
            c.text,
            c.rdata,
            c.data,
            c.file_size,
            seconds,
            c.sys.display()
        ),
        Err(_) => writeln!(
            out,
            "{:<9} {:<6} {:>8} {:>8} {:>8} {:>8} {:>6.1}s  (build or link failed)",
            name, "FAIL", "-", "-", "-", "-", seconds
        ),
    };
}

/// The Rust driver's sections against the C driver's, per target, with the ratio Rust / C.
fn comparison(outcomes: &[Outcome], profile: Profile) -> String {
    let mut out = format!(
        "\n== Rust / C ({} profile, bytes)\n{:<7} {:<7} {:>8} {:>8} {:>8}\n",
        profile.name(),
        "target",
        "",
        "Rust",
        "C",
        "Rust/C"
    );
    for outcome in outcomes {
        let (Ok(rust), Some((Ok(c), _))) = (&outcome.result, &outcome.c) else {
            let _ =
                writeln!(out, "{:<7} (a build failed: nothing to compare)", outcome.target.name());
            continue;
        };
        let rows = [
            (".text", rust.text as usize, c.text as usize),
            (".rdata", rust.rdata as usize, c.rdata as usize),
            (".data", rust.data as usize, c.data as usize),
            ("file", rust.file_size, c.file_size),
        ];
        for (i, (section, r, c)) in rows.into_iter().enumerate() {
            let target = if i == 0 { outcome.target.name() } else { "" };
            let _ = writeln!(out, "{target:<7} {section:<7} {r:>8} {c:>8} {:>8}", ratio(r, c));
        }
    }
    out
}

/// `rust / c` to two decimals, or `-` when C has none of it.
fn ratio(rust: usize, c: usize) -> String {
    if c == 0 {
        return "-".into();
    }
    #[allow(clippy::cast_precision_loss)] // image sizes: far below 2^52
    let value = rust as f64 / c as f64;
    format!("{value:.2}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn checked(text: u32, rdata: u32, data: u32, file_size: usize) -> Checked {
        Checked { sys: PathBuf::from("d.sys"), failed: 0, text, rdata, data, file_size }
    }

    #[test]
    fn the_comparison_has_a_ratio_per_section() {
        let outcomes = [
            Outcome {
                target: Target::X64,
                result: Ok(checked(2148, 1596, 112, 7168)),
                seconds: 1.0,
                c: Some((Ok(checked(1015, 1620, 16, 5120)), 0.1)),
            },
            Outcome {
                target: Target::X86,
                result: Ok(checked(1, 1, 1, 1)),
                seconds: 1.0,
                c: Some((Err("clang failed".into()), 0.1)),
            },
        ];
        let table = comparison(&outcomes, Profile::Release);
        assert!(table.contains("x64     .text       2148     1015     2.12"), "{table}");
        assert!(table.contains("        .data        112       16     7.00"), "{table}");
        assert!(table.contains("x86     (a build failed"), "{table}");
        let summary = summary(&outcomes, Profile::Release);
        assert!(summary.contains("x64 (C)   ok         1015"), "{summary}");
        assert!(summary.contains("x86 (C)   FAIL          -"), "{summary}");
        assert_eq!(ratio(3, 0), "-");
    }
}
