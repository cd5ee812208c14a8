//! The tools the Windows builds need, installed from Debian's archive when missing.
//!
//! rustup's toolchains on these machines have neither `rust-src` nor a Windows standard library
//! and cannot download them, so the kernel builds use Debian's `rustc-web`/`cargo-web` (their
//! sysroot is `/usr`, and `rust-web-src` puts the library source exactly where `-Zbuild-std`
//! looks) with `RUSTC_BOOTSTRAP=1`, and `lld-22`'s `lld-link` to link. rustup's `cargo`/`rustc`
//! stay first on PATH, so every command here names the Debian binaries by path.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{Context, bail};

/// Debian packages: the Rust toolchain with its library source, and the linker.
const RUST_PACKAGES: [&str; 4] = ["rustc-web", "cargo-web", "rust-web-src", "lld-22"];
/// `llvm-objdump-22`, to disassemble x86 drivers (the x87/SSE check).
const OBJDUMP_PACKAGE: &str = "llvm-22";
/// clang for the C side of `abi-check`. Version 22 shares `libllvm22` with rustc-web and lld-22,
/// which are installed anyway, so it costs less to add than the default clang-14.
const CLANG_PACKAGE: &str = "clang-22";

const RUSTC: &str = "/usr/bin/rustc";
const CARGO: &str = "/usr/bin/cargo";
const RUSTDOC: &str = "/usr/bin/rustdoc";
const LLD_LINK: &str = "/usr/bin/lld-link-22";
const OBJDUMP: &str = "/usr/bin/llvm-objdump-22";

/// Debian's Rust toolchain and linker, checked to belong together.
#[derive(Debug)]
pub(crate) struct Toolchain {
    rustc: PathBuf,
    cargo: PathBuf,
    rustdoc: PathBuf,
    pub(crate) lld_link: PathBuf,
    /// `rustc -V`, for the log.
    pub(crate) rustc_version: String,
}

impl Toolchain {
    /// Installs what is missing and checks that rustc and its library source match.
    pub(crate) fn debian(install: bool) -> anyhow::Result<Self> {
        ensure_packages(&RUST_PACKAGES, install)?;
        // LLD_LINK overrides the linker with another lld-link (e.g. a newer LLD).
        let lld_link =
            std::env::var_os("LLD_LINK").map_or_else(|| PathBuf::from(LLD_LINK), PathBuf::from);
        if !lld_link.exists() {
            bail!("{} not found (package lld-22, or set LLD_LINK)", lld_link.display());
        }
        let verbose = run_capture(Command::new(RUSTC).arg("-vV"))?;
        let release = verbose
            .lines()
            .find_map(|l| l.strip_prefix("release: "))
            .context("`rustc -vV` printed no release line")?
            .trim()
            .to_owned();
        // -Zbuild-std compiles the library source next to the sysroot with this rustc: a source
        // tree of another version fails in confusing ways, so refuse it up front.
        let sysroot = run_capture(Command::new(RUSTC).args(["--print", "sysroot"]))?;
        let source = Path::new(sysroot.trim()).join("lib/rustlib/src/rust");
        let source = source.canonicalize().with_context(|| {
            format!("library source {} (package rust-web-src)", source.display())
        })?;
        if !source.join("library/core").is_dir() {
            bail!("{} has no library/core (package rust-web-src)", source.display());
        }
        if !source.to_string_lossy().contains(&release) {
            bail!(
                "rustc {release} does not match its library source {}: upgrade rustc-web and \
                 rust-web-src together",
                source.display()
            );
        }
        let rustc_version = run_capture(Command::new(RUSTC).arg("-V"))?.trim().to_owned();
        Ok(Toolchain {
            rustc: RUSTC.into(),
            cargo: CARGO.into(),
            rustdoc: RUSTDOC.into(),
            lld_link,
            rustc_version,
        })
    }

    pub(crate) fn rustc_command(&self) -> Command {
        let mut command = Command::new(&self.rustc);
        command.env("RUSTC_BOOTSTRAP", "1");
        command
    }

    /// `/usr/bin/cargo` with Debian's rustc, unstable flags allowed, and none of the settings
    /// that `cargo xtask` (rustup's cargo) or the user's shell could leak into the build.
    pub(crate) fn cargo_command(&self) -> Command {
        let mut command = Command::new(&self.cargo);
        command.env("RUSTC", &self.rustc).env("RUSTDOC", &self.rustdoc).env("RUSTC_BOOTSTRAP", "1");
        for var in [
            // Would swap the compiler back to rustup's or wrap it.
            "RUSTC_WRAPPER",
            "RUSTC_WORKSPACE_WRAPPER",
            "CARGO_BUILD_RUSTC",
            "CARGO_BUILD_RUSTC_WRAPPER",
            "RUSTUP_TOOLCHAIN",
            // Would redirect the target or the output, or add host-only flags.
            "CARGO_BUILD_TARGET",
            "CARGO_TARGET_DIR",
            "CARGO_BUILD_TARGET_DIR",
            "RUSTFLAGS",
            "CARGO_ENCODED_RUSTFLAGS",
            "CARGO_BUILD_RUSTFLAGS",
            "RUSTDOCFLAGS",
            "CARGO_ENCODED_RUSTDOCFLAGS",
        ] {
            command.env_remove(var);
        }
        command
    }
}

