//! R9–R16: attachment — what passes between the two modules, what counts as attached, retries,
//! refusals, many-to-many bindings and several registrations per module.

use std::ffi::c_void;
use std::ptr;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};

use npi_runtime::host::{self, BindingState, ViolationKind};
use npi_runtime::sys::*;

use crate::support::*;

// ----- R9 -----------------------------------------------------------------------------------

#[test]
fn r09_provider_receives_the_clients_arguments_unchanged() {
    let fx = Fx::new();
    let (p, c) = (fx.provider("P"), fx.client("C"));
    let provider_side = shared::<Vec<(usize, usize, usize, usize)>>();
    let record = provider_side.clone();
    p.on_attach(move |a| {
        lock(&record).push((
            a.handle.addr(),
            a.instance.addr(),
            a.client_context.addr(),
            a.client_dispatch.addr(),
        ));
        a.accept()
    });
    assert_eq!(p.register(), STATUS_SUCCESS);
    assert_eq!(c.register(), STATUS_SUCCESS);
    let cb = c.binding("P");
    let pb = p.binding("C");
    assert_eq!(
        *lock(&provider_side),
        [(cb.handle, c.instance().addr(), cb.context().addr(), dispatch(&CLIENT_DISPATCH).addr())]
    );
    // And the client got exactly what the provider stored.
    assert_eq!(cb.peer_context(), pb.context());
    assert_eq!(cb.peer_dispatch(), dispatch(&PROVIDER_DISPATCH));
    c.unload();
    p.unload();
    fx.take();
    fx.assert_clean();
}

#[test]
fn r09_declining_without_calling_the_nmr_leaves_the_provider_untouched() {
    let fx = Fx::new();
    let (p, c) = (fx.provider("P"), fx.client("C"));
    c.decline();
    assert_eq!(p.register(), STATUS_SUCCESS);
    assert_eq!(c.register(), STATUS_SUCCESS);
    assert_eq!(fx.take(), ["C.attach(P)"]);
    assert!(fx.bindings().is_empty());
    p.unload();
    c.unload();
    assert_eq!(fx.take(), NOTHING);
    fx.assert_clean();
}

static NULL_CTX_CLIENT_SAW: AtomicUsize = AtomicUsize::new(usize::MAX);
static NULL_CTX_PROVIDER_SAW: AtomicUsize = AtomicUsize::new(usize::MAX);

unsafe extern "system" fn null_ctx_client_attach(
    h: HANDLE,
    context: *mut c_void,
    _provider: *const NPI_REGISTRATION_INSTANCE,
) -> NTSTATUS {
    NULL_CTX_CLIENT_SAW.store(context.addr(), SeqCst);
    let (mut pc, mut pd) = (ptr::null_mut(), ptr::null());
    // SAFETY: called from inside our own attach callback with its handle; out-pointers local.
    unsafe { NmrClientAttachProvider(h, ptr::null_mut(), ptr::null(), &mut pc, &mut pd) }
}

unsafe extern "system" fn null_ctx_provider_attach(
    _h: HANDLE,
    context: *mut c_void,
    _client: *const NPI_REGISTRATION_INSTANCE,
    _client_context: *mut c_void,
    _client_dispatch: *const c_void,
    _out_context: *mut *mut c_void,
    _out_dispatch: *mut *const c_void,
) -> NTSTATUS {
    NULL_CTX_PROVIDER_SAW.store(context.addr(), SeqCst);
    STATUS_NOINTERFACE
}

unsafe extern "system" fn never_detach(_context: *mut c_void) -> NTSTATUS {
    STATUS_SUCCESS
}

