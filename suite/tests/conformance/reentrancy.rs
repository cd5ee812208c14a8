//! R29–R32: calling the NMR from inside callbacks.

use npi_runtime::host::{self, BindingState, Side as Role, ViolationKind};
use npi_runtime::sys::*;

use crate::support::*;

fn bound(fx: &Fx) -> (&'static Client, &'static Provider) {
    let (c, p) = (fx.client("C"), fx.provider("P"));
    assert_eq!(p.register(), STATUS_SUCCESS);
    assert_eq!(c.register(), STATUS_SUCCESS);
    assert_eq!(fx.take(), ["C.attach(P)", "P.attach(C)"]);
    (c, p)
}

// ----- R29 ----------------------------------------------------------------------------------

#[test]
fn r29_oq09_attach_after_the_callback_returned_is_refused_without_calling_the_provider() {
    let fx = Fx::new();
    let (c, p) = bound(&fx);
    let h = c.binding("P").handle;
    assert_eq!(attach_from_here(h), STATUS_INVALID_PARAMETER);
    assert_eq!(fx.take(), NOTHING);
    assert_eq!(fx.violations(), [ViolationKind::AttachOutsideCallback]);
    host::take_violations_of(&fx.npi);
    assert_eq!(fx.bindings()[0].state, BindingState::Established, "the binding is untouched");
    c.unload();
    p.unload();
    fx.take();
    fx.assert_clean();
}

#[test]
fn r29_oq09_attach_with_the_handle_of_a_finished_proposal_is_refused() {
    let fx = Fx::new();
    let (p, c) = (fx.provider("P"), fx.client("C"));
    let stale = shared::<usize>();
    let record = stale.clone();
    c.on_attach(move |a| {
        *lock(&record) = a.handle.addr();
        STATUS_NOINTERFACE
    });
    assert_eq!(p.register(), STATUS_SUCCESS);
    assert_eq!(c.register(), STATUS_SUCCESS);
    fx.take();
    let h = *lock(&stale);
    assert_eq!(attach_from_here(h), STATUS_INVALID_PARAMETER);
    assert_eq!(fx.take(), NOTHING, "the provider was not called");
    assert_eq!(violations_with_handle(h), [ViolationKind::AttachOutsideCallback]);
    c.unload();
    p.unload();
    fx.assert_clean();
}

#[test]
fn r29_oq09_attach_with_a_registration_handle_is_refused() {
    let fx = Fx::new();
    let (p, c) = (fx.provider("P"), fx.client("C"));
    c.decline();
    assert_eq!(p.register(), STATUS_SUCCESS);
    assert_eq!(c.register(), STATUS_SUCCESS);
    fx.take();
    for h in [c.handle_value(), p.handle_value()] {
        assert_eq!(attach_from_here(h), STATUS_INVALID_PARAMETER);
        assert_eq!(violations_with_handle(h).len(), 1);
    }
    assert_eq!(fx.take(), NOTHING);
    c.unload();
    p.unload();
    fx.assert_clean();
}

#[test]
fn r29_attach_from_inside_the_providers_own_attach_callback_is_refused() {
    let fx = Fx::new();
    let (p, c) = (fx.provider("P"), fx.client("C"));
    let inner = shared::<Vec<NTSTATUS>>();
    let record = inner.clone();
    p.on_attach(move |a| {
        lock(&record).push(attach_from_here(a.handle.addr()));
        a.accept()
    });
    assert_eq!(p.register(), STATUS_SUCCESS);
    assert_eq!(c.register(), STATUS_SUCCESS);
    assert_eq!(*lock(&inner), [STATUS_INVALID_PARAMETER]);
    assert_eq!(fx.take(), ["C.attach(P)", "P.attach(C)"]);
    assert_eq!(fx.violations(), [ViolationKind::AttachOutsideCallback]);
    host::take_violations_of(&fx.npi);
    assert_eq!(fx.bindings()[0].state, BindingState::Established);
    c.unload();
    p.unload();
    fx.take();
    fx.assert_clean();
}

// ----- R30 ----------------------------------------------------------------------------------

