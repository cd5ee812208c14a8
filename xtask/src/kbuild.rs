//! Building a `#![no_std]` crate for a Windows kernel target (`-Zbuild-std`) and linking a
//! staticlib into a `.sys` with lld-link.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{Context, bail};

use crate::target::Target;
use crate::toolchain::{Toolchain, show};

/// A cargo profile.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Profile {
    Dev,
    Release,
}

impl Profile {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Profile::Dev => "dev",
            Profile::Release => "release",
        }
    }
}

/// What `cargo rustc` should make of the crate's lib target.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum CrateType {
    /// For linking into a driver: lld-link gets exactly the flags a driver needs, and the image
    /// has no DLL flag and no export table (cdylib mode would add both).
    Staticlib,
    /// For reading statics back out of the objects; needs no panic handler or allocator.
    Rlib,
}

/// One crate built for kernel targets into one target directory.
pub(crate) struct KernelCrate<'a> {
    pub(crate) toolchain: &'a Toolchain,
    pub(crate) manifest: PathBuf,
    pub(crate) target_dir: PathBuf,
    pub(crate) profile: Profile,
    /// Cargo features of the crate to enable (the emulator's deliberately broken builds).
    pub(crate) features: Vec<String>,
}

impl KernelCrate<'_> {
    /// Builds the lib target for `target` and returns the library cargo produced.
    pub(crate) fn build(&self, target: Target, crate_type: CrateType) -> anyhow::Result<PathBuf> {
        let spec_dir = self.target_dir.join("target-specs");
        let cargo_target = target.cargo_target(self.toolchain, &spec_dir)?;
        let manifest_dir = self.manifest.parent().context("manifest path has no directory")?;
        let profile = self.profile.name();

        let mut cargo = self.toolchain.cargo_command();
        cargo
            .current_dir(manifest_dir)
            .arg("rustc")
            .arg("--lib")
            .arg("--manifest-path")
            .arg(&self.manifest)
            .args(["--target", &cargo_target, "--profile", profile])
            .arg("--target-dir")
            .arg(&self.target_dir)
            // JSON on stdout says where the artifact went; diagnostics still render on stderr.
            .arg("--message-format=json-render-diagnostics");
        if crate_type == CrateType::Staticlib {
            cargo.args(["--crate-type", "staticlib"]);
        }
        if !self.features.is_empty() {
            cargo.arg("--features").arg(self.features.join(","));
        }
        if target == Target::X86 {
            cargo.arg("-Zjson-target-spec");
        }
        // No precompiled core/alloc exists for these targets; build them, with compiler_builtins'
        // mem* functions (the staticlib then carries its own memcpy and friends).
        cargo.args(["-Zbuild-std=core,alloc", "-Zbuild-std-features=compiler-builtins-mem"]);
        // Unoptimised compiler_builtins keeps references to fma/fmaf, which nothing provides on
        // *-windows-msvc, so dev builds would not link; the shipped sysroots optimise it too.
        for setting in ["opt-level=3", "debug-assertions=false", "overflow-checks=false"] {
            cargo
                .arg("--config")
                .arg(format!("profile.{profile}.package.compiler_builtins.{setting}"));
        }
        cargo.stdout(Stdio::piped()).stderr(Stdio::inherit());

        let output = cargo.output().with_context(|| format!("could not run {}", show(&cargo)))?;
        if !output.status.success() {
            bail!("the {target} build failed ({}): {}", output.status, show(&cargo));
        }
        let stdout = String::from_utf8_lossy(&output.stdout);
        let wanted = match crate_type {
            CrateType::Staticlib => ".lib",
            CrateType::Rlib => ".rlib",
        };
        find_artifact(&stdout, &self.manifest, wanted)?.with_context(|| {
            format!("cargo reported no {wanted} for {} ({})", self.manifest.display(), show(&cargo))
        })
    }
}

