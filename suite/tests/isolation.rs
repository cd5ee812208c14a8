//! Registrars of a test's own (`host::isolated`, `host::Registrar`): tests that register the
//! same real NPI id run in parallel without seeing each other; a handle finds its registrar from
//! any thread; a handle of another registrar is refused, never mixed up; whatever a scope
//! leaves registered is reported.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Barrier};
use std::thread;

use npi_runtime::host::Handle;
use npi_runtime::host::{self, HalfState, Registrar, ViolationKind};
use npi_runtime::sys::{self, STATUS_INVALID_PARAMETER};
use npi_runtime::{ClientRegistration, Npi, ProviderRegistration};
use npi_suite::real::Trace;
use npi_suite::real::wsk::{WskClient, WskProvider};
use npi_wsk::Wsk;

/// Two "tests" at once, each in its own registrar, both registering a WSK provider and client
/// under the one real WSK id. Each must see exactly its own pair bound, while the other pair is
/// registered at the same moment; the default registrar sees neither.
#[test]
fn two_parallel_tests_register_the_same_real_npi_id_without_seeing_each_other() {
    // Both scopes and this thread meet while both pairs are registered.
    let registered = Arc::new(Barrier::new(3));
    let checked = Arc::new(Barrier::new(3));
    let scopes: Vec<_> = (0..2)
        .map(|_| {
            let (registered, checked) = (Arc::clone(&registered), Arc::clone(&checked));
            thread::spawn(move || {
                host::isolated(|| {
                    let trace = Arc::new(Trace::new());
                    let provider = Arc::new(WskProvider::new(1, Arc::clone(&trace)));
                    let p = ProviderRegistration::register(Arc::clone(&provider)).unwrap();
                    let client = Arc::new(WskClient::new(Arc::clone(&trace)));
                    let c = ClientRegistration::register(Arc::clone(&client)).unwrap();
                    registered.wait();

                    // Only this scope's two registrations and one binding, between them.
                    let regs = host::registrations_of(&Wsk::ID);
                    assert_eq!(regs.len(), 2, "{regs:?}");
                    let handles: Vec<_> = regs.iter().map(|r| r.handle).collect();
                    assert_eq!(handles, [p.handle(), c.handle()]);
                    let bindings = host::bindings_of(&Wsk::ID);
                    assert_eq!(bindings.len(), 1, "{bindings:?}");
                    assert_eq!(
                        (bindings[0].provider, bindings[0].client),
                        (Handle::from(p.handle()), Handle::from(c.handle()))
                    );
                    // Each provider was offered this scope's client only, and vice versa.
                    assert_eq!(provider.attached.load(Ordering::SeqCst), 1);
                    assert_eq!(client.tries().len(), 1);
                    assert_eq!(client.transport_list_size(), Ok(0));
                    checked.wait();

                    drop(c);
                    drop(p);
                    assert!(host::registrations_of(&Wsk::ID).is_empty());
                    assert!(host::violations().is_empty(), "{:?}", host::violations());
                    (provider.cleaned.load(Ordering::SeqCst), client.cleaned.load(Ordering::SeqCst))
                })
            })
        })
        .collect();
    registered.wait();
    // This thread entered no registrar: the default one has none of the four registrations.
    assert!(Registrar::current().is_none());
    assert!(host::registrations_of(&Wsk::ID).is_empty());
    checked.wait();
    for scope in scopes {
        assert_eq!(scope.join().unwrap(), (1, 1), "each binding cleaned up on both sides");
    }
}

