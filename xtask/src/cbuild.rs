//! The C counterpart of the kernel-driver example, `examples/kernel-driver-c`: compiled by clang
//! for the same target and profile as the Rust driver, and linked by the same lld-link command
//! (`kbuild::link_sys`), so the two images can be checked and measured side by side.
//!
//! Without a WDK there is no `netio.lib` or `ntoskrnl.lib`: the import libraries are made with
//! `lld-link /lib /def:` from what the object itself imports, its undefined `__imp_` symbols
//! (the C header declares every import `__declspec(dllimport)`). `Nmr*` functions come from
//! `NETIO.SYS`, everything else from `ntoskrnl.exe`; on x86 a stdcall reference
//! `__imp__Name@N` becomes `_Name@N EXPORTAS Name` (the kernel exports undecorated names) and a
//! cdecl one (`DbgPrint`) stays `Name`, to which `/def:` adds the C underscore.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, bail};
use object::{Object, ObjectSymbol};

use crate::kbuild::{self, LinkedDriver, Profile};
use crate::target::Target;
use crate::toolchain::{Toolchain, run_capture, run_status};

/// The C source of `examples/kernel-driver-c`, and the stem of everything built from it.
pub(crate) const SOURCE: &str = "exnpi_driver.c";

/// The C driver's sources and where its builds go.
pub(crate) struct CDriver<'a> {
    pub(crate) toolchain: &'a Toolchain,
    pub(crate) clang: PathBuf,
    /// `examples/kernel-driver-c`, or `examples/drivers/c`.
    pub(crate) source_dir: PathBuf,
    /// The C file in `source_dir` (`exnpi_driver.c`); its stem names the build's files.
    pub(crate) source: String,
    /// Macros to define (`-D`): the deliberately broken variants of the emulator's self-test,
    /// which are compiled without `-Werror` and get their own stem (`<stem>-<macros>`).
    pub(crate) defines: Vec<String>,
    /// `<target-dir>/kernel-driver-c`; each build goes to `<target>/<profile>/` below it.
    pub(crate) out_dir: PathBuf,
    pub(crate) profile: Profile,
}

/// A linked C driver and the object it came from.
pub(crate) struct BuiltC {
    pub(crate) object: PathBuf,
    pub(crate) linked: LinkedDriver,
}

impl CDriver<'_> {
    /// Compiles, makes the import libraries and links `<out>/<target>/<profile>/<stem>.sys`.
    pub(crate) fn build(&self, target: Target) -> anyhow::Result<BuiltC> {
        let dir = self.out_dir.join(target.name()).join(self.profile.name());
        fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        let source = &self.source;
        let mut stem = source.trim_end_matches(".c").to_owned();
        for define in &self.defines {
            stem.push('-');
            stem.push_str(&define.to_ascii_lowercase().replace('_', "-"));
        }
        let object = dir.join(format!("{stem}.obj"));
        let mut clang = Command::new(&self.clang);
        clang.args(clang_args(target, self.profile));
        if !self.defines.is_empty() {
            clang.arg("-Wno-error");
            clang.args(self.defines.iter().map(|d| format!("-D{d}")));
        }
        // clang's own freestanding headers (`<stddef.h>` for `offsetof` in generated NPI
        // headers), and nothing of the host's (`-nostdinc`).
        clang.arg("-isystem").arg(builtin_include_dir(&self.clang)?);
        clang.arg(self.source_dir.join(source)).arg("-o").arg(&object);
        run_status(&mut clang).with_context(|| format!("compiling {source} for {target}"))?;

        let bytes = fs::read(&object).with_context(|| format!("reading {}", object.display()))?;
        let imports = imports_of(&bytes, target)
            .with_context(|| format!("reading the imports of {}", object.display()))?;
        let mut libraries = Vec::new();
        for (module, entries) in &imports {
            let stem = module.split('.').next().unwrap_or(module).to_ascii_lowercase();
            libraries.push(import_library(self.toolchain, target, module, entries, &dir, &stem)?);
        }
        let helpers =
            kbuild::helper_import_library(self.toolchain, target, &dir.join("kernel-helpers"))?;
        let mut inputs: Vec<&Path> = vec![&object];
        inputs.extend(libraries.iter().map(PathBuf::as_path));
        inputs.push(&helpers);
        let linked = kbuild::link_sys(self.toolchain, target, &inputs, &dir.join(&stem))?;
        Ok(BuiltC { object, linked })
    }
}

