//! Bad input and contract breaches (OQ-6, OQ-7..OQ-11, OQ-14, OQ-17): each is refused or
//! absorbed with the documented status, runs no callback it should not, leaves the NMR's state
//! as it was, and is recorded as a violation of the right kind.

use std::ptr;
use std::thread;

use npi_runtime::host::{self, BindingState, HalfState, Side as Role, ViolationKind, WaitError};
use npi_runtime::sys::*;

use crate::support::*;

use ViolationKind::*;

fn bound(fx: &Fx) -> (&'static Client, &'static Provider) {
    let (c, p) = (fx.client("C"), fx.provider("P"));
    assert_eq!(p.register(), STATUS_SUCCESS);
    assert_eq!(c.register(), STATUS_SUCCESS);
    assert_eq!(fx.take(), ["C.attach(P)", "P.attach(C)"]);
    (c, p)
}

/// How a refused registration is checked: the NPI the violation must name, if any.
#[derive(Clone, Copy, PartialEq)]
enum Names {
    TheNpi,
    NoNpi,
}

const SENTINEL: usize = 0x5EED_0000;

/// Registers a counterpart (so that an accepted registration would run callbacks at once),
/// then the edited module, and checks the refusal.
fn client_refused(names: Names, edit: impl FnOnce(&mut NPI_CLIENT_CHARACTERISTICS)) {
    let fx = Fx::new();
    let p = fx.provider("P");
    assert_eq!(p.register(), STATUS_SUCCESS);
    let c = fx.client("C");
    c.edit(edit);
    let mut out = handle(SENTINEL);
    let mut status = STATUS_SUCCESS;
    let npi_less = npi_less_violations(InvalidCharacteristics, "NmrRegisterClient", || {
        status = c.register_raw(c.context(), &mut out);
    });
    refused(&fx, names, status, out.addr(), npi_less);
    p.unload();
    fx.assert_clean();
}

fn provider_refused(names: Names, edit: impl FnOnce(&mut NPI_PROVIDER_CHARACTERISTICS)) {
    let fx = Fx::new();
    let c = fx.client("C");
    assert_eq!(c.register(), STATUS_SUCCESS);
    let p = fx.provider("P");
    p.edit(edit);
    let mut out = handle(SENTINEL);
    let mut status = STATUS_SUCCESS;
    let npi_less = npi_less_violations(InvalidCharacteristics, "NmrRegisterProvider", || {
        status = p.register_raw(p.context(), &mut out);
    });
    refused(&fx, names, status, out.addr(), npi_less);
    c.unload();
    fx.assert_clean();
}

fn refused(fx: &Fx, names: Names, status: NTSTATUS, out: usize, npi_less: usize) {
    assert_eq!(status, STATUS_INVALID_PARAMETER);
    assert_eq!(out, SENTINEL, "no handle is produced");
    assert_eq!(fx.take(), NOTHING, "no callback ran");
    assert_eq!(host::registrations_of(&fx.npi).len(), 1, "only the counterpart is registered");
    match names {
        Names::TheNpi => {
            assert_eq!(fx.violations(), [InvalidCharacteristics]);
            host::take_violations_of(&fx.npi);
        }
        Names::NoNpi => assert_eq!((npi_less, fx.violations()), (1, vec![])),
    }
}

// ----- NmrRegister* (R1, OQ-6) ----------------------------------------------------------------

#[test]
fn bad_null_characteristics_are_invalid_parameter() {
    for role in [Role::Client, Role::Provider] {
        let mut out = handle(SENTINEL);
        let function =
            if role == Role::Client { "NmrRegisterClient" } else { "NmrRegisterProvider" };
        let mut status = STATUS_SUCCESS;
        let recorded = npi_less_violations(InvalidCharacteristics, function, || {
            // SAFETY: NULL characteristics are refused before anything is read.
            status = unsafe {
                if role == Role::Client {
                    NmrRegisterClient(ptr::null(), ptr::null_mut(), &mut out)
                } else {
                    NmrRegisterProvider(ptr::null(), ptr::null_mut(), &mut out)
                }
            };
        });
        assert_eq!(status, STATUS_INVALID_PARAMETER, "{role:?}");
        assert_eq!(out.addr(), SENTINEL, "{role:?}");
        assert_eq!(recorded, 1, "{role:?}");
    }
}