/// A pending detach completed by a worker that never entered the registrar: the completion
/// finds the registrar from the binding handle.
#[test]
fn a_worker_that_never_entered_completes_a_pending_detach_in_its_registrar() {
    host::isolated(|| {
        let trace = Arc::new(Trace::new());
        let provider = Arc::new(WskProvider::new(1, Arc::clone(&trace)));
        let p = ProviderRegistration::register(Arc::clone(&provider)).unwrap();
        let client = Arc::new(WskClient::new(Arc::clone(&trace)));
        let c = ClientRegistration::register(Arc::clone(&client)).unwrap();
        let socket = client.open_socket().expect("a socket");

        // The provider deregisters on a plain thread: its detach pends on the open socket.
        let deregister = thread::spawn(move || p.deregister());
        while host::bindings_of(&Wsk::ID).first().map(|b| b.provider_half)
            != Some(HalfState::Pending)
        {
            thread::yield_now();
        }
        // A worker with no registrar closes the last socket, completing the detach.
        let worker = thread::spawn(move || {
            assert!(Registrar::current().is_none(), "the worker entered nothing");
            drop(socket);
        });
        worker.join().unwrap();
        assert_eq!(deregister.join().unwrap(), Ok(()));
        assert_eq!(provider.cleaned.load(Ordering::SeqCst), 1);
        drop(c);
        assert!(host::violations().is_empty(), "{:?}", host::violations());
    });
}

/// A thread inside one registrar passing a handle of another: `STATUS_INVALID_PARAMETER` and a
/// `ForeignHandle` violation in the caller's registrar; the other registrar is untouched.
#[test]
fn a_handle_of_another_registrar_is_refused_with_a_violation() {
    let (a, b) = (Registrar::new(), Registrar::new());
    assert_ne!(a.id(), b.id());
    let provider = Arc::new(WskProvider::new(1, Arc::new(Trace::new())));
    let p = a.run(|| ProviderRegistration::register(Arc::clone(&provider)).unwrap());
    let handle = p.handle();

    b.run(|| {
        // SAFETY: any handle value is accepted; this one is refused.
        let status = unsafe { sys::NmrDeregisterProvider(handle) };
        assert_eq!(status, STATUS_INVALID_PARAMETER);
        // SAFETY: as above.
        let status = unsafe { sys::NmrWaitForProviderDeregisterComplete(handle) };
        assert_eq!(status, STATUS_INVALID_PARAMETER);
        let err = host::wait_for_deregister_complete(handle, std::time::Duration::from_secs(1));
        assert!(matches!(err, Err(host::WaitError::Status(STATUS_INVALID_PARAMETER))), "{err:?}");
    });
    let kinds: Vec<_> = b.violations().iter().map(|v| (v.kind, v.handle)).collect();
    assert_eq!(kinds, [(ViolationKind::ForeignHandle, Handle::from(handle)); 3]);
    assert!(a.violations().is_empty(), "{:?}", a.violations());
    let regs = a.registrations();
    assert_eq!(regs.len(), 1);
    assert!(!regs[0].deregistering, "the foreign call did not deregister it");
    assert!(b.registrations().is_empty());

    // Dropped on this thread, which entered neither: the handle leads to `a`.
    drop(p);
    assert!(a.check_clean().is_ok());
    assert!(a.violations().is_empty(), "{:?}", a.violations());
}

/// Registrations land in the registrar entered on the registering thread, nested scopes
/// included; a handle of a registrar that is gone is a bad handle, never another's.
#[test]
fn entering_nests_and_a_gone_registrar_has_no_live_handles() {
    let outer = Registrar::new();
    let inner = Registrar::new();
    let provider = Arc::new(WskProvider::new(1, Arc::new(Trace::new())));
    let p = outer.run(|| {
        assert_eq!(Registrar::current().map(|r| r.id()), Some(outer.id()));
        let p = inner.run(|| {
            assert_eq!(Registrar::current().map(|r| r.id()), Some(inner.id()));
            ProviderRegistration::register(Arc::clone(&provider)).unwrap()
        });
        assert_eq!(Registrar::current().map(|r| r.id()), Some(outer.id()), "restored");
        assert!(outer.registrations().is_empty());
        assert_eq!(inner.registrations().len(), 1);
        p
    });
    assert!(Registrar::current().is_none());
    let stale = p.handle();
    inner.run(|| drop(p));
    assert!(inner.check_clean().is_ok());
    assert!(inner.violations().is_empty() && outer.violations().is_empty());
    drop(inner);

    // From a fresh registrar, the stale handle is foreign (it names another registrar) ...
    let third = Registrar::new();
    // SAFETY: any handle value is accepted; a stale one is refused.
    let status = third.run(|| unsafe { sys::NmrDeregisterProvider(stale) });
    assert_eq!(status, STATUS_INVALID_PARAMETER);
    assert_eq!(third.violations()[0].kind, ViolationKind::ForeignHandle);
    // ... and from a thread that entered none it reaches no registrar's live handle.
    let probe = Registrar::new();
    let stale = stale.addr();
    let status = thread::spawn(move || {
        // SAFETY: as above.
        unsafe { sys::NmrDeregisterProvider(std::ptr::without_provenance_mut(stale)) }
    })
    .join()
    .unwrap();
    assert_eq!(status, STATUS_INVALID_PARAMETER);
    assert!(probe.violations().is_empty() && outer.violations().is_empty());
}

