//! `cargo xtask emulate`: the EXNPI pair of `examples/drivers` run in an emulated Windows kernel.
//!
//! This side builds the images and the Python environment; `xtask/emulate/run.py` runs them:
//! - a venv under `target/emulate-venv` with `speakeasy-emulator==1.5.11` (which pins
//!   `unicorn==1.0.2`, a manylinux wheel) from PyPI; `python3-venv` is installed with apt-get
//!   when `python3 -m venv` cannot work;
//! - the Rust provider and client (`cargo xtask driver`'s builds: same crates, target directory
//!   and flags) and the C provider and client, for x64 and x86, dev and release;
//! - the deliberately broken images (Cargo features of the Rust drivers, `EXNPI_BROKEN_*`
//!   macros of the C ones), release, each paired with a well-behaved peer and the reason the
//!   run must fail for;
//! - a manifest (`target/emulate/manifest.json`) naming all of it, which `run.py` reads.
//!
//! Everything lives under `target/`: nothing is cached elsewhere.

use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use anyhow::{Context, bail};

use crate::cli::EmulateOptions;
use crate::driver::{pair_c_driver, pair_crate};
use crate::kbuild::{self, CrateType, Profile};
use crate::target::Target;
use crate::toolchain::{self, Toolchain, run_capture, show};
use crate::{log, workspace_root};

/// The emulator and the CPU emulator it pins.
const SPEAKEASY: &str = "speakeasy-emulator==1.5.11";
const UNICORN_VERSION: &str = "1.0.2";

/// One broken image: what is built, its peer, and the failure kind the run must report.
struct Broken {
    name: &'static str,
    target: Target,
    /// "rust-provider", "rust-client", "c-provider" or "c-client": the role it replaces.
    replaces: &'static str,
    /// Cargo features (Rust) or macros (C) that break it.
    switches: &'static [&'static str],
    peer: &'static str,
    expect: &'static str,
    /// Unload the client first (else the provider).
    client_unloads_first: bool,
}

const BROKEN: &[Broken] = &[
    Broken {
        name: "an unload that deregisters nothing (Rust client)",
        target: Target::X64,
        replaces: "rust-client",
        switches: &["broken-unload-keeps-registration"],
        peer: "rust-provider",
        expect: "unload left a registration",
        client_unloads_first: true,
    },
    Broken {
        name: "an attach that skips NmrClientAttachProvider (C client)",
        target: Target::X64,
        replaces: "c-client",
        switches: &["EXNPI_BROKEN_ATTACH_SKIPS_NMR"],
        peer: "rust-provider",
        expect: "contract breach",
        client_unloads_first: true,
    },
    Broken {
        name: "a detach that never completes (Rust provider)",
        target: Target::X64,
        replaces: "rust-provider",
        switches: &["broken-detach-never-completes"],
        peer: "rust-client",
        expect: "hang",
        client_unloads_first: true,
    },
    Broken {
        name: "a bugcheck: a panic in provider_function (Rust provider)",
        target: Target::X64,
        replaces: "rust-provider",
        switches: &["broken-bugcheck"],
        peer: "rust-client",
        expect: "bugcheck",
        client_unloads_first: true,
    },
    Broken {
        name: "a binding context freed in detach (C provider)",
        target: Target::X64,
        replaces: "c-provider",
        switches: &["EXNPI_BROKEN_FREE_IN_DETACH"],
        peer: "rust-client",
        expect: "contract breach",
        client_unloads_first: true,
    },
    Broken {
        name: "a detach completed twice (C provider)",
        target: Target::X64,
        replaces: "c-provider",
        switches: &["EXNPI_BROKEN_COMPLETE_TWICE"],
        peer: "rust-client",
        expect: "contract breach",
        client_unloads_first: false,
    },
    Broken {
        name: "a binding context never freed (C client)",
        target: Target::X64,
        replaces: "c-client",
        switches: &["EXNPI_BROKEN_LEAK"],
        peer: "rust-provider",
        expect: "leak",
        client_unloads_first: true,
    },
    Broken {
        name: "3,000 bytes of stack in attach (C provider)",
        target: Target::X64,
        replaces: "c-provider",
        switches: &["EXNPI_BROKEN_BIG_STACK"],
        peer: "rust-client",
        expect: "stack budget",
        client_unloads_first: true,
    },
    Broken {
        name: "a read through a NULL pointer (C client)",
        target: Target::X64,
        replaces: "c-client",
        switches: &["EXNPI_BROKEN_WILD_READ"],
        peer: "rust-provider",
        expect: "unmapped access",
        client_unloads_first: true,
    },
    Broken {
        name: "an import the kernel does not serve (C client)",
        target: Target::X64,
        replaces: "c-client",
        switches: &["EXNPI_BROKEN_UNSUPPORTED_IMPORT"],
        peer: "rust-provider",
        expect: "unsupported import",
        client_unloads_first: true,
    },
    Broken {
        name: "a provider that declines every client (C provider)",
        target: Target::X64,
        replaces: "c-provider",
        switches: &["EXNPI_BROKEN_DECLINE"],
        peer: "rust-client",
        expect: "error status",
        client_unloads_first: true,
    },
    Broken {
        name: "a __cdecl detach callback: pops no argument (C client)",
        target: Target::X86,
        replaces: "c-client",
        switches: &["EXNPI_BROKEN_CDECL_CALLBACK"],
        peer: "rust-provider",
        expect: "stdcall pop",
        client_unloads_first: true,
    },
    Broken {
        name: "a detach that clobbers ebx (C provider)",
        target: Target::X86,
        replaces: "c-provider",
        switches: &["EXNPI_BROKEN_CLOBBER_EBX"],
        peer: "rust-client",
        expect: "callee-saved register",
        client_unloads_first: true,
    },
    Broken {
        name: "a bugcheck: a panic in provider_function (Rust provider)",
        target: Target::X86,
        replaces: "rust-provider",
        switches: &["broken-bugcheck"],
        peer: "rust-client",
        expect: "bugcheck",
        client_unloads_first: true,
    },
    Broken {
        name: "an unload that deregisters nothing (Rust client)",
        target: Target::X86,
        replaces: "rust-client",
        switches: &["broken-unload-keeps-registration"],
        peer: "rust-provider",
        expect: "unload left a registration",
        client_unloads_first: true,
    },
];

