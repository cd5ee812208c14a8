//! Strict mode: a violation on a strict NPI stops the process with the diagnostic, the way
//! Driver Verifier bugchecks; warnings do not; a non-zero characteristics `Version` is refused.
//!
//! An abort cannot be observed in-process, so the parent tests run this very binary again as a
//! child with `--exact <child test>`; the child tests do nothing unless the environment variable
//! names them.

use std::env;
use std::process::{Command, Output};

use npi_runtime::host::{self, ViolationKind};
use npi_runtime::sys::*;

use crate::support::*;

const CHILD: &str = "NPI_CONFORMANCE_STRICT_CHILD";
const REACHED: &str = "conformance child: about to break the contract";
const SURVIVED: &str = "conformance child: still running after the violation";

fn in_child(test: &str) -> bool {
    env::var(CHILD).is_ok_and(|v| v == test)
}

fn run_child(test: &str) -> Output {
    Command::new(env::current_exe().unwrap())
        .args(["--exact", test, "--nocapture", "--test-threads=1"])
        .env(CHILD, test)
        .output()
        .unwrap()
}

fn assert_aborted(test: &str, kind: &str) {
    let out = run_child(test);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{test}: the child did not stop:\n{stderr}");
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt;
        assert_eq!(
            out.status.signal(),
            Some(6),
            "{test}: not stopped by abort (SIGABRT): {:?}\n{stderr}",
            out.status
        );
    }
    assert!(stderr.contains(REACHED), "{test}: the child never reached the violation:\n{stderr}");
    assert!(!stderr.contains(SURVIVED), "{test}:\n{stderr}");
    assert!(
        stderr.contains("contract violation in strict mode"),
        "{test}: no diagnostic:\n{stderr}"
    );
    assert!(stderr.contains(kind), "{test}: the diagnostic does not name {kind}:\n{stderr}");
}

fn strict_fx() -> Fx {
    let fx = Fx::new();
    host::set_strict(&fx.npi, true);
    fx
}

#[test]
fn strict_child_completes_a_half_whose_detach_returned_success() {
    if !in_child("strict::strict_child_completes_a_half_whose_detach_returned_success") {
        return;
    }
    let fx = strict_fx();
    let (c, p) = (fx.client("C"), fx.provider("P"));
    p.detach_pending();
    assert_eq!(p.register(), STATUS_SUCCESS);
    assert_eq!(c.register(), STATUS_SUCCESS);
    assert_eq!(c.deregister(), STATUS_PENDING);
    eprintln!("{REACHED}");
    c.binding("P").complete(); // the client's detach returned STATUS_SUCCESS
    eprintln!("{SURVIVED}");
}

#[test]
fn strict_child_returns_success_without_attaching() {
    if !in_child("strict::strict_child_returns_success_without_attaching") {
        return;
    }
    let fx = strict_fx();
    let (c, p) = (fx.client("C"), fx.provider("P"));
    c.on_attach(|_| STATUS_SUCCESS);
    assert_eq!(p.register(), STATUS_SUCCESS);
    eprintln!("{REACHED}");
    assert_eq!(c.register(), STATUS_SUCCESS);
    eprintln!("{SURVIVED}");
}

#[test]
fn strict_child_deregisters_a_client_handle_as_a_provider() {
    if !in_child("strict::strict_child_deregisters_a_client_handle_as_a_provider") {
        return;
    }
    let fx = strict_fx();
    let c = fx.client("C");
    assert_eq!(c.register(), STATUS_SUCCESS);
    eprintln!("{REACHED}");
    // SAFETY: any handle value is accepted.
    let status = unsafe { NmrDeregisterProvider(c.handle()) };
    eprintln!("{SURVIVED} ({status:#x})");
}

#[test]
fn strict_mode_aborts_the_process_on_a_violation() {
    assert_aborted(
        "strict::strict_child_completes_a_half_whose_detach_returned_success",
        "CompleteAfterSuccess",
    );
}

#[test]
fn strict_mode_aborts_on_oq08_success_without_attach() {
    assert_aborted(
        "strict::strict_child_returns_success_without_attaching",
        "SuccessWithoutAttach",
    );
}

#[test]
fn strict_mode_aborts_on_a_wrong_kind_handle() {
    assert_aborted(
        "strict::strict_child_deregisters_a_client_handle_as_a_provider",
        "WrongHandleKind",
    );
}

#[test]
fn strict_mode_refuses_a_non_zero_characteristics_version_without_aborting() {
    let fx = strict_fx();
    let (p, c) = (fx.provider("P"), fx.client("C"));
    assert_eq!(p.register(), STATUS_SUCCESS);
    c.edit(|ch| ch.Version = 1);
    let mut out = handle(0x5EED_0000);
    assert_eq!(c.register_raw(c.context(), &mut out), STATUS_INVALID_PARAMETER);
    assert_eq!(out.addr(), 0x5EED_0000);
    assert_eq!(fx.take(), NOTHING);
    assert_eq!(host::registrations_of(&fx.npi).len(), 1);
    assert_eq!(fx.violations(), [ViolationKind::NonZeroCharacteristicsVersion]);
    host::take_violations_of(&fx.npi);
    c.edit(|ch| ch.Version = 0);
    assert_eq!(c.register(), STATUS_SUCCESS);
    assert_eq!(fx.take(), ["C.attach(P)", "P.attach(C)"]);
    c.unload();
    p.unload();
    fx.take();
    host::set_strict(&fx.npi, false);
    fx.assert_clean();
}

#[test]
fn strict_mode_does_not_abort_on_a_warning() {
    let fx = strict_fx();
    let (c, p) = (fx.client("C"), fx.provider("P"));
    assert_eq!(p.register(), STATUS_SUCCESS);
    assert_eq!(c.register(), STATUS_SUCCESS);
    p.binding("C").complete(); // before the detach began: a warning (OQ-11)
    p.detach_pending();
    c.unload();
    p.unload();
    assert_eq!(fx.violations(), [ViolationKind::CompleteBeforeDetach]);
    host::take_violations_of(&fx.npi);
    host::set_strict(&fx.npi, false);
    fx.take();
    fx.assert_clean();
}