#[test]
fn r09_a_null_registration_context_is_passed_back_as_null() {
    // Hand-written modules: the WSK example registers with a NULL context.
    let npi = leak_guid(fresh_guid());
    let module = leak_module_id(fresh_guid());
    let instance = NPI_REGISTRATION_INSTANCE {
        Version: 0,
        Size: u16::try_from(size_of::<NPI_REGISTRATION_INSTANCE>()).unwrap(),
        NpiId: npi,
        ModuleId: module,
        Number: 0,
        NpiSpecificCharacteristics: ptr::null(),
    };
    let client: &'static NPI_CLIENT_CHARACTERISTICS =
        Box::leak(Box::new(NPI_CLIENT_CHARACTERISTICS {
            Version: 0,
            Length: u16::try_from(size_of::<NPI_CLIENT_CHARACTERISTICS>()).unwrap(),
            ClientAttachProvider: Some(null_ctx_client_attach),
            ClientDetachProvider: Some(never_detach),
            ClientCleanupBindingContext: None,
            ClientRegistrationInstance: instance,
        }));
    let provider: &'static NPI_PROVIDER_CHARACTERISTICS =
        Box::leak(Box::new(NPI_PROVIDER_CHARACTERISTICS {
            Version: 0,
            Length: u16::try_from(size_of::<NPI_PROVIDER_CHARACTERISTICS>()).unwrap(),
            ProviderAttachClient: Some(null_ctx_provider_attach),
            ProviderDetachClient: Some(never_detach),
            ProviderCleanupBindingContext: None,
            ProviderRegistrationInstance: instance,
        }));
    let (mut ch, mut ph) = (ptr::null_mut(), ptr::null_mut());
    // SAFETY: leaked characteristics; NULL contexts are allowed (`_In_opt_`).
    unsafe {
        assert_eq!(NmrRegisterProvider(provider, ptr::null_mut(), &mut ph), STATUS_SUCCESS);
        assert_eq!(NmrRegisterClient(client, ptr::null_mut(), &mut ch), STATUS_SUCCESS);
    }
    assert_eq!(NULL_CTX_CLIENT_SAW.load(SeqCst), 0);
    assert_eq!(NULL_CTX_PROVIDER_SAW.load(SeqCst), 0);
    // SAFETY: our own live handles.
    unsafe {
        assert_eq!(NmrDeregisterClient(ch), STATUS_PENDING);
        assert_eq!(NmrWaitForClientDeregisterComplete(ch), STATUS_SUCCESS);
        assert_eq!(NmrDeregisterProvider(ph), STATUS_PENDING);
        assert_eq!(NmrWaitForProviderDeregisterComplete(ph), STATUS_SUCCESS);
    }
    assert_eq!(host::violations_of(npi), []);
}

// ----- R10 ----------------------------------------------------------------------------------

#[test]
fn r10_only_exact_status_success_attaches_not_any_nt_success_value() {
    let fx = Fx::new();
    let (p, c) = (fx.provider("P"), fx.client("C"));
    // STATUS_PENDING is an NT_SUCCESS value, but not STATUS_SUCCESS.
    p.decline(STATUS_PENDING);
    let statuses = shared::<Vec<NTSTATUS>>();
    let record = statuses.clone();
    c.on_attach(move |a| {
        let s = a.attach();
        lock(&record).push(s);
        s
    });
    assert_eq!(p.register(), STATUS_SUCCESS);
    assert_eq!(c.register(), STATUS_SUCCESS);
    assert_eq!(*lock(&statuses), [STATUS_PENDING]);
    assert!(NT_SUCCESS(STATUS_PENDING));
    assert!(fx.bindings().is_empty(), "{:?}", fx.bindings());
    c.unload();
    p.unload();
    assert_eq!(
        fx.take(),
        ["C.attach(P)", "P.attach(C)"],
        "no detach or cleanup for a failed attach"
    );
    fx.assert_clean();
}