/// The `filenames` entry ending in `suffix` of the `compiler-artifact` message for the package
/// at `manifest`.
fn find_artifact(messages: &str, manifest: &Path, suffix: &str) -> anyhow::Result<Option<PathBuf>> {
    let manifest = manifest.canonicalize().unwrap_or_else(|_| manifest.to_path_buf());
    for line in messages.lines().filter(|l| l.starts_with('{')) {
        let message: serde_json::Value = serde_json::from_str(line)
            .with_context(|| format!("unreadable cargo message: {line}"))?;
        if message["reason"] != "compiler-artifact" {
            continue;
        }
        let Some(path) = message["manifest_path"].as_str() else { continue };
        let path = Path::new(path);
        if path.canonicalize().as_deref().unwrap_or(path) != manifest {
            continue;
        }
        let files = message["filenames"].as_array().into_iter().flatten();
        if let Some(file) =
            files.filter_map(serde_json::Value::as_str).find(|f| f.ends_with(suffix))
        {
            return Ok(Some(PathBuf::from(file)));
        }
    }
    Ok(None)
}

/// The files of a linked driver.
#[derive(Debug)]
pub(crate) struct LinkedDriver {
    pub(crate) sys: PathBuf,
    pub(crate) map: PathBuf,
}

/// Compiler helpers that LLVM calls by itself (no `extern` declaration names them, so raw-dylib
/// cannot import them) and that the kernel exports: the stack probe for frames over 4 KiB, and
/// on x86 the MSVC helpers 64-bit division, remainder, multiplication and shifts lower to. lld
/// wants every symbol that a loaded object references resolved, even in code `/OPT:REF` drops
/// afterwards (core's formatting has both), and imports only those still referenced after it.
/// The names are the kernel's exports as mingw-w64's ntoskrnl.def lists them; `__chkstk` on
/// arm64 is by analogy with x64, not verified against a real kernel.
pub(crate) fn helper_exports(target: Target) -> &'static [&'static str] {
    match target {
        Target::X64 | Target::Arm64 => &["__chkstk"],
        Target::X86 => &[
            "_chkstk",
            "_alldiv",
            "_allrem",
            "_allmul",
            "_alldvrm",
            "_aulldiv",
            "_aullrem",
            "_aulldvrm",
            "_allshl",
            "_allshr",
            "_aullshr",
        ],
    }
}

/// An import library for `helper_exports` from ntoskrnl.exe, made with `lld-link /lib /def:`.
/// The names are undecorated, so the x86 rule that `/def:` adds the C underscore to the symbol
/// and strips it again for the import name gives exactly `__aulldiv` -> `_aulldiv`.
pub(crate) fn helper_import_library(
    toolchain: &Toolchain,
    target: Target,
    dir: &Path,
) -> anyhow::Result<PathBuf> {
    fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let def = dir.join("ntoskrnl-helpers.def");
    let lib = dir.join("ntoskrnl-helpers.lib");
    let mut text = String::from("LIBRARY ntoskrnl.exe\nEXPORTS\n");
    for name in helper_exports(target) {
        text.push_str("    ");
        text.push_str(name);
        text.push('\n');
    }
    fs::write(&def, text).with_context(|| format!("writing {}", def.display()))?;
    let mut lld = Command::new(&toolchain.lld_link);
    lld.args(["/lib", "/nologo", &format!("/machine:{}", target.machine())])
        .arg(arg_path("/def:", &def))
        .arg(arg_path("/out:", &lib));
    crate::toolchain::run_capture(&mut lld)?;
    Ok(lib)
}

/// Links `staticlib` into `<dir>/<stem>.sys` (with `.map` and `.pdb` beside it).
pub(crate) fn link_driver(
    toolchain: &Toolchain,
    target: Target,
    staticlib: &Path,
) -> anyhow::Result<LinkedDriver> {
    let stem = staticlib.file_stem().context("staticlib path has no file name")?;
    let helpers =
        helper_import_library(toolchain, target, &staticlib.with_file_name("kernel-helpers"))?;
    link_sys(toolchain, target, &[staticlib, &helpers], &staticlib.with_file_name(stem))
}