#[test]
fn bad_null_npi_id_is_invalid_parameter() {
    client_refused(Names::NoNpi, |ch| ch.ClientRegistrationInstance.NpiId = ptr::null());
    provider_refused(Names::NoNpi, |ch| ch.ProviderRegistrationInstance.NpiId = ptr::null());
}

#[test]
fn bad_null_module_id_is_invalid_parameter() {
    client_refused(Names::TheNpi, |ch| ch.ClientRegistrationInstance.ModuleId = ptr::null());
    provider_refused(Names::TheNpi, |ch| ch.ProviderRegistrationInstance.ModuleId = ptr::null());
}

#[test]
fn bad_null_attach_callback_is_invalid_parameter() {
    client_refused(Names::TheNpi, |ch| ch.ClientAttachProvider = None);
    provider_refused(Names::TheNpi, |ch| ch.ProviderAttachClient = None);
}

#[test]
fn bad_null_detach_callback_is_invalid_parameter() {
    client_refused(Names::TheNpi, |ch| ch.ClientDetachProvider = None);
    provider_refused(Names::TheNpi, |ch| ch.ProviderDetachClient = None);
}

#[test]
fn bad_length_smaller_than_the_characteristics_is_invalid_parameter() {
    // Fields past a short Length may not exist, so the NMR cannot know the NPI yet.
    let short = u16::try_from(size_of::<NPI_CLIENT_CHARACTERISTICS>() - 1).unwrap();
    client_refused(Names::NoNpi, |ch| ch.Length = short);
    client_refused(Names::NoNpi, |ch| ch.Length = 0);
    provider_refused(Names::NoNpi, |ch| ch.Length = short);
}

#[test]
fn bad_size_smaller_than_the_registration_instance_is_invalid_parameter() {
    let short = u16::try_from(size_of::<NPI_REGISTRATION_INSTANCE>() - 1).unwrap();
    client_refused(Names::TheNpi, |ch| ch.ClientRegistrationInstance.Size = short);
    provider_refused(Names::TheNpi, |ch| ch.ProviderRegistrationInstance.Size = 0);
}

#[test]
fn bad_null_handle_out_pointer_is_invalid_parameter_and_names_the_npi() {
    let fx = Fx::new();
    let p = fx.provider("P");
    assert_eq!(p.register(), STATUS_SUCCESS);
    let c = fx.client("C");
    let mut status = STATUS_SUCCESS;
    // Counted with the NPI-less ones, so that a violation without the NPI cannot disturb the
    // tests that count those.
    npi_less_violations(InvalidCharacteristics, "NmrRegisterClient", || {
        status = c.register_raw(c.context(), ptr::null_mut());
    });
    assert_eq!(status, STATUS_INVALID_PARAMETER);
    assert_eq!(fx.take(), NOTHING, "no callback ran");
    assert_eq!(host::registrations_of(&fx.npi).len(), 1);
    p.unload();
    // The characteristics are complete and valid, so the violation can and should name their
    // NPI (violations_of and set_strict select by NPI).
    assert_eq!(fx.violations(), [InvalidCharacteristics]);
    host::take_violations_of(&fx.npi);
    fx.assert_clean();
}

#[test]
fn oq06_any_registration_instance_version_is_accepted_without_a_violation() {
    let fx = Fx::new();
    let (c, p) = (fx.client("C"), fx.provider("P"));
    c.edit(|ch| ch.ClientRegistrationInstance.Version = 1); // XDP_BINDING_VERSION_1
    p.edit(|ch| ch.ProviderRegistrationInstance.Version = 0xFFFF);
    assert_eq!(p.register(), STATUS_SUCCESS);
    assert_eq!(c.register(), STATUS_SUCCESS);
    assert_eq!(fx.take(), ["C.attach(P)", "P.attach(C)"]);
    c.unload();
    p.unload();
    fx.take();
    fx.assert_clean();
}

#[test]
fn oq06_a_non_zero_characteristics_version_is_accepted_with_a_warning() {
    let fx = Fx::new();
    let (c, p) = (fx.client("C"), fx.provider("P"));
    c.edit(|ch| ch.Version = 1);
    p.edit(|ch| ch.Version = 0xFFFF);
    assert_eq!(p.register(), STATUS_SUCCESS);
    assert_eq!(c.register(), STATUS_SUCCESS);
    assert_eq!(fx.take(), ["C.attach(P)", "P.attach(C)"]);
    assert_eq!(fx.violations(), [NonZeroCharacteristicsVersion, NonZeroCharacteristicsVersion]);
    host::take_violations_of(&fx.npi);
    c.unload();
    p.unload();
    fx.take();
    fx.assert_clean();
}

