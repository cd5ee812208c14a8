//! Cost per binding on the host NMR: register, attach, detach, cleanup — at 10³, 10⁴ and 10⁵
//! bindings (clients × 100 providers) — against the same module callbacks called directly with
//! no registrar, in the same run.
//!
//! ```text
//! cargo bench --bench binding_cost            # full table (about a minute)
//! cargo bench --bench binding_cost -- --quick # one round each, for a smoke run
//! valgrind --tool=callgrind target/release/deps/binding_cost-* --one nmr 1000   # instructions
//! ```
//!
//! The callbacks do what a C driver's do: allocate a binding context, keep a count of live
//! bindings, free the context in cleanup. Budgets (see BENCHMARKS.md): per-binding cost at 10⁵
//! within 1.5× of 10³, and within 5× of the direct-call baseline.
#![allow(
    clippy::multiple_unsafe_ops_per_block,
    reason = "the C-shaped baselines call the raw ABI in the sequences a C driver writes, and each block's SAFETY comment covers the whole sequence; the library itself keeps one operation per block"
)]
#![allow(non_snake_case)]

use std::ffi::c_void;
use std::hint::black_box;
use std::ptr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use npi_runtime::sys::*;

const PROVIDERS: usize = 100;

/// How the client's attach callback reaches the provider: through the NMR, or directly.
trait Attach {
    /// # Safety
    /// `NmrClientAttachProvider`'s contract.
    unsafe fn attach(
        h: HANDLE,
        ctx: *mut c_void,
        dispatch: *const c_void,
        out_ctx: *mut *mut c_void,
        out_dispatch: *mut *const c_void,
    ) -> NTSTATUS;
}

struct ViaNmr;
impl Attach for ViaNmr {
    unsafe fn attach(
        h: HANDLE,
        ctx: *mut c_void,
        dispatch: *const c_void,
        out_ctx: *mut *mut c_void,
        out_dispatch: *mut *const c_void,
    ) -> NTSTATUS {
        // SAFETY: forwarded from the caller.
        unsafe { NmrClientAttachProvider(h, ctx, dispatch, out_ctx, out_dispatch) }
    }
}

/// The baseline: the "handle" is a pointer to the pair being attached.
struct Direct;
struct Pair {
    provider: *const NPI_PROVIDER_CHARACTERISTICS,
    provider_context: *mut c_void,
    client: *const NPI_CLIENT_CHARACTERISTICS,
}
impl Attach for Direct {
    unsafe fn attach(
        h: HANDLE,
        ctx: *mut c_void,
        dispatch: *const c_void,
        out_ctx: *mut *mut c_void,
        out_dispatch: *mut *const c_void,
    ) -> NTSTATUS {
        // SAFETY: the baseline driver passes a live `Pair` as the handle.
        let status = unsafe {
            let pair = &*h.cast::<Pair>();
            ((*pair.provider).ProviderAttachClient.unwrap())(
                h,
                pair.provider_context,
                &(*pair.client).ClientRegistrationInstance,
                ctx,
                dispatch,
                out_ctx,
                out_dispatch,
            )
        };
        // What the NMR would remember about the binding, for the baseline's detach phase.
        // SAFETY: the provider filled `out_ctx` on success.
        LAST_BINDING.with(|c| c.set((ctx, unsafe { *out_ctx })));
        status
    }
}

static LIVE: AtomicUsize = AtomicUsize::new(0);
static DISPATCH: [usize; 4] = [1, 2, 3, 4];

struct ClientBinding {
    provider_context: *mut c_void,
    provider_dispatch: *const c_void,
    calls_in_flight: AtomicUsize,
}

struct ProviderBinding {
    client_context: *mut c_void,
    client_dispatch: *const c_void,
    handle: HANDLE,
}

unsafe extern "system" fn client_attach<A: Attach>(
    h: HANDLE,
    _ctx: *mut c_void,
    _provider: *const NPI_REGISTRATION_INSTANCE,
) -> NTSTATUS {
    let b = Box::into_raw(Box::new(ClientBinding {
        provider_context: ptr::null_mut(),
        provider_dispatch: ptr::null(),
        calls_in_flight: AtomicUsize::new(0),
    }));
    // SAFETY: `b` is ours; the out-pointers point into it.
    let status = unsafe {
        A::attach(
            h,
            b.cast(),
            DISPATCH.as_ptr().cast(),
            &raw mut (*b).provider_context,
            &raw mut (*b).provider_dispatch,
        )
    };
    if status == STATUS_SUCCESS {
        LIVE.fetch_add(1, Ordering::Relaxed);
    } else {
        // SAFETY: not shared; no cleanup will come for a failed attach.
        drop(unsafe { Box::from_raw(b) });
    }
    status
}

