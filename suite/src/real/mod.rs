//! The ports of the real NPIs: for each, the modules (a mock or faithful provider and client)
//! that `examples/` run with a trace and `suite/tests/ports_*.rs` check. The NPIs themselves (ids,
//! layouts, versions) are declared once, in the definition crates under `npis/` (`npi-wsk`,
//! `npi-msquic`, `npi-ebpf`, `npi-xdp`), which these modules import as any driver would.
//!
//! The NPIs keep their real ids, as the real drivers do. The default NMR is process-wide, so
//! each test of a port runs in a registrar of its own (`npi_runtime::host::isolated`): the tests
//! of one port run in parallel without seeing each other's modules.

use std::string::String;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::vec::Vec;

pub mod ebpf;
pub mod link;
pub mod msquic;
pub mod wsk;
pub mod xdp;

/// A trace shared by the modules of one port: every line is kept (tests read them) and, when
/// echoing, printed as it happens (examples).
#[derive(Debug, Default)]
pub struct Trace {
    echo: AtomicBool,
    lines: Mutex<Vec<String>>,
}

impl Trace {
    /// A silent trace.
    #[must_use]
    pub const fn new() -> Self {
        Self { echo: AtomicBool::new(false), lines: Mutex::new(Vec::new()) }
    }

    /// A trace that also prints each line.
    #[must_use]
    pub const fn echoing() -> Self {
        Self { echo: AtomicBool::new(true), lines: Mutex::new(Vec::new()) }
    }

    /// Records (and maybe prints) one line.
    pub fn note(&self, line: impl Into<String>) {
        let line = line.into();
        if self.echo.load(Ordering::Relaxed) {
            println!("  {line}");
        }
        lock(&self.lines).push(line);
    }

    /// Every line so far.
    #[must_use]
    pub fn lines(&self) -> Vec<String> {
        lock(&self.lines).clone()
    }

    /// True if some line contains `needle`.
    #[must_use]
    pub fn contains(&self, needle: &str) -> bool {
        lock(&self.lines).iter().any(|l| l.contains(needle))
    }
}

/// What the ports' modules share between threads: std's primitives, or loom's under
/// `cfg(loom)` so that a port's own modules can be model-checked (`suite/tests/model.rs` runs the WSK
/// port's provider and client). `Trace` keeps std's: it never holds its lock across anything
/// loom schedules.
pub(crate) mod sync {
    #[cfg(loom)]
    pub(crate) use npi_runtime::host::model::loom::sync::{
        Condvar, Mutex, MutexGuard,
        atomic::{AtomicUsize, Ordering},
    };
    #[cfg(not(loom))]
    pub(crate) use std::sync::{
        Condvar, Mutex, MutexGuard,
        atomic::{AtomicUsize, Ordering},
    };

    /// Locks a mutex, ignoring poisoning (see `super::lock`).
    pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
        m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// Locks a mutex, ignoring poisoning: a panicking test must not hide the next one's result.
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// `size_of::<T>()` as the `USHORT`/`UINT32` sizes NPI headers carry.
#[allow(clippy::cast_possible_truncation)] // NPI structs are a few dozen bytes
pub(crate) const fn size32<T>() -> u32 {
    size_of::<T>() as u32
}
