//! `NmrRegisterClient` / `NmrRegisterProvider` (R1–R8): validate the characteristics, issue a
//! handle, index the registration under its NPI id, and propose it to every matching peer.

use core::ffi::c_void;
use std::format;
use std::string::String;
use std::vec::Vec;

use super::faults;
use super::handles::{TAG_CLIENT, TAG_PROVIDER, as_handle};
use super::registrar::Registrar;
use super::report::{Irql, Role, ViolationKind};
use super::sync;
use super::tables::{Chars, Registration};
use crate::heap::AllocationSite;
use crate::sys::{
    GUID, HANDLE, NPI_CLIENT_CHARACTERISTICS, NPI_PROVIDER_CHARACTERISTICS,
    NPI_REGISTRATION_INSTANCE, NTSTATUS, STATUS_INVALID_DEVICE_STATE, STATUS_INVALID_PARAMETER,
    STATUS_SUCCESS,
};

impl Registrar {
    /// `NmrRegisterClient` / `NmrRegisterProvider`.
    ///
    /// # Safety
    /// `chars` (client or provider characteristics per `role`), everything it points to and
    /// `context` must stay valid until the registration's wait returns; `out` must be writable
    /// or NULL.
    pub(crate) unsafe fn register(
        &self,
        role: Role,
        chars: *const c_void,
        context: *mut c_void,
        out: *mut HANDLE,
    ) -> NTSTATUS {
        let function = match role {
            Role::Client => "NmrRegisterClient",
            Role::Provider => "NmrRegisterProvider",
        };
        // SAFETY: forwarded from this function's contract.
        let validated = unsafe { self.validate_characteristics(role, chars, out, function) };
        let (chars, npi) = match validated {
            Ok(v) => v,
            Err(status) => return status,
        };
        if !self.check_irql(Irql::Passive, function, Some(npi), 0) {
            return STATUS_INVALID_DEVICE_STATE;
        }
        // NETIO allocates a block per registration; a test can make that fail.
        if faults::should_fail(AllocationSite::NmrRegistration) {
            return crate::sys::STATUS_INSUFFICIENT_RESOURCES;
        }

        let (handle, peers) = {
            let mut st = sync::lock(&self.state);
            let Some(handle) = st.issue(match role {
                Role::Client => TAG_CLIENT,
                Role::Provider => TAG_PROVIDER,
            }) else {
                return crate::sys::STATUS_INSUFFICIENT_RESOURCES;
            };
            st.registrations.insert(
                handle,
                Registration {
                    role,
                    chars,
                    context,
                    npi,
                    deregistering: false,
                    deregistered_by_fault: false,
                    waiting: false,
                    bindings: Vec::new(),
                    live: 0,
                },
            );
            let entry = st.npis.entry(npi).or_default();
            // The index insert and the peer snapshot happen under one lock, so of any two
            // registrations of one NPI exactly one sees the other: each pair is proposed once.
            let peers: Vec<usize> = match role {
                Role::Client => {
                    entry.clients.insert(handle);
                    entry.providers.iter().copied().collect()
                }
                Role::Provider => {
                    entry.providers.insert(handle);
                    entry.clients.iter().copied().collect()
                }
            };
            (handle, peers)
        };
        // The handle is the caller's before any callback runs, so an attach callback may use a
        // module-global handle variable (to deregister, say).
        // SAFETY: `out` was checked non-NULL and is writable per the contract.
        unsafe { out.write(as_handle(handle)) };

        for peer in peers {
            let (client, provider) = match role {
                Role::Client => (handle, peer),
                Role::Provider => (peer, handle),
            };
            if !self.propose(client, provider, handle) {
                break;
            }
        }
        STATUS_SUCCESS
    }

    /// Checks what `NmrRegister*` was given before anything else happens (R1, OQ-6).
    ///
    /// # Safety
    /// As [`Registrar::register`].
    unsafe fn validate_characteristics(
        &self,
        role: Role,
        chars: *const c_void,
        out: *mut HANDLE,
        function: &'static str,
    ) -> Result<(Chars, GUID), NTSTATUS> {
        let invalid = |npi: Option<GUID>, detail: &str| {
            self.violation(
                ViolationKind::InvalidCharacteristics,
                npi,
                0,
                function,
                String::from(detail),
            );
            Err(STATUS_INVALID_PARAMETER)
        };
        if chars.is_null() {
            return invalid(None, "the characteristics pointer is NULL");
        }
        // Both layouts share the header; `Length` is read first, so a short struct is refused
        // before its missing fields are touched.
        let header = chars.cast::<NPI_CLIENT_CHARACTERISTICS>();
        // SAFETY: non-NULL, and the caller promises characteristics of `role`.
        let version = unsafe { (*header).Version };
        // SAFETY: as above.
        let length = unsafe { (*header).Length };
        let (c, attach_missing, detach_missing) = match role {
            Role::Client => {
                let c = chars.cast::<NPI_CLIENT_CHARACTERISTICS>();
                if usize::from(length) < size_of::<NPI_CLIENT_CHARACTERISTICS>() {
                    return invalid(
                        None,
                        "Length is smaller than sizeof(NPI_CLIENT_CHARACTERISTICS)",
                    );
                }
                // SAFETY: the full struct is there (Length checked).
                let a = unsafe { (*c).ClientAttachProvider.is_none() };
                // SAFETY: as above.
                let d = unsafe { (*c).ClientDetachProvider.is_none() };
                (Chars::Client(c), a, d)
            }
            Role::Provider => {
                let c = chars.cast::<NPI_PROVIDER_CHARACTERISTICS>();
                if usize::from(length) < size_of::<NPI_PROVIDER_CHARACTERISTICS>() {
                    return invalid(
                        None,
                        "Length is smaller than sizeof(NPI_PROVIDER_CHARACTERISTICS)",
                    );
                }
                // SAFETY: the full struct is there (Length checked).
                let a = unsafe { (*c).ProviderAttachClient.is_none() };
                // SAFETY: as above.
                let d = unsafe { (*c).ProviderDetachClient.is_none() };
                (Chars::Provider(c), a, d)
            }
        };
        // SAFETY: the instance is embedded in the characteristics checked above.
        let inst = unsafe { &*c.instance() };
        if inst.NpiId.is_null() {
            return invalid(None, "the registration instance's NpiId is NULL");
        }
        // SAFETY: non-NULL; the caller keeps it valid (R2).
        let npi = unsafe { *inst.NpiId };
        if attach_missing {
            return invalid(Some(npi), "the attach callback is NULL");
        }
        if detach_missing {
            return invalid(Some(npi), "the detach callback is NULL");
        }
        if usize::from(inst.Size) < size_of::<NPI_REGISTRATION_INSTANCE>() {
            return invalid(Some(npi), "Size is smaller than sizeof(NPI_REGISTRATION_INSTANCE)");
        }
        if inst.ModuleId.is_null() {
            return invalid(Some(npi), "the registration instance's ModuleId is NULL");
        }
        // Checked once the NPI is known, so that the violation names it.
        if out.is_null() {
            return invalid(Some(npi), "the handle out-pointer is NULL");
        }
        if version != 0 {
            self.violation(
                ViolationKind::NonZeroCharacteristicsVersion,
                Some(npi),
                0,
                function,
                format!("characteristics Version is {version}; the documentation says 0"),
            );
            if self.is_strict(&npi) {
                return Err(STATUS_INVALID_PARAMETER);
            }
        }
        Ok((c, npi))
    }
}