/// What a scope leaves registered is reported when it ends, with what its wait would wait for.
#[test]
fn leftovers_at_the_end_of_a_scope_are_reported() {
    let registrar = Registrar::new();
    let trace = Arc::new(Trace::new());
    let (p, c) = registrar.run(|| {
        let provider = Arc::new(WskProvider::new(1, Arc::clone(&trace)));
        let p = ProviderRegistration::register(provider).unwrap();
        let client = Arc::new(WskClient::new(Arc::clone(&trace)));
        (p, ClientRegistration::register(client).unwrap())
    });
    let leftovers = registrar.check_clean().unwrap_err();
    assert_eq!(leftovers.registrations.len(), 2);
    assert_eq!(leftovers.bindings.len(), 1);
    let report = leftovers.to_string();
    assert!(report.contains("still holds 2 registration(s) and 1 binding(s)"), "{report}");
    drop((c, p));
    assert!(registrar.check_clean().is_ok());

    // `isolated` turns leftovers into a panic naming them; the registration handed out of the
    // scope is then deregistered while the panic unwinds.
    let panic = catch_unwind(AssertUnwindSafe(|| {
        host::isolated(|| {
            let provider = Arc::new(WskProvider::new(1, Arc::new(Trace::new())));
            ProviderRegistration::register(provider).unwrap()
        })
    }))
    .unwrap_err();
    let message = panic.downcast_ref::<String>().expect("a formatted message");
    assert!(message.contains("still holds 1 registration(s) and 0 binding(s)"), "{message}");
    assert!(host::registrations_of(&Wsk::ID).is_empty(), "nothing leaked into the default");
}

// A provider that records, in its callbacks, which registrar the thread is in.

/// The provider's table.
#[npi_runtime::dispatch_table]
struct ScopeProviderDispatch {
    /// Version.
    version: u16,
    /// Does nothing.
    ping: fn(#[context] binding: *mut core::ffi::c_void),
}

/// The client's table.
#[npi_runtime::dispatch_table]
struct ScopeClientDispatch {
    /// Version.
    version: u16,
    /// Does nothing.
    ping: fn(#[context] binding: *mut core::ffi::c_void),
}

#[npi_runtime::npi(
    id = "15017000-0000-4000-8000-000000000001",
    client_dispatch = ScopeClientDispatch,
    provider_dispatch = ScopeProviderDispatch
)]
struct ScopeNpi;
// SAFETY: the only declaration of this id in the program; its types are its layouts.
unsafe impl npi_runtime::NpiLayout for ScopeNpi {}

#[npi_runtime::npi_provider(npi = ScopeNpi, module_id = "15017000-0000-4000-8000-0000000000A1")]
struct ScopeProvider {
    pending: std::sync::Mutex<Option<npi_runtime::ProviderPendingDetach<ScopeProvider>>>,
    /// (callback, registrar entered on its thread, registrations that registrar lists).
    seen: std::sync::Mutex<Vec<(&'static str, Option<usize>, usize)>>,
}

impl ScopeProvider {
    fn note(&self, callback: &'static str) {
        let registrar = Registrar::current().map(|r| r.id());
        let listed = host::registrations_of(&<ScopeNpi as Npi>::ID).len();
        self.seen.lock().unwrap().push((callback, registrar, listed));
    }
}

impl npi_runtime::Provider for ScopeProvider {
    type Binding = ();