/// `llvm-objdump-22`, installed when missing.
pub(crate) fn objdump(install: bool) -> anyhow::Result<PathBuf> {
    ensure_packages(&[OBJDUMP_PACKAGE], install)?;
    let path = PathBuf::from(OBJDUMP);
    if !path.exists() {
        bail!("{OBJDUMP} not found although {OBJDUMP_PACKAGE} is installed");
    }
    Ok(path)
}

/// A clang that targets `*-pc-windows-msvc` (every clang does): the first found of
/// clang-22/clang-14/clang, else clang-22 installed.
pub(crate) fn clang(install: bool) -> anyhow::Result<PathBuf> {
    let found = ["clang-22", "clang-14", "clang"].iter().find_map(|name| find_in_path(name));
    if let Some(path) = found {
        return Ok(path);
    }
    ensure_packages(&[CLANG_PACKAGE], install)?;
    find_in_path(CLANG_PACKAGE)
        .with_context(|| format!("{CLANG_PACKAGE} installed but not on PATH"))
}

fn find_in_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path).map(|dir| dir.join(name)).find(|p| p.is_file())
}

/// Installs the Debian packages of `packages` that are not installed yet.
pub(crate) fn ensure_packages(packages: &[&str], install: bool) -> anyhow::Result<()> {
    let missing: Vec<&str> = packages.iter().copied().filter(|p| !is_installed(p)).collect();
    if missing.is_empty() {
        return Ok(());
    }
    if !install {
        bail!("missing Debian packages: {} (run without --no-install)", missing.join(" "));
    }
    if find_in_path("apt-get").is_none() {
        bail!(
            "missing packages {} and no apt-get: this needs a Debian 12 machine",
            missing.join(" ")
        );
    }
    crate::log(format_args!("installing {} (apt-get)", missing.join(" ")));
    let started = std::time::Instant::now();
    // Captured, so apt's progress does not interleave with the reports on stdout; a failure
    // shows it all. Only the packages' own dependencies: rustc-web recommends gcc and more.
    run_capture(apt_get().args(["update", "-qq"]))?;
    run_capture(
        apt_get().args(["install", "-y", "-qq", "--no-install-recommends"]).args(&missing),
    )?;
    crate::log(format_args!("apt-get done in {:.1}s", started.elapsed().as_secs_f64()));
    Ok(())
}

fn is_installed(package: &str) -> bool {
    Command::new("dpkg-query")
        .args(["-W", "-f=${Status}", package])
        .stderr(Stdio::null())
        .output()
        .is_ok_and(|out| out.status.success() && out.stdout.ends_with(b"install ok installed"))
}

/// `apt-get`, through `sudo` unless we are root; non-interactive either way.
fn apt_get() -> Command {
    let root = Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|out| String::from_utf8_lossy(&out.stdout).trim() == "0");
    let mut command = if root {
        Command::new("apt-get")
    } else {
        let mut sudo = Command::new("sudo");
        sudo.args(["DEBIAN_FRONTEND=noninteractive", "apt-get"]);
        sudo
    };
    command.env("DEBIAN_FRONTEND", "noninteractive");
    command
}

/// Runs `command`, inheriting stdout/stderr; fails with the command line on a non-zero exit.
pub(crate) fn run_status(command: &mut Command) -> anyhow::Result<()> {
    let status = command.status().with_context(|| format!("could not run {}", show(command)))?;
    if !status.success() {
        bail!("{} failed ({status})", show(command));
    }
    Ok(())
}

/// Runs `command` and returns its stdout; on failure the error carries its stderr and stdout.
pub(crate) fn run_capture(command: &mut Command) -> anyhow::Result<String> {
    let output = command.output().with_context(|| format!("could not run {}", show(command)))?;
    if !output.status.success() {
        bail!(
            "{} failed ({}):\n{}\n{}",
            show(command),
            output.status,
            String::from_utf8_lossy(&output.stderr).trim_end(),
            String::from_utf8_lossy(&output.stdout).trim_end()
        );
    }
    String::from_utf8(output.stdout).with_context(|| format!("{} printed non-UTF-8", show(command)))
}

/// The command line, for error messages.
pub(crate) fn show(command: &Command) -> String {
    let mut parts = vec![command.get_program().to_string_lossy().into_owned()];
    parts.extend(
        command
            .get_args()
            .map(OsStr::to_string_lossy)
            .map(|a| if a.contains(' ') { format!("'{a}'") } else { a.into_owned() }),
    );
    parts.join(" ")
}
