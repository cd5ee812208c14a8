//! R1–R8: registration, matching and proposals.

use std::ptr;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::thread;

use npi_runtime::host::{self, Side, ViolationKind};
use npi_runtime::sys::*;

use crate::support::*;

// ----- R1 -----------------------------------------------------------------------------------

#[test]
fn r01_register_succeeds_with_distinct_non_null_handles() {
    let fx = Fx::new();
    let (c, p) = (fx.client("C"), fx.provider("P"));
    assert_eq!(c.register(), STATUS_SUCCESS);
    assert_eq!(p.register(), STATUS_SUCCESS);
    assert!(!c.handle().is_null() && !p.handle().is_null());
    assert_ne!(c.handle(), p.handle());
    let regs = host::registrations_of(&fx.npi);
    assert_eq!(regs.len(), 2);
    assert_eq!((regs[0].handle.value(), regs[0].role), (c.handle_value(), Side::Client));
    assert_eq!((regs[1].handle.value(), regs[1].role), (p.handle_value(), Side::Provider));
    c.unload();
    p.unload();
    fx.assert_clean();
}

#[test]
fn r01_a_failed_registration_produces_no_handle_no_registration_and_no_callback() {
    let fx = Fx::new();
    let p = fx.provider("P");
    assert_eq!(p.register(), STATUS_SUCCESS);
    let c = fx.client("C");
    c.edit(|ch| ch.ClientDetachProvider = None);
    let sentinel: HANDLE = handle(0x5EED_0000);
    let mut out = sentinel;
    assert_eq!(c.register_raw(c.context(), &mut out), STATUS_INVALID_PARAMETER);
    assert!(out == sentinel || out.is_null(), "a failed registration produced handle {out:p}");
    assert_eq!(fx.names(), NOTHING, "the provider would have been proposed");
    let regs = host::registrations_of(&fx.npi);
    assert_eq!(regs.len(), 1);
    assert_eq!(regs[0].handle.value(), p.handle_value());
    assert_eq!(fx.violations(), [ViolationKind::InvalidCharacteristics]);
    host::take_violations_of(&fx.npi);
    p.unload();
    fx.assert_clean();
}

// ----- R2 -----------------------------------------------------------------------------------

static PROVIDER_DATA: [u32; 2] = [0x5157_4B00, 7];
static CLIENT_DATA: [u32; 2] = [0xC11E_4700, 9];

#[test]
fn r02_client_gets_exactly_the_providers_own_registration_instance() {
    let fx = Fx::new();
    let (p, c) = (fx.provider("P"), fx.client("C"));
    p.edit(|ch| {
        ch.ProviderRegistrationInstance.Number = 7;
        ch.ProviderRegistrationInstance.NpiSpecificCharacteristics = PROVIDER_DATA.as_ptr().cast();
    });
    let seen = shared::<Vec<(usize, usize, usize, usize, u32, usize)>>();
    let record = seen.clone();
    c.on_attach(move |a| {
        // SAFETY: the instance the NMR passes is valid for the callback (R2).
        let i = unsafe { &*a.instance };
        record.lock().unwrap().push((
            a.instance.addr(),
            i.NpiId.addr(),
            i.ModuleId.addr(),
            i.NpiSpecificCharacteristics.addr(),
            i.Number,
            a.handle.addr(),
        ));
        a.attach()
    });
    assert_eq!(p.register(), STATUS_SUCCESS);
    assert_eq!(c.register(), STATUS_SUCCESS);
    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 1);
    let (instance, npi_id, module_id, specific, number, _) = seen[0];
    assert_eq!(
        instance,
        p.instance().addr(),
        "&ProviderCharacteristics->ProviderRegistrationInstance"
    );
    assert_eq!(npi_id, ptr::from_ref(p.npi).addr(), "the provider's own NpiId pointer");
    assert_ne!(npi_id, ptr::from_ref(c.npi).addr());
    assert_eq!(module_id, ptr::from_ref(p.module_id).addr());
    assert_eq!(specific, PROVIDER_DATA.as_ptr().addr());
    assert_eq!(number, 7);
    c.unload();
    p.unload();
    fx.assert_clean();
}

