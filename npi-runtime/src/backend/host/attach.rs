//! Proposals and attaching (R4–R14, R28, R29): a pair is proposed to the client's
//! `ClientAttachProvider`, which may call `NmrClientAttachProvider`, which asks the provider's
//! `ProviderAttachClient`; the answers move the binding through `binding_state::advance`.

use core::ffi::c_void;
use core::ptr;
#[cfg(not(loom))]
use core::time::Duration;
use std::format;
use std::string::String;

use super::binding_state::{Binding, Event, Next, advance};
use super::handles::as_handle;
use super::registrar::Registrar;
#[cfg(not(loom))]
use super::report::Role;
use super::report::{BindingState, Irql, ViolationKind};
use super::tables::Chars;
use super::{faults, frames, sync};
use crate::heap::AllocationSite;
use crate::sys::{NTSTATUS, STATUS_INVALID_DEVICE_STATE, STATUS_INVALID_PARAMETER, STATUS_SUCCESS};

impl Registrar {
    /// Proposes one (client, provider) pair on the registering thread (R4, R5, R7).
    /// Returns false once the registering registration itself is deregistering (R6).
    pub(super) fn propose(&self, client: usize, provider: usize, registering: usize) -> bool {
        let (binding, attach, context, peer_instance) = {
            let mut st = sync::lock(&self.state);
            match st.registrations.get(&registering) {
                Some(r) if !r.deregistering => {}
                _ => return false,
            }
            let (Some(c), Some(p)) =
                (st.registrations.get(&client), st.registrations.get(&provider))
            else {
                return true;
            };
            if c.deregistering || p.deregistering {
                return true;
            }
            let (Chars::Client(cc), Chars::Provider(pc)) = (c.chars, p.chars) else {
                return true;
            };
            // SAFETY: both validated at registration, valid and unchanged until their waits
            // return (R2).
            let attach = unsafe { (*cc).ClientAttachProvider };
            // SAFETY: as above.
            let client_detach = unsafe { (*cc).ClientDetachProvider };
            // SAFETY: as above.
            let client_cleanup = unsafe { (*cc).ClientCleanupBindingContext };
            // SAFETY: as above.
            let provider_detach = unsafe { (*pc).ProviderDetachClient };
            // SAFETY: as above.
            let provider_cleanup = unsafe { (*pc).ProviderCleanupBindingContext };
            let (context, npi, peer_instance) = (c.context, c.npi, p.chars.instance());
            // NETIO allocates the binding before proposing it; when a test makes that fail,
            // this pair is not proposed (nothing tells either module) and the others still are.
            if faults::should_fail(AllocationSite::NmrBinding) {
                return true;
            }
            st.next_binding += 1;
            let serial = st.next_binding;
            let Some(binding) = st.bindings.insert_with(|_| {
                Binding::proposed(
                    serial,
                    npi,
                    client,
                    provider,
                    client_detach,
                    client_cleanup,
                    provider_detach,
                    provider_cleanup,
                )
            }) else {
                return false;
            };
            for reg in [client, provider] {
                if let Some(r) = st.registrations.get_mut(&reg) {
                    r.bindings.push(binding);
                    r.live += 1;
                }
            }
            (binding, attach, context, peer_instance)
        };
        let status = match attach {
            Some(f) => {
                let _frame = self.frame(binding);
                // SAFETY: the module registered this callback with this signature; its context
                // and the peer's registration instance are valid while both are registered.
                unsafe { f(as_handle(binding), context, peer_instance) }
            }
            None => crate::sys::STATUS_NOINTERFACE,
        };
        self.after_client_attach(binding, status);
        true
    }

    /// Settles a proposal once `ClientAttachProvider` returned (R10, R11, OQ-7, OQ-8, R28).
    fn after_client_attach(&self, binding: usize, status: NTSTATUS) {
        const F: &str = "ClientAttachProvider";
        let mut st = sync::lock(&self.state);
        let Some(b) = st.bindings.get_mut(&binding) else {
            return;
        };
        let (npi, state) = (b.npi, b.state);
        let step = match b.advance(Event::ClientAnswered(status)) {
            Ok(step) => step,
            Err(_) => {
                drop(st);
                self.violation(
                    ViolationKind::Internal,
                    Some(npi),
                    binding,
                    F,
                    format!("binding in state {state:?} when its attach callback returned"),
                );
                return;
            }
        };
        match step.next {
            Next::To(BindingState::Established) => {
                let (client, provider) = (b.client, b.provider);
                let late = [client, provider]
                    .iter()
                    .any(|r| st.registrations.get(r).is_some_and(|r| r.deregistering));
                if late && let Some(b) = st.bindings.get_mut(&binding) {
                    // R28: a deregistration began while this attach ran; detach it at once.
                    let _ = b.advance(Event::Deregistered);
                    let job = b.detach_job(binding);
                    drop(st);
                    self.run_detach(job);
                }
            }
            Next::To(_) => {
                // OQ-7: detaching, the provider side only.
                let job = b.detach_job(binding);
                drop(st);
                if let Some((kind, detail)) = step.complaint {
                    let detail = format!(
                        "returned {status:#x} after NmrClientAttachProvider succeeded; {detail}"
                    );
                    self.violation(kind, Some(npi), binding, F, detail);
                }
                self.run_detach(job);
            }
            Next::Gone => {
                let wake = st.remove_binding(binding);
                drop(st);
                if wake {
                    self.emptied.notify_all();
                }
                if let Some((kind, detail)) = step.complaint {
                    self.violation(kind, Some(npi), binding, F, String::from(detail));
                }
            }
            // An answer always moves the binding (`advance`).
            Next::Unchanged => {}
        }
    }

