//! R33 stress: several threads register and deregister clients and providers of one NPI for
//! thousands of cycles while a third of the detaches pend and are completed from another
//! thread (and some from inside the detach callback itself, R21). Nothing may hang, and every
//! binding must be detached and cleaned up exactly once on each side.
#![allow(
    clippy::multiple_unsafe_ops_per_block,
    reason = "raw-ABI test driving sequences of NMR calls under one SAFETY argument each; the library itself keeps one operation per block"
)]

use std::ffi::c_void;
use std::ptr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

use npi_runtime::host;
use npi_runtime::sys::*;

static NPI: GUID = GUID::from_u128(0x5A7C_0C3E_2D44_4F0B_9C1A_33E8_6B0F_D001);
static MODULE: NPI_MODULEID = NPI_MODULEID::from_guid(GUID::from_u128(0x77));

/// Bounded so a hang fails the test with the NMR's own report instead of stalling CI.
const WAIT_LIMIT: Duration = Duration::from_secs(60);

#[derive(Default)]
struct Counters {
    attached: [AtomicUsize; 2],
    detached: [AtomicUsize; 2],
    cleaned: [AtomicUsize; 2],
    /// Bindings whose detach or cleanup ran other than exactly once, or out of order.
    errors: AtomicUsize,
}

static COUNTERS: Counters = Counters {
    attached: [AtomicUsize::new(0), AtomicUsize::new(0)],
    detached: [AtomicUsize::new(0), AtomicUsize::new(0)],
    cleaned: [AtomicUsize::new(0), AtomicUsize::new(0)],
    errors: AtomicUsize::new(0),
};

/// Binding handles whose detach returned STATUS_PENDING, with the side that must complete.
static TO_COMPLETE: Mutex<Vec<(usize, usize)>> = Mutex::new(Vec::new());
static NEXT: AtomicUsize = AtomicUsize::new(0);

const CLIENT: usize = 0;
const PROVIDER: usize = 1;

struct Ctx {
    side: usize,
    handle: HANDLE,
    detaches: AtomicUsize,
}

fn new_ctx(side: usize, handle: HANDLE) -> *mut c_void {
    COUNTERS.attached[side].fetch_add(1, Ordering::Relaxed);
    Box::into_raw(Box::new(Ctx { side, handle, detaches: AtomicUsize::new(0) })).cast()
}

fn complete(side: usize, handle: usize) {
    let h = ptr::without_provenance_mut(handle);
    // SAFETY: a binding handle whose detach this side answered with STATUS_PENDING, completed
    // exactly once.
    unsafe {
        if side == CLIENT {
            NmrClientDetachProviderComplete(h);
        } else {
            NmrProviderDetachClientComplete(h);
        }
    }
}

unsafe extern "system" fn detach(ctx: *mut c_void) -> NTSTATUS {
    // SAFETY: a `Ctx` created at attach, freed only in cleanup.
    let c = unsafe { &*ctx.cast::<Ctx>() };
    if c.detaches.fetch_add(1, Ordering::Relaxed) != 0 {
        COUNTERS.errors.fetch_add(1, Ordering::Relaxed);
    }
    COUNTERS.detached[c.side].fetch_add(1, Ordering::Relaxed);
    match NEXT.fetch_add(1, Ordering::Relaxed) % 6 {
        0 | 1 => {
            TO_COMPLETE.lock().unwrap().push((c.side, c.handle.addr()));
            STATUS_PENDING
        }
        2 => {
            // Complete before returning PENDING (R21).
            complete(c.side, c.handle.addr());
            STATUS_PENDING
        }
        _ => STATUS_SUCCESS,
    }
}

unsafe extern "system" fn cleanup(ctx: *mut c_void) {
    // SAFETY: created by Box::into_raw at attach; the NMR calls cleanup once.
    let c = unsafe { Box::from_raw(ctx.cast::<Ctx>()) };
    if c.detaches.load(Ordering::Relaxed) != 1 {
        COUNTERS.errors.fetch_add(1, Ordering::Relaxed);
    }
    COUNTERS.cleaned[c.side].fetch_add(1, Ordering::Relaxed);
}

unsafe extern "system" fn client_attach(
    h: HANDLE,
    _ctx: *mut c_void,
    _provider: *const NPI_REGISTRATION_INSTANCE,
) -> NTSTATUS {
    let ctx = new_ctx(CLIENT, h);
    let mut pctx = ptr::null_mut();
    let mut pdisp = ptr::null();
    // SAFETY: inside the attach callback, with its own handle and valid out-pointers.
    let status = unsafe { NmrClientAttachProvider(h, ctx, ptr::null(), &mut pctx, &mut pdisp) };
    if status != STATUS_SUCCESS {
        // Not attached: no cleanup will come (R10), so this side releases it.
        COUNTERS.attached[CLIENT].fetch_sub(1, Ordering::Relaxed);
        // SAFETY: not shared with anyone.
        drop(unsafe { Box::from_raw(ctx.cast::<Ctx>()) });
    }
    status
}

unsafe extern "system" fn provider_attach(
    h: HANDLE,
    _ctx: *mut c_void,
    _client: *const NPI_REGISTRATION_INSTANCE,
    _client_ctx: *mut c_void,
    _client_dispatch: *const c_void,
    out_ctx: *mut *mut c_void,
    out_dispatch: *mut *const c_void,
) -> NTSTATUS {
    // SAFETY: out-pointers supplied by the NMR.
    unsafe {
        *out_ctx = new_ctx(PROVIDER, h);
        *out_dispatch = ptr::null();
    }
    STATUS_SUCCESS
}