#[test]
fn r02_provider_gets_the_clients_own_instance_and_both_get_their_registration_contexts() {
    let fx = Fx::new();
    let (p, c) = (fx.provider("P"), fx.client("C"));
    c.edit(|ch| {
        ch.ClientRegistrationInstance.NpiSpecificCharacteristics = CLIENT_DATA.as_ptr().cast()
    });
    let seen = shared::<Vec<(usize, usize, usize)>>();
    let record = seen.clone();
    p.on_attach(move |a| {
        // SAFETY: the instance the NMR passes is valid for the callback (R2).
        let i = unsafe { &*a.instance };
        record.lock().unwrap().push((
            a.instance.addr(),
            i.ModuleId.addr(),
            i.NpiSpecificCharacteristics.addr(),
        ));
        a.accept()
    });
    assert_eq!(c.register(), STATUS_SUCCESS);
    assert_eq!(p.register(), STATUS_SUCCESS);
    let seen = seen.lock().unwrap().clone();
    assert_eq!(
        seen,
        [(c.instance().addr(), ptr::from_ref(c.module_id).addr(), CLIENT_DATA.as_ptr().addr())]
    );
    // Support's callbacks resolve the registration context to the module that registered it
    // and log under that module's name: both attach callbacks got their own context back.
    assert_eq!(fx.take(), ["C.attach(P)", "P.attach(C)"]);
    c.unload();
    p.unload();
    fx.assert_clean();
}

static CALLED_AFTER_WAIT: AtomicUsize = AtomicUsize::new(0);

unsafe extern "system" fn attach_after_wait(
    _h: HANDLE,
    _ctx: *mut std::ffi::c_void,
    _inst: *const NPI_REGISTRATION_INSTANCE,
) -> NTSTATUS {
    CALLED_AFTER_WAIT.fetch_add(1, SeqCst);
    STATUS_NOINTERFACE
}

unsafe extern "system" fn detach_after_wait(_ctx: *mut std::ffi::c_void) -> NTSTATUS {
    CALLED_AFTER_WAIT.fetch_add(1, SeqCst);
    STATUS_SUCCESS
}

#[test]
fn r02_r26_after_the_wait_the_nmr_no_longer_uses_the_characteristics() {
    let fx = Fx::new();
    let (c, p1) = (fx.client("C"), fx.provider("P1"));
    assert_eq!(c.register(), STATUS_SUCCESS);
    assert_eq!(p1.register(), STATUS_SUCCESS);
    c.unload();
    fx.take();
    // The module "frees" its characteristics: they now hold other callbacks and another NPI.
    let elsewhere = leak_guid(fresh_guid());
    c.edit(|ch| {
        ch.ClientAttachProvider = Some(attach_after_wait);
        ch.ClientDetachProvider = Some(detach_after_wait);
        ch.ClientRegistrationInstance.NpiId = elsewhere;
    });
    let p2 = fx.provider("P2");
    assert_eq!(p2.register(), STATUS_SUCCESS);
    p1.unload();
    p2.unload();
    assert_eq!(CALLED_AFTER_WAIT.load(SeqCst), 0);
    assert_eq!(fx.take(), NOTHING);
    assert!(host::registrations_of(elsewhere).is_empty());
    fx.assert_clean();
}

// ----- R3 -----------------------------------------------------------------------------------

#[test]
fn r03_npi_ids_match_by_value_in_separate_copies() {
    let fx = Fx::new();
    let (c, p) = (fx.client("C"), fx.provider("P"));
    // Each module points at its own copy, rebuilt from the number, as each NPI header does.
    let copy = leak_guid(GUID::from_u128(fx.npi.to_u128()));
    c.edit(|ch| ch.ClientRegistrationInstance.NpiId = copy);
    assert!(!ptr::eq(copy, p.npi));
    assert_eq!(c.register(), STATUS_SUCCESS);
    assert_eq!(p.register(), STATUS_SUCCESS);
    assert_eq!(fx.take(), ["C.attach(P)", "P.attach(C)"]);
    c.unload();
    p.unload();
    fx.assert_clean();
}

#[test]
fn r03_npi_ids_differing_in_any_field_get_no_proposals() {
    let fx = Fx::new();
    let p = fx.provider("P");
    assert_eq!(p.register(), STATUS_SUCCESS);
    let mut near: Vec<GUID> = Vec::new();
    for (i, edit) in [
        |g: &mut GUID| g.data1 ^= 1,
        |g: &mut GUID| g.data2 ^= 0x8000,
        |g: &mut GUID| g.data3 ^= 1,
        |g: &mut GUID| g.data4[0] ^= 0x80,
        |g: &mut GUID| g.data4[7] ^= 1,
    ]
    .into_iter()
    .enumerate()
    {
        let mut g = fx.npi;
        edit(&mut g);
        assert_ne!(g, fx.npi, "{i}");
        near.push(g);
    }
    let clients: Vec<_> = near.iter().map(|g| Client::new("Near", *g, &fx.log)).collect();
    for c in &clients {
        assert_eq!(c.register(), STATUS_SUCCESS);
    }
    let providers: Vec<_> = near.iter().map(|g| Provider::new("NearP", *g, &fx.log)).collect();
    let c = fx.client("C");
    assert_eq!(c.register(), STATUS_SUCCESS);
    for q in &providers {
        assert_eq!(q.register(), STATUS_SUCCESS);
    }
    // Only the pair that shares the NPI id: each near-miss client found its own provider.
    let names = fx.take();
    assert_eq!(names.iter().filter(|n| n.contains("attach(P)") || n.starts_with("P.")).count(), 2);
    assert!(names.contains(&String::from("C.attach(P)")));
    assert!(!names.iter().any(|n| n == "C.attach(NearP)" || n == "Near.attach(P)"));
    assert_eq!(names.len(), 2 + 2 * near.len(), "{names:?}");
    for m in clients.iter().map(|c| c.core_ref()).chain(providers.iter().map(|p| p.core_ref())) {
        m.unload();
    }
    c.unload();
    p.unload();
    fx.take();
    fx.assert_clean();
}