#[test]
fn r30_completion_from_inside_another_bindings_callback() {
    let fx = Fx::new();
    let (c1, p) = (fx.client("C1"), fx.provider("P"));
    p.detach_pending();
    assert_eq!(p.register(), STATUS_SUCCESS);
    assert_eq!(c1.register(), STATUS_SUCCESS);
    assert_eq!(c1.deregister(), STATUS_PENDING);
    let old = p.binding("C1");
    fx.take();
    // The provider finishes the old binding's detach while attaching a new client.
    p.on_attach(move |a| {
        old.complete();
        a.provider.log.mark("old binding completed");
        a.accept()
    });
    let c2 = fx.client("C2");
    assert_eq!(c2.register(), STATUS_SUCCESS);
    assert_eq!(
        fx.take(),
        ["C2.attach(P)", "P.attach(C2)", "C1.cleanup(P)", "P.cleanup(C1)", "old binding completed"]
    );
    assert_eq!(c1.wait(), STATUS_SUCCESS);
    assert_eq!(fx.bindings().len(), 1);
    assert_eq!(c2.deregister(), STATUS_PENDING);
    p.binding("C2").complete();
    assert_eq!(c2.wait(), STATUS_SUCCESS);
    p.unload();
    fx.take();
    fx.assert_clean();
}

// ----- R31 ----------------------------------------------------------------------------------

#[test]
fn r31_register_from_inside_an_attach_callback() {
    let fx = Fx::new();
    let (p1, p2, c) = (fx.provider("P1"), fx.provider("P2"), fx.client("C"));
    c.on_attach(move |a| {
        if a.peer == "P1" {
            assert_eq!(p2.register(), STATUS_SUCCESS);
            a.client.log.mark("P2 registered");
        }
        a.attach()
    });
    assert_eq!(p1.register(), STATUS_SUCCESS);
    assert_eq!(c.register(), STATUS_SUCCESS);
    assert_eq!(
        fx.take(),
        ["C.attach(P1)", "C.attach(P2)", "P2.attach(C)", "P2 registered", "P1.attach(C)"]
    );
    let listed = fx.bindings();
    assert_eq!(listed.len(), 2);
    assert!(listed.iter().all(|b| b.state == BindingState::Established));
    c.unload();
    p1.unload();
    p2.unload();
    fx.take();
    fx.assert_clean();
}

#[test]
fn r31_deregister_from_inside_a_cleanup_callback() {
    let fx = Fx::new();
    let (p, c1, c2) = (fx.provider("P"), fx.client("C1"), fx.client("C2"));
    // The provider leaves once its first client is gone.
    p.on_cleanup(|b| {
        if b.peer == "C1" {
            assert_eq!(b.core.deregister(), STATUS_PENDING);
            b.core.log.mark("P deregistered");
        }
    });
    for r in [p.register(), c1.register(), c2.register()] {
        assert_eq!(r, STATUS_SUCCESS);
    }
    fx.take();
    c1.unload();
    assert_eq!(
        fx.take(),
        [
            "C1.detach(P)",
            "P.detach(C1)",
            "C1.cleanup(P)",
            "P.cleanup(C1)",
            "C2.detach(P)",
            "P.detach(C2)",
            "C2.cleanup(P)",
            "P.cleanup(C2)",
            "P deregistered"
        ]
    );
    assert_eq!(p.wait(), STATUS_SUCCESS);
    let regs = host::registrations_of(&fx.npi);
    assert_eq!(regs.len(), 1);
    assert!(!regs[0].deregistering, "C2 stays registered");
    c2.unload();
    fx.assert_clean();
}