/// Links `inputs` (objects, static and import libraries, in this order) into `<base>.sys`, with
/// `<base>.map` and `<base>.pdb` beside it: the flags of a kernel driver, the same for the Rust
/// driver and its C counterpart.
pub(crate) fn link_sys(
    toolchain: &Toolchain,
    target: Target,
    inputs: &[&Path],
    base: &Path,
) -> anyhow::Result<LinkedDriver> {
    let with_ext = |ext: &str| base.with_extension(ext);
    let (sys, map, pdb) = (with_ext("sys"), with_ext("map"), with_ext("pdb"));

    let mut link = Command::new(&toolchain.lld_link);
    link.args([
        "/NOLOGO",
        // A kernel-mode image: native subsystem, entered at DriverEntry, no CRT or default
        // libraries (every import is from NETIO.SYS or ntoskrnl.exe).
        "/DRIVER",
        "/SUBSYSTEM:NATIVE",
        "/ENTRY:DriverEntry",
        "/NODEFAULTLIB",
        &format!("/MACHINE:{}", target.machine()),
        // Drop what nothing references, fold identical code: a smaller image to load.
        "/OPT:REF",
        "/OPT:ICF",
        // Set the checksum: the kernel verifies it for boot-start drivers.
        "/RELEASE",
        // lld sets TSAWARE for every non-DLL image; it means nothing for a driver.
        "/TSAWARE:NO",
        "/DEBUG",
        "/PDBALTPATH:%_PDB%",
    ]);
    // LLVM references `_fltused` (the MSVC CRT's "floats are used" marker) from any object that
    // touches floats, compiler_builtins included; nothing reads its value, and without a CRT
    // nothing defines it. Alias it to the linker-made image base (x86 names carry a `_`).
    link.arg(match target {
        Target::X86 => "/ALTERNATENAME:__fltused=___ImageBase",
        Target::X64 | Target::Arm64 => "/ALTERNATENAME:_fltused=__ImageBase",
    });
    link.arg(arg_path("/MAP:", &map)).arg(arg_path("/PDB:", &pdb)).arg(arg_path("/OUT:", &sys));
    link.args(inputs);
    let output = link.output().with_context(|| format!("could not run {}", show(&link)))?;
    let diagnostics = String::from_utf8_lossy(&output.stderr);
    if !output.status.success() {
        bail!("linking the {target} driver failed:\n{}\n{}", diagnostics.trim_end(), show(&link));
    }
    if !diagnostics.trim().is_empty() {
        eprintln!("{}", diagnostics.trim_end());
    }
    Ok(LinkedDriver { sys, map })
}

fn arg_path(flag: &str, path: &Path) -> String {
    format!("{flag}{}", path.display())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_artifact_of_our_package_is_found() {
        let dir = std::env::temp_dir();
        let manifest = dir.join("Cargo.toml");
        let messages = format!(
            "{{\"reason\":\"compiler-artifact\",\"manifest_path\":\"/elsewhere/Cargo.toml\",\"filenames\":[\"/t/libcore.rlib\"]}}\n\
             {{\"reason\":\"compiler-artifact\",\"manifest_path\":\"{m}\",\"filenames\":[\"/t/drv.lib\",\"/t/drv.rlib\"]}}\n\
             {{\"reason\":\"build-finished\",\"success\":true}}\n",
            m = manifest.display()
        );
        assert_eq!(find_artifact(&messages, &manifest, ".lib").unwrap(), Some("/t/drv.lib".into()));
        assert_eq!(
            find_artifact(&messages, &manifest, ".rlib").unwrap(),
            Some("/t/drv.rlib".into())
        );
        assert_eq!(find_artifact(&messages, &manifest, ".dll").unwrap(), None);
    }
}
