//! `cargo xtask abi-check`: the NMR structure layouts measured twice and compared.
//!
//! - C: `tests/abi-c/layout.c` (over `npi_abi.h`, written from the spec's field lists) compiled
//!   by clang for `<arch>-pc-windows-msvc`, which lays structs out by MSVC's rules.
//! - Rust: `tests/abi-c/rust`, which exports the same numbers for npi-runtime's types, built by
//!   rustc for the kernel targets the driver uses.
//!
//! Both are objects whose `.rdata` holds one `u32` per symbol `npi_abi__<what>`; `object` reads
//! them back. Any difference, or a value only one side has, fails the check.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::fs;
use std::path::Path;
use std::process::Command;

use anyhow::{Context, bail};
use object::read::archive::ArchiveFile;
use object::{FileKind, Object, ObjectSection, ObjectSymbol};

use crate::cli::AbiOptions;
use crate::kbuild::{CrateType, KernelCrate, Profile};
use crate::target::Target;
use crate::toolchain::{self, Toolchain, run_status};
use crate::{log, workspace_root};

const PREFIX: &str = "npi_abi__";

/// Measured values by name (`NPI_MODULEID__offset__Type`), for one side and target.
type Layout = BTreeMap<String, u32>;

pub(crate) fn run(options: &AbiOptions) -> anyhow::Result<()> {
    let root = workspace_root();
    let source_dir = match &options.source_dir {
        Some(dir) => {
            dir.canonicalize().with_context(|| format!("source directory {}", dir.display()))?
        }
        None => root.join("tests/abi-c"),
    };
    let target_dir = match &options.target_dir {
        Some(dir) if dir.is_absolute() => dir.clone(),
        Some(dir) => std::env::current_dir()?.join(dir),
        None => root.join("target/xtask"),
    };
    let toolchain = Toolchain::debian(options.install)?;
    let clang = toolchain::clang(options.install)?;
    log(format_args!("{} | {}", toolchain.rustc_version, clang.display()));
    // The dev profile: layouts do not depend on it, and the dev build of core for these
    // targets is the one `cargo xtask driver` (default profile) already made.
    let probe = KernelCrate {
        toolchain: &toolchain,
        manifest: source_dir.join("rust/Cargo.toml"),
        target_dir: target_dir.clone(),
        profile: Profile::Dev,
        features: Vec::new(),
    };

    let mut measured = Vec::new();
    for &target in &options.targets {
        let object = target_dir.join(format!("abi-c/{}/layout.obj", target.name()));
        compile_c(&clang, target, &source_dir, &object)?;
        let c = read_object_file(&object, target)?;
        log(format_args!("building the Rust probe for {target} ({})", target.rust_target_name()));
        let rlib = probe.build(target, CrateType::Rlib)?;
        let rust = read_rlib(&rlib, target)?;
        measured.push((target, c, rust));
    }

    let (table, mismatches) = compare(&measured);
    print!("{table}");
    for (target, _, _) in &measured {
        println!(
            "{target}: C = clang --target={}, Rust = rustc --target {}",
            target.clang_triple(),
            target.rust_target_name()
        );
    }
    if !mismatches.is_empty() {
        bail!("C and Rust layouts differ:\n  {}", mismatches.join("\n  "));
    }
    let values = measured.first().map_or(0, |(_, c, _)| c.len());
    println!("abi-check: all {values} values agree on each of {} target(s)", measured.len());
    check_npi_headers(&clang, &options.targets, &source_dir, &target_dir.join("npi-headers"))
}

