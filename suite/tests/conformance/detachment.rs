//! R17–R23: detachment — what starts it, both detach callbacks, once each, the two ways a half
//! completes, early completion, and the cleanups.

use std::sync::mpsc;
use std::thread;

use npi_runtime::host::{self, BindingState, HalfState, ViolationKind};
use npi_runtime::sys::*;

use crate::support::*;

fn bound(fx: &Fx) -> (&'static Client, &'static Provider) {
    let (c, p) = (fx.client("C"), fx.provider("P"));
    assert_eq!(p.register(), STATUS_SUCCESS);
    assert_eq!(c.register(), STATUS_SUCCESS);
    assert_eq!(fx.take(), ["C.attach(P)", "P.attach(C)"]);
    (c, p)
}

// ----- R17 ----------------------------------------------------------------------------------

#[test]
fn r17_a_binding_ends_only_when_one_of_its_own_registrations_deregisters() {
    let fx = Fx::new();
    let (c1, p) = bound(&fx);
    let c2 = fx.client("C2");
    assert_eq!(c2.register(), STATUS_SUCCESS);
    let unrelated = fx.provider("Q");
    unrelated.decline(STATUS_NOINTERFACE);
    assert_eq!(unrelated.register(), STATUS_SUCCESS);
    fx.take();
    // Another client of the same provider leaves, an unrelated provider comes and goes.
    c2.unload();
    unrelated.unload();
    assert_eq!(fx.take(), ["C2.detach(P)", "P.detach(C2)", "C2.cleanup(P)", "P.cleanup(C2)"]);
    let left = fx.bindings();
    assert_eq!(left.len(), 1);
    assert_eq!(
        (left[0].client.value(), left[0].state),
        (c1.handle_value(), BindingState::Established)
    );
    assert_eq!(c1.binding("P").detaches(), 0);
    c1.unload();
    p.unload();
    fx.take();
    fx.assert_clean();
}

// ----- R18 ----------------------------------------------------------------------------------

#[test]
fn r18_both_detach_callbacks_run_when_the_client_deregisters() {
    let fx = Fx::new();
    let (c, p) = bound(&fx);
    assert_eq!(c.deregister(), STATUS_PENDING);
    assert_eq!(fx.take(), ["C.detach(P)", "P.detach(C)", "C.cleanup(P)", "P.cleanup(C)"]);
    assert_eq!(c.wait(), STATUS_SUCCESS);
    p.unload();
    fx.assert_clean();
}

#[test]
fn r18_oq03_both_detach_callbacks_run_client_first_when_the_provider_deregisters() {
    let fx = Fx::new();
    let (c, p) = bound(&fx);
    assert_eq!(p.deregister(), STATUS_PENDING);
    assert_eq!(fx.take(), ["C.detach(P)", "P.detach(C)", "C.cleanup(P)", "P.cleanup(C)"]);
    assert_eq!(p.wait(), STATUS_SUCCESS);
    // Each got its own binding context back (support logs through the context it receives).
    assert_eq!((c.binding("P").detaches(), p.binding("C").detaches()), (1, 1));
    c.unload();
    fx.assert_clean();
}

// ----- R19 ----------------------------------------------------------------------------------

#[test]
fn r19_each_detach_callback_runs_once_when_the_other_side_deregisters_from_inside_one() {
    let fx = Fx::new();
    let (c, p) = bound(&fx);
    // The client's detach deregisters the provider too (both sides leave at once).
    c.on_detach(move |b| {
        assert_eq!(p.deregister(), STATUS_PENDING);
        b.core.log.mark("P deregistered");
        STATUS_SUCCESS
    });
    assert_eq!(c.deregister(), STATUS_PENDING);
    assert_eq!(
        fx.take(),
        ["C.detach(P)", "P deregistered", "P.detach(C)", "C.cleanup(P)", "P.cleanup(C)"]
    );
    assert_eq!(c.wait(), STATUS_SUCCESS);
    assert_eq!(p.wait(), STATUS_SUCCESS);
    assert_eq!((c.binding("P").detaches(), p.binding("C").detaches()), (1, 1));
    fx.assert_clean();
}