#[test]
fn r10_failure_leaves_the_clients_out_variables_untouched_success_passes_nulls_through() {
    let fx = Fx::new();
    let (declines, accepts, c) = (fx.provider("Declines"), fx.provider("Accepts"), fx.client("C"));
    declines.decline(STATUS_NOINTERFACE);
    // A provider with no dispatch table of its own (XDP does this).
    accepts.on_attach(|a| a.accept_with(ptr::null()));
    let outs = shared::<Vec<(&'static str, NTSTATUS, usize, usize, usize)>>();
    let record = outs.clone();
    c.on_attach(move |a| {
        let b = a.new_binding();
        let (mut pc, mut pd): (*mut c_void, *const c_void) =
            (handle(0xAAAA_0000), handle(0xBBBB_0000).cast_const());
        // No client dispatch table: NULL (R14).
        let s = a.attach_raw(b.context(), ptr::null(), &mut pc, &mut pd);
        lock(&record).push((a.peer, s, b.context().addr(), pc.addr(), pd.addr()));
        s
    });
    assert_eq!(declines.register(), STATUS_SUCCESS);
    assert_eq!(accepts.register(), STATUS_SUCCESS);
    assert_eq!(c.register(), STATUS_SUCCESS);
    let outs = lock(&outs).clone();
    assert_eq!(outs.len(), 2);
    assert_eq!(
        (outs[0].0, outs[0].1, outs[0].3, outs[0].4),
        ("Declines", STATUS_NOINTERFACE, 0xAAAA_0000, 0xBBBB_0000),
        "the out-variables are untouched on failure"
    );
    let accepted = accepts.binding("C");
    assert_eq!(
        (outs[1].0, outs[1].1, outs[1].3, outs[1].4),
        ("Accepts", STATUS_SUCCESS, accepted.context().addr(), 0),
        "the provider's context and its NULL dispatch are passed through"
    );
    assert!(accepted.peer_dispatch().is_null(), "the NULL client dispatch is passed through");
    assert_eq!(accepted.peer_context().addr(), outs[1].2, "the client context is passed through");
    assert_eq!(fx.bindings().len(), 1);
    c.unload();
    declines.unload();
    accepts.unload();
    assert_eq!(
        fx.take(),
        [
            "C.attach(Declines)",
            "Declines.attach(C)",
            "C.attach(Accepts)",
            "Accepts.attach(C)",
            "C.detach(Accepts)",
            "Accepts.detach(C)",
            "C.cleanup(Accepts)",
            "Accepts.cleanup(C)"
        ]
    );
    fx.assert_clean();
}

// ----- R11, OQ-7, OQ-8 ----------------------------------------------------------------------

#[test]
fn r11_oq07_client_failure_after_provider_accepted_unwinds_only_the_provider() {
    let fx = Fx::new();
    let (p, c) = (fx.provider("P"), fx.client("C"));
    let statuses = shared::<Vec<NTSTATUS>>();
    let record = statuses.clone();
    c.on_attach(move |a| {
        lock(&record).push(a.attach());
        STATUS_INSUFFICIENT_RESOURCES // e.g. the client's own allocation failed afterwards
    });
    assert_eq!(p.register(), STATUS_SUCCESS);
    assert_eq!(c.register(), STATUS_SUCCESS);
    fx.mark("NmrRegisterClient returned");
    assert_eq!(*lock(&statuses), [STATUS_SUCCESS]);
    assert_eq!(
        fx.take(),
        ["C.attach(P)", "P.attach(C)", "P.detach(C)", "P.cleanup(C)", "NmrRegisterClient returned"],
        "provider detach and cleanup, no client callbacks"
    );
    assert!(fx.bindings().is_empty());
    assert_eq!(fx.violations(), [ViolationKind::FailureAfterProviderAccepted]);
    host::take_violations_of(&fx.npi);
    c.unload();
    p.unload();
    assert_eq!(fx.take(), NOTHING);
    fx.assert_clean();
}

#[test]
fn r11_oq07_unwinding_waits_for_a_pending_provider_detach() {
    let fx = Fx::new();
    let (p, c) = (fx.provider("P"), fx.client("C"));
    p.detach_pending();
    c.on_attach(|a| {
        assert_eq!(a.attach(), STATUS_SUCCESS);
        STATUS_UNSUCCESSFUL
    });
    assert_eq!(p.register(), STATUS_SUCCESS);
    assert_eq!(c.register(), STATUS_SUCCESS);
    assert_eq!(fx.take(), ["C.attach(P)", "P.attach(C)", "P.detach(C)"]);
    let listed = fx.bindings();
    assert_eq!(listed.len(), 1, "the provider side is still detaching");
    assert_eq!(listed[0].state, BindingState::Detaching);
    assert_eq!(listed[0].provider_half, host::HalfState::Pending);
    let b = p.binding("C");
    let completer = std::thread::spawn(move || {
        b.complete();
        std::thread::current().id()
    })
    .join()
    .unwrap();
    let events = fx.log.take_events();
    assert_eq!(events.iter().map(|e| e.what.as_str()).collect::<Vec<_>>(), ["P.cleanup(C)"]);
    assert_eq!(events[0].thread, completer);
    assert!(fx.bindings().is_empty());
    assert_eq!(fx.violations(), [ViolationKind::FailureAfterProviderAccepted]);
    host::take_violations_of(&fx.npi);
    c.unload();
    p.unload();
    assert_eq!(fx.take(), NOTHING, "still no client callback");
    fx.assert_clean();
}

#[test]
fn r11_oq08_success_without_attaching_creates_no_binding() {
    let fx = Fx::new();
    let (p, c) = (fx.provider("P"), fx.client("C"));
    c.on_attach(|_| STATUS_SUCCESS);
    assert_eq!(p.register(), STATUS_SUCCESS);
    assert_eq!(c.register(), STATUS_SUCCESS);
    assert_eq!(fx.take(), ["C.attach(P)"]);
    assert!(fx.bindings().is_empty());
    assert_eq!(fx.violations(), [ViolationKind::SuccessWithoutAttach]);
    host::take_violations_of(&fx.npi);
    c.unload();
    p.unload();
    assert_eq!(fx.take(), NOTHING);
    fx.assert_clean();
}

#[test]
fn r11_oq08_success_after_the_provider_declined_creates_no_binding() {
    let fx = Fx::new();
    let (p, c) = (fx.provider("P"), fx.client("C"));
    p.decline(STATUS_NOINTERFACE);
    c.on_attach(|a| {
        assert_eq!(a.attach(), STATUS_NOINTERFACE);
        STATUS_SUCCESS
    });
    assert_eq!(p.register(), STATUS_SUCCESS);
    assert_eq!(c.register(), STATUS_SUCCESS);
    assert_eq!(fx.take(), ["C.attach(P)", "P.attach(C)"]);
    assert!(fx.bindings().is_empty());
    assert_eq!(fx.violations(), [ViolationKind::SuccessWithoutAttach]);
    host::take_violations_of(&fx.npi);
    c.unload();
    p.unload();
    assert_eq!(fx.take(), NOTHING, "no detach or cleanup on either side");
    fx.assert_clean();
}

// ----- R12 ----------------------------------------------------------------------------------

#[test]
fn r12_each_retry_calls_the_provider_once_more_and_giving_up_leaves_no_binding() {
    let fx = Fx::new();
    let (p, c) = (fx.provider("P"), fx.client("C"));
    p.on_attach(|a| {
        if dispatch_version(a.client_dispatch) == Some(0x0100) {
            a.accept()
        } else {
            STATUS_NOINTERFACE
        }
    });
    let statuses = shared::<Vec<NTSTATUS>>();
    let record = statuses.clone();
    c.on_attach(move |a| {
        let mut last = STATUS_NOINTERFACE;
        for _ in 0..3 {
            last = a.attach_with(dispatch(&CLIENT_DISPATCH_V2));
            lock(&record).push(last);
        }
        last // gives up: returns the last status
    });
    assert_eq!(p.register(), STATUS_SUCCESS);
    assert_eq!(c.register(), STATUS_SUCCESS);
    assert_eq!(*lock(&statuses), [STATUS_NOINTERFACE; 3]);
    assert_eq!(fx.take(), ["C.attach(P)", "P.attach(C)", "P.attach(C)", "P.attach(C)"]);
    assert!(fx.bindings().is_empty());
    c.unload();
    p.unload();
    assert_eq!(fx.take(), NOTHING);
    fx.assert_clean();
}

#[test]
fn r12_attaching_again_after_success_is_refused_without_calling_the_provider() {
    let fx = Fx::new();
    let (p, c) = (fx.provider("P"), fx.client("C"));
    let statuses = shared::<Vec<NTSTATUS>>();
    let record = statuses.clone();
    c.on_attach(move |a| {
        let first = a.attach();
        let second = a.attach();
        lock(&record).extend([first, second]);
        first
    });
    assert_eq!(p.register(), STATUS_SUCCESS);
    assert_eq!(c.register(), STATUS_SUCCESS);
    assert_eq!(*lock(&statuses), [STATUS_SUCCESS, STATUS_INVALID_PARAMETER]);
    assert_eq!(fx.take(), ["C.attach(P)", "P.attach(C)"]);
    assert_eq!(fx.violations(), [ViolationKind::AttachAfterSuccess]);
    host::take_violations_of(&fx.npi);
    let listed = fx.bindings();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].state, BindingState::Established, "the first attach stands");
    c.unload();
    p.unload();
    assert_eq!(fx.take(), ["C.detach(P)", "P.detach(C)", "C.cleanup(P)", "P.cleanup(C)"]);
    fx.assert_clean();
}