/// The generated C header of every NPI crate (`npis/*/include/*.h`), compiled by clang for
/// each target with only `wdk_base.h` before it. Each header `_Static_assert`s every size and
/// offset of its structs on 32- and 64-bit Windows, with the numbers the Rust declaration
/// computed, and the Rust side asserts the same numbers against its own layout wherever the
/// NPI crate is compiled (the probe depends on the NPI crates, so that includes both Windows
/// targets here): a header that compiles is the Rust layout. A copy of the first header with
/// one asserted size changed must fail first, so the check is seen to catch a wrong layout.
fn check_npi_headers(
    clang: &Path,
    targets: &[Target],
    source_dir: &Path,
    out_dir: &Path,
) -> anyhow::Result<()> {
    let headers = npi_headers(&workspace_root().join("npis"))?;
    if headers.is_empty() {
        bail!("no generated NPI headers under npis/*/include");
    }
    fs::create_dir_all(out_dir).with_context(|| format!("creating {}", out_dir.display()))?;
    let include = crate::cbuild::builtin_include_dir(clang)?;

    // The self-test: one asserted size off by 8 must be a compile error naming the assert.
    let broken = out_dir.join("broken.h");
    let text = fs::read_to_string(&headers[0])?;
    let (wrong, what) = break_a_size(&text).context("no sizeof assert to break")?;
    fs::write(&broken, wrong)?;
    for &target in targets {
        match compile_header(clang, &include, target, source_dir, &broken, out_dir) {
            Ok(()) => bail!(
                "the header check passed {} with `{what}` off by 8 for {target}: it would pass a \
                 wrong layout",
                headers[0].display()
            ),
            Err(e) if format!("{e:#}").contains("static assertion failed") => {}
            Err(e) => return Err(e.context("the broken header failed, but not on its assert")),
        }
    }
    println!("npi headers: a copy with `{what}` off by 8 is rejected, as it must be");

    for header in &headers {
        for &target in targets {
            compile_header(clang, &include, target, source_dir, header, out_dir)?;
        }
        println!(
            "npi headers: {} compiles and its asserts hold on {}",
            header.strip_prefix(workspace_root()).unwrap_or(header).display(),
            targets.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ")
        );
    }
    Ok(())
}

/// `npis/<crate>/include/*.h`, sorted.
fn npi_headers(npis: &Path) -> anyhow::Result<Vec<std::path::PathBuf>> {
    let mut headers = Vec::new();
    for entry in fs::read_dir(npis).with_context(|| format!("listing {}", npis.display()))? {
        let include = entry?.path().join("include");
        let Ok(files) = fs::read_dir(&include) else { continue };
        for file in files {
            let path = file?.path();
            if path.extension().is_some_and(|e| e == "h") {
                headers.push(path);
            }
        }
    }
    headers.sort();
    Ok(headers)
}

/// The header with the first `sizeof` assert's expected value raised by 8 (on every width),
/// and that assert.
fn break_a_size(text: &str) -> Option<(String, String)> {
    let start = text.find("_Static_assert(sizeof(")?;
    let line_end = start + text[start..].find('\n')?;
    let line = &text[start..line_end];
    // `_Static_assert(sizeof(T) == <expected>, "...")`: `+` binds tighter than `==`.
    let message = line.rfind(", \"")?;
    let broken_line = format!("{} + 8{}", &line[..message], &line[message..]);
    let what = line[..message].trim_start_matches("_Static_assert(").to_owned();
    Some((format!("{}{broken_line}{}", &text[..start], &text[line_end..]), what))
}

fn compile_header(
    clang: &Path,
    include: &Path,
    target: Target,
    source_dir: &Path,
    header: &Path,
    out_dir: &Path,
) -> anyhow::Result<()> {
    let unit = out_dir.join(format!(
        "{}-{}.c",
        header.file_stem().and_then(|s| s.to_str()).unwrap_or("header"),
        target.name()
    ));
    fs::write(&unit, format!("#include \"wdk_base.h\"\n#include \"{}\"\n", header.display()))?;
    let mut command = Command::new(clang);
    command
        .arg(format!("--target={}", target.clang_triple()))
        .args(["-ffreestanding", "-nostdinc", "-std=c11", "-Wall", "-Wextra", "-Werror"])
        .args(["-Wno-unused-const-variable", "-fsyntax-only"])
        .arg("-isystem")
        .arg(include)
        .arg("-I")
        .arg(source_dir)
        .arg(&unit);
    crate::toolchain::run_capture(&mut command)
        .map(drop)
        .with_context(|| format!("compiling {} for {target}", header.display()))
}

