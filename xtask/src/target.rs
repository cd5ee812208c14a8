//! The three Windows kernel targets and how each is named to rustc, clang and lld-link.

use std::fmt;
use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};

use crate::toolchain::{Toolchain, run_capture};

/// A Windows kernel architecture.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Target {
    X64,
    Arm64,
    X86,
}

impl Target {
    pub(crate) const ALL: [Target; 3] = [Target::X64, Target::Arm64, Target::X86];

    pub(crate) fn parse(name: &str) -> anyhow::Result<Self> {
        Ok(match name {
            "x64" | "amd64" | "x86_64" => Target::X64,
            "arm64" | "aarch64" => Target::Arm64,
            "x86" | "i686" | "i386" => Target::X86,
            other => bail!("unknown target `{other}` (expected x64, arm64, x86 or all)"),
        })
    }

    /// The short name used on the command line and in reports.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Target::X64 => "x64",
            Target::Arm64 => "arm64",
            Target::X86 => "x86",
        }
    }

    /// The name of the rustc target: a built-in triple, or for x86 the generated soft-float spec
    /// (cargo names its output directory after it).
    pub(crate) fn rust_target_name(self) -> &'static str {
        match self {
            Target::X64 => "x86_64-pc-windows-msvc",
            Target::Arm64 => "aarch64-pc-windows-msvc",
            Target::X86 => X86_KERNEL_TARGET,
        }
    }

    /// The clang `--target` for the same ABI.
    pub(crate) fn clang_triple(self) -> &'static str {
        match self {
            Target::X64 => "x86_64-pc-windows-msvc",
            Target::Arm64 => "aarch64-pc-windows-msvc",
            Target::X86 => "i686-pc-windows-msvc",
        }
    }

    /// lld-link's `/MACHINE:`.
    pub(crate) fn machine(self) -> &'static str {
        match self {
            Target::X64 => "X64",
            Target::Arm64 => "ARM64",
            Target::X86 => "X86",
        }
    }

    pub(crate) fn pointer_size(self) -> usize {
        match self {
            Target::X64 | Target::Arm64 => 8,
            Target::X86 => 4,
        }
    }

    /// x86 C symbols carry a leading underscore (and stdcall ones an `@bytes` suffix).
    pub(crate) fn c_symbol_prefix(self) -> &'static str {
        match self {
            Target::X86 => "_",
            Target::X64 | Target::Arm64 => "",
        }
    }

    /// What cargo gets as `--target`: the triple, or the path of the x86 spec written into
    /// `spec_dir` (regenerated from this rustc each time, rewritten only when it changes so
    /// cargo's fingerprints stay put).
    pub(crate) fn cargo_target(
        self,
        toolchain: &Toolchain,
        spec_dir: &Path,
    ) -> anyhow::Result<String> {
        match self {
            Target::X64 | Target::Arm64 => Ok(self.rust_target_name().to_owned()),
            Target::X86 => {
                let path = write_x86_kernel_spec(toolchain, spec_dir)?;
                Ok(path.to_string_lossy().into_owned())
            }
        }
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

const X86_KERNEL_TARGET: &str = "i686-pc-windows-msvc-kernel";

/// The x86 kernel saves no x87/MMX/SSE state for drivers, so 32-bit driver code must not touch
/// those registers at all. The stock `i686-pc-windows-msvc` target passes floats in SSE
/// registers and lets LLVM use SSE for memcpy and the like; `-C target-feature=-sse,-sse2`
/// breaks core (its float ABI needs SSE). What works is a copy of the stock spec with the
/// soft-float ABI and features, the combination `i686-unknown-uefi` uses. Everything else (data
/// layout, cfgs, stdcall decoration) stays the stock target's.
fn write_x86_kernel_spec(toolchain: &Toolchain, spec_dir: &Path) -> anyhow::Result<PathBuf> {
    let stock = run_capture(
        toolchain
            .rustc_command()
            .args(["-Z", "unstable-options", "--print", "target-spec-json"])
            .args(["--target", "i686-pc-windows-msvc"]),
    )?;
    let spec = x86_kernel_spec(&stock)?;
    fs::create_dir_all(spec_dir).with_context(|| format!("creating {}", spec_dir.display()))?;
    let path = spec_dir.join(format!("{X86_KERNEL_TARGET}.json"));
    if fs::read_to_string(&path).ok().as_deref() != Some(spec.as_str()) {
        fs::write(&path, &spec).with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(path)
}

/// The soft-float spec from the stock one (see `write_x86_kernel_spec`).
fn x86_kernel_spec(stock_json: &str) -> anyhow::Result<String> {
    let mut spec: serde_json::Value =
        serde_json::from_str(stock_json).context("rustc printed an unreadable target spec")?;
    let object = spec.as_object_mut().context("the target spec is not a JSON object")?;
    if object.get("arch").and_then(serde_json::Value::as_str) != Some("x86") {
        bail!("rustc's i686-pc-windows-msvc spec does not say arch=x86; refusing to patch it");
    }
    object.insert("rustc-abi".into(), "softfloat".into());
    object.insert("features".into(), "-mmx,-sse,+soft-float".into());
    // `metadata` describes the built-in target and is rejected in a custom spec; sanitizers
    // need runtime libraries that do not exist for the kernel.
    object.remove("metadata");
    object.insert("supported-sanitizers".into(), serde_json::Value::Array(Vec::new()));
    let mut text = serde_json::to_string_pretty(&spec)?;
    text.push('\n');
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn x86_spec_is_soft_float_and_keeps_the_rest() {
        let stock = r#"{"arch":"x86","rustc-abi":"x86-sse2","cpu":"pentium4",
            "metadata":{"tier":1},"supported-sanitizers":["address"]}"#;
        let spec: serde_json::Value =
            serde_json::from_str(&x86_kernel_spec(stock).unwrap()).unwrap();
        assert_eq!(spec["rustc-abi"], "softfloat");
        assert_eq!(spec["features"], "-mmx,-sse,+soft-float");
        assert_eq!(spec["cpu"], "pentium4");
        assert!(spec.get("metadata").is_none());
        assert_eq!(spec["supported-sanitizers"], serde_json::json!([]));
    }

    #[test]
    fn x86_spec_refuses_another_arch() {
        assert!(x86_kernel_spec(r#"{"arch":"x86_64"}"#).is_err());
    }
}
