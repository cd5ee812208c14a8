//! The host extras a test relies on: bounded waits that say what they are stuck on, and the
//! listings of registrations and bindings.

use std::time::{Duration, Instant};

use npi_runtime::host::{self, BindingState, HalfState, Side as Role, WaitError};
use npi_runtime::sys::*;

use crate::support::*;

fn bound(fx: &Fx) -> (&'static Client, &'static Provider) {
    let (c, p) = (fx.client("C"), fx.provider("P"));
    assert_eq!(p.register(), STATUS_SUCCESS);
    assert_eq!(c.register(), STATUS_SUCCESS);
    assert_eq!(fx.take(), ["C.attach(P)", "P.attach(C)"]);
    (c, p)
}

fn guid(id: &NPI_MODULEID) -> GUID {
    id.guid().expect("a MIT_GUID module id")
}

#[test]
fn bounded_wait_reports_the_stuck_binding_its_pending_side_and_both_modules() {
    let fx = Fx::new();
    let (c, p) = bound(&fx);
    p.detach_pending();
    assert_eq!(c.deregister(), STATUS_PENDING);
    let limit = Duration::from_millis(40);
    let start = Instant::now();
    let Err(WaitError::Stuck(stuck)) = c.wait_for(limit) else { panic!("the wait was not stuck") };
    assert!(start.elapsed() >= limit, "gave up after {:?}", start.elapsed());
    let r = &stuck.registration;
    assert_eq!(
        (r.handle.value(), r.role, r.npi, r.deregistering),
        (c.handle_value(), Role::Client, fx.npi, true)
    );
    assert_eq!(guid(&r.module_id), guid(c.module_id));
    assert_eq!(stuck.bindings.len(), 1);
    let b = &stuck.bindings[0];
    assert_eq!(b.handle.value(), c.binding("P").handle);
    assert_eq!((b.client.value(), b.provider.value()), (c.handle_value(), p.handle_value()));
    assert_eq!(
        (b.state, b.client_half, b.provider_half),
        (BindingState::Detaching, HalfState::Done, HalfState::Pending)
    );
    assert_eq!(
        (guid(&b.client_module), guid(&b.provider_module)),
        (guid(c.module_id), guid(p.module_id))
    );
    let text = stuck.to_string();
    for needle in [
        format!("{:#x}", b.handle),
        guid(c.module_id).to_string(),
        guid(p.module_id).to_string(),
        String::from("waiting for the provider to call NmrProviderDetachClientComplete"),
    ] {
        assert!(text.contains(&needle), "{needle:?} missing from:\n{text}");
    }
    assert!(!text.contains("waiting for the client"), "{text}");
    // The handle stays valid and the wait may be repeated.
    assert!(matches!(c.wait_for(Duration::from_millis(5)), Err(WaitError::Stuck(_))));
    p.binding("C").complete();
    assert!(c.wait_for(SIGNAL_LIMIT).is_ok());
    assert!(matches!(c.wait_for(SHORT), Err(WaitError::Status(STATUS_INVALID_PARAMETER))));
    host::take_violations_of(&fx.npi); // the wait on the dead handle
    p.unload();
    fx.take();
    fx.assert_clean();
}

#[test]
fn bounded_wait_on_a_provider_names_the_client_as_the_pending_side() {
    let fx = Fx::new();
    let (c, p) = bound(&fx);
    c.detach_pending();
    assert_eq!(p.deregister(), STATUS_PENDING);
    let Err(WaitError::Stuck(stuck)) = p.wait_for(Duration::from_millis(10)) else {
        panic!("not stuck")
    };
    assert_eq!(stuck.registration.role, Role::Provider);
    assert_eq!(
        (stuck.bindings[0].client_half, stuck.bindings[0].provider_half),
        (HalfState::Pending, HalfState::Done)
    );
    assert!(
        stuck
            .to_string()
            .contains("waiting for the client to call NmrClientDetachProviderComplete")
    );
    let shown = WaitError::Stuck(stuck).to_string();
    assert!(shown.contains("stuck on 1 binding"), "{shown}");
    c.binding("P").complete();
    assert!(p.wait_for(SIGNAL_LIMIT).is_ok());
    c.unload();
    fx.take();
    fx.assert_clean();
}