#[test]
fn r03_oq18_identical_module_ids_still_attach() {
    let fx = Fx::new();
    let (c, p) = (fx.client("C"), fx.provider("P"));
    // XDP registers its provider with the client's module id.
    let shared_id = leak_module_id(fresh_guid());
    c.edit(|ch| ch.ClientRegistrationInstance.ModuleId = shared_id);
    p.edit(|ch| ch.ProviderRegistrationInstance.ModuleId = shared_id);
    assert_eq!(c.register(), STATUS_SUCCESS);
    assert_eq!(p.register(), STATUS_SUCCESS);
    assert_eq!(fx.take(), ["C.attach(P)", "P.attach(C)"]);
    let b = &fx.bindings()[0];
    assert!(NmrIsEqualNpiModuleId(&b.client_module, &b.provider_module));
    c.unload();
    p.unload();
    fx.assert_clean();
}

#[test]
fn r03_clients_never_pair_with_clients_nor_providers_with_providers() {
    let fx = Fx::new();
    let (c1, c2) = (fx.client("C1"), fx.client("C2"));
    assert_eq!(c1.register(), STATUS_SUCCESS);
    assert_eq!(c2.register(), STATUS_SUCCESS);
    assert_eq!(fx.take(), NOTHING);
    c1.unload();
    c2.unload();
    let (p1, p2) = (fx.provider("P1"), fx.provider("P2"));
    assert_eq!(p1.register(), STATUS_SUCCESS);
    assert_eq!(p2.register(), STATUS_SUCCESS);
    assert_eq!(fx.take(), NOTHING);
    assert!(fx.bindings().is_empty());
    p1.unload();
    p2.unload();
    fx.assert_clean();
}

#[test]
fn r03_oq20_number_versions_and_npi_specific_data_do_not_affect_matching() {
    let fx = Fx::new();
    let (c, p) = (fx.client("C"), fx.provider("P"));
    c.edit(|ch| {
        ch.ClientRegistrationInstance.Number = 9;
        ch.ClientRegistrationInstance.Version = 1;
        ch.ClientRegistrationInstance.NpiSpecificCharacteristics = CLIENT_DATA.as_ptr().cast();
    });
    p.edit(|ch| {
        ch.ProviderRegistrationInstance.Number = 5;
        ch.ProviderRegistrationInstance.Version = 0xFFFF;
    });
    assert_eq!(c.register(), STATUS_SUCCESS);
    assert_eq!(p.register(), STATUS_SUCCESS);
    assert_eq!(fx.take(), ["C.attach(P)", "P.attach(C)"]);
    let regs = host::registrations_of(&fx.npi);
    assert_eq!((regs[0].number, regs[1].number), (9, 5));
    c.unload();
    p.unload();
    fx.assert_clean();
}

// ----- R4 -----------------------------------------------------------------------------------

#[test]
fn r04_one_proposal_per_registered_provider_then_one_per_later_provider() {
    let fx = Fx::new();
    let (p1, p2, p3) = (fx.provider("P1"), fx.provider("P2"), fx.provider("P3"));
    assert_eq!(p1.register(), STATUS_SUCCESS);
    assert_eq!(p2.register(), STATUS_SUCCESS);
    let c = fx.client("C");
    assert_eq!(c.register(), STATUS_SUCCESS);
    assert_eq!(fx.take(), ["C.attach(P1)", "P1.attach(C)", "C.attach(P2)", "P2.attach(C)"]);
    assert_eq!(p3.register(), STATUS_SUCCESS);
    assert_eq!(fx.take(), ["C.attach(P3)", "P3.attach(C)"]);
    // Another client's arrival proposes only its own pairs.
    let c2 = fx.client("C2");
    c2.decline();
    assert_eq!(c2.register(), STATUS_SUCCESS);
    assert_eq!(fx.take(), ["C2.attach(P1)", "C2.attach(P2)", "C2.attach(P3)"]);
    for m in [c.core_ref(), c2.core_ref(), p1.core_ref(), p2.core_ref(), p3.core_ref()] {
        m.unload();
    }
    assert_eq!(fx.take().len(), 12);
    fx.assert_clean();
}

