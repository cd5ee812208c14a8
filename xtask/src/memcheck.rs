//! `cargo xtask memcheck` and `cargo xtask asan`: every test binary of the workspace under
//! valgrind's memcheck (the toolchain that runs xtask, stable) or under AddressSanitizer with
//! LeakSanitizer (`cargo +nightly`, `-Zsanitizer=address`, prebuilt std).
//!
//! - **What fails a run**: an invalid read, write or free; a use of uninitialised memory
//!   (memcheck only); a leak that nothing points at any more: valgrind's `definite` and
//!   `indirect` kinds, every leak LeakSanitizer reports. Not leaks: valgrind's `still reachable`
//!   (statics, such as the host NMR's registrar) and `possible` kinds; every hashbrown table a
//!   static holds is "possibly lost", since hashbrown points into the middle of its allocation.
//! - **Deliberate leaks** ([`DELIBERATE_LEAKS`]): tests that leak on purpose, each with why. The
//!   suppressions of both tools are generated from that list and match only allocations made
//!   under that test function, so the same leak anywhere else still fails. An entry that
//!   suppresses nothing fails the run as well, so the list cannot go stale; `--no-leak-list`
//!   shows what it hides.
//! - **Children that abort on purpose** ([`ABORTING_CHILDREN`]): valgrind would check leaks in a
//!   process that `abort()` kills mid-flight, which means nothing. memcheck runs those tests in a
//!   pass of their own that follows the children (`--trace-children=yes`) with leak checking
//!   off: invalid accesses, in the parent and in each child up to the abort, still fail it.
//!   Under ASan nothing special is needed: the children inherit the options, report memory
//!   errors to the log directory, and LeakSanitizer, which runs at exit, never runs in them.
//! - **Not run** ([`SKIPPED`]): binaries whose code under test is not ours or is not built with
//!   the tool, each with why, listed in the report.
//! - **Threads**: valgrind runs one thread at a time, so memcheck passes `--test-threads=1`
//!   (parallel tests would buy no speed and stretch the time-bounded ones) and runs binaries
//!   side by side instead (`--jobs`, default one per core). ASan keeps libtest's parallelism.
//! - **Self-test**: before the suite, the same machinery runs a tiny program with one known bug
//!   per test (use after free, heap overflow, uninitialised read, leak) and a clean and a
//!   listed-leak test; the run fails unless exactly the bugs are reported. A checker that cannot
//!   fail does not get to pass. `--self-test` runs only that.
//!
//! Logs: `target/memcheck/logs/<pass>/` (valgrind, `vg.<pid>.log`) and `target/asan/logs/<pass>/`
//! (`asan.<pid>`), each beside the test output (`output.txt`).

use std::collections::BTreeSet;
use std::ffi::OsString;
use std::fmt::Write as _;
use std::fs::{self, File};
use std::os::unix::process::{CommandExt as _, ExitStatusExt as _};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

use crate::cli::CheckOptions;
use crate::toolchain::{ensure_packages, run_capture, show};
use crate::{log, workspace_root};

/// Which checker.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Tool {
    /// valgrind's memcheck on the normal (stable) test build.
    Memcheck,
    /// AddressSanitizer + LeakSanitizer on a `cargo +nightly` build with `-Zsanitizer=address`.
    Asan,
}

impl Tool {
    fn name(self) -> &'static str {
        match self {
            Tool::Memcheck => "memcheck",
            Tool::Asan => "asan",
        }
    }
}

/// A test that leaks on purpose. `test` is the test function's path with the crate (the test
/// binary's name) first; leaks of blocks allocated under that function are not reported.
pub(crate) struct DeliberateLeak {
    pub(crate) test: &'static str,
    pub(crate) why: &'static str,
}

/// Every deliberate leak of the test suite. Prefer making a test's `'static` data reachable
/// (as `suite/tests/conformance/support.rs` and `suite/tests/alloc_faults.rs` do) to adding an entry here.
pub(crate) const DELIBERATE_LEAKS: &[DeliberateLeak] = &[
    DeliberateLeak {
        test: "soundness::a_forgotten_peer_call_keeps_the_detach_pending_forever_instead_of_freeing_the_peer",
        why: "forgets the provider registration and leaks the client registration: with a \
              forgotten peer call in flight the client's wait can never return, so the module \
              stays with the NMR for good",
    },
    DeliberateLeak {
        test: "soundness::a_forgotten_registration_keeps_its_owned_characteristics_for_later_peers",
        why: "forgets a provider registration to show that later clients still read the \
              characteristics it owns",
    },
    DeliberateLeak {
        test: "soundness::a_registration_dropped_where_its_wait_fails_keeps_what_the_nmr_points_at",
        why: "a registration dropped where its wait is refused keeps its module and \
              characteristics alive for the NMR, for good: the documented answer to a wait that \
              cannot succeed",
    },
    DeliberateLeak {
        test: "soundness::a_panic_whose_payload_panics_when_dropped_stays_inside_the_callback",
        why: "the runtime forgets the payload of a panic raised while dropping a caught panic's \
              payload (npi_runtime::unwind::guard: dropping it could panic again, without end)",
    },
    DeliberateLeak {
        test: "conformance::attachment::r09_a_null_registration_context_is_passed_back_as_null",
        why: "hand-written characteristics made 'static with Box::leak, like a C driver's \
              globals; unlike the support modules nothing keeps them reachable afterwards",
    },
];

/// Tests whose child process stops with `abort()` on purpose.
pub(crate) struct AbortingChildren {
    /// The test binary (target name).
    pub(crate) binary: &'static str,
    /// libtest filter (substring) that selects exactly the parent tests.
    pub(crate) filter: &'static str,
    pub(crate) why: &'static str,
}

pub(crate) const ABORTING_CHILDREN: &[AbortingChildren] = &[AbortingChildren {
    binary: "conformance",
    filter: "strict::strict_mode_aborts_",
    why: "strict mode stops like Driver Verifier: each test runs this binary again as a child \
          (`--exact strict::strict_child_…`) that must die of SIGABRT",
}];

/// A test binary (by the source file of its target, relative to the workspace root) that is
/// not run, and why.
pub(crate) struct Skipped {
    pub(crate) src: &'static str,
    pub(crate) tools: &'static [Tool],
    pub(crate) why: &'static str,
}

pub(crate) const SKIPPED: &[Skipped] = &[
    Skipped {
        src: "npi-macros/tests/ui.rs",
        tools: &[Tool::Memcheck, Tool::Asan],
        why: "trybuild: the harness runs cargo/rustc on each ui case and compares diagnostics; \
              the code it exercises is the compiler's (pinned to rustc 1.95), and rustc under \
              valgrind would take hours",
    },
    Skipped {
        src: "npi-macros/src/lib.rs",
        tools: &[Tool::Asan],
        why: "proc-macro crate: with --target, cargo builds its tests for the host without \
              RUSTFLAGS, so without the sanitizer; memcheck runs them",
    },
];

/// The doctests' row under memcheck.
const DOCTESTS_UNDER_VALGRIND: &str = "rustdoc compiles and runs them itself; only the unstable \
     --test-runtool could wrap them in valgrind (asan runs them)";

/// The exit code both tools use for "errors found", distinct from libtest's 101.
const TOOL_ERROR_EXIT: i32 = 99;
/// ASan's target: the sanitizer runtime ships with rustup's std for it.
const ASAN_TARGET: &str = "x86_64-unknown-linux-gnu";
const ASAN_RUSTFLAGS: &str = "-Zsanitizer=address -Cforce-frame-pointers=yes";
/// For ASan's symbolizer (its `llvm-symbolizer-22`); `toolchain` installs it for objdump too.
const SYMBOLIZER_PACKAGE: &str = "llvm-22";
/// Valgrind-memcheck's stack depth: deep enough to reach the test function of any allocation.
const NUM_CALLERS: &str = "--num-callers=64";
/// The longest-running binaries, started first so `--jobs` packs well (measured).
const SLOW_FIRST: &[&str] = &["npi_macros", "concurrency", "conformance", "modules"];
/// Name of the pseudo-binary for the doctests.
const DOCTESTS: &str = "doctests";

