//! The test matrix of `docs/nmr-contract.md`, T1–T12: each scenario with its exact callback sequence.

use std::sync::mpsc;
use std::thread;

use npi_runtime::host::BindingState;
use npi_runtime::sys::*;

use crate::support::*;

#[test]
fn t01_client_without_provider_registers_deregisters_and_waits_with_no_callbacks() {
    let fx = Fx::new();
    let c = fx.client("C");
    assert_eq!(c.register(), STATUS_SUCCESS);
    assert!(!c.handle().is_null());
    assert_eq!(fx.take(), NOTHING);
    assert_eq!(c.deregister(), STATUS_PENDING);
    assert_eq!(c.wait(), STATUS_SUCCESS);
    assert_eq!(fx.take(), NOTHING);
    fx.assert_clean();
}

#[test]
fn t02_provider_then_client_attaches_inside_register_client() {
    let fx = Fx::new();
    let (p, c) = (fx.provider("P"), fx.client("C"));
    let statuses = shared::<Vec<NTSTATUS>>();
    let seen = statuses.clone();
    c.on_attach(move |a| {
        let s = a.attach();
        lock(&seen).push(s);
        s
    });
    assert_eq!(p.register(), STATUS_SUCCESS);
    assert_eq!(fx.take(), NOTHING);
    assert_eq!(c.register(), STATUS_SUCCESS);
    fx.mark("NmrRegisterClient returned");
    assert_eq!(fx.take(), ["C.attach(P)", "P.attach(C)", "NmrRegisterClient returned"]);
    assert_eq!(*lock(&statuses), [STATUS_SUCCESS]);
    let bindings = fx.bindings();
    assert_eq!(bindings.len(), 1);
    assert_eq!(bindings[0].state, BindingState::Established);
    c.unload();
    p.unload();
    assert_eq!(fx.take(), ["C.detach(P)", "P.detach(C)", "C.cleanup(P)", "P.cleanup(C)"]);
    fx.assert_clean();
}

#[test]
fn t03_client_then_provider_attaches_inside_register_provider() {
    let fx = Fx::new();
    let (c, p) = (fx.client("C"), fx.provider("P"));
    assert_eq!(c.register(), STATUS_SUCCESS);
    assert_eq!(fx.take(), NOTHING);
    assert_eq!(p.register(), STATUS_SUCCESS);
    fx.mark("NmrRegisterProvider returned");
    assert_eq!(fx.take(), ["C.attach(P)", "P.attach(C)", "NmrRegisterProvider returned"]);
    assert_eq!(fx.bindings().len(), 1);
    p.unload();
    c.unload();
    assert_eq!(fx.take(), ["C.detach(P)", "P.detach(C)", "C.cleanup(P)", "P.cleanup(C)"]);
    fx.assert_clean();
}

#[test]
fn t04_client_declines_provider_is_never_called_and_never_reproposed() {
    let fx = Fx::new();
    let (p, c) = (fx.provider("P"), fx.client("C"));
    c.decline();
    assert_eq!(p.register(), STATUS_SUCCESS);
    assert_eq!(c.register(), STATUS_SUCCESS);
    assert_eq!(fx.take(), ["C.attach(P)"]);
    assert!(fx.bindings().is_empty());
    // A later provider is proposed once; P never again, not even when others come and go.
    let p2 = fx.provider("P2");
    assert_eq!(p2.register(), STATUS_SUCCESS);
    assert_eq!(fx.take(), ["C.attach(P2)"]);
    let c2 = fx.client("C2");
    assert_eq!(c2.register(), STATUS_SUCCESS);
    assert_eq!(fx.take(), ["C2.attach(P)", "P.attach(C2)", "C2.attach(P2)", "P2.attach(C2)"]);
    c2.unload();
    assert_eq!(
        fx.take(),
        [
            "C2.detach(P)",
            "P.detach(C2)",
            "C2.cleanup(P)",
            "P.cleanup(C2)",
            "C2.detach(P2)",
            "P2.detach(C2)",
            "C2.cleanup(P2)",
            "P2.cleanup(C2)"
        ]
    );
    p2.unload();
    c.unload();
    p.unload();
    assert_eq!(fx.take(), NOTHING, "a declined pair has nothing to detach or clean up");
    fx.assert_clean();
}

#[test]
fn t05_provider_declines_attach_returns_nointerface_and_nothing_detaches() {
    let fx = Fx::new();
    let (p, c) = (fx.provider("P"), fx.client("C"));
    p.decline(STATUS_NOINTERFACE);
    let statuses = shared::<Vec<NTSTATUS>>();
    let seen = statuses.clone();
    c.on_attach(move |a| {
        let s = a.attach();
        lock(&seen).push(s);
        s
    });
    assert_eq!(p.register(), STATUS_SUCCESS);
    assert_eq!(c.register(), STATUS_SUCCESS);
    assert_eq!(fx.take(), ["C.attach(P)", "P.attach(C)"]);
    assert_eq!(*lock(&statuses), [STATUS_NOINTERFACE]);
    assert!(fx.bindings().is_empty());
    assert!(c.bindings().is_empty() && p.bindings().is_empty());
    p.unload();
    c.unload();
    assert_eq!(fx.take(), NOTHING, "no detach or cleanup on either side");
    fx.assert_clean();
}

