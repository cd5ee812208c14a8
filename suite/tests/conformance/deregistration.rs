//! R24–R28: deregistration, the wait, unloading, the counterpart, and the late comer.

use std::sync::{Mutex, mpsc};
use std::thread;
use std::time::Instant;

use npi_runtime::host::{self, BindingState, Side};
use npi_runtime::sys::*;

use crate::support::*;

fn bound(fx: &Fx) -> (&'static Client, &'static Provider) {
    let (c, p) = (fx.client("C"), fx.provider("P"));
    assert_eq!(p.register(), STATUS_SUCCESS);
    assert_eq!(c.register(), STATUS_SUCCESS);
    assert_eq!(fx.take(), ["C.attach(P)", "P.attach(C)"]);
    (c, p)
}

// ----- R24 ----------------------------------------------------------------------------------

#[test]
fn r24_oq04_deregister_returns_pending_even_with_no_binding() {
    let fx = Fx::new();
    let (c, p) = (fx.client("C"), fx.provider("P"));
    c.decline();
    assert_eq!(c.register(), STATUS_SUCCESS);
    assert_eq!(p.register(), STATUS_SUCCESS);
    assert!(fx.bindings().is_empty());
    assert_eq!(c.deregister(), STATUS_PENDING);
    assert_eq!(p.deregister(), STATUS_PENDING);
    assert_eq!(c.wait(), STATUS_SUCCESS);
    assert_eq!(p.wait(), STATUS_SUCCESS);
    assert_eq!(fx.take(), ["C.attach(P)"]);
    fx.assert_clean();
}

#[test]
fn r24_deregister_returns_pending_when_every_detach_finished_synchronously() {
    let fx = Fx::new();
    let (c, p) = bound(&fx);
    assert_eq!(p.deregister(), STATUS_PENDING);
    assert_eq!(fx.take(), ["C.detach(P)", "P.detach(C)", "C.cleanup(P)", "P.cleanup(C)"]);
    assert!(fx.bindings().is_empty(), "nothing is left, and still STATUS_PENDING");
    assert_eq!(p.wait(), STATUS_SUCCESS);
    c.unload();
    fx.assert_clean();
}

#[test]
fn r24_the_registration_is_marked_deregistering_before_its_detach_callbacks_run() {
    let fx = Fx::new();
    let (c, p) = bound(&fx);
    let late = fx.provider("Late");
    let npi = fx.npi;
    c.on_detach(move |b| {
        let me = host::registrations_of(&npi).into_iter().find(|r| r.role == Side::Client);
        b.core.log.mark(&format!("C deregistering: {}", me.is_some_and(|r| r.deregistering)));
        // A provider arriving now must not be proposed to C (R6).
        assert_eq!(late.register(), STATUS_SUCCESS);
        STATUS_SUCCESS
    });
    assert_eq!(c.deregister(), STATUS_PENDING);
    assert_eq!(
        fx.take(),
        ["C.detach(P)", "C deregistering: true", "P.detach(C)", "C.cleanup(P)", "P.cleanup(C)"]
    );
    assert_eq!(c.wait(), STATUS_SUCCESS);
    p.unload();
    late.unload();
    assert_eq!(fx.take(), NOTHING);
    fx.assert_clean();
}

// ----- R25 ----------------------------------------------------------------------------------

#[test]
fn r25_the_wait_blocks_until_the_pending_half_completes_and_then_the_handle_is_dead() {
    let fx = Fx::new();
    let (c, p) = bound(&fx);
    c.detach_pending();
    assert_eq!(c.deregister(), STATUS_PENDING);
    fx.take();
    let b = c.binding("P");
    let log = fx.log.clone();
    let start = Instant::now();
    let completer = thread::spawn(move || {
        thread::sleep(SHORT);
        log.mark("completing");
        b.complete();
    });
    assert_eq!(c.wait(), STATUS_SUCCESS);
    let waited = start.elapsed();
    fx.mark("wait returned");
    completer.join().unwrap();
    assert!(waited >= SHORT, "the wait returned after {waited:?}, before the completion");
    assert_eq!(fx.take(), ["completing", "C.cleanup(P)", "P.cleanup(C)", "wait returned"]);
    // The handle is dead: a second wait or deregistration is refused.
    let h = c.handle_value();
    assert_eq!(c.wait(), STATUS_INVALID_PARAMETER);
    assert_eq!(c.deregister(), STATUS_INVALID_PARAMETER);
    assert!(host::registrations_of(&fx.npi).iter().all(|r| r.handle.value() != h));
    assert_eq!(violations_with_handle(h).len(), 2);
    p.unload();
    fx.assert_clean();
}