pub(crate) fn run(tool: Tool, options: &CheckOptions) -> anyhow::Result<()> {
    let started = Instant::now();
    let root = workspace_root();
    let Some(runner) = Runner::new(tool, options, &root)? else {
        return Ok(()); // asan --if-available without nightly: said so loudly
    };

    let self_test = self_test(&runner)?;
    if options.self_test {
        return Ok(());
    }

    log(format_args!("building the test binaries ({})", runner.build_description()));
    let build_started = Instant::now();
    let binaries = runner.build_tests()?;
    let build_seconds = build_started.elapsed().as_secs_f64();
    let plan = plan(tool, &binaries, &options.bins)?;
    if plan.passes.is_empty() {
        bail!("nothing to run under {}: every selected binary is skipped", tool.name());
    }
    if options.bins.is_empty() {
        check_lists_name_real_binaries(tool, &binaries)?;
    }

    let leaks = if options.leak_list { DELIBERATE_LEAKS } else { &[] };
    let runs_started = Instant::now();
    let mut outcomes = runner.run_passes(&plan.passes, leaks, "suite")?;
    let runs_seconds = runs_started.elapsed().as_secs_f64();
    let stale = check_leak_list_used(&plan.passes, &mut outcomes, leaks);

    for outcome in outcomes.iter().filter(|o| !o.problems.is_empty()) {
        print!("{}", outcome.failure_report());
    }
    print!("{}", runner.summary(&plan, &outcomes));
    println!(
        "self-test {}: {self_test}\nbuild {build_seconds:.1}s, runs {runs_seconds:.1}s ({} at a \
         time), total {:.1}s",
        runner.tool.name(),
        runner.jobs,
        started.elapsed().as_secs_f64()
    );
    if options.leak_list {
        println!(
            "deliberate leaks (DELIBERATE_LEAKS in xtask/src/memcheck.rs), suppressed only under \
             these tests{}:",
            if stale.is_empty() { "" } else { "; STALE entries fail the run" }
        );
        let ran = |leak: &&DeliberateLeak| {
            let binary = leak.test.split("::").next().unwrap_or_default();
            plan.passes.iter().any(|p| p.main && p.binary == binary)
        };
        for leak in leaks.iter().filter(ran) {
            let mark = if stale.iter().any(|t| t == leak.test) { "STALE " } else { "" };
            println!("  - {mark}{}: {}", leak.test, leak.why);
        }
    } else {
        println!("deliberate leaks: list ignored (--no-leak-list)");
    }

    let failed: Vec<&str> =
        outcomes.iter().filter(|o| !o.problems.is_empty()).map(|o| o.label.as_str()).collect();
    // The plain closing line CI logs are read for.
    println!(
        "{}: {} passed, {} failed, {} skipped",
        tool.name(),
        outcomes.len() - failed.len(),
        failed.len(),
        plan.skipped.len()
    );
    if failed.is_empty() {
        Ok(())
    } else {
        bail!(
            "{} found problems in {} (details above; logs in {})",
            tool.name(),
            failed.join(", "),
            runner.logs.display()
        )
    }
}

// ----- the tool and how to run things under it -------------------------------------------------

/// One test binary the build produced.
#[derive(Clone, Debug)]
struct TestBinary {
    /// Cargo target name: `conformance`, `npi_macros`, `ui`, ...
    name: String,
    /// Source file of the target, relative to the workspace root.
    src: String,
    path: PathBuf,
}

/// One run of one program under the tool.
#[derive(Clone, Debug)]
struct Pass {
    label: String,
    /// The test binary (target name) it belongs to, for the leak list.
    binary: String,
    /// The pass that runs the binary's tests other than the special ones.
    main: bool,
    program: PathBuf,
    args: Vec<String>,
    /// Extra environment (the doctests' cargo).
    env: Vec<(String, String)>,
    /// memcheck: run under valgrind (everything but a cargo command).
    under_valgrind: bool,
    /// memcheck: `--leak-check=full` (else `no`).
    leak_check: bool,
    /// memcheck: follow child processes.
    trace_children: bool,
    /// Fail unless at least one test passed (a filter that matches nothing is a mistake).
    must_run_a_test: bool,
}