// ----- R5 -----------------------------------------------------------------------------------

#[test]
fn r05_every_attachment_starts_with_the_client_callback_whichever_side_registers_last() {
    for provider_first in [true, false] {
        let fx = Fx::new();
        let (c, p) = (fx.client("C"), fx.provider("P"));
        if provider_first {
            assert_eq!(p.register(), STATUS_SUCCESS);
            assert_eq!(c.register(), STATUS_SUCCESS);
        } else {
            assert_eq!(c.register(), STATUS_SUCCESS);
            assert_eq!(p.register(), STATUS_SUCCESS);
        }
        let events = fx.log.take_events();
        let names: Vec<_> = events.iter().map(|e| e.what.as_str()).collect();
        assert_eq!(names, ["C.attach(P)", "P.attach(C)"], "provider first: {provider_first}");
        assert_eq!(events[0].binding, events[1].binding);
        c.unload();
        p.unload();
        fx.take();
        fx.assert_clean();
    }
}

// ----- R6 -----------------------------------------------------------------------------------

#[test]
fn r06_a_pair_the_client_declined_is_never_proposed_again() {
    let fx = Fx::new();
    let (c, p1) = (fx.client("C"), fx.provider("P1"));
    let declined = shared::<Vec<&'static str>>();
    let record = declined.clone();
    c.on_attach(move |a| {
        if a.peer == "P1" {
            lock(&record).push(a.peer);
            STATUS_NOINTERFACE
        } else {
            a.attach()
        }
    });
    assert_eq!(p1.register(), STATUS_SUCCESS);
    assert_eq!(c.register(), STATUS_SUCCESS);
    let (p2, c2) = (fx.provider("P2"), fx.client("C2"));
    assert_eq!(p2.register(), STATUS_SUCCESS);
    assert_eq!(c2.register(), STATUS_SUCCESS);
    p2.unload();
    c2.unload();
    let p3 = fx.provider("P3");
    assert_eq!(p3.register(), STATUS_SUCCESS);
    assert_eq!(*lock(&declined), ["P1"], "(C, P1) was proposed once only");
    assert_eq!(fx.log.count("C.attach(P1)"), 1);
    assert_eq!(fx.log.count("C.attach(P3)"), 1);
    for m in [c.core_ref(), p1.core_ref(), p3.core_ref()] {
        m.unload();
    }
    assert_eq!(fx.log.count("C.attach(P1)"), 1);
    fx.assert_clean();
}

#[test]
fn r06_a_pair_the_provider_declined_is_never_proposed_again() {
    let fx = Fx::new();
    let (c, p) = (fx.client("C"), fx.provider("P"));
    p.decline(STATUS_NOT_SUPPORTED);
    assert_eq!(c.register(), STATUS_SUCCESS);
    assert_eq!(p.register(), STATUS_SUCCESS);
    assert_eq!(fx.take(), ["C.attach(P)", "P.attach(C)"]);
    for _ in 0..3 {
        let other = fx.provider("Q");
        assert_eq!(other.register(), STATUS_SUCCESS);
        other.unload();
        let other = fx.client("D");
        assert_eq!(other.register(), STATUS_SUCCESS);
        other.unload();
    }
    assert_eq!(fx.log.count("C.attach(P)"), 0);
    assert_eq!(fx.log.count("P.attach(C)"), 0);
    c.unload();
    p.unload();
    fx.assert_clean();
}

#[test]
fn r06_r24_a_deregistering_registration_is_never_proposed() {
    let fx = Fx::new();
    let (c, p1) = (fx.client("C"), fx.provider("P1"));
    c.detach_pending();
    assert_eq!(c.register(), STATUS_SUCCESS);
    assert_eq!(p1.register(), STATUS_SUCCESS);
    assert_eq!(c.deregister(), STATUS_PENDING);
    assert_eq!(fx.take(), ["C.attach(P1)", "P1.attach(C)", "C.detach(P1)", "P1.detach(C)"]);
    // C is still registered (its wait has a pending binding) but deregistering.
    let p2 = fx.provider("P2");
    assert_eq!(p2.register(), STATUS_SUCCESS);
    assert_eq!(fx.take(), NOTHING, "a deregistering client was proposed to a new provider");
    c.binding("P1").complete();
    assert_eq!(c.wait(), STATUS_SUCCESS);
    p1.unload();
    p2.unload();
    assert_eq!(fx.take(), ["C.cleanup(P1)", "P1.cleanup(C)"]);
    fx.assert_clean();
}