#[test]
fn r31_a_wait_from_inside_a_detach_or_cleanup_callback_it_would_wait_for_is_refused() {
    let fx = Fx::new();
    let (c, p) = bound(&fx);
    let statuses = shared::<Vec<(&'static str, NTSTATUS)>>();
    let (in_detach, in_cleanup) = (statuses.clone(), statuses.clone());
    c.on_detach(move |b| {
        lock(&in_detach).push(("detach", raw_wait(Role::Client, b.core.handle_value())));
        STATUS_SUCCESS
    });
    c.on_cleanup(move |b| {
        lock(&in_cleanup).push(("cleanup", raw_wait(Role::Client, b.core.handle_value())))
    });
    assert_eq!(c.deregister(), STATUS_PENDING);
    assert_eq!(
        *lock(&statuses),
        [("detach", STATUS_INVALID_DEVICE_STATE), ("cleanup", STATUS_INVALID_DEVICE_STATE)]
    );
    assert_eq!(
        fx.violations(),
        [ViolationKind::WaitWouldDeadlock, ViolationKind::WaitWouldDeadlock]
    );
    host::take_violations_of(&fx.npi);
    // The refused waits left nothing behind: the real one works.
    assert_eq!(c.wait(), STATUS_SUCCESS);
    p.unload();
    fx.take();
    fx.assert_clean();
}

#[test]
fn r31_a_provider_wait_from_inside_its_own_detach_callback_is_refused() {
    let fx = Fx::new();
    let (c, p) = bound(&fx);
    let statuses = shared::<Vec<NTSTATUS>>();
    let record = statuses.clone();
    p.on_detach(move |b| {
        lock(&record).push(raw_wait(Role::Provider, b.core.handle_value()));
        STATUS_SUCCESS
    });
    assert_eq!(p.deregister(), STATUS_PENDING);
    assert_eq!(*lock(&statuses), [STATUS_INVALID_DEVICE_STATE]);
    assert_eq!(fx.violations(), [ViolationKind::WaitWouldDeadlock]);
    host::take_violations_of(&fx.npi);
    assert_eq!(p.wait(), STATUS_SUCCESS);
    c.unload();
    fx.take();
    fx.assert_clean();
}

#[test]
fn r31_r28_a_wait_from_inside_the_attach_callback_after_deregistering_is_refused() {
    let fx = Fx::new();
    let p = fx.provider("P");
    assert_eq!(p.register(), STATUS_SUCCESS);
    let c = fx.client("C");
    let statuses = shared::<Vec<NTSTATUS>>();
    let record = statuses.clone();
    c.on_attach(move |a| {
        let s = a.attach();
        assert_eq!(a.client.deregister(), STATUS_PENDING);
        lock(&record).push(raw_wait(Role::Client, a.client.handle_value()));
        s
    });
    assert_eq!(c.register(), STATUS_SUCCESS);
    assert_eq!(*lock(&statuses), [STATUS_INVALID_DEVICE_STATE]);
    assert_eq!(fx.violations(), [ViolationKind::WaitWouldDeadlock]);
    host::take_violations_of(&fx.npi);
    assert_eq!(c.wait(), STATUS_SUCCESS);
    p.unload();
    fx.take();
    fx.assert_clean();
}

#[test]
fn r31_a_wait_from_inside_an_unrelated_callback_is_allowed() {
    let (fx, other) = (Fx::new(), Fx::new());
    let gone = other.client("Gone");
    assert_eq!(gone.register(), STATUS_SUCCESS);
    assert_eq!(gone.deregister(), STATUS_PENDING);
    let (c, p) = (fx.client("C"), fx.provider("P"));
    let statuses = shared::<Vec<NTSTATUS>>();
    let record = statuses.clone();
    c.on_attach(move |a| {
        lock(&record).push(gone.wait());
        a.attach()
    });
    assert_eq!(p.register(), STATUS_SUCCESS);
    assert_eq!(c.register(), STATUS_SUCCESS);
    assert_eq!(*lock(&statuses), [STATUS_SUCCESS]);
    assert_eq!(fx.bindings().len(), 1);
    c.unload();
    p.unload();
    fx.take();
    fx.assert_clean();
    other.assert_clean();
}

// ----- R32 ----------------------------------------------------------------------------------

#[test]
fn r32_the_nmr_holds_no_lock_of_its_own_while_any_callback_runs() {
    // Every listing takes the registrar's lock: if a callback ran under it, this would hang
    // (and the watchdog would stop the run). Each callback also reports what it saw.
    let fx = Fx::new();
    let (c, p) = (fx.client("C"), fx.provider("P"));
    let npi = fx.npi;
    let seen = shared::<Vec<String>>();
    let look = move |who: &str, seen: &Shared<Vec<String>>| {
        let regs = host::registrations_of(&npi).len();
        let b = host::bindings_of(&npi);
        let violations = host::violations_of(&npi).len();
        let state = b.first().map(|b| format!("{:?}", b.state)).unwrap_or_default();
        lock(seen).push(format!("{who}: {regs} regs, {state}, {violations} violations"));
    };
    let s = seen.clone();
    c.on_attach(move |a| {
        look("C.attach", &s);
        let r = a.attach();
        look("C.attach after NmrClientAttachProvider", &s);
        r
    });
    let s = seen.clone();
    p.on_attach(move |a| {
        look("P.attach", &s);
        a.accept()
    });
    let s = seen.clone();
    c.on_detach(move |_| {
        look("C.detach", &s);
        STATUS_SUCCESS
    });
    let s = seen.clone();
    p.on_cleanup(move |_| look("P.cleanup", &s));
    let registered =
        watchdog("registration with listings in callbacks", || (p.register(), c.register()));
    assert_eq!(registered, (STATUS_SUCCESS, STATUS_SUCCESS));
    watchdog("unload with listings in callbacks", || c.unload());
    assert_eq!(
        *lock(&seen),
        [
            "C.attach: 2 regs, Proposed, 0 violations",
            "P.attach: 2 regs, ProviderAttaching, 0 violations",
            "C.attach after NmrClientAttachProvider: 2 regs, Attached, 0 violations",
            "C.detach: 2 regs, Detaching, 0 violations",
            "P.cleanup: 2 regs, CleaningUp, 0 violations"
        ]
    );
    p.unload();
    fx.take();
    fx.assert_clean();
}
