//! The cost of one call into the peer's dispatch table, against the C a driver author would
//! write, in one run:
//!
//! - **safe, per call**: `binding.peer()?.add(v)` — a guard taken and dropped around every call
//!   (how `suite/examples/exnpi.rs` and the README call);
//! - **safe, held**: one `PeerCall` guard, many calls through it;
//! - **raw**: `(table.add)(context, v)` — the bare indirect call, no protection at all;
//! - **C rundown**: the raw call inside `ExAcquireRundownProtection`/`ExReleaseRundownProtection`
//!   (one shared counter with a rundown bit, compare-and-swap to acquire, as `EX_RUNDOWN_REF`
//!   does), the NMR documentation's advice for calls that must not race a detach.
//!
//! Instructions per call come from callgrind (this binary re-runs itself under
//! `valgrind --tool=callgrind --toggle-collect=<loop>` for each kind), so they do not depend on
//! what else the machine runs. Calls per second with one and two threads (each thread calling
//! through the same binding) show whether concurrent callers scale; those are wall-clock
//! figures, taken interleaved in one run.
//!
//! ```text
//! cargo bench --bench dispatch_cost              # the table (about a minute)
//! cargo bench --bench dispatch_cost -- --quick   # smoke run: small counts, nothing asserted
//! ```
#![allow(
    clippy::multiple_unsafe_ops_per_block,
    reason = "the raw baselines load a table entry and call it in one expression, as the C they stand for does; the library itself keeps one operation per block"
)]

use core::ffi::c_void;
use std::hint::black_box;
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Barrier, Mutex};
use std::time::Duration;

use npi_runtime::*;

/// The provider's table: one function that reads the provider's binding.
#[dispatch_table]
pub struct CostDispatch {
    /// Version.
    pub version: u16,
    /// `value` plus the provider binding's offset.
    pub add: fn(#[context] binding: *mut c_void, value: u32) -> u32,
}

/// The NPI the benchmark calls through.
#[npi(id = "B5E0C057-0000-4000-8000-000000000001", provider_dispatch = CostDispatch)]
pub struct CostNpi;
// SAFETY: both sides of this benchmark use this declaration; no other declares its id.
unsafe impl NpiLayout for CostNpi {}

/// The provider: its binding value is the offset `add` adds.
#[npi_provider(npi = CostNpi, module_id = "B5E0C057-0000-4000-8000-0000000000AA")]
pub struct CostProvider;

impl Provider for CostProvider {
    type Binding = u32;
    fn attach(&self, request: ProviderAttachRequest<'_, Self>) -> Attach {
        request.accept(1, &TABLE).into()
    }
}

impl CostDispatchImpl for CostProvider {
    fn add(binding: &ProviderBinding<'_, CostProvider>, value: u32) -> u32 {
        value.wrapping_add(**binding)
    }
}

static TABLE: ProviderTable<CostProvider> = CostDispatch::new::<CostProvider>(1);

/// The client: keeps its one binding for the loops.
#[npi_client(npi = CostNpi, module_id = "B5E0C057-0000-4000-8000-0000000000BB")]
pub struct CostClient(Mutex<Option<ClientBindingRef<CostClient>>>);

impl Client for CostClient {
    type Binding = ();
    // Calls come from several threads at once, each through its own `BindingRef` clone.
    const PARALLEL_CALLERS: usize = 4;
    fn attach(&self, request: ClientAttachRequest<'_, Self>) -> Attach {
        let accepted = request.accept((), &());
        if let Ok(a) = &accepted {
            *self.0.lock().unwrap() = Some(a.binding().to_ref());
        }
        accepted.into()
    }
}

static PROVIDER: CostProvider = CostProvider;
static CLIENT: CostClient = CostClient(Mutex::new(None));

/// `EX_RUNDOWN_REF` as the kernel implements it: bit 0 is "rundown active", references count in
/// steps of 2. Acquire is a compare-and-swap loop that fails once rundown began; release
/// subtracts and, if rundown began meanwhile, wakes the waiter (never on this benchmark's path,
/// but the test for it is). Both are inlined here; in a driver they are calls into ntoskrnl,
/// so the reference is, if anything, cheaper than what C pays.
struct Rundown(AtomicUsize);

impl Rundown {
    const ACTIVE: usize = 1;
    const INCREMENT: usize = 2;