#[test]
fn r19_each_detach_callback_runs_once_when_both_sides_deregister_while_one_half_pends() {
    let fx = Fx::new();
    let (c, p) = bound(&fx);
    p.detach_pending();
    assert_eq!(p.deregister(), STATUS_PENDING);
    assert_eq!(c.deregister(), STATUS_PENDING);
    assert_eq!(fx.take(), ["C.detach(P)", "P.detach(C)"]);
    p.binding("C").complete();
    assert_eq!(fx.take(), ["C.cleanup(P)", "P.cleanup(C)"]);
    assert_eq!(c.wait(), STATUS_SUCCESS);
    assert_eq!(p.wait(), STATUS_SUCCESS);
    assert_eq!((c.binding("P").detaches(), p.binding("C").detaches()), (1, 1));
    fx.assert_clean();
}

// ----- R20 ----------------------------------------------------------------------------------

#[test]
fn r20_a_pending_half_completes_only_through_its_complete_call() {
    let fx = Fx::new();
    let (c, p) = bound(&fx);
    p.detach_pending();
    assert_eq!(c.deregister(), STATUS_PENDING);
    assert_eq!(fx.take(), ["C.detach(P)", "P.detach(C)"]);
    // Nothing else finishes it: not the client's success, not time, not the client's wait.
    assert!(matches!(c.wait_for(SHORT), Err(host::WaitError::Stuck(_))));
    let listed = fx.bindings();
    assert_eq!(listed.len(), 1);
    assert_eq!(
        (listed[0].client_half, listed[0].provider_half),
        (HalfState::Done, HalfState::Pending)
    );
    p.binding("C").complete();
    assert_eq!(fx.take(), ["C.cleanup(P)", "P.cleanup(C)"]);
    assert_eq!(c.wait(), STATUS_SUCCESS);
    p.unload();
    fx.assert_clean();
}

#[test]
fn r20_completing_a_half_that_returned_success_is_a_violation_and_changes_nothing() {
    let fx = Fx::new();
    let (c, p) = bound(&fx);
    p.detach_pending();
    assert_eq!(c.deregister(), STATUS_PENDING);
    fx.take();
    // The client's detach returned STATUS_SUCCESS; it must not complete, and does.
    c.binding("P").complete();
    assert_eq!(fx.take(), NOTHING, "no cleanup while the provider half pends");
    assert_eq!(fx.violations(), [ViolationKind::CompleteAfterSuccess]);
    host::take_violations_of(&fx.npi);
    let listed = fx.bindings();
    assert_eq!(listed[0].state, BindingState::Detaching);
    assert_eq!(
        (listed[0].client_half, listed[0].provider_half),
        (HalfState::Done, HalfState::Pending)
    );
    p.binding("C").complete();
    assert_eq!(fx.take(), ["C.cleanup(P)", "P.cleanup(C)"]);
    assert_eq!(c.wait(), STATUS_SUCCESS);
    p.unload();
    assert_eq!((c.binding("P").cleanups(), p.binding("C").cleanups()), (1, 1));
    fx.assert_clean();
}

// ----- R21 ----------------------------------------------------------------------------------

#[test]
fn r21_provider_completes_inside_its_detach_callback_before_returning_pending() {
    let fx = Fx::new();
    let (c, p) = bound(&fx);
    p.on_detach(|b| {
        b.complete();
        STATUS_PENDING
    });
    assert_eq!(c.deregister(), STATUS_PENDING);
    assert_eq!(fx.take(), ["C.detach(P)", "P.detach(C)", "C.cleanup(P)", "P.cleanup(C)"]);
    assert_eq!(c.wait(), STATUS_SUCCESS);
    p.unload();
    fx.assert_clean();
}