// ----- R7 -----------------------------------------------------------------------------------

#[test]
fn r07_register_client_proposes_synchronously_on_its_thread_in_provider_registration_order() {
    let fx = Fx::new();
    let names = ["Pb", "Pc", "Pa"];
    let providers: Vec<_> = names.iter().map(|n| fx.provider(n)).collect();
    // Module ids in descending order, so neither names nor module ids give the order.
    for (i, p) in providers.iter().enumerate() {
        let id = leak_module_id(GUID::from_u128(0xFFFF_0000 - i as u128));
        p.edit(|ch| ch.ProviderRegistrationInstance.ModuleId = id);
        assert_eq!(p.register(), STATUS_SUCCESS);
    }
    let c = fx.client("C");
    c.decline();
    assert_eq!(c.register(), STATUS_SUCCESS);
    fx.mark("returned");
    let events = fx.log.take_events();
    let names: Vec<_> = events.iter().map(|e| e.what.as_str()).collect();
    assert_eq!(names, ["C.attach(Pb)", "C.attach(Pc)", "C.attach(Pa)", "returned"]);
    let me = thread::current().id();
    assert!(events.iter().all(|e| e.thread == me), "on the registering thread");
    assert!(events.iter().all(|e| e.irql == host::Irql::Passive), "at PASSIVE_LEVEL");
    c.unload();
    for p in providers {
        p.unload();
    }
    fx.assert_clean();
}

#[test]
fn r07_register_provider_proposes_to_clients_in_client_registration_order() {
    let fx = Fx::new();
    let clients: Vec<_> = ["C3", "C1", "C2"].iter().map(|n| fx.client(n)).collect();
    for c in &clients {
        assert_eq!(c.register(), STATUS_SUCCESS);
    }
    let p = fx.provider("P");
    assert_eq!(p.register(), STATUS_SUCCESS);
    fx.mark("returned");
    assert_eq!(
        fx.take(),
        [
            "C3.attach(P)",
            "P.attach(C3)",
            "C1.attach(P)",
            "P.attach(C1)",
            "C2.attach(P)",
            "P.attach(C2)",
            "returned"
        ]
    );
    p.unload();
    for c in clients {
        c.unload();
    }
    fx.take();
    fx.assert_clean();
}

// ----- R8 -----------------------------------------------------------------------------------

#[test]
fn r08_each_proposal_gets_a_fresh_binding_handle_shared_by_both_sides() {
    let fx = Fx::new();
    let (p1, p2, c) = (fx.provider("P1"), fx.provider("P2"), fx.client("C"));
    assert_eq!(p1.register(), STATUS_SUCCESS);
    assert_eq!(p2.register(), STATUS_SUCCESS);
    assert_eq!(c.register(), STATUS_SUCCESS);
    let mut seen: Vec<usize> = vec![p1.handle_value(), p2.handle_value(), c.handle_value()];
    let events = fx.log.take_events();
    assert_eq!(events.len(), 4);
    for pair in events.chunks(2) {
        assert_eq!(
            pair[0].binding, pair[1].binding,
            "{} and {} got one handle",
            pair[0].what, pair[1].what
        );
        assert_ne!(pair[0].binding, 0);
        assert!(
            !seen.contains(&pair[0].binding),
            "binding handle {:#x} is not fresh",
            pair[0].binding
        );
        seen.push(pair[0].binding);
    }
    // The same handle is what both sides quote later, and what the listing shows.
    let listed: Vec<usize> = fx.bindings().iter().map(|b| b.handle.value()).collect();
    assert_eq!(listed, [events[0].binding, events[2].binding]);
    assert_eq!(c.binding("P1").handle, p1.binding("C").handle);
    // Re-registering never brings an old value back.
    c.unload();
    for _ in 0..3 {
        assert_eq!(c.register(), STATUS_SUCCESS);
        assert!(!seen.contains(&c.handle_value()));
        seen.push(c.handle_value());
        for e in fx.log.take_events().iter().filter(|e| e.what.ends_with(".attach(C)")) {
            assert!(!seen.contains(&e.binding), "binding handle {:#x} reused", e.binding);
            seen.push(e.binding);
        }
        c.unload();
    }
    p1.unload();
    p2.unload();
    fx.take();
    fx.assert_clean();
}