#[test]
fn r12_oq09_attaching_with_a_handle_the_client_was_never_given_is_refused() {
    // C1's attach callback (binding b1) registers C2 for the same NPI; inside C2's own attach
    // callback (binding b2), C2 quotes b1 — a live proposal, but not C2's.
    let fx = Fx::new();
    let (p, c1, c2) = (fx.provider("P"), fx.client("C1"), fx.client("C2"));
    let b1 = std::sync::Arc::new(AtomicUsize::new(0));
    let foreign = shared::<Vec<NTSTATUS>>();
    let (b1_in, record) = (b1.clone(), foreign.clone());
    c2.on_attach(move |a| {
        let s = a.attach_handle(handle(b1_in.load(SeqCst)), dispatch(&CLIENT_DISPATCH));
        lock(&record).push(s);
        STATUS_NOINTERFACE
    });
    c1.on_attach(move |a| {
        b1.store(a.handle.addr(), SeqCst);
        assert_eq!(c2.register(), STATUS_SUCCESS);
        a.attach()
    });
    assert_eq!(p.register(), STATUS_SUCCESS);
    assert_eq!(c1.register(), STATUS_SUCCESS);
    assert_eq!(*lock(&foreign), [STATUS_INVALID_PARAMETER], "C2 attached through C1's binding");
    assert_eq!(fx.take(), ["C1.attach(P)", "C2.attach(P)", "P.attach(C1)"]);
    assert_eq!(fx.bindings().len(), 1);
    let v = host::take_violations_of(&fx.npi);
    assert_eq!(v.len(), 1, "{v:?}");
    assert_eq!(v[0].function, "NmrClientAttachProvider");
    c1.unload();
    c2.unload();
    p.unload();
    fx.take();
    fx.assert_clean();
}

