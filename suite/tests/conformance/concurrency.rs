//! R33–R35: concurrency, simulated IRQL, and one client bound to several providers.

use std::sync::{Arc, Barrier, Mutex, mpsc};
use std::thread;

use npi_runtime::host::{self, Irql, ViolationKind};
use npi_runtime::sys::*;

use crate::support::*;

// ----- R33 ----------------------------------------------------------------------------------

#[test]
fn r33_concurrent_registration_proposes_each_pair_once_and_concurrent_unload_detaches_each_once() {
    const N: usize = 4;
    const CLIENTS: [&str; N] = ["C0", "C1", "C2", "C3"];
    const PROVIDERS: [&str; N] = ["P0", "P1", "P2", "P3"];
    for round in 0..4 {
        let fx = Fx::new();
        let clients: Vec<_> = CLIENTS.iter().map(|n| fx.client(n)).collect();
        let providers: Vec<_> = PROVIDERS.iter().map(|n| fx.provider(n)).collect();
        // Half the providers pend their detach; a completer thread answers from elsewhere.
        let (pending_tx, pending_rx) = mpsc::channel::<&'static Binding>();
        let pending_tx = Mutex::new(pending_tx);
        let pending_tx = Arc::new(pending_tx);
        for p in providers.iter().step_by(2) {
            let tx = Arc::clone(&pending_tx);
            p.on_detach(move |b| {
                lock(&tx).send(b).unwrap();
                STATUS_PENDING
            });
        }
        let completer = thread::spawn(move || {
            for _ in 0..(N / 2) * N {
                recv(&pending_rx).complete();
            }
        });
        let modules: Vec<&'static Core> = clients
            .iter()
            .map(|c| c.core_ref())
            .chain(providers.iter().map(|p| p.core_ref()))
            .collect();
        let start = Arc::new(Barrier::new(modules.len()));
        let registering: Vec<_> = clients
            .iter()
            .map(|c| {
                let (c, start) = (*c, Arc::clone(&start));
                thread::spawn(move || {
                    start.wait();
                    c.register()
                })
            })
            .chain(providers.iter().map(|p| {
                let (p, start) = (*p, Arc::clone(&start));
                thread::spawn(move || {
                    start.wait();
                    p.register()
                })
            }))
            .collect();
        for t in registering {
            assert_eq!(t.join().unwrap(), STATUS_SUCCESS);
        }
        let names = fx.names();
        assert_eq!(names.len(), 2 * N * N, "round {round}: {names:?}");
        for c in CLIENTS {
            for p in PROVIDERS {
                assert_eq!(fx.log.count(&format!("{c}.attach({p})")), 1, "round {round}: {c}/{p}");
                assert_eq!(fx.log.count(&format!("{p}.attach({c})")), 1, "round {round}: {p}/{c}");
            }
        }
        let mut pairs: Vec<_> = fx.bindings().iter().map(|b| (b.client, b.provider)).collect();
        pairs.sort_unstable();
        pairs.dedup();
        assert_eq!(pairs.len(), N * N);

        let start = Arc::new(Barrier::new(modules.len()));
        let unloading: Vec<_> = modules
            .iter()
            .map(|m| {
                let (m, start) = (*m, Arc::clone(&start));
                thread::spawn(move || {
                    start.wait();
                    (m.deregister(), m.wait())
                })
            })
            .collect();
        for t in unloading {
            assert_eq!(t.join().unwrap(), (STATUS_PENDING, STATUS_SUCCESS), "round {round}");
        }
        completer.join().unwrap();
        for m in &modules {
            assert_eq!(m.bindings().len(), N, "round {round}: {}", m.name);
            for b in m.bindings() {
                assert_eq!(
                    (b.detaches(), b.cleanups()),
                    (1, 1),
                    "round {round}: {} with {}",
                    m.name,
                    b.peer
                );
            }
        }
        fx.assert_clean();
    }
}