/// clang's flags: a freestanding kernel object with no SDK (`ddk.h` declares everything),
/// one section per function and datum so `/OPT:REF,ICF` work per function as they do for the
/// Rust driver (MSVC's `/Gy /Gw`), unwind tables as every x64/arm64 kernel image has them
/// (`-ffreestanding` drops clang's default), and no x87/MMX/SSE on x86, whose kernel saves none
/// of that state for drivers. `-O2` for release, `-O0 -g` for dev.
pub(crate) fn clang_args(target: Target, profile: Profile) -> Vec<String> {
    let mut args: Vec<String> = [
        &format!("--target={}", target.clang_triple()),
        "-ffreestanding",
        "-nostdinc",
        "-std=c11",
        "-Wall",
        "-Wextra",
        "-Werror",
        "-ffunction-sections",
        "-fdata-sections",
        "-funwind-tables",
        "-c",
    ]
    .iter()
    .map(ToString::to_string)
    .collect();
    if target == Target::X86 {
        args.extend(["-mno-sse", "-mno-mmx", "-mno-80387"].map(String::from));
    }
    match profile {
        Profile::Release => args.push("-O2".into()),
        Profile::Dev => args.extend(["-O0", "-g"].map(String::from)),
    }
    args
}

/// One line of a module's `.def`: the symbol the object references and the name the module
/// exports (the same except for x86 stdcall).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct DefEntry {
    /// As `/def:` reads it: `Name`, or on x86 `_Name@N` for stdcall.
    pub(crate) symbol: String,
    /// The exported name, when `/def:` would not derive it from `symbol`.
    pub(crate) export_as: Option<String>,
}

impl DefEntry {
    fn line(&self) -> String {
        match &self.export_as {
            Some(name) => format!("{} EXPORTAS {name}", self.symbol),
            None => self.symbol.clone(),
        }
    }
}

/// The functions a COFF object imports (its undefined `__imp_` symbols), by module.
pub(crate) fn imports_of(
    object_bytes: &[u8],
    target: Target,
) -> anyhow::Result<BTreeMap<&'static str, Vec<DefEntry>>> {
    let file = object::File::parse(object_bytes).context("not an object file")?;
    let mut imports: BTreeMap<&'static str, Vec<DefEntry>> = BTreeMap::new();
    for symbol in file.symbols().filter(|s| s.is_undefined()) {
        let name = symbol.name().context("unreadable symbol name")?;
        let Some(referenced) = name.strip_prefix("__imp_") else { continue };
        let (exported, entry) = def_entry(referenced, target)?;
        let module = if exported.starts_with("Nmr") { "NETIO.SYS" } else { "ntoskrnl.exe" };
        let entries = imports.entry(module).or_default();
        if !entries.contains(&entry) {
            entries.push(entry);
        }
    }
    Ok(imports)
}

/// The exported name and `.def` line for the import symbol `referenced` (`__imp_` removed).
fn def_entry(referenced: &str, target: Target) -> anyhow::Result<(String, DefEntry)> {
    if target != Target::X86 {
        if referenced.contains('@') {
            bail!("`{referenced}` is decorated, which no {target} export is");
        }
        return Ok((
            referenced.to_owned(),
            DefEntry { symbol: referenced.to_owned(), export_as: None },
        ));
    }
    let Some(c_name) = referenced.strip_prefix('_') else {
        bail!(
            "`__imp_{referenced}` is neither cdecl (`__imp__Name`) nor stdcall \
             (`__imp__Name@N`); fastcall imports are not supported"
        );
    };
    match c_name.rsplit_once('@') {
        Some((name, bytes)) if !bytes.is_empty() && bytes.bytes().all(|b| b.is_ascii_digit()) => {
            Ok((
                name.to_owned(),
                DefEntry { symbol: referenced.to_owned(), export_as: Some(name.to_owned()) },
            ))
        }
        Some(_) => bail!("`__imp_{referenced}`: unreadable decoration"),
        None => Ok((c_name.to_owned(), DefEntry { symbol: c_name.to_owned(), export_as: None })),
    }
}