struct Plan {
    passes: Vec<Pass>,
    /// Not run: (label, why).
    skipped: Vec<(String, &'static str)>,
    /// Why a pass runs differently: (label, why).
    notes: Vec<(String, &'static str)>,
}

struct Runner {
    tool: Tool,
    root: PathBuf,
    /// `valgrind-3.19.0` or `rustc 1.97.0-nightly (...)`.
    version: String,
    /// Where the logs go (wiped at the start of each run).
    logs: PathBuf,
    /// Where generated files (suppressions, the self-test) go.
    work: PathBuf,
    jobs: usize,
    timeout: Duration,
    /// memcheck: the toolchain's `target-libdir` (proc-macro test binaries link std dynamically).
    libdir: Option<PathBuf>,
    /// asan: llvm-symbolizer.
    symbolizer: Option<PathBuf>,
    /// The cargo that runs xtask (memcheck builds with it).
    cargo: OsString,
}

impl Runner {
    /// Checks that the tool can run; `None` for a loud skip (asan `--if-available`).
    fn new(tool: Tool, options: &CheckOptions, root: &Path) -> anyhow::Result<Option<Self>> {
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let jobs = options
            .jobs
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(2, |n| n.get()))
            .max(1);
        let (version, work, libdir, symbolizer) = match tool {
            Tool::Memcheck => {
                if find_in_path("valgrind").is_none() {
                    ensure_packages(&["valgrind"], options.install)?;
                }
                let version = run_capture(Command::new("valgrind").arg("--version"))
                    .context("valgrind does not run")?
                    .trim()
                    .to_owned();
                let rustc = sibling_rustc(&cargo);
                let libdir = run_capture(Command::new(&rustc).args(["--print", "target-libdir"]))?;
                (version, root.join("target/memcheck"), Some(PathBuf::from(libdir.trim())), None)
            }
            Tool::Asan => {
                let version = match nightly_for_asan() {
                    Ok(version) => version,
                    Err(why) if options.if_available => {
                        let banner = "=".repeat(78);
                        let text = format!(
                            "{banner}\nSKIPPED: cargo xtask asan did not run: {why}\n\
                             (`rustup toolchain install nightly` brings it; --if-available \
                             turns this into exit status 0)\n{banner}"
                        );
                        println!("{text}");
                        return Ok(None);
                    }
                    Err(why) => bail!(
                        "{why}\n`rustup toolchain install nightly` brings it; with \
                         --if-available a machine without it skips (loudly, exit status 0)"
                    ),
                };
                let symbolizer = ["llvm-symbolizer-22", "llvm-symbolizer"]
                    .iter()
                    .find_map(|name| find_in_path(name));
                let symbolizer = match symbolizer {
                    Some(path) => path,
                    None => {
                        ensure_packages(&[SYMBOLIZER_PACKAGE], options.install)?;
                        find_in_path("llvm-symbolizer-22").with_context(|| {
                            format!("{SYMBOLIZER_PACKAGE} installed but no llvm-symbolizer-22")
                        })?
                    }
                };
                (version, root.join("target/asan"), None, Some(symbolizer))
            }
        };
        let logs = work.join("logs");
        Ok(Some(Runner {
            tool,
            root: root.to_path_buf(),
            version,
            logs,
            work,
            jobs,
            timeout: Duration::from_secs(options.timeout_secs),
            libdir,
            symbolizer,
            cargo,
        }))
    }

    fn build_description(&self) -> String {
        match self.tool {
            Tool::Memcheck => "cargo test --workspace --no-run".to_owned(),
            Tool::Asan => format!(
                "cargo +nightly test --workspace --no-run --target {ASAN_TARGET}, \
                 RUSTFLAGS={ASAN_RUSTFLAGS}, into target/asan"
            ),
        }
    }

    /// A cargo command: the one running xtask for memcheck, `cargo +nightly` with the
    /// sanitizer flags and nothing inherited that could change the build for asan.
    fn cargo(&self) -> Command {
        match self.tool {
            Tool::Memcheck => {
                let mut command = Command::new(&self.cargo);
                command.current_dir(&self.root);
                command
            }
            Tool::Asan => {
                let mut command = Command::new("cargo");
                command.arg("+nightly").current_dir(&self.root);
                scrub_for_nightly(&mut command);
                command
                    .env("RUSTFLAGS", ASAN_RUSTFLAGS)
                    .env("RUSTDOCFLAGS", ASAN_RUSTFLAGS)
                    .env("CARGO_TARGET_DIR", &self.work);
                command
            }
        }
    }

    /// `cargo test --workspace --no-run`; the test executables it reports.
    fn build_tests(&self) -> anyhow::Result<Vec<TestBinary>> {
        let mut command = self.cargo();
        command.args([
            "test",
            "--workspace",
            "--no-run",
            "--message-format=json-render-diagnostics",
        ]);
        if self.tool == Tool::Asan {
            command.args(["--target", ASAN_TARGET]);
        }
        // Diagnostics and progress go to the terminal; stdout has the JSON.
        command.stderr(Stdio::inherit());
        let json = run_capture(&mut command)?;
        let binaries = parse_test_executables(&json, &self.root)?;
        if binaries.is_empty() {
            bail!("{} reported no test executable", show(&command));
        }
        Ok(binaries)
    }

    /// Runs the passes, `self.jobs` at a time, each into its own log directory under
    /// `self.logs/<group>/`.
    fn run_passes(
        &self,
        passes: &[Pass],
        leaks: &[DeliberateLeak],
        group: &str,
    ) -> anyhow::Result<Vec<Outcome>> {
        let logs = self.logs.join(group);
        if logs.exists() {
            fs::remove_dir_all(&logs).with_context(|| format!("clearing {}", logs.display()))?;
        }
        fs::create_dir_all(&logs).with_context(|| format!("creating {}", logs.display()))?;
        let suppressions = self.write_suppressions(leaks, &logs)?;

        let next = AtomicUsize::new(0);
        let done = AtomicUsize::new(0);
        let outcomes: Mutex<Vec<Option<Outcome>>> = Mutex::new(vec![None; passes.len()]);
        std::thread::scope(|scope| {
            for _ in 0..self.jobs.min(passes.len()) {
                scope.spawn(|| {
                    loop {
                        let index = next.fetch_add(1, Ordering::SeqCst);
                        let Some(pass) = passes.get(index) else { break };
                        let dir = logs.join(slug(&pass.label));
                        let outcome = self.run_pass(pass, &dir, suppressions.as_deref());
                        let finished = done.fetch_add(1, Ordering::SeqCst) + 1;
                        log(format_args!(
                            "[{finished}/{}] {}: {} ({:.1}s)",
                            passes.len(),
                            pass.label,
                            match (outcome.problems.is_empty(), group) {
                                (true, _) => "ok",
                                (false, SELF_TEST) => "errors reported",
                                (false, _) => "FAIL",
                            },
                            outcome.seconds
                        ));
                        outcomes.lock().unwrap_or_else(|e| e.into_inner())[index] = Some(outcome);
                    }
                });
            }
        });
        let outcomes = outcomes.into_inner().unwrap_or_else(|e| e.into_inner());
        Ok(outcomes.into_iter().flatten().collect())
    }

    /// The suppression file for `leaks` (none for an empty list).
    fn write_suppressions(
        &self,
        leaks: &[DeliberateLeak],
        dir: &Path,
    ) -> anyhow::Result<Option<PathBuf>> {
        if leaks.is_empty() {
            return Ok(None);
        }
        let (name, text) = match self.tool {
            Tool::Memcheck => ("deliberate-leaks.supp", valgrind_suppressions(leaks)),
            Tool::Asan => ("deliberate-leaks.lsan", lsan_suppressions(leaks)),
        };
        let path = dir.join(name);
        fs::write(&path, text).with_context(|| format!("writing {}", path.display()))?;
        Ok(Some(path))
    }

    fn command(&self, pass: &Pass, dir: &Path, suppressions: Option<&Path>) -> Command {
        let mut command = match self.tool {
            Tool::Memcheck if pass.under_valgrind => {
                let mut command = Command::new("valgrind");
                command.args(valgrind_args(pass, dir, suppressions)).arg(&pass.program);
                if let Some(libdir) = &self.libdir {
                    let mut path = libdir.as_os_str().to_owned();
                    if let Some(old) = std::env::var_os("LD_LIBRARY_PATH") {
                        path.push(":");
                        path.push(old);
                    }
                    command.env("LD_LIBRARY_PATH", path);
                }
                command
            }
            Tool::Memcheck => Command::new(&pass.program),
            Tool::Asan => {
                let mut command = Command::new(&pass.program);
                scrub_for_nightly(&mut command);
                command.env("ASAN_OPTIONS", asan_options(dir));
                command.env("LSAN_OPTIONS", lsan_options(suppressions));
                if let Some(symbolizer) = &self.symbolizer {
                    command.env("ASAN_SYMBOLIZER_PATH", symbolizer);
                }
                command
            }
        };
        command.args(&pass.args).current_dir(&self.root);
        for (key, value) in &pass.env {
            command.env(key, value);
        }
        command
    }

    fn run_pass(&self, pass: &Pass, dir: &Path, suppressions: Option<&Path>) -> Outcome {
        let started = Instant::now();
        let mut outcome = Outcome::new(pass);
        if let Err(error) = fs::create_dir_all(dir) {
            outcome.problems.push(format!("cannot create {}: {error}", dir.display()));
            return outcome;
        }
        let output = dir.join("output.txt");
        let mut command = self.command(pass, dir, suppressions);
        let waited = File::create(&output)
            .and_then(|out| Ok((out.try_clone()?, out)))
            .and_then(|(out, err)| {
                command.stdin(Stdio::null()).stdout(out).stderr(err).process_group(0).spawn()
            })
            .and_then(|mut child| wait_with_timeout(&mut child, self.timeout));
        outcome.seconds = started.elapsed().as_secs_f64();
        let text = fs::read_to_string(&output).unwrap_or_default();
        outcome.tests = libtest_counts(&text);
        outcome.output = output;
        outcome.logs = dir.to_path_buf();

        let status = match waited {
            Ok(Some(status)) => Some(status),
            Ok(None) => {
                outcome.problems.push(format!(
                    "timed out after {}s and was killed (raise --timeout if it is only slow)",
                    self.timeout.as_secs()
                ));
                None
            }
            Err(error) => {
                outcome.problems.push(format!("could not run {}: {error}", show(&command)));
                return outcome;
            }
        };
        match self.tool {
            Tool::Memcheck if pass.under_valgrind => {
                analyse_valgrind_logs(dir, &mut outcome);
                let followed = log_files(dir, "vg.").len().saturating_sub(1);
                if pass.trace_children && followed == 0 && status.is_some() {
                    outcome.problems.push("no child process was followed under valgrind".into());
                }
            }
            Tool::Memcheck => {}
            Tool::Asan => analyse_asan_logs(dir, &mut outcome),
        }
        if let Some(status) = status {
            judge_status(status, pass, &mut outcome);
        }
        outcome
    }

    fn summary(&self, plan: &Plan, outcomes: &[Outcome]) -> String {
        let width = outcomes
            .iter()
            .map(|o| o.label.len())
            .chain(plan.skipped.iter().map(|(label, _)| label.len()))
            .max()
            .unwrap_or(0);
        let mut out = format!(
            "\n== {} summary ({}{}; logs in {})\n{:<width$} {:<7} {:>13} {:>8}\n",
            self.tool.name(),
            self.version,
            match self.tool {
                Tool::Memcheck => ", --test-threads=1",
                Tool::Asan => "",
            },
            self.logs.display(),
            "run",
            "result",
            "tests",
            "time"
        );
        for outcome in outcomes {
            let tests = outcome.tests.map_or("-".to_owned(), |(passed, failed)| {
                if failed == 0 {
                    format!("{passed} passed")
                } else {
                    format!("{passed} ok {failed} FAIL")
                }
            });
            let _ = writeln!(
                out,
                "{:<width$} {:<7} {:>13} {:>7.1}s",
                outcome.label,
                if outcome.problems.is_empty() { "ok" } else { "FAIL" },
                tests,
                outcome.seconds
            );
        }
        for (label, why) in &plan.skipped {
            let _ = writeln!(out, "{label:<width$} skipped: {why}");
        }
        for (label, why) in &plan.notes {
            let _ = writeln!(
                out,
                "note: {label}: leak check off, children followed under valgrind: {why}"
            );
        }
        out
    }
}

/// The rustc beside `cargo` (a rustup toolchain's, or the rustup proxy beside the proxy).
fn sibling_rustc(cargo: &OsString) -> PathBuf {
    let cargo = Path::new(cargo);
    cargo
        .parent()
        .map(|dir| dir.join("rustc"))
        .filter(|rustc| rustc.is_file())
        .unwrap_or_else(|| PathBuf::from("rustc"))
}

/// The nightly's version if it can build and run with ASan here, else why not.
fn nightly_for_asan() -> Result<String, String> {
    let run = |args: &[&str]| {
        let mut command = Command::new("rustc");
        command.arg("+nightly").args(args);
        scrub_for_nightly(&mut command);
        // The last line of the error is rustup's or rustc's own complaint.
        run_capture(&mut command).map_err(|e| {
            let text = format!("{e:#}");
            let last = text.lines().map(str::trim).rfind(|l| !l.is_empty());
            format!("`{}`: {}", show(&command), last.unwrap_or("failed"))
        })
    };
    let verbose = run(&["-vV"]).map_err(|e| format!("no usable nightly toolchain ({e})"))?;
    let host = verbose.lines().find_map(|l| l.strip_prefix("host: ")).unwrap_or("?").trim();
    if host != ASAN_TARGET {
        return Err(format!("the nightly toolchain's host is {host}, asan supports {ASAN_TARGET}"));
    }
    let libdir = run(&["--print", "target-libdir", "--target", ASAN_TARGET])?;
    let runtime = Path::new(libdir.trim()).join("librustc-nightly_rt.asan.a");
    if !runtime.is_file() {
        return Err(format!("the nightly toolchain has no ASan runtime ({})", runtime.display()));
    }
    Ok(verbose.lines().next().unwrap_or("rustc nightly").trim().to_owned())
}

/// Removes what `cargo xtask` (rustup's stable cargo) or the shell could leak into a nightly
/// build or an ASan run: another compiler or wrapper, other flags, stable's library path.
fn scrub_for_nightly(command: &mut Command) {
    for var in [
        "RUSTUP_TOOLCHAIN",
        "RUSTC",
        "RUSTDOC",
        "RUSTC_WRAPPER",
        "RUSTC_WORKSPACE_WRAPPER",
        "CARGO_BUILD_RUSTC",
        "CARGO_BUILD_RUSTC_WRAPPER",
        "CARGO_BUILD_TARGET",
        "CARGO_BUILD_TARGET_DIR",
        "CARGO_ENCODED_RUSTFLAGS",
        "CARGO_BUILD_RUSTFLAGS",
        "CARGO_ENCODED_RUSTDOCFLAGS",
        "CARGO_TARGET_X86_64_UNKNOWN_LINUX_GNU_RUSTFLAGS",
        "RUSTFLAGS",
        "RUSTDOCFLAGS",
        "LD_LIBRARY_PATH",
    ] {
        command.env_remove(var);
    }
}

fn find_in_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path).map(|dir| dir.join(name)).find(|p| p.is_file())
}