#[allow(clippy::cast_possible_truncation)]
const fn instance() -> NPI_REGISTRATION_INSTANCE {
    NPI_REGISTRATION_INSTANCE {
        Version: 0,
        Size: size_of::<NPI_REGISTRATION_INSTANCE>() as u16,
        NpiId: &NPI,
        ModuleId: &MODULE,
        Number: 0,
        NpiSpecificCharacteristics: ptr::null(),
    }
}

struct Static<T>(T);
// SAFETY: immutable after construction; the raw pointers inside point at statics.
unsafe impl<T> Sync for Static<T> {}

#[allow(clippy::cast_possible_truncation)]
static CLIENT_CHARS: Static<NPI_CLIENT_CHARACTERISTICS> = Static(NPI_CLIENT_CHARACTERISTICS {
    Version: 0,
    Length: size_of::<NPI_CLIENT_CHARACTERISTICS>() as u16,
    ClientAttachProvider: Some(client_attach),
    ClientDetachProvider: Some(detach),
    ClientCleanupBindingContext: Some(cleanup),
    ClientRegistrationInstance: instance(),
});

#[allow(clippy::cast_possible_truncation)]
static PROVIDER_CHARS: Static<NPI_PROVIDER_CHARACTERISTICS> =
    Static(NPI_PROVIDER_CHARACTERISTICS {
        Version: 0,
        Length: size_of::<NPI_PROVIDER_CHARACTERISTICS>() as u16,
        ProviderAttachClient: Some(provider_attach),
        ProviderDetachClient: Some(detach),
        ProviderCleanupBindingContext: Some(cleanup),
        ProviderRegistrationInstance: instance(),
    });

/// A tiny deterministic generator, so a failing interleaving of choices can be rerun.
fn xorshift(state: &mut u64) -> u64 {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    *state
}

fn register(provider: bool) -> HANDLE {
    let mut h = ptr::null_mut();
    // SAFETY: 'static characteristics; the out-pointer is a local.
    let status = unsafe {
        if provider {
            NmrRegisterProvider(&PROVIDER_CHARS.0, ptr::null_mut(), &mut h)
        } else {
            NmrRegisterClient(&CLIENT_CHARS.0, ptr::null_mut(), &mut h)
        }
    };
    assert_eq!(status, STATUS_SUCCESS);
    h
}

fn deregister_and_wait(provider: bool, h: HANDLE) {
    // SAFETY: a live registration handle of that role.
    let status =
        unsafe { if provider { NmrDeregisterProvider(h) } else { NmrDeregisterClient(h) } };
    assert_eq!(status, STATUS_PENDING, "R24");
    if let Err(e) = host::wait_for_deregister_complete(h, WAIT_LIMIT) {
        panic!("wait did not finish: {e}");
    }
}

#[test]
fn r33_threads_register_and_deregister_with_pending_detaches() {
    const THREADS: u64 = 4;
    const CYCLES: usize = 5000;

    let stop = Arc::new(AtomicBool::new(false));
    let completer = {
        let stop = Arc::clone(&stop);
        thread::spawn(move || {
            loop {
                let batch: Vec<_> = std::mem::take(&mut *TO_COMPLETE.lock().unwrap());
                if batch.is_empty() {
                    if stop.load(Ordering::Acquire) {
                        break;
                    }
                    thread::yield_now();
                }
                for (side, handle) in batch {
                    complete(side, handle);
                }
            }
        })
    };

    let workers: Vec<_> = (0..THREADS)
        .map(|t| {
            thread::spawn(move || {
                let mut rng = 0x9E37_79B9_7F4A_7C15 ^ (t + 1);
                // Each thread keeps up to three registrations alive at a time.
                let mut held: Vec<(bool, HANDLE)> = Vec::new();
                for _ in 0..CYCLES {
                    let r = xorshift(&mut rng);
                    if held.len() < 3 && (held.is_empty() || !r.is_multiple_of(3)) {
                        let provider = r & 8 != 0;
                        held.push((provider, register(provider)));
                    } else {
                        let (provider, h) = held.remove((r as usize >> 4) % held.len());
                        deregister_and_wait(provider, h);
                    }
                }
                for (provider, h) in held {
                    deregister_and_wait(provider, h);
                }
            })
        })
        .collect();
    for w in workers {
        w.join().unwrap();
    }
    stop.store(true, Ordering::Release);
    completer.join().unwrap();

    let c = &COUNTERS;
    let attached = [c.attached[0].load(Ordering::Relaxed), c.attached[1].load(Ordering::Relaxed)];
    eprintln!("bindings attached per side: {attached:?}");
    assert!(attached[CLIENT] > 10_000, "the run created many bindings: {attached:?}");
    for side in [CLIENT, PROVIDER] {
        assert_eq!(c.detached[side].load(Ordering::Relaxed), attached[side], "side {side}");
        assert_eq!(c.cleaned[side].load(Ordering::Relaxed), attached[side], "side {side}");
    }
    assert_eq!(attached[CLIENT], attached[PROVIDER], "every binding has two sides");
    assert_eq!(c.errors.load(Ordering::Relaxed), 0, "a detach or cleanup ran twice");
    assert!(host::violations_of(&NPI).is_empty(), "{:?}", host::violations_of(&NPI));
    assert!(host::registrations_of(&NPI).is_empty());
    assert!(host::bindings_of(&NPI).is_empty());
}