/// The built `.sys` and its link map.
struct Built {
    sys: PathBuf,
    map: PathBuf,
}

pub(crate) fn run(options: &EmulateOptions) -> anyhow::Result<()> {
    let started = Instant::now();
    let root = workspace_root();
    let python = venv(&root, options.install)?;
    let toolchain = Toolchain::debian(options.install)?;
    let clang = toolchain::clang(options.install)?;
    let target_dir = root.join("target/xtask");
    let targets: Vec<Target> =
        if options.only.is_empty() { vec![Target::X64, Target::X86] } else { options.only.clone() };

    let mut manifest = String::from("{\"configs\": [\n");
    let mut first = true;
    for &target in &targets {
        for profile in [Profile::Dev, Profile::Release] {
            log(format_args!("building the EXNPI pair for {target} ({})", profile.name()));
            let mut images = Vec::new();
            for role in ["provider", "client"] {
                let krate = pair_crate(&toolchain, &root, &target_dir, profile, role, &[]);
                images.push((format!("rust-{role}"), build_rust(&krate, target, "")?));
                let c = pair_c_driver(&toolchain, &clang, &root, &target_dir, profile, role, &[]);
                let built = c.build(target)?;
                images.push((
                    format!("c-{role}"),
                    Built { sys: built.linked.sys, map: built.linked.map },
                ));
            }
            if !first {
                manifest.push_str(",\n");
            }
            first = false;
            let _ = write!(
                manifest,
                "{{\"arch\": \"{}\", \"profile\": \"{}\", \"images\": {}}}",
                target.name(),
                profile.name(),
                images_json(&images)
            );
        }
    }
    manifest.push_str("],\n\"broken\": [\n");
    let mut first = true;
    for broken in BROKEN.iter().filter(|b| targets.contains(&b.target)) {
        let profile = Profile::Release;
        let role = broken.replaces.split_once('-').map_or("", |(_, r)| r);
        let image = if broken.replaces.starts_with("rust-") {
            let krate = pair_crate(&toolchain, &root, &target_dir, profile, role, broken.switches);
            build_rust(&krate, broken.target, &broken.switches.join("+"))?
        } else {
            let c = pair_c_driver(
                &toolchain,
                &clang,
                &root,
                &target_dir,
                profile,
                role,
                broken.switches,
            );
            let built = c.build(broken.target)?;
            Built { sys: built.linked.sys, map: built.linked.map }
        };
        let peer_role = broken.peer.split_once('-').map_or("", |(_, r)| r);
        let peer = if broken.peer.starts_with("rust-") {
            let krate = pair_crate(&toolchain, &root, &target_dir, profile, peer_role, &[]);
            build_rust(&krate, broken.target, "")?
        } else {
            let c = pair_c_driver(&toolchain, &clang, &root, &target_dir, profile, peer_role, &[]);
            let built = c.build(broken.target)?;
            Built { sys: built.linked.sys, map: built.linked.map }
        };
        let (client, provider) = if role == "client" {
            (broken.replaces, broken.peer)
        } else {
            (broken.peer, broken.replaces)
        };
        if !first {
            manifest.push_str(",\n");
        }
        first = false;
        let _ = write!(
            manifest,
            "{{\"name\": {}, \"arch\": \"{}\", \"profile\": \"release\", \"client\": \"{client}\", \
             \"provider\": \"{provider}\", \"expect\": \"{}\", \"client_unloads_first\": {}, \
             \"images\": {}}}",
            json_string(broken.name),
            broken.target.name(),
            broken.expect,
            broken.client_unloads_first,
            images_json(&[(broken.replaces.to_owned(), image), (broken.peer.to_owned(), peer)])
        );
    }
    manifest.push_str("]}\n");

    let out_dir = root.join("target/emulate");
    fs::create_dir_all(&out_dir).with_context(|| format!("creating {}", out_dir.display()))?;
    let manifest_path = out_dir.join("manifest.json");
    fs::write(&manifest_path, &manifest)
        .with_context(|| format!("writing {}", manifest_path.display()))?;
    log(format_args!("images built in {:.1}s; emulating", started.elapsed().as_secs_f64()));

    let mut command = Command::new(&python);
    command.current_dir(root.join("xtask/emulate")).arg("run.py").arg(&manifest_path);
    if options.verbose {
        command.arg("--verbose");
    }
    let status = command.status().with_context(|| format!("could not run {}", show(&command)))?;
    log(format_args!("cargo xtask emulate: {:.1}s in all", started.elapsed().as_secs_f64()));
    if !status.success() {
        bail!("the emulation failed (see above)");
    }
    Ok(())
}