#[test]
fn r33_a_modules_callbacks_for_different_bindings_run_concurrently() {
    let fx = Fx::new();
    // Two providers register at once on two threads; the client's attach callbacks for both
    // must be able to run at the same time, and so must the provider's two detach callbacks.
    let c = fx.client("C");
    let met = shared::<Vec<bool>>();
    let rendezvous = Rendezvous::new(2);
    let (r, m) = (rendezvous.clone(), met.clone());
    c.on_attach(move |a| {
        let together = r.arrive(SIGNAL_LIMIT / 2);
        lock(&m).push(together);
        a.attach()
    });
    assert_eq!(c.register(), STATUS_SUCCESS);
    let (p1, p2) = (fx.provider("P1"), fx.provider("P2"));
    let t: Vec<_> = [p1, p2].into_iter().map(|p| thread::spawn(move || p.register())).collect();
    for t in t {
        assert_eq!(t.join().unwrap(), STATUS_SUCCESS);
    }
    assert_eq!(*lock(&met), [true, true], "the client's attach callbacks were serialised");
    c.unload();
    for p in [p1, p2] {
        p.unload();
    }
    fx.take();

    let p = fx.provider("P");
    let (c1, c2) = (fx.client("C1"), fx.client("C2"));
    assert_eq!(p.register(), STATUS_SUCCESS);
    assert_eq!(c1.register(), STATUS_SUCCESS);
    assert_eq!(c2.register(), STATUS_SUCCESS);
    let met = shared::<Vec<bool>>();
    let rendezvous = Rendezvous::new(2);
    let (r, m) = (rendezvous.clone(), met.clone());
    p.on_detach(move |_| {
        let together = r.arrive(SIGNAL_LIMIT / 2);
        lock(&m).push(together);
        STATUS_SUCCESS
    });
    let t: Vec<_> = [c1, c2].into_iter().map(|c| thread::spawn(move || c.unload())).collect();
    for t in t {
        t.join().unwrap();
    }
    assert_eq!(*lock(&met), [true, true], "the provider's detach callbacks were serialised");
    p.unload();
    fx.take();
    fx.assert_clean();
}

// ----- R34 ----------------------------------------------------------------------------------

#[test]
fn r34_register_above_passive_level_is_refused() {
    let fx = Fx::new();
    let p = fx.provider("P");
    assert_eq!(p.register(), STATUS_SUCCESS);
    let (c, p2) = (fx.client("C"), fx.provider("P2"));
    assert_eq!(host::at_irql(Irql::Apc, || c.register()), STATUS_INVALID_DEVICE_STATE);
    assert_eq!(host::at_irql(Irql::Dispatch, || p2.register()), STATUS_INVALID_DEVICE_STATE);
    assert_eq!(host::irql(), Irql::Passive, "at_irql restores the level");
    assert_eq!(fx.take(), NOTHING);
    assert_eq!(host::registrations_of(&fx.npi).len(), 1);
    assert_eq!(fx.violations(), [ViolationKind::IrqlTooHigh, ViolationKind::IrqlTooHigh]);
    host::take_violations_of(&fx.npi);
    p.unload();
    fx.assert_clean();
}

#[test]
fn r34_wait_is_refused_at_dispatch_level_and_allowed_at_apc_level() {
    let fx = Fx::new();
    let c = fx.client("C");
    assert_eq!(c.register(), STATUS_SUCCESS);
    // NmrDeregister* is allowed up to DISPATCH_LEVEL.
    assert_eq!(host::at_irql(Irql::Dispatch, || c.deregister()), STATUS_PENDING);
    assert_eq!(host::at_irql(Irql::Dispatch, || c.wait()), STATUS_INVALID_DEVICE_STATE);
    assert_eq!(fx.violations(), [ViolationKind::IrqlTooHigh]);
    host::take_violations_of(&fx.npi);
    assert_eq!(host::at_irql(Irql::Apc, || c.wait()), STATUS_SUCCESS);
    fx.assert_clean();
}