#[test]
fn r25_oq05_the_wait_returns_only_after_the_cleanup_callbacks_returned() {
    let fx = Fx::new();
    let (c, p) = bound(&fx);
    p.detach_pending();
    // The provider's cleanup is slow; the client's wait must include it.
    p.on_cleanup(|b| {
        thread::sleep(SHORT);
        b.core.log.mark("P.cleanup returns");
    });
    assert_eq!(c.deregister(), STATUS_PENDING);
    fx.take();
    let pb = p.binding("C");
    let completer = thread::spawn(move || pb.complete());
    assert_eq!(c.wait(), STATUS_SUCCESS);
    fx.mark("wait returned");
    completer.join().unwrap();
    assert_eq!(fx.take(), ["C.cleanup(P)", "P.cleanup(C)", "P.cleanup returns", "wait returned"]);
    p.unload();
    fx.assert_clean();
}

#[test]
fn r25_a_provider_wait_waits_for_every_one_of_its_bindings() {
    let fx = Fx::new();
    let p = fx.provider("P");
    p.detach_pending();
    assert_eq!(p.register(), STATUS_SUCCESS);
    let clients: Vec<_> = ["C1", "C2", "C3"].iter().map(|n| fx.client(n)).collect();
    for c in &clients {
        assert_eq!(c.register(), STATUS_SUCCESS);
    }
    assert_eq!(p.deregister(), STATUS_PENDING);
    let waiter = thread::spawn(move || p.wait());
    for c in &clients {
        thread::sleep(SHORT / 3);
        assert!(!waiter.is_finished(), "the wait returned with {} still pending", c.name);
        p.binding(c.name).complete();
    }
    assert_eq!(waiter.join().unwrap(), STATUS_SUCCESS);
    for c in clients {
        assert_eq!(c.binding("P").cleanups(), 1);
        c.unload();
    }
    fx.take();
    fx.assert_clean();
}

// ----- R27 ----------------------------------------------------------------------------------

#[test]
fn r27_the_counterpart_stays_registered_and_attaches_to_the_next_provider() {
    let fx = Fx::new();
    let (c, p) = bound(&fx);
    p.unload();
    fx.take();
    let regs = host::registrations_of(&fx.npi);
    assert_eq!(regs.len(), 1);
    assert_eq!(
        (regs[0].handle.value(), regs[0].deregistering, regs[0].bindings),
        (c.handle_value(), false, 0)
    );
    let p2 = fx.provider("P2");
    assert_eq!(p2.register(), STATUS_SUCCESS);
    assert_eq!(fx.take(), ["C.attach(P2)", "P2.attach(C)"]);
    c.unload();
    p2.unload();
    fx.take();
    fx.assert_clean();
}

// ----- R28 ----------------------------------------------------------------------------------