#[test]
fn t06_deregister_client_with_both_detaches_successful_runs_everything_inside_the_call() {
    let fx = Fx::new();
    let (p, c) = (fx.provider("P"), fx.client("C"));
    assert_eq!(p.register(), STATUS_SUCCESS);
    assert_eq!(c.register(), STATUS_SUCCESS);
    fx.take();
    assert_eq!(c.deregister(), STATUS_PENDING);
    fx.mark("NmrDeregisterClient returned");
    assert_eq!(
        fx.take(),
        [
            "C.detach(P)",
            "P.detach(C)",
            "C.cleanup(P)",
            "P.cleanup(C)",
            "NmrDeregisterClient returned"
        ]
    );
    assert_eq!(c.wait(), STATUS_SUCCESS);
    assert_eq!(fx.take(), NOTHING);
    p.unload();
    assert_eq!(fx.take(), NOTHING);
    fx.assert_clean();
}

#[test]
fn t07_deregister_provider_with_pending_client_detach_wait_blocks_until_completion() {
    let fx = Fx::new();
    let (p, c) = (fx.provider("P"), fx.client("C"));
    c.detach_pending();
    assert_eq!(p.register(), STATUS_SUCCESS);
    assert_eq!(c.register(), STATUS_SUCCESS);
    fx.take();
    assert_eq!(p.deregister(), STATUS_PENDING);
    fx.mark("NmrDeregisterProvider returned");
    assert_eq!(fx.take(), ["C.detach(P)", "P.detach(C)", "NmrDeregisterProvider returned"]);

    let b = c.binding("P");
    let log = fx.log.clone();
    let completer = thread::spawn(move || {
        thread::sleep(SHORT);
        log.mark("completing");
        b.complete();
        thread::current().id()
    });
    assert_eq!(p.wait(), STATUS_SUCCESS);
    fx.mark("wait returned");
    let completer = completer.join().unwrap();
    let events = fx.log.take_events();
    let names: Vec<_> = events.iter().map(|e| e.what.as_str()).collect();
    assert_eq!(names, ["completing", "C.cleanup(P)", "P.cleanup(C)", "wait returned"]);
    assert!(
        events[1..3].iter().all(|e| e.thread == completer),
        "the cleanups run inside NmrClientDetachProviderComplete"
    );
    c.unload();
    assert_eq!(fx.take(), NOTHING);
    fx.assert_clean();
}

#[test]
fn t08_both_sides_deregister_each_detach_runs_once_and_both_waits_return_after_completion() {
    let fx = Fx::new();
    let (p, c) = (fx.provider("P"), fx.client("C"));
    c.detach_pending();
    assert_eq!(p.register(), STATUS_SUCCESS);
    assert_eq!(c.register(), STATUS_SUCCESS);
    fx.take();
    assert_eq!(c.deregister(), STATUS_PENDING);
    assert_eq!(fx.take(), ["C.detach(P)", "P.detach(C)"]);
    assert_eq!(p.deregister(), STATUS_PENDING);
    assert_eq!(fx.take(), NOTHING, "the binding is already detaching (R19)");

    let (tx, rx) = mpsc::channel();
    let waiters: Vec<_> = [c.core_ref(), p.core_ref()]
        .into_iter()
        .map(|m| {
            let tx = tx.clone();
            thread::spawn(move || {
                let s = m.wait();
                tx.send(m.name).unwrap();
                s
            })
        })
        .collect();
    thread::sleep(SHORT);
    assert!(rx.try_recv().is_err(), "a wait returned before the client completed");
    fx.mark("completing");
    c.binding("P").complete();
    for w in waiters {
        assert_eq!(w.join().unwrap(), STATUS_SUCCESS);
    }
    assert_eq!(fx.take(), ["completing", "C.cleanup(P)", "P.cleanup(C)"]);
    assert_eq!(c.binding("P").detaches(), 1);
    assert_eq!(p.binding("C").detaches(), 1);
    fx.assert_clean();
}