#[test]
fn r34_attach_at_dispatch_level_is_refused_and_can_be_retried_at_passive() {
    let fx = Fx::new();
    let (p, c) = (fx.provider("P"), fx.client("C"));
    let statuses = shared::<Vec<NTSTATUS>>();
    let record = statuses.clone();
    c.on_attach(move |a| {
        let high = host::at_irql(Irql::Dispatch, || a.attach());
        let low = a.attach();
        lock(&record).extend([high, low]);
        low
    });
    assert_eq!(p.register(), STATUS_SUCCESS);
    assert_eq!(c.register(), STATUS_SUCCESS);
    assert_eq!(*lock(&statuses), [STATUS_INVALID_DEVICE_STATE, STATUS_SUCCESS]);
    assert_eq!(fx.take(), ["C.attach(P)", "P.attach(C)"], "the provider was called once");
    assert_eq!(fx.violations(), [ViolationKind::IrqlTooHigh]);
    host::take_violations_of(&fx.npi);
    c.unload();
    p.unload();
    fx.take();
    fx.assert_clean();
}

#[test]
fn r34_attach_at_passive_detach_and_cleanup_at_the_callers_level_completion_allowed_at_dispatch() {
    let fx = Fx::new();
    let (p, c) = (fx.provider("P"), fx.client("C"));
    c.detach_pending();
    assert_eq!(p.register(), STATUS_SUCCESS);
    assert_eq!(c.register(), STATUS_SUCCESS);
    assert!(fx.log.take_events().iter().all(|e| e.irql == Irql::Passive), "attach callbacks at P");
    assert_eq!(host::at_irql(Irql::Dispatch, || p.deregister()), STATUS_PENDING);
    let detaches = fx.log.take_events();
    assert_eq!(detaches.len(), 2);
    assert!(detaches.iter().all(|e| e.irql == Irql::Dispatch), "detach at the caller's IRQL");
    let b = c.binding("P");
    thread::spawn(move || host::at_irql(Irql::Dispatch, || b.complete())).join().unwrap();
    let cleanups = fx.log.take_events();
    assert_eq!(
        cleanups.iter().map(|e| e.what.as_str()).collect::<Vec<_>>(),
        ["C.cleanup(P)", "P.cleanup(C)"]
    );
    assert!(cleanups.iter().all(|e| e.irql == Irql::Dispatch), "cleanup at the completer's IRQL");
    assert_eq!(fx.violations(), [], "deregister and complete are allowed at DISPATCH_LEVEL");
    assert_eq!(p.wait(), STATUS_SUCCESS);
    c.unload();
    fx.assert_clean();
}

// ----- R35 ----------------------------------------------------------------------------------

#[test]
fn r35_a_client_keeps_one_binding_per_provider_and_each_detach_names_its_own() {
    let fx = Fx::new();
    let c = fx.client("C");
    assert_eq!(c.register(), STATUS_SUCCESS);
    let providers: Vec<_> = ["P1", "P2", "P3"].iter().map(|n| fx.provider(n)).collect();
    for p in &providers {
        assert_eq!(p.register(), STATUS_SUCCESS);
    }
    assert_eq!(c.bindings().len(), 3);
    fx.take();
    for (i, p) in providers.iter().enumerate() {
        p.unload();
        let events = fx.log.take_events();
        let own = c.binding(p.name);
        assert_eq!(events[0].what, format!("C.detach({})", p.name));
        assert_eq!(events[0].binding, own.handle, "the detach got this provider's binding context");
        assert_eq!(own.detaches(), 1);
        for later in &providers[i + 1..] {
            assert_eq!(c.binding(later.name).detaches(), 0, "{} untouched", later.name);
        }
    }
    c.unload();
    fx.assert_clean();
}