unsafe extern "system" fn client_detach(ctx: *mut c_void) -> NTSTATUS {
    // SAFETY: our binding context.
    let b = unsafe { &*ctx.cast::<ClientBinding>() };
    if b.calls_in_flight.load(Ordering::Acquire) == 0 { STATUS_SUCCESS } else { STATUS_PENDING }
}

unsafe extern "system" fn client_cleanup(ctx: *mut c_void) {
    // SAFETY: from Box::into_raw in attach; cleanup runs once.
    drop(unsafe { Box::from_raw(ctx.cast::<ClientBinding>()) });
    LIVE.fetch_sub(1, Ordering::Relaxed);
}

unsafe extern "system" fn provider_attach(
    h: HANDLE,
    _ctx: *mut c_void,
    _client: *const NPI_REGISTRATION_INSTANCE,
    client_context: *mut c_void,
    client_dispatch: *const c_void,
    out_ctx: *mut *mut c_void,
    out_dispatch: *mut *const c_void,
) -> NTSTATUS {
    let b = Box::new(ProviderBinding { client_context, client_dispatch, handle: h });
    // SAFETY: out-pointers from the NMR (or the baseline driver).
    unsafe {
        *out_ctx = Box::into_raw(b).cast();
        *out_dispatch = DISPATCH.as_ptr().cast();
    }
    LIVE.fetch_add(1, Ordering::Relaxed);
    STATUS_SUCCESS
}

unsafe extern "system" fn provider_detach(ctx: *mut c_void) -> NTSTATUS {
    // SAFETY: our binding context.
    let b = unsafe { &*ctx.cast::<ProviderBinding>() };
    black_box((b.client_context, b.client_dispatch, b.handle));
    STATUS_SUCCESS
}

unsafe extern "system" fn provider_cleanup(ctx: *mut c_void) {
    // SAFETY: from Box::into_raw in attach; cleanup runs once.
    drop(unsafe { Box::from_raw(ctx.cast::<ProviderBinding>()) });
    LIVE.fetch_sub(1, Ordering::Relaxed);
}

static NPI_ID: GUID = GUID::from_u128(0x3C1D_0F7A_5B2E_4D09_8A61_7E4F_2B90_C3D5);
static MODULE: NPI_MODULEID = NPI_MODULEID::from_guid(GUID::from_u128(0x1234));

#[allow(clippy::cast_possible_truncation)]
fn instance(number: usize) -> NPI_REGISTRATION_INSTANCE {
    NPI_REGISTRATION_INSTANCE {
        Version: 0,
        Size: size_of::<NPI_REGISTRATION_INSTANCE>() as u16,
        NpiId: &NPI_ID,
        ModuleId: &MODULE,
        Number: number as u32,
        NpiSpecificCharacteristics: ptr::null(),
    }
}

#[allow(clippy::cast_possible_truncation)]
fn client_chars<A: Attach>(number: usize) -> NPI_CLIENT_CHARACTERISTICS {
    NPI_CLIENT_CHARACTERISTICS {
        Version: 0,
        Length: size_of::<NPI_CLIENT_CHARACTERISTICS>() as u16,
        ClientAttachProvider: Some(client_attach::<A>),
        ClientDetachProvider: Some(client_detach),
        ClientCleanupBindingContext: Some(client_cleanup),
        ClientRegistrationInstance: instance(number),
    }
}

#[allow(clippy::cast_possible_truncation)]
fn provider_chars(number: usize) -> NPI_PROVIDER_CHARACTERISTICS {
    NPI_PROVIDER_CHARACTERISTICS {
        Version: 0,
        Length: size_of::<NPI_PROVIDER_CHARACTERISTICS>() as u16,
        ProviderAttachClient: Some(provider_attach),
        ProviderDetachClient: Some(provider_detach),
        ProviderCleanupBindingContext: Some(provider_cleanup),
        ProviderRegistrationInstance: instance(number),
    }
}