fn compile_c(clang: &Path, target: Target, source_dir: &Path, object: &Path) -> anyhow::Result<()> {
    if let Some(dir) = object.parent() {
        fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    let mut command = Command::new(clang);
    command
        .arg(format!("--target={}", target.clang_triple()))
        // No SDK and no libc: the header spells out every type it uses.
        .args(["-ffreestanding", "-nostdinc", "-std=c11", "-Wall", "-Wextra", "-Werror", "-c"])
        .arg(source_dir.join("layout.c"))
        .arg("-o")
        .arg(object);
    run_status(&mut command).with_context(|| format!("compiling layout.c for {target}"))
}

fn read_object_file(path: &Path, target: Target) -> anyhow::Result<Layout> {
    let data = fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    let mut layout = Layout::new();
    read_object(&data, target, &mut layout)
        .with_context(|| format!("reading {}", path.display()))?;
    Ok(layout)
}

/// Every COFF object in the rlib (one per codegen unit; the metadata member is skipped).
fn read_rlib(path: &Path, target: Target) -> anyhow::Result<Layout> {
    let data = fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    let archive = ArchiveFile::parse(&*data)
        .with_context(|| format!("{} is not an archive", path.display()))?;
    let mut layout = Layout::new();
    for member in archive.members() {
        let member = member?;
        let bytes = member.data(&*data)?;
        if matches!(FileKind::parse(bytes), Ok(FileKind::Coff | FileKind::CoffBig)) {
            read_object(bytes, target, &mut layout).with_context(|| {
                format!("reading {} in {}", String::from_utf8_lossy(member.name()), path.display())
            })?;
        }
    }
    Ok(layout)
}

/// The `u32` behind every `npi_abi__*` symbol defined in a COFF object.
fn read_object(data: &[u8], target: Target, layout: &mut Layout) -> anyhow::Result<()> {
    let file = object::File::parse(data)?;
    for symbol in file.symbols() {
        let Ok(name) = symbol.name() else { continue };
        // x86 C names carry an underscore prefix.
        let Some(key) =
            name.strip_prefix(target.c_symbol_prefix()).and_then(|n| n.strip_prefix(PREFIX))
        else {
            continue;
        };
        let Some(index) = symbol.section_index() else { continue };
        let section = file.section_by_index(index)?;
        let bytes = section.data_range(symbol.address(), 4)?.with_context(|| {
            format!("{name} is not backed by 4 bytes of {}", section.name().unwrap_or("?"))
        })?;
        let value = u32::from_le_bytes(bytes.try_into()?);
        if layout.insert(key.to_owned(), value).is_some_and(|old| old != value) {
            bail!("{name} is defined twice with different values");
        }
    }
    Ok(())
}

/// The table (one row per value, C and Rust per target) and the list of differences.
fn compare(measured: &[(Target, Layout, Layout)]) -> (String, Vec<String>) {
    let mut keys: Vec<&String> =
        measured.iter().flat_map(|(_, c, r)| c.keys().chain(r.keys())).collect();
    // By type; size and alignment first, then members by offset (declaration order, mostly).
    let first_value = |key: &str| {
        measured
            .first()
            .and_then(|(_, c, r)| c.get(key).or_else(|| r.get(key)))
            .copied()
            .unwrap_or(0)
    };
    keys.sort_unstable_by_key(|k| row_order(k, first_value(k)));
    keys.dedup();

    let width = keys.iter().map(|k| describe(k).len()).max().unwrap_or(0);
    let mut table = format!("{:<width$}", "value");
    for (target, _, _) in measured {
        let _ = write!(table, " {:>6} {:>6}", format!("{target} C"), "Rust");
    }
    table.push_str("  result\n");
    let mut mismatches = Vec::new();
    for key in keys {
        let _ = write!(table, "{:<width$}", describe(key));
        let mut row_ok = true;
        for (target, c, rust) in measured {
            let show = |v: Option<&u32>| v.map_or("-".to_owned(), u32::to_string);
            let (c, rust) = (c.get(key), rust.get(key));
            let _ = write!(table, " {:>6} {:>6}", show(c), show(rust));
            if c != rust || c.is_none() {
                row_ok = false;
                mismatches.push(format!(
                    "{target}: {}: C {}, Rust {}",
                    describe(key),
                    show(c),
                    show(rust)
                ));
            }
        }
        table.push_str(if row_ok { "  ok\n" } else { "  MISMATCH\n" });
    }
    (table, mismatches)
}

fn row_order(key: &str, value: u32) -> (String, u8, u32, String) {
    let (ty, rest) = key.split_once("__").unwrap_or((key, ""));
    let rank = match rest {
        "size" => 0,
        "align" => 1,
        _ => 2,
    };
    (ty.to_owned(), rank, value, rest.to_owned())
}

/// `NPI_CLIENT_CHARACTERISTICS__offset__ClientRegistrationInstance__NpiId` ->
/// `offsetof(NPI_CLIENT_CHARACTERISTICS, ClientRegistrationInstance.NpiId)`.
fn describe(key: &str) -> String {
    let mut parts = key.split("__");
    let ty = parts.next().unwrap_or_default();
    match parts.next() {
        Some("size") => format!("sizeof({ty})"),
        Some("align") => format!("alignof({ty})"),
        Some("offset") => format!("offsetof({ty}, {})", parts.collect::<Vec<_>>().join(".")),
        _ => key.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_read_as_c_expressions() {
        assert_eq!(describe("GUID__size"), "sizeof(GUID)");
        assert_eq!(describe("NPI_MODULEID__align"), "alignof(NPI_MODULEID)");
        assert_eq!(
            describe("NPI_CLIENT_CHARACTERISTICS__offset__ClientRegistrationInstance__NpiId"),
            "offsetof(NPI_CLIENT_CHARACTERISTICS, ClientRegistrationInstance.NpiId)"
        );
    }

    #[test]
    fn differences_and_one_sided_values_fail() {
        let layout = |pairs: &[(&str, u32)]| -> Layout {
            pairs.iter().map(|(k, v)| ((*k).to_owned(), *v)).collect()
        };
        let c = layout(&[("GUID__size", 16), ("NPI__size", 16), ("LUID__size", 8)]);
        let rust = layout(&[("GUID__size", 16), ("NPI__size", 8), ("NPI__align", 8)]);
        let (table, mismatches) = compare(&[(Target::X64, c, rust)]);
        assert_eq!(mismatches.len(), 3, "{mismatches:?}");
        assert!(mismatches.iter().any(|m| m.contains("sizeof(NPI): C 16, Rust 8")));
        assert!(mismatches.iter().any(|m| m.contains("sizeof(LUID): C 8, Rust -")));
        assert!(mismatches.iter().any(|m| m.contains("alignof(NPI): C -, Rust 8")));
        assert!(table.contains("sizeof(GUID)") && table.contains("MISMATCH"));
    }

    #[test]
    fn a_size_assert_is_broken_on_both_widths() {
        let text =
            "x\n_Static_assert(sizeof(T) == (sizeof(void *) == 8 ? 16 : 8), \"sizeof(T)\");\ny\n";
        let (broken, what) = super::break_a_size(text).unwrap();
        assert_eq!(what, "sizeof(T) == (sizeof(void *) == 8 ? 16 : 8)");
        assert!(broken.contains("== (sizeof(void *) == 8 ? 16 : 8) + 8, \"sizeof(T)\");"));
        assert!(broken.starts_with("x\n") && broken.ends_with("\ny\n"));
        assert!(super::break_a_size("no asserts").is_none());
    }
}