fn valgrind_args(pass: &Pass, dir: &Path, suppressions: Option<&Path>) -> Vec<OsString> {
    let mut args: Vec<OsString> = [
        "--tool=memcheck",
        &format!("--error-exitcode={TOOL_ERROR_EXIT}"),
        if pass.leak_check { "--leak-check=full" } else { "--leak-check=no" },
        "--show-leak-kinds=definite,indirect",
        "--errors-for-leak-kinds=definite,indirect",
        "--track-origins=yes",
        NUM_CALLERS,
        // At exit, which suppressions were used: the leak list is checked against it.
        "--show-error-list=yes",
        if pass.trace_children { "--trace-children=yes" } else { "--trace-children=no" },
        // No log for a forked child before it execs an untraced program.
        "--child-silent-after-fork=yes",
    ]
    .iter()
    .map(OsString::from)
    .collect();
    let mut log_file = OsString::from("--log-file=");
    log_file.push(dir.join("vg.%p.log"));
    args.push(log_file);
    if let Some(file) = suppressions {
        let mut arg = OsString::from("--suppressions=");
        arg.push(file);
        args.push(arg);
    }
    args
}

fn asan_options(dir: &Path) -> String {
    format!(
        "log_path={}:exitcode={TOOL_ERROR_EXIT}:detect_leaks=1:halt_on_error=1:\
         detect_stack_use_after_return=1:fast_unwind_on_malloc=0:symbolize=1",
        dir.join("asan").display()
    )
}

fn lsan_options(suppressions: Option<&Path>) -> String {
    match suppressions {
        // print_suppressions: the log lists the templates used, checked against the list.
        Some(file) => format!("suppressions={}:print_suppressions=1", file.display()),
        None => "print_suppressions=0".to_owned(),
    }
}