// ----- R13 ----------------------------------------------------------------------------------

#[test]
fn r13_a_provider_decline_or_failure_reaches_the_client_unchanged() {
    let fx = Fx::new();
    let statuses = [
        STATUS_NOINTERFACE,
        STATUS_NOT_SUPPORTED,
        STATUS_INVALID_PARAMETER,
        STATUS_DEVICE_NOT_READY,
        STATUS_INSUFFICIENT_RESOURCES,
        STATUS_UNSUCCESSFUL,
        0xC0DE_0001_u32 as NTSTATUS,
    ];
    let names = ["P0", "P1", "P2", "P3", "P4", "P5", "P6"];
    let providers: Vec<_> = names.iter().map(|n| fx.provider(n)).collect();
    for (p, s) in providers.iter().zip(statuses) {
        p.decline(s);
        assert_eq!(p.register(), STATUS_SUCCESS);
    }
    let seen = shared::<Vec<NTSTATUS>>();
    let record = seen.clone();
    let c = fx.client("C");
    c.on_attach(move |a| {
        let s = a.attach();
        lock(&record).push(s);
        s
    });
    assert_eq!(c.register(), STATUS_SUCCESS);
    assert_eq!(*lock(&seen), statuses);
    assert!(fx.bindings().is_empty());
    c.unload();
    for p in providers {
        p.unload();
    }
    let names = fx.take();
    assert!(names.iter().all(|n| n.contains(".attach(")), "no detach or cleanup: {names:?}");
    fx.assert_clean();
}

// ----- R14 ----------------------------------------------------------------------------------

#[test]
fn r14_dispatch_tables_are_passed_through_unread_and_null_ones_stay_null() {
    let fx = Fx::new();
    let p = fx.provider("P");
    // Dangling but non-NULL tables: an NMR that read them would crash.
    let client_table = handle(0xD15).cast_const();
    let provider_table = handle(0xD16).cast_const();
    p.on_attach(|a| {
        if a.peer == "Cnull" { a.accept_with(ptr::null()) } else { a.accept_with(handle(0xD16)) }
    });
    let (cd, cn) = (fx.client("Cdangling"), fx.client("Cnull"));
    cd.on_attach(|a| a.attach_with(handle(0xD15)));
    cn.on_attach(|a| a.attach_with(ptr::null()));
    assert_eq!(p.register(), STATUS_SUCCESS);
    assert_eq!(cd.register(), STATUS_SUCCESS);
    assert_eq!(cn.register(), STATUS_SUCCESS);
    assert_eq!(p.binding("Cdangling").peer_dispatch(), client_table);
    assert_eq!(cd.binding("P").peer_dispatch(), provider_table);
    assert!(p.binding("Cnull").peer_dispatch().is_null());
    assert!(cn.binding("P").peer_dispatch().is_null());
    cd.unload();
    cn.unload();
    p.unload();
    fx.take();
    fx.assert_clean();
}