    /// `NmrClientAttachProvider`.
    ///
    /// # Safety
    /// The out-pointers are writable or NULL; context and dispatch stay valid while bound.
    pub(crate) unsafe fn client_attach_provider(
        &self,
        binding: usize,
        client_context: *mut c_void,
        client_dispatch: *const c_void,
        out_context: *mut *mut c_void,
        out_dispatch: *mut *const c_void,
    ) -> NTSTATUS {
        const F: &str = "NmrClientAttachProvider";
        let provider_leaves;
        let (attach, provider_context, client_instance) = {
            let mut st = sync::lock(&self.state);
            let Some(b) = st.bindings.get(&binding) else {
                drop(st);
                self.violation(
                    ViolationKind::AttachOutsideCallback,
                    None,
                    binding,
                    F,
                    String::from("not the handle of a running ClientAttachProvider callback"),
                );
                return STATUS_INVALID_PARAMETER;
            };
            let npi = b.npi;
            // OQ-9: the handle must be the one of the ClientAttachProvider callback running
            // innermost on this thread, not another client's live proposal.
            let call = Event::AttachCall { own_callback: frames::innermost() == Some(binding) };
            if let Err((kind, detail)) = advance(b.state, call) {
                drop(st);
                self.violation(kind, Some(npi), binding, F, String::from(detail));
                return STATUS_INVALID_PARAMETER;
            }
            if out_context.is_null() || out_dispatch.is_null() {
                drop(st);
                self.violation(
                    ViolationKind::AttachNullOutParameter,
                    Some(npi),
                    binding,
                    F,
                    String::from("ProviderBindingContext or ProviderDispatch is NULL"),
                );
                return STATUS_INVALID_PARAMETER;
            }
            if !self.check_irql(Irql::Passive, F, Some(npi), binding) {
                return STATUS_INVALID_DEVICE_STATE;
            }
            // A test's plan (`host::AttachFaults`) answers as a refusing provider would, without
            // calling it: nothing changed, so the client may try again (R12).
            let fault = faults::attach_fault();
            if let Some(faults::AttachFault::Refuse(status)) = fault {
                return status;
            }
            provider_leaves = matches!(fault, Some(faults::AttachFault::ProviderLeaves));
            let (client, provider) = (b.client, b.provider);
            let (Some(c), Some(p)) =
                (st.registrations.get(&client), st.registrations.get(&provider))
            else {
                return STATUS_INVALID_PARAMETER;
            };
            let Chars::Provider(pc) = p.chars else {
                return STATUS_INVALID_PARAMETER;
            };
            // SAFETY: validated at registration, valid until its wait returns (R2).
            let attach = unsafe { (*pc).ProviderAttachClient };
            let found = (attach, p.context, c.chars.instance());
            if let Some(b) = st.bindings.get_mut(&binding) {
                // Allowed: checked above under the same lock.
                let _ = b.advance(call);
                b.client_context = client_context;
            }
            found
        };
        let mut provider_binding_context: *mut c_void = ptr::null_mut();
        let mut provider_dispatch: *const c_void = ptr::null();
        let status = match attach {
            Some(f) => {
                let _frame = self.frame(binding);
                // SAFETY: the provider registered this callback with this signature; every
                // pointer passed is valid for the call (R2, R9).
                unsafe {
                    f(
                        as_handle(binding),
                        provider_context,
                        client_instance,
                        client_context,
                        client_dispatch,
                        &raw mut provider_binding_context,
                        &raw mut provider_dispatch,
                    )
                }
            }
            None => crate::sys::STATUS_NOINTERFACE,
        };
        let unexpected = {
            let mut st = sync::lock(&self.state);
            // Attached, or, after a refusal, proposed again: the client may try again within the
            // same callback (R12).
            st.bindings.get_mut(&binding).and_then(|b| {
                match b.advance(Event::ProviderAnswered(status)) {
                    Ok(_) if status == STATUS_SUCCESS => {
                        b.provider_context = provider_binding_context;
                        None
                    }
                    Ok(_) => None,
                    Err(refused) => Some((b.npi, refused)),
                }
            })
        };
        if let Some((npi, (kind, detail))) = unexpected {
            self.violation(kind, Some(npi), binding, "ProviderAttachClient", String::from(detail));
        }
        if status == STATUS_SUCCESS {
            // SAFETY: checked non-NULL above and writable per the contract. On failure the
            // client's variables stay untouched (R10).
            unsafe { out_context.write(provider_binding_context) };
            // SAFETY: as above.
            unsafe { out_dispatch.write(provider_dispatch) };
            #[cfg(not(loom))]
            if provider_leaves {
                self.provider_leaves(binding);
            }
        }
        #[cfg(loom)]
        let _ = provider_leaves;
        status
    }

    /// `host::AttachFaults::provider_leaves_during_nth`: the provider of `binding` starts
    /// deregistering now, as if its owner did on another thread (R28). This binding is detached
    /// when the client's attach callback returns (`after_client_attach`); the provider's other
    /// bindings are detached on a thread of their own, as the owner's thread would.
    #[cfg(not(loom))]
    fn provider_leaves(&self, binding: usize) {
        let provider = {
            let st = sync::lock(&self.state);
            let Some(b) = st.bindings.get(&binding) else { return };
            b.provider
        };
        let jobs = match self.begin_deregistration(Role::Provider, provider, true) {
            Ok(jobs) => jobs,
            Err(_) => return,
        };
        if let Some(jobs) = self.detach_later(jobs, Some(Duration::ZERO)) {
            for job in jobs {
                self.run_detach(job);
            }
        }
    }
}