    fn attach(&self, request: npi_runtime::ProviderAttachRequest<'_, Self>) -> npi_runtime::Attach {
        self.note("attach");
        request.accept((), &SCOPE_PROVIDER_TABLE).into()
    }

    fn detach(
        &self,
        _: &npi_runtime::ProviderBinding<'_, Self>,
        request: npi_runtime::ProviderDetachRequest<'_, Self>,
    ) -> npi_runtime::Detach {
        self.note("detach");
        let (answer, pending) = request.pend();
        *self.pending.lock().unwrap() = Some(pending);
        answer
    }

    fn cleanup(&self, (): &()) {
        self.note("cleanup");
    }
}

impl ScopeProviderDispatchImpl for ScopeProvider {
    fn ping(_: &npi_runtime::ProviderBinding<'_, ScopeProvider>) {}
}

static SCOPE_PROVIDER_TABLE: npi_runtime::ProviderTable<ScopeProvider> =
    ScopeProviderDispatch::new::<ScopeProvider>(1);

#[npi_runtime::npi_client(npi = ScopeNpi, module_id = "15017000-0000-4000-8000-0000000000C1")]
struct ScopeClient;

impl npi_runtime::Client for ScopeClient {
    type Binding = ();

    fn attach(&self, request: npi_runtime::ClientAttachRequest<'_, Self>) -> npi_runtime::Attach {
        request.accept((), &SCOPE_CLIENT_TABLE).into()
    }

    fn detach(
        &self,
        _: &npi_runtime::ClientBinding<'_, Self>,
        request: npi_runtime::ClientDetachRequest<'_, Self>,
    ) -> npi_runtime::Detach {
        request.done()
    }
}

impl ScopeClientDispatchImpl for ScopeClient {
    fn ping(_: &npi_runtime::ClientBinding<'_, ScopeClient>) {}
}

static SCOPE_CLIENT_TABLE: npi_runtime::ClientTable<ScopeClient> =
    ScopeClientDispatch::new::<ScopeClient>(1);

/// Callbacks run with their registrar entered, even on a thread that never entered it: the
/// cleanup that a worker's completion sets off sees the test's registrar, not the default one.
#[test]
fn callbacks_run_in_their_registrar_on_any_thread() {
    let registrar = Registrar::new();
    let provider = Arc::new(ScopeProvider {
        pending: std::sync::Mutex::new(None),
        seen: std::sync::Mutex::new(Vec::new()),
    });
    let (p, c) = registrar.run(|| {
        let p = ProviderRegistration::register(Arc::clone(&provider)).unwrap();
        (p, ClientRegistration::register(Arc::new(ScopeClient)).unwrap())
    });
    // Deregistered from this thread, which entered nothing: the detach callback runs here.
    let unload = thread::spawn(move || p.deregister());
    let pending = loop {
        if let Some(pending) = provider.pending.lock().unwrap().take() {
            break pending;
        }
        thread::yield_now();
    };
    // A worker that entered nothing completes it: the cleanups run on the worker.
    thread::spawn(move || pending.complete()).join().unwrap();
    assert_eq!(unload.join().unwrap(), Ok(()));
    drop(c);
    let id = Some(registrar.id());
    assert_eq!(
        *provider.seen.lock().unwrap(),
        [("attach", id, 2), ("detach", id, 2), ("cleanup", id, 2)],
        "each callback saw the test's registrar and its two registrations (the default has none)"
    );
    assert!(registrar.check_clean().is_ok());
    assert!(registrar.violations().is_empty(), "{:?}", registrar.violations());
}