// ----- R15 ----------------------------------------------------------------------------------

#[test]
fn r15_many_to_many_bindings_each_with_own_handle_and_context_pair() {
    let fx = Fx::new();
    let (c1, c2, p1, p2) = (fx.client("C1"), fx.client("C2"), fx.provider("P1"), fx.provider("P2"));
    for r in [c1.register(), p1.register(), c2.register(), p2.register()] {
        assert_eq!(r, STATUS_SUCCESS);
    }
    assert_eq!(fx.bindings().len(), 4);
    let mut handles = Vec::new();
    let mut contexts = Vec::new();
    for c in [c1, c2] {
        for p in [p1, p2] {
            let cb = c.binding(p.name);
            let pb = p.binding(c.name);
            assert_eq!(cb.handle, pb.handle, "{} and {} share the binding handle", c.name, p.name);
            assert_eq!(cb.peer_context(), pb.context());
            assert_eq!(pb.peer_context(), cb.context());
            handles.push(cb.handle);
            contexts.extend([cb.context().addr(), pb.context().addr()]);
        }
    }
    handles.sort_unstable();
    handles.dedup();
    assert_eq!(handles.len(), 4);
    contexts.sort_unstable();
    contexts.dedup();
    assert_eq!(contexts.len(), 8);
    fx.take();
    p1.unload();
    let mut names = fx.take();
    names.sort();
    assert_eq!(
        names,
        [
            "C1.cleanup(P1)",
            "C1.detach(P1)",
            "C2.cleanup(P1)",
            "C2.detach(P1)",
            "P1.cleanup(C1)",
            "P1.cleanup(C2)",
            "P1.detach(C1)",
            "P1.detach(C2)"
        ]
    );
    assert_eq!(fx.bindings().len(), 2, "P2's bindings stay");
    for m in [c1.core_ref(), c2.core_ref(), p2.core_ref()] {
        m.unload();
    }
    for m in [c1.core_ref(), c2.core_ref(), p1.core_ref(), p2.core_ref()] {
        assert!(m.bindings().iter().all(|b| b.detaches() == 1 && b.cleanups() == 1));
    }
    fx.assert_clean();
}

// ----- R16 ----------------------------------------------------------------------------------

#[test]
fn r16_one_module_with_several_registrations_sharing_a_module_id_is_treated_per_registration() {
    let fx = Fx::new();
    let id = leak_module_id(fresh_guid());
    let (m0, m1, mp, p) = (fx.client("M0"), fx.client("M1"), fx.provider("MP"), fx.provider("P"));
    m0.edit(|ch| ch.ClientRegistrationInstance.ModuleId = id);
    m1.edit(|ch| {
        ch.ClientRegistrationInstance.ModuleId = id;
        ch.ClientRegistrationInstance.Number = 1;
    });
    mp.edit(|ch| ch.ProviderRegistrationInstance.ModuleId = id);
    for r in [p.register(), m0.register(), m1.register(), mp.register()] {
        assert_eq!(r, STATUS_SUCCESS);
    }
    assert_eq!(
        fx.take(),
        [
            "M0.attach(P)",
            "P.attach(M0)",
            "M1.attach(P)",
            "P.attach(M1)",
            "M0.attach(MP)",
            "MP.attach(M0)",
            "M1.attach(MP)",
            "MP.attach(M1)"
        ]
    );
    m0.unload();
    assert_eq!(
        fx.take(),
        [
            "M0.detach(P)",
            "P.detach(M0)",
            "M0.cleanup(P)",
            "P.cleanup(M0)",
            "M0.detach(MP)",
            "MP.detach(M0)",
            "M0.cleanup(MP)",
            "MP.cleanup(M0)"
        ]
    );
    let left = fx.bindings();
    assert_eq!(left.len(), 2);
    assert!(
        left.iter()
            .all(|b| b.client.value() == m1.handle_value() && b.state == BindingState::Established)
    );
    for m in [m1.core_ref(), mp.core_ref(), p.core_ref()] {
        m.unload();
    }
    fx.take();
    fx.assert_clean();
}