/// Polls until the child exits or `limit` passes; then kills its whole process group (valgrind
/// and any children it traces) and returns `None`.
fn wait_with_timeout(child: &mut Child, limit: Duration) -> std::io::Result<Option<ExitStatus>> {
    let started = Instant::now();
    loop {
        if let Some(status) = child.try_wait()? {
            return Ok(Some(status));
        }
        if started.elapsed() >= limit {
            // The child leads its own process group (`process_group(0)`).
            let _ =
                Command::new("kill").args(["-KILL", "--", &format!("-{}", child.id())]).status();
            let _ = child.kill();
            child.wait()?;
            return Ok(None);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

// ----- what runs --------------------------------------------------------------------------------

/// The test executables in `cargo test --no-run --message-format=json` output.
fn parse_test_executables(json: &str, root: &Path) -> anyhow::Result<Vec<TestBinary>> {
    let mut binaries: Vec<TestBinary> = Vec::new();
    for line in json.lines().filter(|l| l.starts_with('{')) {
        let message: serde_json::Value =
            serde_json::from_str(line).with_context(|| format!("cargo printed: {line}"))?;
        if message["reason"] != "compiler-artifact" || message["profile"]["test"] != true {
            continue;
        }
        let Some(path) = message["executable"].as_str() else { continue };
        let name = message["target"]["name"].as_str().context("artifact without a name")?;
        let src = message["target"]["src_path"].as_str().context("artifact without src_path")?;
        let src = Path::new(src).strip_prefix(root).unwrap_or(Path::new(src));
        if binaries.iter().all(|b| b.path != Path::new(path)) {
            binaries.push(TestBinary {
                name: name.to_owned(),
                src: src.to_string_lossy().into_owned(),
                path: PathBuf::from(path),
            });
        }
    }
    Ok(binaries)
}

/// The passes for `binaries` (only those named in `only`, when given), the slow ones first.
fn plan(tool: Tool, binaries: &[TestBinary], only: &[String]) -> anyhow::Result<Plan> {
    for name in only {
        if name != DOCTESTS && binaries.iter().all(|b| &b.name != name) {
            let mut known: Vec<&str> = binaries.iter().map(|b| b.name.as_str()).collect();
            known.push(DOCTESTS);
            known.sort_unstable();
            bail!("no test binary named `{name}`; there are: {}", known.join(", "));
        }
    }
    let selected = |name: &str| only.is_empty() || only.iter().any(|o| o == name);
    let mut binaries: Vec<&TestBinary> = binaries.iter().filter(|b| selected(&b.name)).collect();
    binaries.sort_by_key(|b| SLOW_FIRST.iter().position(|s| *s == b.name).unwrap_or(usize::MAX));

    let mut plan = Plan { passes: Vec::new(), skipped: Vec::new(), notes: Vec::new() };
    let threads: &[&str] = match tool {
        Tool::Memcheck => &["--test-threads=1"],
        Tool::Asan => &[],
    };
    for binary in binaries {
        let label = format!("{} ({})", binary.name, binary.src);
        if let Some(skip) = SKIPPED.iter().find(|s| s.src == binary.src && s.tools.contains(&tool))
        {
            plan.skipped.push((label, skip.why));
            continue;
        }
        let base = Pass {
            label: label.clone(),
            binary: binary.name.clone(),
            main: true,
            program: binary.path.clone(),
            args: threads.iter().map(|s| (*s).to_owned()).collect(),
            env: Vec::new(),
            under_valgrind: true,
            leak_check: true,
            trace_children: false,
            must_run_a_test: false,
        };
        let aborting: Vec<&AbortingChildren> =
            ABORTING_CHILDREN.iter().filter(|a| a.binary == binary.name).collect();
        if tool == Tool::Asan || aborting.is_empty() {
            plan.passes.push(base);
            continue;
        }
        let mut main = base.clone();
        for special in &aborting {
            main.args.extend(["--skip".to_owned(), special.filter.to_owned()]);
            let mut pass = base.clone();
            pass.label = format!("{}: aborting children ({}*)", binary.name, special.filter);
            pass.main = false;
            pass.args.push(special.filter.to_owned());
            pass.leak_check = false;
            pass.trace_children = true;
            pass.must_run_a_test = true;
            plan.notes.push((pass.label.clone(), special.why));
            plan.passes.push(pass);
        }
        plan.passes.insert(plan.passes.len() - aborting.len(), main);
    }
    if selected(DOCTESTS) {
        match tool {
            Tool::Memcheck => plan.skipped.push((DOCTESTS.to_owned(), DOCTESTS_UNDER_VALGRIND)),
            Tool::Asan => plan.passes.push(Pass {
                label: format!("{DOCTESTS} (cargo +nightly test --doc)"),
                binary: DOCTESTS.to_owned(),
                main: true,
                program: PathBuf::from("cargo"),
                args: [
                    "+nightly",
                    "test",
                    "--doc",
                    "--workspace",
                    "--target",
                    ASAN_TARGET,
                    "--target-dir",
                    "target/asan",
                ]
                .map(String::from)
                .to_vec(),
                env: vec![
                    ("RUSTFLAGS".to_owned(), ASAN_RUSTFLAGS.to_owned()),
                    ("RUSTDOCFLAGS".to_owned(), ASAN_RUSTFLAGS.to_owned()),
                ],
                under_valgrind: false,
                leak_check: true,
                trace_children: true,
                must_run_a_test: true,
            }),
        }
    }
    Ok(plan)
}

/// The lists must name binaries the workspace builds (checked on full runs).
fn check_lists_name_real_binaries(tool: Tool, binaries: &[TestBinary]) -> anyhow::Result<()> {
    let exists = |name: &str| binaries.iter().any(|b| b.name == name);
    for leak in DELIBERATE_LEAKS {
        let binary = leak.test.split("::").next().unwrap_or_default();
        if !exists(binary) {
            bail!("DELIBERATE_LEAKS: `{}` names no test binary of the workspace", leak.test);
        }
    }
    for aborting in ABORTING_CHILDREN {
        if !exists(aborting.binary) {
            bail!("ABORTING_CHILDREN: no test binary named `{}`", aborting.binary);
        }
    }
    for skip in SKIPPED.iter().filter(|s| s.tools.contains(&tool)) {
        if binaries.iter().all(|b| b.src != skip.src) {
            bail!("SKIPPED: no test binary is built from `{}`", skip.src);
        }
    }
    Ok(())
}

// ----- verdicts ---------------------------------------------------------------------------------

#[derive(Clone, Debug)]
struct Outcome {
    label: String,
    binary: String,
    main: bool,
    seconds: f64,
    /// libtest's (passed, failed), summed over its summary lines.
    tests: Option<(usize, usize)>,
    /// Empty: clean.
    problems: Vec<String>,
    /// The tool's reports (excerpts), for a failure.
    reports: String,
    /// Deliberate-leak entries (test paths) whose suppression was used.
    used: BTreeSet<String>,
    output: PathBuf,
    logs: PathBuf,
}

impl Outcome {
    fn new(pass: &Pass) -> Self {
        Outcome {
            label: pass.label.clone(),
            binary: pass.binary.clone(),
            main: pass.main,
            seconds: 0.0,
            tests: None,
            problems: Vec::new(),
            reports: String::new(),
            used: BTreeSet::new(),
            output: PathBuf::new(),
            logs: PathBuf::new(),
        }
    }

    /// What went wrong, with the tool's reports and the end of the test output.
    fn failure_report(&self) -> String {
        let mut out = format!("\n== FAIL {}\n", self.label);
        for problem in &self.problems {
            let _ = writeln!(out, "   - {problem}");
        }
        if !self.reports.is_empty() {
            let lines: Vec<&str> = self.reports.lines().collect();
            let _ = writeln!(out, "   reports ({}):", self.logs.display());
            for line in lines.iter().take(REPORT_LINES) {
                let _ = writeln!(out, "     {line}");
            }
            if lines.len() > REPORT_LINES {
                let _ =
                    writeln!(out, "     ... {} more lines in the logs", lines.len() - REPORT_LINES);
            }
        }
        let text = fs::read_to_string(&self.output).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        if !lines.is_empty() {
            let _ = writeln!(out, "   end of the test output ({}):", self.output.display());
            for line in &lines[lines.len().saturating_sub(OUTPUT_LINES)..] {
                let _ = writeln!(out, "     {line}");
            }
        }
        out
    }
}

const REPORT_LINES: usize = 120;
const OUTPUT_LINES: usize = 25;

fn judge_status(status: ExitStatus, pass: &Pass, outcome: &mut Outcome) {
    if let Some(signal) = status.signal() {
        outcome.problems.push(format!("killed by signal {signal}"));
    } else if status.code() == Some(TOOL_ERROR_EXIT) {
        if outcome.problems.is_empty() {
            outcome.problems.push(format!(
                "the tool exited with {TOOL_ERROR_EXIT} (errors found) but no log says which"
            ));
        }
    } else if !status.success() {
        outcome.problems.push(format!("the tests failed ({status})"));
    }
    match outcome.tests {
        None if status.success() => {
            outcome.problems.push("no libtest summary in the output: did any test run?".into());
        }
        Some((0, _)) if pass.must_run_a_test => {
            outcome.problems.push(format!("no test ran: `{}` matched nothing", pass.args.join(" ")))
        }
        _ => {}
    }
}

/// libtest's `test result: ok. 8 passed; 0 failed; ...` lines, summed.
fn libtest_counts(output: &str) -> Option<(usize, usize)> {
    let mut total: Option<(usize, usize)> = None;
    for line in output.lines().filter_map(|l| l.trim().strip_prefix("test result: ")) {
        let count = |what: &str| {
            line.split(['.', ';'])
                .map(str::trim)
                .find_map(|part| part.strip_suffix(what)?.trim().parse::<usize>().ok())
                .unwrap_or(0)
        };
        let (passed, failed) = total.unwrap_or((0, 0));
        total = Some((passed + count(" passed"), failed + count(" failed")));
    }
    total
}

fn log_files(dir: &Path, prefix: &str) -> Vec<(PathBuf, String)> {
    let mut files: Vec<(PathBuf, String)> = fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|entry| entry.path())
        .filter(|p| p.file_name().is_some_and(|n| n.to_string_lossy().starts_with(prefix)))
        .map(|p| {
            let text = fs::read_to_string(&p).unwrap_or_default();
            (p, text)
        })
        .collect();
    files.sort();
    files
}

/// What one valgrind log says.
#[derive(Debug, Default, PartialEq)]
struct ValgrindLog {
    /// The last `ERROR SUMMARY`; `None`: valgrind never got to it (the process died under it).
    errors: Option<usize>,
    /// Our suppressions it used (test paths).
    used: Vec<String>,
    /// The error and leak records (blocks with a stack), prefix stripped.
    reports: String,
}

const SUPPRESSION_PREFIX: &str = "npi-deliberate-leak:";

fn parse_valgrind_log(text: &str) -> ValgrindLog {
    let mut log = ValgrindLog::default();
    let mut block: Vec<&str> = Vec::new();
    let mut summary_seen = false;
    let flush = |block: &mut Vec<&str>, reports: &mut String| {
        if block.iter().any(|l| l.trim_start().starts_with("at 0x")) {
            for line in block.iter() {
                reports.push_str(line);
                reports.push('\n');
            }
            reports.push('\n');
        }
        block.clear();
    };
    for line in text.lines() {
        if let Some(rest) = line.split_once("used_suppression:").map(|(_, r)| r) {
            // `  1 name file:line suppressed: ...`
            if let Some(test) =
                rest.split_whitespace().nth(1).and_then(|n| n.strip_prefix(SUPPRESSION_PREFIX))
            {
                log.used.push(test.to_owned());
            }
            continue;
        }
        // `==1234== text`: the client's record lines.
        let Some(body) = line.strip_prefix("==").and_then(|l| l.split_once("==")).map(|(_, b)| b)
        else {
            continue;
        };
        let body = body.strip_prefix(' ').unwrap_or(body);
        if let Some(rest) = body.strip_prefix("ERROR SUMMARY: ") {
            log.errors =
                rest.split_whitespace().next().and_then(|n| n.replace(',', "").parse().ok());
            summary_seen = true;
            continue;
        }
        if summary_seen {
            continue; // `--show-error-list` repeats the records after the summary
        }
        if body.trim().is_empty() {
            flush(&mut block, &mut log.reports);
        } else {
            block.push(body);
        }
    }
    flush(&mut block, &mut log.reports);
    log
}

fn analyse_valgrind_logs(dir: &Path, outcome: &mut Outcome) {
    let logs = log_files(dir, "vg.");
    if logs.is_empty() {
        outcome.problems.push("valgrind wrote no log: it did not run".to_owned());
        return;
    }
    for (path, text) in logs {
        let file = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let log = parse_valgrind_log(&text);
        outcome.used.extend(log.used);
        match log.errors {
            Some(0) => {}
            Some(n) => {
                outcome.problems.push(format!("valgrind: {n} error(s) in {file}"));
                let _ = write!(outcome.reports, "--- {file}\n{}", log.reports);
            }
            None => {
                outcome.problems.push(format!(
                    "valgrind log {file} has no ERROR SUMMARY: the process died under valgrind \
                     or valgrind failed"
                ));
                let tail: Vec<&str> = text.lines().rev().take(30).collect();
                let _ = writeln!(outcome.reports, "--- {file} (end)");
                for line in tail.iter().rev() {
                    let _ = writeln!(outcome.reports, "{line}");
                }
            }
        }
    }
}

/// What one ASan/LSan log file says.
#[derive(Debug, Default, PartialEq)]
struct AsanLog {
    /// Anything but the table of used suppressions is a report.
    report: bool,
    used: Vec<String>,
}

fn parse_asan_log(text: &str) -> AsanLog {
    let mut log = AsanLog::default();
    for line in text.lines().map(str::trim).filter(|l| !l.is_empty()) {
        if line.chars().all(|c| c == '-')
            || line == "Suppressions used:"
            || line.split_whitespace().eq(["count", "bytes", "template"])
        {
            continue;
        }
        let mut words = line.split_whitespace();
        let counts = words.next().zip(words.next());
        let template = words.next();
        if let (Some((count, bytes)), Some(template), None) = (counts, template, words.next())
            && count.parse::<u64>().is_ok()
            && bytes.parse::<u64>().is_ok()
        {
            log.used.push(template.to_owned());
            continue;
        }
        log.report = true;
    }
    log
}

fn analyse_asan_logs(dir: &Path, outcome: &mut Outcome) {
    for (path, text) in log_files(dir, "asan.") {
        let file = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let log = parse_asan_log(&text);
        outcome.used.extend(log.used);
        if log.report {
            outcome.problems.push(format!("sanitizer report in {file}"));
            let _ = write!(outcome.reports, "--- {file}\n{text}\n");
        }
    }
}

/// Each listed leak of a binary that ran must have been suppressed in its main pass; an entry
/// that suppressed nothing fails that pass. Returns the stale entries.
fn check_leak_list_used(
    passes: &[Pass],
    outcomes: &mut [Outcome],
    leaks: &[DeliberateLeak],
) -> Vec<String> {
    let mut stale = Vec::new();
    for leak in leaks {
        let binary = leak.test.split("::").next().unwrap_or_default();
        if !passes.iter().any(|p| p.main && p.binary == binary) {
            continue; // not selected
        }
        let used = outcomes.iter().any(|o| o.binary == binary && o.used.contains(leak.test));
        if used {
            continue;
        }
        stale.push(leak.test.to_owned());
        if let Some(main) = outcomes.iter_mut().find(|o| o.main && o.binary == binary) {
            main.problems.push(format!(
                "DELIBERATE_LEAKS lists `{}`, which leaked nothing: remove the entry (or the \
                 test was renamed)",
                leak.test
            ));
        }
    }
    stale
}

// ----- suppressions -----------------------------------------------------------------------------

/// Valgrind suppressions: a definite or indirect leak with the test function anywhere in the
/// allocation's stack. Twice per entry: the function as a real frame (legacy-mangled symbol,
/// the default for crates built by stable rustc) and as an inlined frame (DWARF's bare name).
fn valgrind_suppressions(leaks: &[DeliberateLeak]) -> String {
    let mut out = String::from(
        "# Generated by `cargo xtask memcheck` from DELIBERATE_LEAKS in xtask/src/memcheck.rs.\n",
    );
    for leak in leaks {
        let bare = leak.test.rsplit("::").next().unwrap_or(leak.test);
        for frame in [legacy_mangled_pattern(leak.test), bare.to_owned()] {
            let _ = write!(
                out,
                "{{\n   {SUPPRESSION_PREFIX}{}\n   Memcheck:Leak\n   match-leak-kinds: \
                 definite,indirect\n   ...\n   fun:{frame}\n}}\n",
                leak.test
            );
        }
    }
    out
}

/// `a::b::c` as rustc's legacy mangling spells it, with the hash left open:
/// `_ZN1a1b1c17h*E`.
fn legacy_mangled_pattern(path: &str) -> String {
    let mut out = String::from("_ZN");
    for segment in path.split("::") {
        let _ = write!(out, "{}{segment}", segment.len());
    }
    out.push_str("17h*E");
    out
}

/// LeakSanitizer suppressions: the demangled path, which every frame of the test function and
/// of its closures contains.
fn lsan_suppressions(leaks: &[DeliberateLeak]) -> String {
    let mut out = String::from(
        "# Generated by `cargo xtask asan` from DELIBERATE_LEAKS in xtask/src/memcheck.rs.\n",
    );
    for leak in leaks {
        let _ = writeln!(out, "leak:{}", leak.test);
    }
    out
}

/// A file-name-safe form of a label.
fn slug(label: &str) -> String {
    let mut out = String::new();
    for c in label.chars() {
        if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
            out.push(c);
        } else if !out.ends_with('.') {
            out.push('.');
        }
    }
    out.trim_matches('.').to_owned()
}

// ----- the self-test ----------------------------------------------------------------------------

/// One test per known bug; `cargo xtask memcheck` checks that exactly the bugs are reported.
const SELF_TEST_SOURCE: &str = r#"//! Generated by `cargo xtask memcheck`/`asan`: one known memory bug per test (or none).
use std::hint::black_box;

#[test]
fn clean() {
    let v = black_box(vec![1u8; 64]);
    assert_eq!(v.iter().map(|&b| usize::from(b)).sum::<usize>(), 64);
}

#[test]
fn deliberate_leak() {
    std::mem::forget(black_box(Box::new([9u8; 24])));
}

#[test]
fn leak() {
    std::mem::forget(black_box(Box::new([7u8; 48])));
}

#[test]
fn use_after_free() {
    let b = Box::new(0x5A5A_5A5A_u64);
    let p: *const u64 = &*b;
    drop(b);
    // SAFETY: none; reading freed memory is the bug under test.
    black_box(unsafe { black_box(p).read_volatile() });
}

#[test]
fn heap_overflow() {
    let v = black_box(vec![0u32; 4]);
    // SAFETY: none; one element past the allocation is the bug under test.
    black_box(unsafe { black_box(v.as_ptr()).add(4).read_volatile() });
}

#[test]
fn uninitialised() {
    let mut v: Vec<u64> = Vec::with_capacity(4);
    // SAFETY: none; the element was never written, which is the bug under test.
    unsafe { v.set_len(1) };
    if black_box(v[0]) == 42 {
        println!("42");
    }
}
"#;

/// A self-test case: the text each tool must report for it (`None`: the test must pass clean).
struct SelfCase {
    test: &'static str,
    memcheck: Option<&'static str>,
    asan: Option<&'static str>,
}

const SELF_CASES: &[SelfCase] = &[
    SelfCase { test: "clean", memcheck: None, asan: None },
    SelfCase { test: "deliberate_leak", memcheck: None, asan: None },
    SelfCase {
        test: "use_after_free",
        memcheck: Some("Invalid read of size 8"),
        asan: Some("heap-use-after-free"),
    },
    SelfCase {
        test: "heap_overflow",
        memcheck: Some("Invalid read of size 4"),
        asan: Some("heap-buffer-overflow"),
    },
    // ASan does not track initialisation (MemorySanitizer does): it must pass there.
    SelfCase {
        test: "uninitialised",
        memcheck: Some("depends on uninitialised value"),
        asan: None,
    },
    SelfCase { test: "leak", memcheck: Some("definitely lost"), asan: Some("Direct leak") },
];

/// The log group (and progress wording) of the self-test.
const SELF_TEST: &str = "self-test";

/// The self-test's own leak list: its entry must be used, and the other leak reported.
const SELF_TEST_LEAKS: &[DeliberateLeak] =
    &[DeliberateLeak { test: "selftest::deliberate_leak", why: "must be suppressed" }];

/// Builds the self-test program, runs each case through the same machinery as the suite, and
/// fails unless each case came out as expected. Returns a one-line summary.
fn self_test(runner: &Runner) -> anyhow::Result<String> {
    let dir = runner.work.join("self-test");
    fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let source = dir.join("selftest.rs");
    fs::write(&source, SELF_TEST_SOURCE)
        .with_context(|| format!("writing {}", source.display()))?;
    let program = dir.join("selftest");
    let mut rustc = match runner.tool {
        Tool::Memcheck => Command::new(sibling_rustc(&runner.cargo)),
        Tool::Asan => {
            let mut command = Command::new("rustc");
            command.arg("+nightly");
            scrub_for_nightly(&mut command);
            command.args(ASAN_RUSTFLAGS.split(' ')).args(["--target", ASAN_TARGET]);
            command
        }
    };
    rustc
        .args(["--edition=2021", "--test", "--crate-name=selftest", "-Copt-level=0", "-g", "-o"])
        .arg(&program)
        .arg(&source);
    log(format_args!("self-test: building {}", program.display()));
    run_capture(&mut rustc).context("building the self-test program")?;

    let passes: Vec<Pass> = SELF_CASES
        .iter()
        .map(|case| Pass {
            label: format!("self-test {}", case.test),
            binary: "selftest".to_owned(),
            main: true,
            program: program.clone(),
            args: ["--exact", case.test, "--test-threads=1"].map(String::from).to_vec(),
            env: Vec::new(),
            under_valgrind: true,
            leak_check: true,
            trace_children: false,
            must_run_a_test: true,
        })
        .collect();
    let outcomes = runner.run_passes(&passes, SELF_TEST_LEAKS, SELF_TEST)?;

    let mut table = format!("\n== self-test of {} ({})\n", runner.tool.name(), runner.version);
    let mut wrong = Vec::new();
    let mut caught = Vec::new();
    for (case, outcome) in SELF_CASES.iter().zip(&outcomes) {
        let expected = match runner.tool {
            Tool::Memcheck => case.memcheck,
            Tool::Asan => case.asan,
        };
        let evidence = |needle: &str| {
            outcome.reports.lines().find(|l| l.contains(needle)).map(|l| l.trim().to_owned())
        };
        let (ok, got) = match expected {
            None if case.test == "deliberate_leak" => {
                let used = outcome.used.contains(SELF_TEST_LEAKS[0].test);
                let clean = outcome.problems.is_empty();
                (
                    clean && used,
                    if clean && used {
                        "clean: its leak was suppressed by the list".to_owned()
                    } else if clean {
                        "clean, but the list's suppression was not used".to_owned()
                    } else {
                        outcome.problems.join("; ")
                    },
                )
            }
            None => (
                outcome.problems.is_empty(),
                if outcome.problems.is_empty() {
                    "clean".to_owned()
                } else {
                    outcome.problems.join("; ")
                },
            ),
            Some(needle) => match evidence(needle) {
                Some(line) if !outcome.problems.is_empty() => {
                    caught.push(case.test);
                    let line = line.split_once("ERROR: ").map_or(line.as_str(), |(_, l)| l);
                    let line: String = line.chars().take(72).collect();
                    (true, format!("reported, as it must be: {line}"))
                }
                _ if outcome.problems.is_empty() => (false, "passed: the bug went unseen".into()),
                _ => (false, format!("failed without `{needle}`: {}", outcome.problems.join("; "))),
            },
        };
        let _ = writeln!(
            table,
            "   {} {:<16} expected {:<38} got {got}",
            if ok { "ok  " } else { "FAIL" },
            case.test,
            expected.map_or("clean".to_owned(), |n| format!("`{n}`"))
        );
        if !ok {
            wrong.push(case.test);
        }
    }
    print!("{table}");
    println!("self-test: {} passed, {} failed", SELF_CASES.len() - wrong.len(), wrong.len());
    if !wrong.is_empty() {
        for outcome in &outcomes {
            print!("{}", outcome.failure_report());
        }
        bail!(
            "the {} self-test went wrong for {}: the checker cannot be trusted (logs in {})",
            runner.tool.name(),
            wrong.join(", "),
            runner.logs.join(SELF_TEST).display()
        );
    }
    Ok(format!("caught {} and passed the clean and listed-leak tests", caught.join(", ")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn binary(name: &str, src: &str) -> TestBinary {
        TestBinary { name: name.into(), src: src.into(), path: PathBuf::from(format!("/t/{name}")) }
    }

    fn workspace() -> Vec<TestBinary> {
        vec![
            binary("soundness", "suite/tests/soundness.rs"),
            binary("conformance", "suite/tests/conformance.rs"),
            binary("ui", "npi-macros/tests/ui.rs"),
            binary("npi_macros", "npi-macros/src/lib.rs"),
        ]
    }

    #[test]
    fn the_lists_are_well_formed() {
        let mut seen = BTreeSet::new();
        for leak in DELIBERATE_LEAKS {
            let segments: Vec<&str> = leak.test.split("::").collect();
            assert!(segments.len() >= 2, "{}", leak.test);
            for segment in segments {
                assert!(
                    !segment.is_empty()
                        && !segment.starts_with(|c: char| c.is_ascii_digit())
                        && segment.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'),
                    "{}: not a plain path (the suppressions mangle it)",
                    leak.test
                );
            }
            assert!(seen.insert(leak.test), "{} twice", leak.test);
            assert!(!leak.why.is_empty());
        }
        for skip in SKIPPED {
            assert!(!skip.tools.is_empty() && !skip.why.is_empty());
        }
    }

    #[test]
    fn suppressions_name_the_test_function_for_each_tool() {
        let leaks = [DeliberateLeak { test: "conformance::attachment::r09_x", why: "" }];
        let supp = valgrind_suppressions(&leaks);
        assert!(supp.contains("fun:_ZN11conformance10attachment5r09_x17h*E\n"), "{supp}");
        assert!(supp.contains("fun:r09_x\n"), "{supp}");
        assert!(supp.contains("npi-deliberate-leak:conformance::attachment::r09_x\n"));
        assert_eq!(supp.matches("match-leak-kinds: definite,indirect").count(), 2);
        assert_eq!(supp.matches('{').count(), supp.matches('}').count());
        assert!(lsan_suppressions(&leaks).ends_with("\nleak:conformance::attachment::r09_x\n"));
    }

    #[test]
    fn valgrind_logs_give_errors_used_suppressions_and_records() {
        let clean = "==7== Memcheck, a memory error detector\n==7== Command: ./t\n==7== \n\
            ==7== HEAP SUMMARY:\n==7==     in use at exit: 0 bytes in 0 blocks\n==7== \n\
            ==7== ERROR SUMMARY: 0 errors from 0 contexts (suppressed: 1 from 1)\n\
            --7-- used_suppression:      1 npi-deliberate-leak:soundness::a_b /x.supp:2 \
            suppressed: 16 bytes in 1 blocks\n\
            ==7== ERROR SUMMARY: 0 errors from 0 contexts (suppressed: 1 from 1)\n";
        let log = parse_valgrind_log(clean);
        assert_eq!(log.errors, Some(0));
        assert_eq!(log.used, ["soundness::a_b"]);
        assert_eq!(log.reports, "");

        let bad = "==8== Command: ./t\n==8== \n==8== Invalid read of size 8\n\
            ==8==    at 0x1: selftest::use_after_free (selftest.rs:24)\n\
            ==8==  Address 0x2 is 0 bytes inside a block of size 8 free'd\n==8== \n\
            ==8== ERROR SUMMARY: 1,024 errors from 1 contexts (suppressed: 0 from 0)\n\
            ==8== 1 errors in context 1 of 1:\n==8== Invalid read of size 8\n\
            ==8==    at 0x1: selftest::use_after_free (selftest.rs:24)\n";
        let log = parse_valgrind_log(bad);
        assert_eq!(log.errors, Some(1024));
        assert_eq!(log.reports.matches("Invalid read of size 8").count(), 1, "{}", log.reports);

        assert_eq!(parse_valgrind_log("==9== Command: ./t\n").errors, None);
    }

    #[test]
    fn asan_logs_with_only_the_suppression_table_are_clean() {
        let table = "-----------------------------------------------------\n\
            Suppressions used:\n  count      bytes template\n      3         48 soundness::x\n\
            -----------------------------------------------------\n\n";
        assert_eq!(
            parse_asan_log(table),
            AsanLog { report: false, used: vec!["soundness::x".to_owned()] }
        );
        let report = "=================================================================\n\
            ==1==ERROR: AddressSanitizer: heap-use-after-free on address 0x1\n";
        assert!(parse_asan_log(report).report);
        assert!(parse_asan_log(&format!("{report}{table}")).report);
    }

    #[test]
    fn libtest_summaries_are_summed() {
        let out = "test result: ok. 8 passed; 0 failed; 0 ignored; 0 measured; 0 filtered out; \
            finished in 1.0s\n\ntest result: FAILED. 3 passed; 2 failed; 0 ignored;\n";
        assert_eq!(libtest_counts(out), Some((11, 2)));
        assert_eq!(libtest_counts("running 0 tests\n"), None);
    }

    #[test]
    fn memcheck_plan_splits_the_aborting_children_and_skips_trybuild() {
        let plan = plan(Tool::Memcheck, &workspace(), &[]).unwrap();
        let labels: Vec<&str> = plan.passes.iter().map(|p| p.label.as_str()).collect();
        assert_eq!(
            labels,
            [
                "npi_macros (npi-macros/src/lib.rs)",
                "conformance (suite/tests/conformance.rs)",
                "conformance: aborting children (strict::strict_mode_aborts_*)",
                "soundness (suite/tests/soundness.rs)",
            ]
        );
        let conformance = &plan.passes[1];
        assert_eq!(conformance.args, ["--test-threads=1", "--skip", "strict::strict_mode_aborts_"]);
        assert!(conformance.leak_check && !conformance.trace_children && conformance.main);
        let children = &plan.passes[2];
        assert_eq!(children.args, ["--test-threads=1", "strict::strict_mode_aborts_"]);
        assert!(!children.leak_check && children.trace_children && children.must_run_a_test);
        let skipped: Vec<&str> = plan.skipped.iter().map(|(l, _)| l.as_str()).collect();
        assert_eq!(skipped, ["ui (npi-macros/tests/ui.rs)", "doctests"]);
    }

    #[test]
    fn asan_plan_keeps_threads_and_runs_the_doctests() {
        let plan = plan(Tool::Asan, &workspace(), &[]).unwrap();
        let conformance = plan.passes.iter().find(|p| p.binary == "conformance").unwrap();
        assert!(conformance.args.is_empty());
        assert_eq!(plan.passes.iter().filter(|p| p.binary == "conformance").count(), 1);
        assert!(plan.passes.iter().any(|p| p.binary == DOCTESTS && !p.under_valgrind));
        assert_eq!(plan.skipped.len(), 2, "ui and the proc-macro crate");
    }

    #[test]
    fn bin_filters_select_and_unknown_names_fail() {
        let only = ["soundness".to_owned()];
        let plan = plan(Tool::Memcheck, &workspace(), &only).unwrap();
        assert_eq!(plan.passes.len(), 1);
        assert!(plan.skipped.is_empty());
        let error = super::plan(Tool::Memcheck, &workspace(), &["nope".to_owned()]);
        assert!(format!("{:#}", error.err().unwrap()).contains("conformance, doctests"));
    }

    #[test]
    fn an_unused_leak_entry_fails_its_binary() {
        let plan = plan(Tool::Memcheck, &workspace(), &["soundness".to_owned()]).unwrap();
        let mut outcomes: Vec<Outcome> = plan.passes.iter().map(Outcome::new).collect();
        let leaks = [
            DeliberateLeak { test: "soundness::used", why: "" },
            DeliberateLeak { test: "soundness::stale", why: "" },
            DeliberateLeak { test: "conformance::not_run", why: "" },
        ];
        outcomes[0].used.insert("soundness::used".to_owned());
        let stale = check_leak_list_used(&plan.passes, &mut outcomes, &leaks);
        assert_eq!(stale, ["soundness::stale"]);
        assert_eq!(outcomes[0].problems.len(), 1);
        assert!(outcomes[0].problems[0].contains("soundness::stale"));
    }

    #[test]
    fn cargo_json_gives_test_executables_once() {
        let json = r#"{"reason":"compiler-artifact","target":{"name":"soundness","src_path":"/r/suite/tests/soundness.rs"},"profile":{"test":true},"executable":"/r/target/debug/deps/soundness-1"}
{"reason":"compiler-artifact","target":{"name":"npi_runtime","src_path":"/r/npi-runtime/src/lib.rs"},"profile":{"test":false},"executable":null}
{"reason":"compiler-artifact","target":{"name":"exnpi","src_path":"/r/suite/examples/exnpi.rs"},"profile":{"test":false},"executable":"/r/target/debug/examples/exnpi"}
{"reason":"compiler-artifact","target":{"name":"soundness","src_path":"/r/suite/tests/soundness.rs"},"profile":{"test":true},"executable":"/r/target/debug/deps/soundness-1"}
{"reason":"build-finished","success":true}"#;
        let found = parse_test_executables(json, Path::new("/r")).unwrap();
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].name, "soundness");
        assert_eq!(found[0].src, "suite/tests/soundness.rs");
    }

    #[test]
    fn slugs_are_file_names() {
        assert_eq!(
            slug("conformance: aborting children (strict::strict_mode_aborts_*)"),
            "conformance.aborting.children.strict.strict_mode_aborts_"
        );
    }
}