#[test]
fn listings_show_npi_module_ids_numbers_and_every_state_change() {
    let fx = Fx::new();
    let (c, p) = (fx.client("C"), fx.provider("P"));
    c.edit(|ch| ch.ClientRegistrationInstance.Number = 3);
    p.edit(|ch| ch.ProviderRegistrationInstance.Number = 4);
    assert_eq!(p.register(), STATUS_SUCCESS);
    assert_eq!(c.register(), STATUS_SUCCESS);

    let regs = host::registrations_of(&fx.npi);
    assert_eq!(regs.len(), 2, "{regs:?}");
    let (rp, rc) = (&regs[0], &regs[1]);
    assert_eq!(
        (rp.handle.value(), rp.role, rp.npi, rp.number),
        (p.handle_value(), Role::Provider, fx.npi, 4)
    );
    assert_eq!(
        (rc.handle.value(), rc.role, rc.npi, rc.number),
        (c.handle_value(), Role::Client, fx.npi, 3)
    );
    assert_eq!((guid(&rp.module_id), guid(&rc.module_id)), (guid(p.module_id), guid(c.module_id)));
    assert_eq!(
        (rp.deregistering, rp.bindings, rc.deregistering, rc.bindings),
        (false, 1, false, 1)
    );

    let b = &fx.bindings()[0];
    assert_eq!(
        (b.handle.value(), b.npi, b.client.value(), b.provider.value()),
        (c.binding("P").handle, fx.npi, c.handle_value(), p.handle_value())
    );
    assert_eq!(
        (guid(&b.client_module), guid(&b.provider_module)),
        (guid(c.module_id), guid(p.module_id))
    );
    assert_eq!(
        (b.state, b.client_half, b.provider_half),
        (BindingState::Established, HalfState::Attached, HalfState::Attached)
    );
    assert!(
        host::bindings().iter().any(|x| x.handle == b.handle),
        "the unfiltered listing has it too"
    );

    p.detach_pending();
    assert_eq!(c.deregister(), STATUS_PENDING);
    let b = &fx.bindings()[0];
    assert_eq!(
        (b.state, b.client_half, b.provider_half),
        (BindingState::Detaching, HalfState::Done, HalfState::Pending)
    );
    let rc = host::registrations_of(&fx.npi).into_iter().find(|r| r.role == Role::Client).unwrap();
    assert_eq!((rc.deregistering, rc.bindings), (true, 1));

    p.binding("C").complete();
    assert!(fx.bindings().is_empty());
    let rc = host::registrations_of(&fx.npi).into_iter().find(|r| r.role == Role::Client).unwrap();
    assert_eq!((rc.deregistering, rc.bindings), (true, 0), "listed until the wait");
    assert_eq!(c.wait(), STATUS_SUCCESS);
    assert_eq!(host::registrations_of(&fx.npi).len(), 1);
    p.unload();
    fx.take();
    fx.assert_clean();
}

#[test]
fn listing_shows_a_half_done_as_soon_as_its_detach_callback_returned_success() {
    // What a stuck report says while the provider's detach callback still runs: the client
    // returned STATUS_SUCCESS, so its half is complete (HalfState::Done).
    let fx = Fx::new();
    let (c, p) = bound(&fx);
    let npi = fx.npi;
    let seen = shared::<Vec<(HalfState, HalfState)>>();
    let record = seen.clone();
    p.on_detach(move |_| {
        let b = &host::bindings_of(&npi)[0];
        lock(&record).push((b.client_half, b.provider_half));
        STATUS_SUCCESS
    });
    assert_eq!(c.deregister(), STATUS_PENDING);
    assert_eq!(c.wait(), STATUS_SUCCESS);
    p.unload();
    fx.take();
    fx.assert_clean();
    assert_eq!(*lock(&seen), [(HalfState::Done, HalfState::Detaching)]);
}