#[test]
fn r28_late_comer_client_deregisters_inside_its_own_attach_callback() {
    let fx = Fx::new();
    let (p1, p2) = (fx.provider("P1"), fx.provider("P2"));
    assert_eq!(p1.register(), STATUS_SUCCESS);
    assert_eq!(p2.register(), STATUS_SUCCESS);
    let c = fx.client("C");
    c.on_attach(|a| {
        let s = a.attach();
        assert_eq!(s, STATUS_SUCCESS);
        assert_eq!(a.client.deregister(), STATUS_PENDING);
        a.client.log.mark("C deregistered");
        s
    });
    assert_eq!(c.register(), STATUS_SUCCESS);
    fx.mark("NmrRegisterClient returned");
    let events = fx.log.take_events();
    assert_eq!(
        events.iter().map(|e| e.what.as_str()).collect::<Vec<_>>(),
        [
            "C.attach(P1)",
            "P1.attach(C)",
            "C deregistered",
            "C.detach(P1)",
            "P1.detach(C)",
            "C.cleanup(P1)",
            "P1.cleanup(C)",
            "NmrRegisterClient returned"
        ],
        "detached at once, inside NmrRegisterClient, and P2 never proposed"
    );
    let me = thread::current().id();
    assert!(events.iter().all(|e| e.thread == me), "on the registering thread");
    assert_eq!(c.wait(), STATUS_SUCCESS);
    p1.unload();
    p2.unload();
    fx.assert_clean();
}

#[test]
fn r28_late_comer_provider_deregisters_inside_its_attach_callback() {
    let fx = Fx::new();
    let (c1, c2) = (fx.client("C1"), fx.client("C2"));
    assert_eq!(c1.register(), STATUS_SUCCESS);
    assert_eq!(c2.register(), STATUS_SUCCESS);
    let p = fx.provider("P");
    p.on_attach(|a| {
        let s = a.accept();
        assert_eq!(a.provider.deregister(), STATUS_PENDING);
        a.provider.log.mark("P deregistered");
        s
    });
    assert_eq!(p.register(), STATUS_SUCCESS);
    fx.mark("NmrRegisterProvider returned");
    assert_eq!(
        fx.take(),
        [
            "C1.attach(P)",
            "P.attach(C1)",
            "P deregistered",
            "C1.detach(P)",
            "P.detach(C1)",
            "C1.cleanup(P)",
            "P.cleanup(C1)",
            "NmrRegisterProvider returned"
        ]
    );
    assert_eq!(p.wait(), STATUS_SUCCESS);
    c1.unload();
    c2.unload();
    fx.assert_clean();
}

#[test]
fn r28_a_deregistration_on_another_thread_during_an_attach_detaches_it_and_the_wait_waits() {
    let fx = Fx::new();
    let (p, c) = (fx.provider("P"), fx.client("C"));
    assert_eq!(p.register(), STATUS_SUCCESS);
    let (attached_tx, attached_rx) = mpsc::channel();
    let (go_tx, go_rx) = mpsc::channel::<()>();
    let go_rx = Mutex::new(go_rx);
    c.on_attach(move |a| {
        let s = a.attach();
        attached_tx.send(()).unwrap();
        recv(&lock(&go_rx));
        s
    });
    let log = fx.log.clone();
    let registering = thread::spawn(move || {
        assert_eq!(c.register(), STATUS_SUCCESS);
        log.mark("NmrRegisterClient returned");
        thread::current().id()
    });
    recv(&attached_rx);
    assert_eq!(p.deregister(), STATUS_PENDING);
    assert_eq!(fx.names(), ["C.attach(P)", "P.attach(C)"], "nothing to detach yet");
    let listed = fx.bindings();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].state, BindingState::Attached);
    let waiter = thread::spawn(move || p.wait());
    thread::sleep(SHORT);
    assert!(!waiter.is_finished(), "the wait must wait for the attach in flight");
    go_tx.send(()).unwrap();
    let registering = registering.join().unwrap();
    assert_eq!(waiter.join().unwrap(), STATUS_SUCCESS);
    let events = fx.log.take_events();
    assert_eq!(
        events.iter().map(|e| e.what.as_str()).collect::<Vec<_>>(),
        [
            "C.attach(P)",
            "P.attach(C)",
            "C.detach(P)",
            "P.detach(C)",
            "C.cleanup(P)",
            "P.cleanup(C)",
            "NmrRegisterClient returned"
        ]
    );
    assert!(events[2..6].iter().all(|e| e.thread == registering), "on the registering thread");
    c.unload();
    fx.assert_clean();
}