// ----- NmrDeregister* / NmrWaitFor* (R25, OQ-14, OQ-17) ---------------------------------------

#[test]
fn bad_wait_before_deregister_is_invalid_parameter_and_changes_nothing() {
    let fx = Fx::new();
    let (c, p) = bound(&fx);
    assert_eq!(raw_wait(Role::Client, c.handle_value()), STATUS_INVALID_PARAMETER);
    assert_eq!(raw_wait(Role::Provider, p.handle_value()), STATUS_INVALID_PARAMETER);
    assert!(matches!(c.wait_for(SHORT), Err(WaitError::Status(STATUS_INVALID_PARAMETER))));
    assert_eq!(fx.violations(), [WaitWithoutDeregister; 3]);
    host::take_violations_of(&fx.npi);
    assert_eq!(fx.take(), NOTHING);
    assert_eq!(fx.bindings()[0].state, BindingState::Established);
    assert!(host::registrations_of(&fx.npi).iter().all(|r| !r.deregistering));
    c.unload();
    p.unload();
    fx.take();
    fx.assert_clean();
}

/// An NMR entry point taking one handle, with its name.
type HandleCall = (&'static str, fn(HANDLE) -> NTSTATUS);

#[test]
fn bad_bogus_and_null_handles_are_invalid_parameter() {
    const BOGUS: usize = 0x12345;
    for h in [BOGUS, 0] {
        let calls: [HandleCall; 4] = [
            // SAFETY: any handle value is accepted.
            ("NmrDeregisterClient", |h| unsafe { NmrDeregisterClient(h) }),
            // SAFETY: as above.
            ("NmrDeregisterProvider", |h| unsafe { NmrDeregisterProvider(h) }),
            // SAFETY: as above.
            ("NmrWaitForClientDeregisterComplete", |h| unsafe {
                NmrWaitForClientDeregisterComplete(h)
            }),
            // SAFETY: as above.
            ("NmrWaitForProviderDeregisterComplete", |h| unsafe {
                NmrWaitForProviderDeregisterComplete(h)
            }),
        ];
        for (function, call) in calls {
            let count = || {
                host::violations()
                    .iter()
                    .filter(|v| {
                        v.handle.value() == h && v.function == function && v.kind == BadHandle
                    })
                    .count()
            };
            let before = count();
            assert_eq!(call(handle(h)), STATUS_INVALID_PARAMETER, "{function}({h:#x})");
            assert_eq!(count(), before + 1, "{function}({h:#x}) recorded as BadHandle");
        }
    }
    assert!(matches!(
        host::wait_for_deregister_complete(handle(BOGUS), SHORT),
        Err(WaitError::Status(STATUS_INVALID_PARAMETER))
    ));
}

#[test]
fn bad_stale_handles_after_the_wait_are_invalid_parameter() {
    let fx = Fx::new();
    let (c, p) = bound(&fx);
    c.unload();
    p.unload();
    fx.take();
    for (m, role) in [(c.core_ref(), Role::Client), (p.core_ref(), Role::Provider)] {
        let h = m.handle_value();
        assert_eq!(m.deregister(), STATUS_INVALID_PARAMETER, "{}", m.name);
        assert_eq!(raw_wait(role, h), STATUS_INVALID_PARAMETER, "{}", m.name);
        assert_eq!(violations_with_handle(h), [BadHandle, BadHandle], "{}", m.name);
    }
    assert_eq!(fx.take(), NOTHING);
    fx.assert_clean();
}

#[test]
fn bad_wrong_kind_registration_handles_are_invalid_parameter_and_change_nothing() {
    let fx = Fx::new();
    let (c, p) = bound(&fx);
    let (ch, ph) = (c.handle(), p.handle());
    // SAFETY: any handle value is accepted.
    unsafe {
        assert_eq!(NmrDeregisterProvider(ch), STATUS_INVALID_PARAMETER);
        assert_eq!(NmrDeregisterClient(ph), STATUS_INVALID_PARAMETER);
    }
    assert_eq!(fx.take(), NOTHING, "nothing detached");
    assert!(host::registrations_of(&fx.npi).iter().all(|r| !r.deregistering));
    assert_eq!(fx.bindings()[0].state, BindingState::Established);
    assert_eq!(c.deregister(), STATUS_PENDING);
    assert_eq!(p.deregister(), STATUS_PENDING);
    fx.take();
    // SAFETY: as above.
    unsafe {
        assert_eq!(NmrWaitForProviderDeregisterComplete(ch), STATUS_INVALID_PARAMETER);
        assert_eq!(NmrWaitForClientDeregisterComplete(ph), STATUS_INVALID_PARAMETER);
    }
    assert_eq!(fx.violations(), [WrongHandleKind; 4]);
    host::take_violations_of(&fx.npi);
    assert_eq!(c.wait(), STATUS_SUCCESS);
    assert_eq!(p.wait(), STATUS_SUCCESS);
    fx.assert_clean();
}

#[test]
fn bad_binding_handles_given_to_registration_functions_are_invalid_parameter() {
    let fx = Fx::new();
    let (c, p) = bound(&fx);
    let b = c.binding("P").handle;
    // SAFETY: any handle value is accepted.
    unsafe {
        assert_eq!(NmrDeregisterClient(handle(b)), STATUS_INVALID_PARAMETER);
        assert_eq!(NmrDeregisterProvider(handle(b)), STATUS_INVALID_PARAMETER);
        assert_eq!(NmrWaitForClientDeregisterComplete(handle(b)), STATUS_INVALID_PARAMETER);
        assert_eq!(NmrWaitForProviderDeregisterComplete(handle(b)), STATUS_INVALID_PARAMETER);
    }
    assert!(matches!(
        host::wait_for_deregister_complete(handle(b), SHORT),
        Err(WaitError::Status(_))
    ));
    assert_eq!(fx.take(), NOTHING);
    assert_eq!(fx.bindings()[0].state, BindingState::Established);
    assert_eq!(violations_with_handle(b), [WrongHandleKind; 5]);
    c.unload();
    p.unload();
    fx.take();
    // A live binding handle names its NPI; so does a live registration handle given to a
    // completion. Recording these without the NPI hides them from violations_of and strict mode.
    let named: Vec<_> =
        host::violations_of(&fx.npi).into_iter().map(|v| (v.kind, v.handle.value())).collect();
    assert_eq!(named, [(WrongHandleKind, b); 5]);
}

#[test]
fn bad_registration_handle_given_to_a_completion_is_recorded_against_its_npi() {
    let fx = Fx::new();
    let (c, p) = bound(&fx);
    complete(Role::Client, c.handle_value());
    complete(Role::Provider, p.handle_value());
    assert_eq!(fx.take(), NOTHING);
    assert_eq!(violations_with_handle(c.handle_value()), [WrongHandleKind]);
    assert_eq!(violations_with_handle(p.handle_value()), [WrongHandleKind]);
    c.unload();
    p.unload();
    fx.take();
    assert_eq!(fx.violations(), [WrongHandleKind; 2], "a live registration handle names its NPI");
}

#[test]
fn bad_second_deregister_is_invalid_parameter_and_detaches_nothing_again() {
    let fx = Fx::new();
    let (c, p) = bound(&fx);
    c.detach_pending();
    assert_eq!(c.deregister(), STATUS_PENDING);
    assert_eq!(fx.take(), ["C.detach(P)", "P.detach(C)"]);
    assert_eq!(c.deregister(), STATUS_INVALID_PARAMETER);
    assert_eq!(fx.take(), NOTHING);
    assert_eq!(fx.violations(), [DeregisterTwice]);
    host::take_violations_of(&fx.npi);
    c.binding("P").complete();
    assert_eq!(c.wait(), STATUS_SUCCESS);
    p.unload();
    assert_eq!(fx.take(), ["C.cleanup(P)", "P.cleanup(C)"]);
    fx.assert_clean();
}

#[test]
fn oq14_a_second_concurrent_wait_is_invalid_parameter() {
    let fx = Fx::new();
    let (c, p) = bound(&fx);
    c.detach_pending();
    assert_eq!(c.deregister(), STATUS_PENDING);
    let first = thread::spawn(move || c.wait());
    thread::sleep(SHORT);
    // Should the first waiter not be waiting yet, this one would block: complete then, so
    // that the test fails instead of hanging.
    let (tx, rx) = std::sync::mpsc::channel();
    thread::spawn(move || tx.send(raw_wait(Role::Client, c.handle_value())).unwrap());
    let second = rx.recv_timeout(SIGNAL_LIMIT);
    c.binding("P").complete();
    assert_eq!(second, Ok(STATUS_INVALID_PARAMETER));
    assert_eq!(first.join().unwrap(), STATUS_SUCCESS);
    assert_eq!(fx.violations(), [WaitWithoutDeregister]);
    host::take_violations_of(&fx.npi);
    p.unload();
    fx.take();
    fx.assert_clean();
}

// ----- Nmr*DetachComplete (R20, OQ-11) ----------------------------------------------------------

#[test]
fn bad_completion_with_a_bogus_handle_is_recorded_and_changes_nothing() {
    let fx = Fx::new();
    let (c, p) = bound(&fx);
    p.detach_pending();
    assert_eq!(c.deregister(), STATUS_PENDING);
    fx.take();
    const BOGUS: usize = 0x7E57_0003;
    complete(Role::Provider, BOGUS);
    complete(Role::Client, 0);
    assert_eq!(violations_with_handle(BOGUS), [BadHandle]);
    assert!(host::violations().iter().any(|v| v.handle.is_null()
        && v.kind == BadHandle
        && v.function == "NmrClientDetachProviderComplete"));
    assert_eq!(fx.take(), NOTHING, "no cleanup");
    let listed = fx.bindings();
    assert_eq!(
        (listed[0].state, listed[0].provider_half),
        (BindingState::Detaching, HalfState::Pending)
    );
    p.binding("C").complete();
    assert_eq!(fx.take(), ["C.cleanup(P)", "P.cleanup(C)"]);
    assert_eq!(c.wait(), STATUS_SUCCESS);
    p.unload();
    fx.assert_clean();
}

#[test]
fn bad_completing_twice_while_the_other_half_pends_is_ignored_and_recorded() {
    let fx = Fx::new();
    let (c, p) = bound(&fx);
    c.detach_pending();
    p.detach_pending();
    assert_eq!(c.deregister(), STATUS_PENDING);
    fx.take();
    c.binding("P").complete();
    c.binding("P").complete();
    assert_eq!(fx.take(), NOTHING);
    assert_eq!(fx.violations(), [CompleteTwice]);
    host::take_violations_of(&fx.npi);
    let listed = fx.bindings();
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
fn bad_completing_again_after_the_binding_is_gone_is_recorded_and_cleans_up_nothing_twice() {
    let fx = Fx::new();
    let (c, p) = bound(&fx);
    c.detach_pending();
    assert_eq!(c.deregister(), STATUS_PENDING);
    let b = c.binding("P");
    b.complete();
    assert_eq!(c.wait(), STATUS_SUCCESS);
    fx.take();
    b.complete();
    p.binding("C").complete();
    assert_eq!(fx.take(), NOTHING);
    assert_eq!(violations_with_handle(b.handle), [BadHandle, BadHandle]);
    assert_eq!((b.cleanups(), p.binding("C").cleanups()), (1, 1));
    p.unload();
    fx.assert_clean();
}

#[test]
fn oq11_completion_before_the_detach_began_counts_once_the_callback_pends() {
    let fx = Fx::new();
    let (c, p) = bound(&fx);
    // The provider's worker finishes early (XdpCleanupProvider may complete before deregistering).
    p.binding("C").complete();
    assert_eq!(fx.violations(), [CompleteBeforeDetach]);
    host::take_violations_of(&fx.npi);
    assert_eq!(fx.bindings()[0].state, BindingState::Established, "no detach began");
    assert_eq!(fx.take(), NOTHING);
    p.detach_pending();
    assert_eq!(p.deregister(), STATUS_PENDING);
    assert_eq!(fx.take(), ["C.detach(P)", "P.detach(C)", "C.cleanup(P)", "P.cleanup(C)"]);
    assert_eq!(p.wait(), STATUS_SUCCESS);
    c.unload();
    fx.assert_clean();
}

#[test]
fn oq11_completion_before_the_own_detach_callback_was_invoked_counts_with_a_warning() {
    let fx = Fx::new();
    let (c, p) = bound(&fx);
    // The client deregisters; while the client's detach runs (the provider's has not been
    // called yet), the provider's worker completes the provider's half.
    let pb = p.binding("C");
    c.on_detach(move |_| {
        pb.complete();
        STATUS_SUCCESS
    });
    p.detach_pending();
    assert_eq!(c.deregister(), STATUS_PENDING);
    assert_eq!(fx.take(), ["C.detach(P)", "P.detach(C)", "C.cleanup(P)", "P.cleanup(C)"]);
    assert_eq!(c.wait(), STATUS_SUCCESS);
    p.unload();
    assert_eq!(fx.violations(), [CompleteBeforeDetach], "OQ-11: before invocation is a warning");
}

#[test]
fn oq10_a_detach_status_other_than_success_or_pending_is_treated_as_success() {
    let fx = Fx::new();
    let (c, p) = bound(&fx);
    c.detach_returns(STATUS_UNSUCCESSFUL);
    p.detach_returns(STATUS_NOINTERFACE);
    assert_eq!(c.deregister(), STATUS_PENDING);
    assert_eq!(fx.take(), ["C.detach(P)", "P.detach(C)", "C.cleanup(P)", "P.cleanup(C)"]);
    assert_eq!(fx.violations(), [BadDetachStatus, BadDetachStatus]);
    let functions: Vec<_> =
        host::take_violations_of(&fx.npi).into_iter().map(|v| v.function).collect();
    assert_eq!(functions, ["ClientDetachProvider", "ProviderDetachClient"]);
    assert_eq!(c.wait(), STATUS_SUCCESS);
    p.unload();
    fx.assert_clean();
}

// ----- NmrClientAttachProvider (OQ-9) -----------------------------------------------------------

#[test]
fn bad_attach_with_null_out_pointers_is_refused_without_calling_the_provider() {
    let fx = Fx::new();
    let (p, c) = (fx.provider("P"), fx.client("C"));
    let statuses = shared::<Vec<NTSTATUS>>();
    let record = statuses.clone();
    c.on_attach(move |a| {
        let (mut pc, mut pd): (*mut std::ffi::c_void, *const std::ffi::c_void) =
            (ptr::null_mut(), ptr::null());
        let no_context = a.attach_raw(ptr::null_mut(), ptr::null(), ptr::null_mut(), &mut pd);
        let no_dispatch = a.attach_raw(ptr::null_mut(), ptr::null(), &mut pc, ptr::null_mut());
        let proper = a.attach();
        lock(&record).extend([no_context, no_dispatch, proper]);
        proper
    });
    assert_eq!(p.register(), STATUS_SUCCESS);
    assert_eq!(c.register(), STATUS_SUCCESS);
    assert_eq!(
        *lock(&statuses),
        [STATUS_INVALID_PARAMETER, STATUS_INVALID_PARAMETER, STATUS_SUCCESS]
    );
    assert_eq!(
        fx.take(),
        ["C.attach(P)", "P.attach(C)"],
        "the provider ran once, for the proper call"
    );
    assert_eq!(fx.violations(), [AttachNullOutParameter, AttachNullOutParameter]);
    host::take_violations_of(&fx.npi);
    c.unload();
    p.unload();
    fx.take();
    fx.assert_clean();
}

#[test]
fn oq17_a_stale_binding_handle_never_reaches_a_later_binding() {
    // Binding storage may be reused; handle values must not be. Each round frees a binding,
    // makes a new one (likely in the freed slot) whose provider half pends, and completes the
    // old handle: the new binding must not notice.
    let fx = Fx::new();
    let p = fx.provider("P");
    p.detach_pending();
    assert_eq!(p.register(), STATUS_SUCCESS);
    let c = fx.client("C");
    let mut stale = Vec::new();
    for _ in 0..4 {
        assert_eq!(c.register(), STATUS_SUCCESS);
        let b = c.bindings().last().copied().unwrap();
        for old in &stale {
            assert_ne!(b.handle, *old, "a binding handle value came back");
            complete(Role::Provider, *old);
            assert_eq!(violations_with_handle(*old).last(), Some(&BadHandle));
        }
        assert_eq!(fx.bindings()[0].state, BindingState::Established, "a stale handle reached it");
        assert_eq!(c.deregister(), STATUS_PENDING);
        let listed = fx.bindings();
        assert_eq!((listed.len(), listed[0].provider_half), (1, HalfState::Pending));
        for old in &stale {
            complete(Role::Provider, *old);
        }
        assert_eq!(
            fx.bindings()[0].provider_half,
            HalfState::Pending,
            "a stale handle completed it"
        );
        p.binding("C").complete();
        assert_eq!(c.wait(), STATUS_SUCCESS);
        stale.push(b.handle);
    }
    p.unload();
    host::take_violations_of(&fx.npi); // whether a dead handle still names its NPI is open
    fx.take();
    fx.assert_clean();
}