/// Builds one Rust driver of the pair and links it; a non-empty `variant` (its features) gets
/// its own file names, so the broken builds never overwrite the real ones.
fn build_rust(
    krate: &kbuild::KernelCrate<'_>,
    target: Target,
    variant: &str,
) -> anyhow::Result<Built> {
    let staticlib = krate.build(target, CrateType::Staticlib)?;
    let staticlib = if variant.is_empty() {
        staticlib
    } else {
        let stem = staticlib.file_stem().and_then(|s| s.to_str()).unwrap_or("driver");
        let copy = staticlib.with_file_name(format!("{stem}-{variant}.lib"));
        fs::copy(&staticlib, &copy)
            .with_context(|| format!("copying {} to {}", staticlib.display(), copy.display()))?;
        copy
    };
    let linked = kbuild::link_driver(krate.toolchain, target, &staticlib)?;
    Ok(Built { sys: linked.sys, map: linked.map })
}

fn images_json(images: &[(String, Built)]) -> String {
    let entries: Vec<String> = images
        .iter()
        .map(|(name, built)| {
            format!(
                "{}: {{\"sys\": {}, \"map\": {}}}",
                json_string(name),
                json_string(&built.sys.display().to_string()),
                json_string(&built.map.display().to_string())
            )
        })
        .collect();
    format!("{{{}}}", entries.join(", "))
}

fn json_string(text: &str) -> String {
    serde_json::Value::String(text.to_owned()).to_string()
}

/// The venv's python with speakeasy installed: created and filled on first use.
fn venv(root: &Path, install: bool) -> anyhow::Result<PathBuf> {
    let dir = root.join("target/emulate-venv");
    let python = dir.join("bin/python");
    if !python.is_file() {
        if !install {
            bail!("no venv at {} (run without --no-install)", dir.display());
        }
        log(format_args!("creating a Python venv in {}", dir.display()));
        let mut create = Command::new("python3");
        create.args(["-m", "venv"]).arg(&dir);
        if run_capture(&mut create).is_err() {
            // Debian's python3 has no venv module without python3-venv (ensurepip).
            toolchain::ensure_packages(&["python3-venv"], install)?;
            let _ = fs::remove_dir_all(&dir);
            run_capture(Command::new("python3").args(["-m", "venv"]).arg(&dir))
                .context("python3 -m venv failed even with python3-venv installed")?;
        }
    }
    let check = format!(
        "import speakeasy, unicorn; assert unicorn.__version__ == '{UNICORN_VERSION}', unicorn.__version__"
    );
    if run_capture(Command::new(&python).args(["-c", &check])).is_err() {
        if !install {
            bail!("{SPEAKEASY} is not installed in {} (run without --no-install)", dir.display());
        }
        log(format_args!("pip install {SPEAKEASY} (PyPI)"));
        let started = Instant::now();
        run_capture(Command::new(&python).args(["-m", "pip", "install", "-q", SPEAKEASY]))
            .with_context(|| format!("pip install {SPEAKEASY}"))?;
        run_capture(Command::new(&python).args(["-c", &check]))
            .context("speakeasy installed, but it does not import with unicorn 1.0.2")?;
        log(format_args!("pip done in {:.1}s", started.elapsed().as_secs_f64()));
    }
    Ok(python)
}