    #[inline]
    fn acquire(&self) -> bool {
        let mut value = self.0.load(Ordering::Relaxed);
        loop {
            if value & Self::ACTIVE != 0 {
                return false;
            }
            match self.0.compare_exchange_weak(
                value,
                value + Self::INCREMENT,
                Ordering::Acquire,
                Ordering::Relaxed,
            ) {
                Ok(_) => return true,
                Err(now) => value = now,
            }
        }
    }

    #[inline]
    fn release(&self) {
        if self.0.fetch_sub(Self::INCREMENT, Ordering::Release) & Self::ACTIVE != 0 {
            Self::wake();
        }
    }

    /// Where the kernel decrements the wait block's count and signals the waiter.
    #[cold]
    #[inline(never)]
    fn wake() {
        black_box(());
    }
}

/// What the C driver keeps per binding: the provider's context and table, and a rundown
/// reference over them.
struct CBinding {
    rundown: Rundown,
    context: *mut c_void,
    table: *const CostDispatch,
}
// SAFETY: plain pointers to the provider's context and `'static` table, read-only.
unsafe impl Sync for CBinding {}

/// The client's binding, and the C-style view of the same provider.
struct Setup {
    binding: ClientBindingRef<CostClient>,
    c: CBinding,
    _registrations: (ProviderRegistration<CostProvider>, ClientRegistration<CostClient>),
}

fn setup() -> Setup {
    let provider = ProviderRegistration::register(&PROVIDER).expect("provider registers");
    let client = ClientRegistration::register(&CLIENT).expect("client registers");
    let binding = CLIENT.0.lock().unwrap().take().expect("the client bound");
    let (context, table) = {
        let call = binding.peer().expect("callable");
        (call.peer_context(), core::ptr::from_ref(call.as_table()))
    };
    Setup {
        binding,
        c: CBinding { rundown: Rundown(AtomicUsize::new(0)), context, table },
        _registrations: (provider, client),
    }
}

#[inline(never)]
fn loop_safe_per_call(b: &ClientBindingRef<CostClient>, n: u32) -> u32 {
    let mut acc = 0u32;
    for i in 0..n {
        if let Some(call) = b.peer() {
            acc = acc.wrapping_add(call.add(black_box(i)));
        }
    }
    acc
}

#[inline(never)]
fn loop_safe_held(b: &ClientBindingRef<CostClient>, n: u32) -> u32 {
    let mut acc = 0u32;
    if let Some(call) = b.peer() {
        for i in 0..n {
            acc = acc.wrapping_add(call.add(black_box(i)));
        }
    }
    acc
}

#[inline(never)]
fn loop_raw(c: &CBinding, n: u32) -> u32 {
    let mut acc = 0u32;
    for i in 0..n {
        // SAFETY: the provider's live table and context (the registrations outlive the loop).
        acc = acc.wrapping_add(unsafe { ((*c.table).add)(c.context, black_box(i)) });
    }
    acc
}

#[inline(never)]
fn loop_c_rundown(c: &CBinding, n: u32) -> u32 {
    let mut acc = 0u32;
    for i in 0..n {
        if c.rundown.acquire() {
            // SAFETY: as in `loop_raw`.
            acc = acc.wrapping_add(unsafe { ((*c.table).add)(c.context, black_box(i)) });
            c.rundown.release();
        }
    }
    acc
}

const KINDS: [(&str, &str); 4] = [
    ("safe-per-call", "loop_safe_per_call"),
    ("safe-held", "loop_safe_held"),
    ("raw", "loop_raw"),
    ("c-rundown", "loop_c_rundown"),
];

fn run(kind: &str, s: &Setup, n: u32) -> u32 {
    match kind {
        "safe-per-call" => loop_safe_per_call(&s.binding, n),
        "safe-held" => loop_safe_held(&s.binding, n),
        "raw" => loop_raw(&s.c, n),
        "c-rundown" => loop_c_rundown(&s.c, n),
        other => panic!("unknown kind {other}"),
    }
}

/// `--one KIND N`: set up, run one loop, nothing printed: what callgrind measures.
fn one(args: &[String]) -> bool {
    let Some(i) = args.iter().position(|a| a == "--one") else { return false };
    let kind = &args[i + 1];
    let n: u32 = args[i + 2].parse().expect("a count");
    let s = setup();
    black_box(run(kind, &s, n));
    true
}

/// Instructions per call of each kind, from callgrind runs of this binary; `None` without
/// valgrind.
fn instructions(n: u32) -> Option<Vec<f64>> {
    let exe = std::env::current_exe().ok()?;
    if Command::new("valgrind").arg("--version").output().is_err() {
        eprintln!("valgrind is not installed: no instruction counts (apt install valgrind)");
        return None;
    }
    let dir = std::env::temp_dir().join(format!("npi-dispatch-cost-{}", std::process::id()));
    std::fs::create_dir_all(&dir).ok()?;
    let mut per_call = Vec::new();
    for (kind, function) in KINDS {
        let out = dir.join(format!("{kind}.callgrind"));
        let status = Command::new("valgrind")
            .arg("--tool=callgrind")
            .arg(format!("--callgrind-out-file={}", out.display()))
            .arg(format!("--toggle-collect=*{function}*"))
            .arg(&exe)
            .args(["--one", kind, &n.to_string()])
            .output()
            .ok()?;
        assert!(status.status.success(), "callgrind run of {kind} failed: {status:?}");
        let text = std::fs::read_to_string(&out).ok()?;
        let total: u64 = text
            .lines()
            .find_map(|l| l.strip_prefix("summary: "))
            .and_then(|v| v.trim().parse().ok())
            .expect("a callgrind summary line");
        per_call.push(total as f64 / f64::from(n));
    }
    let _ = std::fs::remove_dir_all(&dir);
    Some(per_call)
}

/// Calls per second with `threads` threads calling through the same binding (or the same C
/// rundown reference) for `window`.
fn throughput(kind: &str, s: &Setup, threads: usize, window: Duration) -> f64 {
    let stop = AtomicBool::new(false);
    let total = AtomicUsize::new(0);
    let start = Barrier::new(threads + 1);
    std::thread::scope(|scope| {
        for _ in 0..threads {
            // Each thread calls through its own clone of the binding reference, as the
            // documentation of `BindingRef` asks of concurrent callers; the C threads share
            // the binding's one rundown reference, as C drivers do.
            let own = s.binding.clone();
            let (stop, total, start) = (&stop, &total, &start);
            scope.spawn(move || {
                start.wait();
                let mut calls = 0usize;
                while !stop.load(Ordering::Relaxed) {
                    black_box(match kind {
                        "safe-per-call" => loop_safe_per_call(&own, 1000),
                        other => run(other, s, 1000),
                    });
                    calls += 1000;
                }
                total.fetch_add(calls, Ordering::Relaxed);
            });
        }
        start.wait();
        std::thread::sleep(window);
        stop.store(true, Ordering::Relaxed);
    });
    // The threads finish their current thousand after `stop`: a few microseconds over `window`.
    total.load(Ordering::Relaxed) as f64 / window.as_secs_f64()
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if one(&args) {
        return;
    }
    let quick = args.iter().any(|a| a == "--quick");
    let (n, window, rounds) = if quick {
        (10_000, Duration::from_millis(20), 1)
    } else {
        (2_000_000, Duration::from_millis(400), 5)
    };

    println!("# Dispatch cost: one call into the peer's table (release build)\n");
    match instructions(n) {
        Some(per_call) => {
            let reference = per_call[3];
            let raw = per_call[2];
            println!("| kind | instructions per call | / C rundown | / raw |");
            println!("|---|---:|---:|---:|");
            for ((kind, _), ir) in KINDS.iter().zip(&per_call) {
                println!("| {kind} | {ir:.1} | {:.2} | {:.2} |", ir / reference, ir / raw);
            }
        }
        None => println!("(no instruction counts: valgrind missing)"),
    }

    let s = setup();
    println!("\n| kind | calls/s, 1 thread | calls/s, 2 threads | 2 / 1 |");
    println!("|---|---:|---:|---:|");
    for kind in ["safe-per-call", "c-rundown", "raw"] {
        // Interleaved rounds, the median of each.
        let mut one_thread = Vec::new();
        let mut two_threads = Vec::new();
        for _ in 0..rounds {
            one_thread.push(throughput(kind, &s, 1, window));
            two_threads.push(throughput(kind, &s, 2, window));
        }
        let median = |v: &mut Vec<f64>| {
            v.sort_by(f64::total_cmp);
            v[v.len() / 2]
        };
        let (a, b) = (median(&mut one_thread), median(&mut two_threads));
        println!("| {kind} | {a:.3e} | {b:.3e} | {:.2} |", b / a);
    }
}