#[test]
fn r21_completion_from_another_thread_while_the_detach_callback_still_runs() {
    let fx = Fx::new();
    let (c, p) = bound(&fx);
    // The last in-flight call drains on another thread after `Detaching = 1` was set but before
    // the callback returns STATUS_PENDING (the reference-counting sample's race).
    c.on_detach(|b| {
        let (tx, rx) = mpsc::channel();
        let h = b.handle;
        thread::spawn(move || {
            complete(npi_runtime::host::Side::Client, h);
            tx.send(()).unwrap();
        });
        recv(&rx);
        b.core.log.mark("completed elsewhere; returning PENDING");
        STATUS_PENDING
    });
    assert_eq!(p.deregister(), STATUS_PENDING);
    assert_eq!(
        fx.take(),
        [
            "C.detach(P)",
            "completed elsewhere; returning PENDING",
            "P.detach(C)",
            "C.cleanup(P)",
            "P.cleanup(C)"
        ]
    );
    assert_eq!(p.wait(), STATUS_SUCCESS);
    assert_eq!(c.binding("P").cleanups(), 1);
    c.unload();
    fx.assert_clean();
}

// ----- R22 ----------------------------------------------------------------------------------

#[test]
fn r22_cleanups_run_client_first_and_only_after_both_halves_completed() {
    let fx = Fx::new();
    let (c, p) = bound(&fx);
    c.detach_pending();
    p.detach_pending();
    assert_eq!(c.deregister(), STATUS_PENDING);
    assert_eq!(fx.take(), ["C.detach(P)", "P.detach(C)"]);
    c.binding("P").complete();
    assert_eq!(fx.take(), NOTHING, "one half is not enough");
    p.binding("C").complete();
    assert_eq!(fx.take(), ["C.cleanup(P)", "P.cleanup(C)"]);
    assert_eq!(c.wait(), STATUS_SUCCESS);
    p.unload();
    fx.assert_clean();
}

#[test]
fn r22_cleanups_run_on_the_thread_that_completed_the_second_half() {
    let fx = Fx::new();
    let (c, p) = bound(&fx);
    c.detach_pending();
    p.detach_pending();
    assert_eq!(p.deregister(), STATUS_PENDING);
    fx.take();
    let (cb, pb) = (c.binding("P"), p.binding("C"));
    thread::spawn(move || cb.complete()).join().unwrap();
    assert_eq!(fx.take(), NOTHING);
    let second = thread::spawn(move || {
        pb.complete();
        thread::current().id()
    })
    .join()
    .unwrap();
    let events = fx.log.take_events();
    assert_eq!(
        events.iter().map(|e| e.what.as_str()).collect::<Vec<_>>(),
        ["C.cleanup(P)", "P.cleanup(C)"]
    );
    assert!(events.iter().all(|e| e.thread == second));
    assert_eq!(p.wait(), STATUS_SUCCESS);
    c.unload();
    fx.assert_clean();
}

#[test]
fn r22_cleanup_callbacks_are_optional() {
    let fx = Fx::new();
    let (c, p) = (fx.client("C"), fx.provider("P"));
    c.edit(|ch| ch.ClientCleanupBindingContext = None);
    assert_eq!(p.register(), STATUS_SUCCESS);
    assert_eq!(c.register(), STATUS_SUCCESS);
    c.unload();
    assert_eq!(
        fx.take(),
        ["C.attach(P)", "P.attach(C)", "C.detach(P)", "P.detach(C)", "P.cleanup(C)"]
    );
    p.unload();
    fx.assert_clean();
}

#[test]
fn r22_r10_failed_attaches_never_get_a_cleanup() {
    let fx = Fx::new();
    let (declines, wsk, ok) = (fx.provider("Declines"), fx.provider("Wsk"), fx.provider("Ok"));
    declines.decline(STATUS_NOINTERFACE);
    wsk.on_attach(|a| {
        if dispatch_version(a.client_dispatch) == Some(0x0100) {
            a.accept()
        } else {
            STATUS_NOINTERFACE
        }
    });
    let c = fx.client("C");
    c.on_attach(|a| {
        let s = a.attach_with(dispatch(&CLIENT_DISPATCH_V2));
        if s == STATUS_SUCCESS { s } else { a.attach() }
    });
    for m in [declines.register(), wsk.register(), ok.register(), c.register()] {
        assert_eq!(m, STATUS_SUCCESS);
    }
    fx.take();
    c.unload();
    let mut names = fx.take();
    names.sort();
    assert_eq!(
        names,
        [
            "C.cleanup(Ok)",
            "C.cleanup(Wsk)",
            "C.detach(Ok)",
            "C.detach(Wsk)",
            "Ok.cleanup(C)",
            "Ok.detach(C)",
            "Wsk.cleanup(C)",
            "Wsk.detach(C)"
        ],
        "nothing for Declines, and one cleanup per side for the retried attach"
    );
    for p in [declines, wsk, ok] {
        p.unload();
    }
    fx.assert_clean();
}