/// The whole life of `clients × PROVIDERS` bindings through the host NMR.
fn through_nmr(clients: usize) -> Duration {
    let providers: Vec<_> = (0..PROVIDERS).map(provider_chars).collect();
    let client_cs: Vec<_> = (0..clients).map(client_chars::<ViaNmr>).collect();
    let mut ph = vec![ptr::null_mut(); PROVIDERS];
    let mut ch = vec![ptr::null_mut(); clients];
    let start = Instant::now();
    // SAFETY: the characteristics outlive the registrations (waited for below).
    unsafe {
        for (c, h) in providers.iter().zip(&mut ph) {
            assert_eq!(NmrRegisterProvider(c, ptr::null_mut(), h), STATUS_SUCCESS);
        }
        for (c, h) in client_cs.iter().zip(&mut ch) {
            assert_eq!(NmrRegisterClient(c, ptr::null_mut(), h), STATUS_SUCCESS);
        }
        for h in &ch {
            assert_eq!(NmrDeregisterClient(*h), STATUS_PENDING);
            assert_eq!(NmrWaitForClientDeregisterComplete(*h), STATUS_SUCCESS);
        }
        for h in &ph {
            assert_eq!(NmrDeregisterProvider(*h), STATUS_PENDING);
            assert_eq!(NmrWaitForProviderDeregisterComplete(*h), STATUS_SUCCESS);
        }
    }
    let elapsed = start.elapsed();
    assert_eq!(LIVE.load(Ordering::Relaxed), 0, "every binding context was freed");
    elapsed
}

/// The same callbacks, in the same order, called directly: what the modules' own work costs.
fn direct(clients: usize) -> Duration {
    let providers: Vec<_> = (0..PROVIDERS).map(provider_chars).collect();
    let client_cs: Vec<_> = (0..clients).map(client_chars::<Direct>).collect();
    let mut bindings: Vec<(*mut c_void, *mut c_void)> = Vec::with_capacity(clients * PROVIDERS);
    let start = Instant::now();
    // SAFETY: each pair lives on the stack for its attach call; the contexts are the ones the
    // callbacks created, passed back exactly as the NMR would.
    unsafe {
        for c in &client_cs {
            for p in &providers {
                let pair = Pair { provider: p, provider_context: ptr::null_mut(), client: c };
                let h: HANDLE = (&raw const pair).cast_mut().cast();
                let before = LIVE.load(Ordering::Relaxed);
                assert_eq!(
                    (c.ClientAttachProvider.unwrap())(
                        h,
                        ptr::null_mut(),
                        &p.ProviderRegistrationInstance
                    ),
                    STATUS_SUCCESS
                );
                debug_assert_eq!(LIVE.load(Ordering::Relaxed), before + 2);
                let cb = LAST_BINDING.with(std::cell::Cell::get);
                bindings.push(cb);
            }
        }
        for (cctx, pctx) in bindings.drain(..) {
            assert_eq!(client_detach(cctx), STATUS_SUCCESS);
            assert_eq!(provider_detach(pctx), STATUS_SUCCESS);
            client_cleanup(cctx);
            provider_cleanup(pctx);
        }
    }
    let elapsed = start.elapsed();
    assert_eq!(LIVE.load(Ordering::Relaxed), 0);
    elapsed
}

std::thread_local! {
    static LAST_BINDING: std::cell::Cell<(*mut c_void, *mut c_void)> =
        const { std::cell::Cell::new((ptr::null_mut(), ptr::null_mut())) };
}

/// `--one nmr|direct CLIENTS`: one life cycle of one kind, nothing printed; for instruction
/// counts under `valgrind --tool=callgrind`, which do not depend on machine load.
fn one(args: &[String]) -> bool {
    let Some(i) = args.iter().position(|a| a == "--one") else { return false };
    let clients = args.get(i + 2).and_then(|c| c.parse().ok()).unwrap_or(10);
    match args.get(i + 1).map(String::as_str) {
        Some("direct") => black_box(direct(clients)),
        _ => black_box(through_nmr(clients)),
    };
    true
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if one(&args) {
        return;
    }
    let quick = args.iter().any(|a| a == "--quick");
    let rounds = if quick { 1 } else { 7 };
    println!("binding_cost: clients x {PROVIDERS} providers, best of {rounds} rounds");
    println!("| bindings | host NMR ns/binding | direct ns/binding | NMR / direct |");
    println!("|---:|---:|---:|---:|");
    let mut per_binding = Vec::new();
    for clients in [10, 100, 1000] {
        let n = clients * PROVIDERS;
        let best = |f: fn(usize) -> Duration| {
            (0..rounds).map(|_| f(clients)).min().unwrap_or_default().as_secs_f64() * 1e9 / n as f64
        };
        let nmr = best(through_nmr);
        let base = best(direct);
        println!("| {n} | {nmr:.0} | {base:.0} | {:.2} |", nmr / base);
        per_binding.push((n, nmr, base));
    }
    let (_, small, _) = per_binding[0];
    let (_, large, large_base) = per_binding[2];
    println!();
    println!(
        "scaling 10^5 vs 10^3: {:.2}x (budget 1.5x); 10^5 vs baseline: {:.2}x (budget 5x)",
        large / small,
        large / large_base
    );
}