/// `<dir>/<stem>.lib`, the import library of `module` for `entries`, made with `lld-link /lib`.
fn import_library(
    toolchain: &Toolchain,
    target: Target,
    module: &str,
    entries: &[DefEntry],
    dir: &Path,
    stem: &str,
) -> anyhow::Result<PathBuf> {
    let def = dir.join(format!("{stem}.def"));
    let lib = dir.join(format!("{stem}.lib"));
    let mut text = format!("LIBRARY {module}\nEXPORTS\n");
    for entry in entries {
        text.push_str("    ");
        text.push_str(&entry.line());
        text.push('\n');
    }
    fs::write(&def, text).with_context(|| format!("writing {}", def.display()))?;
    let mut lld = Command::new(&toolchain.lld_link);
    lld.args(["/lib", "/nologo", &format!("/machine:{}", target.machine())])
        .arg(format!("/def:{}", def.display()))
        .arg(format!("/out:{}", lib.display()));
    run_capture(&mut lld).with_context(|| format!("making the import library of {module}"))?;
    Ok(lib)
}

/// `clang --version`'s first line, for the log.
pub(crate) fn clang_version(clang: &Path) -> String {
    run_capture(Command::new(clang).arg("--version"))
        .ok()
        .and_then(|v| v.lines().next().map(str::to_owned))
        .unwrap_or_else(|| clang.display().to_string())
}

/// clang's resource directory's `include`: its freestanding C headers (`stddef.h`, …).
pub(crate) fn builtin_include_dir(clang: &Path) -> anyhow::Result<PathBuf> {
    let out = run_capture(Command::new(clang).arg("-print-resource-dir"))
        .context("asking clang for its resource directory")?;
    Ok(PathBuf::from(out.trim()).join("include"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn x86_stdcall_imports_are_exported_undecorated() {
        let (name, entry) = def_entry("_NmrRegisterClient@12", Target::X86).unwrap();
        assert_eq!(name, "NmrRegisterClient");
        assert_eq!(entry.line(), "_NmrRegisterClient@12 EXPORTAS NmrRegisterClient");
        let (name, entry) = def_entry("_DbgPrint", Target::X86).unwrap();
        assert_eq!((name.as_str(), entry.line().as_str()), ("DbgPrint", "DbgPrint"));
        assert!(def_entry("@ExAcquireRundownProtection@4", Target::X86).is_err());
        assert!(def_entry("_Odd@x", Target::X86).is_err());
    }

    #[test]
    fn x64_and_arm64_imports_are_plain_names() {
        for target in [Target::X64, Target::Arm64] {
            let (name, entry) = def_entry("ExAllocatePool2", target).unwrap();
            assert_eq!(
                (name.as_str(), entry.line().as_str()),
                ("ExAllocatePool2", "ExAllocatePool2")
            );
            assert!(def_entry("NmrRegisterClient@12", target).is_err());
        }
    }

    #[test]
    fn flags_follow_target_and_profile() {
        let dev = clang_args(Target::X86, Profile::Dev);
        assert!(dev.contains(&"--target=i686-pc-windows-msvc".to_owned()));
        assert!(dev.contains(&"-mno-sse".to_owned()) && dev.contains(&"-g".to_owned()));
        assert!(dev.contains(&"-O0".to_owned()));
        let release = clang_args(Target::Arm64, Profile::Release);
        assert!(release.contains(&"-O2".to_owned()) && !release.contains(&"-g".to_owned()));
        assert!(!release.contains(&"-mno-sse".to_owned()));
        assert!(release.contains(&"-ffunction-sections".to_owned()));
    }
}