// ----- R23 ----------------------------------------------------------------------------------

#[test]
fn r23_the_nmr_calls_nothing_for_a_binding_after_its_cleanups() {
    // R23 itself binds the modules (no calls into the peer after detach); what the NMR can
    // be held to is its own side: after the cleanups, no callback mentions the binding.
    let fx = Fx::new();
    let (c, p) = bound(&fx);
    let old = c.binding("P").handle;
    assert_eq!(c.deregister(), STATUS_PENDING);
    assert_eq!(c.wait(), STATUS_SUCCESS);
    fx.take();
    let c2 = fx.client("C2");
    assert_eq!(c2.register(), STATUS_SUCCESS);
    c2.unload();
    p.unload();
    let events = fx.log.take_events();
    assert_eq!(events.len(), 6, "C2's binding only: attach, detach and cleanup on both sides");
    assert!(events.iter().all(|e| e.binding != old));
    fx.assert_clean();
}

// ----- host::DetachFaults ---------------------------------------------------------------------

/// `host::DetachFaults::later`: NETIO may run detach callbacks after `NmrDeregister*` returned,
/// from a worker. A C-style unload that frees what its detach callback reads between the
/// deregistration and the wait passes against the host's synchronous default and is caught
/// with the fault armed.
#[cfg(not(loom))] // no real threads or time under loom
#[test]
fn detach_faults_run_detach_later_on_another_thread_and_catch_a_free_before_the_wait() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
    use std::time::Duration;

    let fx = Fx::new();
    let (c1, p) = bound(&fx);
    let c2 = fx.client("C2");
    assert_eq!(c2.register(), STATUS_SUCCESS);
    fx.take();
    // The client's state: "freed" by the buggy unload; the detach callback reads it.
    let freed = Arc::new(AtomicBool::new(false));
    let read_after_free = Arc::new(AtomicBool::new(false));
    let detach_threads = Arc::new(std::sync::Mutex::new(Vec::new()));
    for c in [c1, c2] {
        let (freed, read_after_free, threads) =
            (Arc::clone(&freed), Arc::clone(&read_after_free), Arc::clone(&detach_threads));
        c.on_detach(move |_| {
            if freed.load(SeqCst) {
                read_after_free.store(true, SeqCst);
            }
            lock(&threads).push(thread::current().id());
            STATUS_SUCCESS
        });
    }
    let buggy_unload = |c: &Client| {
        assert_eq!(c.deregister(), STATUS_PENDING);
        freed.store(true, SeqCst); // the bug: freed before the wait
        assert_eq!(c.wait(), STATUS_SUCCESS);
        freed.store(false, SeqCst);
    };

    // The synchronous default hides the bug: detach ran inside NmrDeregisterClient.
    buggy_unload(c1);
    assert!(!read_after_free.load(SeqCst));
    assert_eq!(*lock(&detach_threads), [thread::current().id()]);

    // Detach later, from another thread: the same unload is caught.
    let late = host::DetachFaults::later(Duration::from_millis(20));
    buggy_unload(c2);
    drop(late);
    assert!(read_after_free.load(SeqCst), "the detach callback ran after the free");
    let threads = lock(&detach_threads).clone();
    assert_eq!(threads.len(), 2);
    assert_ne!(threads[1], thread::current().id(), "detached on a thread of its own");
    assert_eq!(
        fx.take(),
        [
            "C.detach(P)",
            "P.detach(C)",
            "C.cleanup(P)",
            "P.cleanup(C)",
            "C2.detach(P)",
            "P.detach(C2)",
            "C2.cleanup(P)",
            "P.cleanup(C2)"
        ]
    );

    // Disarmed: synchronous again.
    p.unload();
    fx.take();
    fx.assert_clean();
}