#[test]
fn t09_n_clients_by_m_providers_get_n_times_m_proposals_and_unrelated_npis_none() {
    let fx = Fx::new();
    let other = Fx::new();
    let (x, y) = (other.client("X"), other.provider("Y"));
    let p1 = fx.provider("P1");
    let c1 = fx.client("C1");
    let p2 = fx.provider("P2");
    let c2 = fx.client("C2");
    let c3 = fx.client("C3");
    assert_eq!(x.register(), STATUS_SUCCESS);
    for r in [p1.register(), c1.register(), p2.register(), c2.register(), c3.register()] {
        assert_eq!(r, STATUS_SUCCESS);
    }
    assert_eq!(y.register(), STATUS_SUCCESS);
    let names = fx.take();
    assert_eq!(names.len(), 12, "{names:?}");
    for c in ["C1", "C2", "C3"] {
        for p in ["P1", "P2"] {
            assert_eq!(names.iter().filter(|n| **n == format!("{c}.attach({p})")).count(), 1);
            assert_eq!(names.iter().filter(|n| **n == format!("{p}.attach({c})")).count(), 1);
        }
    }
    assert_eq!(fx.bindings().len(), 6);
    assert_eq!(other.take(), ["X.attach(Y)", "Y.attach(X)"]);
    assert_eq!(other.bindings().len(), 1);
    for m in [c1.core_ref(), c2.core_ref(), c3.core_ref(), p1.core_ref(), p2.core_ref()] {
        m.unload();
    }
    assert_eq!(fx.take().len(), 24, "6 bindings, 4 callbacks each");
    x.unload();
    y.unload();
    fx.assert_clean();
    other.assert_clean();
}

#[test]
fn t10_provider_goes_away_and_a_new_provider_arrives_client_detaches_then_attaches_again() {
    let fx = Fx::new();
    let (c, p1, p2) = (fx.client("C"), fx.provider("P1"), fx.provider("P2"));
    assert_eq!(c.register(), STATUS_SUCCESS);
    assert_eq!(p1.register(), STATUS_SUCCESS);
    assert_eq!(fx.take(), ["C.attach(P1)", "P1.attach(C)"]);
    p1.unload();
    assert_eq!(fx.take(), ["C.detach(P1)", "P1.detach(C)", "C.cleanup(P1)", "P1.cleanup(C)"]);
    assert_eq!(p2.register(), STATUS_SUCCESS);
    assert_eq!(fx.take(), ["C.attach(P2)", "P2.attach(C)"]);
    assert_eq!(fx.bindings().len(), 1);
    c.unload();
    p2.unload();
    assert_eq!(fx.take(), ["C.detach(P2)", "P2.detach(C)", "C.cleanup(P2)", "P2.cleanup(C)"]);
    fx.assert_clean();
}

#[test]
fn t11_completion_before_the_detach_callback_returns_pending_is_accepted() {
    let fx = Fx::new();
    let (p, c) = (fx.provider("P"), fx.client("C"));
    c.on_detach(|b| {
        b.complete();
        b.core.log.mark("C completed inside its detach");
        STATUS_PENDING
    });
    assert_eq!(p.register(), STATUS_SUCCESS);
    assert_eq!(c.register(), STATUS_SUCCESS);
    fx.take();
    assert_eq!(c.deregister(), STATUS_PENDING);
    fx.mark("NmrDeregisterClient returned");
    assert_eq!(
        fx.take(),
        [
            "C.detach(P)",
            "C completed inside its detach",
            "P.detach(C)",
            "C.cleanup(P)",
            "P.cleanup(C)",
            "NmrDeregisterClient returned"
        ]
    );
    assert_eq!(c.wait(), STATUS_SUCCESS);
    assert_eq!(c.binding("P").cleanups(), 1);
    assert_eq!(p.binding("C").cleanups(), 1);
    p.unload();
    fx.assert_clean();
}

#[test]
fn t12_wsk_retry_second_attach_with_another_dispatch_succeeds() {
    let fx = Fx::new();
    let (p, c) = (fx.provider("P"), fx.client("C"));
    // The provider supports only version 1.0 of the client dispatch table.
    p.on_attach(|a| {
        if dispatch_version(a.client_dispatch) == Some(0x0100) {
            a.accept()
        } else {
            STATUS_NOINTERFACE
        }
    });
    let statuses = shared::<Vec<NTSTATUS>>();
    let seen = statuses.clone();
    c.on_attach(move |a| {
        let first = a.attach_with(dispatch(&CLIENT_DISPATCH_V2));
        lock(&seen).push(first);
        if first != STATUS_NOINTERFACE {
            return first;
        }
        let second = a.attach_with(dispatch(&CLIENT_DISPATCH));
        lock(&seen).push(second);
        second
    });
    assert_eq!(p.register(), STATUS_SUCCESS);
    assert_eq!(c.register(), STATUS_SUCCESS);
    let events = fx.log.take_events();
    let names: Vec<_> = events.iter().map(|e| e.what.as_str()).collect();
    assert_eq!(names, ["C.attach(P)", "P.attach(C)", "P.attach(C)"]);
    assert!(events.iter().all(|e| e.binding == events[0].binding), "one binding handle throughout");
    assert_eq!(*lock(&statuses), [STATUS_NOINTERFACE, STATUS_SUCCESS]);
    assert_eq!(p.bindings().len(), 1);
    assert_eq!(p.binding("C").peer_dispatch(), dispatch(&CLIENT_DISPATCH), "the retried table");
    assert_eq!(fx.bindings().len(), 1);
    c.unload();
    p.unload();
    assert_eq!(fx.take(), ["C.detach(P)", "P.detach(C)", "C.cleanup(P)", "P.cleanup(C)"]);
    fx.assert_clean();
}
