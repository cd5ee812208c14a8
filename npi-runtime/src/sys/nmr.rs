//! The NMR's own names (`netioddk.h`, `netiodef.h`): the structs, callback types and constants
//! of the contract, and the nine `Nmr*` functions. Nothing here clashes with a binding of the
//! base Windows headers, so `use npi_runtime::sys::nmr::*;` sits beside `use wdk_sys::*;`.
#![allow(non_camel_case_types, non_snake_case)]

use core::ffi::c_void;
use core::fmt;

use super::base::{GUID, HANDLE, LUID, NTSTATUS};

#[cfg(npi_host)]
pub use crate::backend::host::abi::{
    NmrClientAttachProvider, NmrClientDetachProviderComplete, NmrDeregisterClient,
    NmrDeregisterProvider, NmrProviderDetachClientComplete, NmrRegisterClient, NmrRegisterProvider,
    NmrWaitForClientDeregisterComplete, NmrWaitForProviderDeregisterComplete,
};
#[cfg(not(npi_host))]
pub use crate::backend::netio::{
    NmrClientAttachProvider, NmrClientDetachProviderComplete, NmrDeregisterClient,
    NmrDeregisterProvider, NmrProviderDetachClientComplete, NmrRegisterClient, NmrRegisterProvider,
    NmrWaitForClientDeregisterComplete, NmrWaitForProviderDeregisterComplete,
};

/// `NPIID`: the GUID that names a Network Programming Interface.
pub type NPIID = GUID;

/// `NPI_MODULEID_TYPE`, a C enum (an `int`).
pub type NPI_MODULEID_TYPE = i32;
/// The module id is a GUID.
pub const MIT_GUID: NPI_MODULEID_TYPE = 1;
/// The module id is an interface LUID.
pub const MIT_IF_LUID: NPI_MODULEID_TYPE = 2;

/// The anonymous union inside `NPI_MODULEID`.
#[repr(C)]
#[derive(Clone, Copy)]
pub union NPI_MODULEID_0 {
    /// Valid when `Type == MIT_GUID`.
    pub Guid: GUID,
    /// Valid when `Type == MIT_IF_LUID`.
    pub IfLuid: LUID,
}

/// Opaque: which member is valid depends on the enclosing `NPI_MODULEID`'s `Type`, whose
/// `Debug` prints the right one.
impl fmt::Debug for NPI_MODULEID_0 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NPI_MODULEID_0").finish_non_exhaustive()
    }
}

/// `NPI_MODULEID`: identifies a network module (24 bytes on every target).
#[repr(C)]
#[derive(Clone, Copy)]
pub struct NPI_MODULEID {
    /// `sizeof(NPI_MODULEID)`.
    pub Length: u16,
    /// [`MIT_GUID`] or [`MIT_IF_LUID`].
    pub Type: NPI_MODULEID_TYPE,
    /// The id itself, selected by `Type`.
    pub Anonymous: NPI_MODULEID_0,
}

impl NPI_MODULEID {
    /// A `MIT_GUID` module id with the correct `Length`, as every documented module declares it.
    #[must_use]
    #[allow(clippy::cast_possible_truncation)] // 24 fits in a u16
    pub const fn from_guid(guid: GUID) -> Self {
        Self {
            Length: size_of::<Self>() as u16,
            Type: MIT_GUID,
            Anonymous: NPI_MODULEID_0 { Guid: guid },
        }
    }

    /// The GUID, if this is a `MIT_GUID` module id.
    #[must_use]
    pub const fn guid(&self) -> Option<GUID> {
        if self.Type == MIT_GUID {
            // SAFETY: `Type == MIT_GUID` says the union holds a GUID; both members are plain
            // integers, so any bit pattern is a valid value anyway.
            Some(unsafe { self.Anonymous.Guid })
        } else {
            None
        }
    }

    /// The LUID, if this is a `MIT_IF_LUID` module id.
    #[must_use]
    pub const fn if_luid(&self) -> Option<LUID> {
        if self.Type == MIT_IF_LUID {
            // SAFETY: as in `guid`: the tag selects the member and every bit pattern is valid.
            Some(unsafe { self.Anonymous.IfLuid })
        } else {
            None
        }
    }
}

impl fmt::Debug for NPI_MODULEID {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut s = f.debug_struct("NPI_MODULEID");
        s.field("Length", &self.Length).field("Type", &self.Type);
        match (self.guid(), self.if_luid()) {
            (Some(g), _) => s.field("Guid", &format_args!("{g}")),
            (_, Some(l)) => s.field("IfLuid", &l),
            _ => s.field("Anonymous", &format_args!("<unknown type>")),
        };
        s.finish()
    }
}

/// `NmrIsEqualNpiModuleId` from `netiodef.h`: equal types and byte-equal ids; `Length` is
/// ignored and an unknown `Type` never compares equal.
#[must_use]
pub fn NmrIsEqualNpiModuleId(a: &NPI_MODULEID, b: &NPI_MODULEID) -> bool {
    if a.Type != b.Type {
        return false;
    }
    match a.Type {
        MIT_GUID => a.guid() == b.guid(),
        MIT_IF_LUID => a.if_luid() == b.if_luid(),
        _ => false,
    }
}

/// `NPI_REGISTRATION_INSTANCE`: what a module tells its peers about itself.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct NPI_REGISTRATION_INSTANCE {
    /// Documented as 0; several Microsoft NPIs put their own version here (XDP uses 1).
    pub Version: u16,
    /// `sizeof(NPI_REGISTRATION_INSTANCE)`.
    pub Size: u16,
    /// The NPI this registration implements; matched by value.
    pub NpiId: *const NPIID,
    /// The module's id; opaque to the NMR.
    pub ModuleId: *const NPI_MODULEID,
    /// Implementation number when a module registers several; opaque to the NMR.
    pub Number: u32,
    /// NPI-defined data, or NULL.
    pub NpiSpecificCharacteristics: *const c_void,
}

/// `NPI_CLIENT_ATTACH_PROVIDER_FN *`.
pub type PNPI_CLIENT_ATTACH_PROVIDER_FN = Option<
    unsafe extern "system" fn(
        NmrBindingHandle: HANDLE,
        ClientContext: *mut c_void,
        ProviderRegistrationInstance: *const NPI_REGISTRATION_INSTANCE,
    ) -> NTSTATUS,
>;
/// `NPI_CLIENT_DETACH_PROVIDER_FN *`.
pub type PNPI_CLIENT_DETACH_PROVIDER_FN =
    Option<unsafe extern "system" fn(ClientBindingContext: *mut c_void) -> NTSTATUS>;
/// `NPI_CLIENT_CLEANUP_BINDING_CONTEXT_FN *`.
pub type PNPI_CLIENT_CLEANUP_BINDING_CONTEXT_FN =
    Option<unsafe extern "system" fn(ClientBindingContext: *mut c_void)>;
/// `NPI_PROVIDER_ATTACH_CLIENT_FN *`.
pub type PNPI_PROVIDER_ATTACH_CLIENT_FN = Option<
    unsafe extern "system" fn(
        NmrBindingHandle: HANDLE,
        ProviderContext: *mut c_void,
        ClientRegistrationInstance: *const NPI_REGISTRATION_INSTANCE,
        ClientBindingContext: *mut c_void,
        ClientDispatch: *const c_void,
        ProviderBindingContext: *mut *mut c_void,
        ProviderDispatch: *mut *const c_void,
    ) -> NTSTATUS,
>;
/// `NPI_PROVIDER_DETACH_CLIENT_FN *`.
pub type PNPI_PROVIDER_DETACH_CLIENT_FN =
    Option<unsafe extern "system" fn(ProviderBindingContext: *mut c_void) -> NTSTATUS>;
/// `NPI_PROVIDER_CLEANUP_BINDING_CONTEXT_FN *`.
pub type PNPI_PROVIDER_CLEANUP_BINDING_CONTEXT_FN =
    Option<unsafe extern "system" fn(ProviderBindingContext: *mut c_void)>;

/// `NPI_CLIENT_CHARACTERISTICS`: passed to `NmrRegisterClient`, kept by pointer until the
/// deregistration wait returns.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct NPI_CLIENT_CHARACTERISTICS {
    /// 0.
    pub Version: u16,
    /// `sizeof(NPI_CLIENT_CHARACTERISTICS)`.
    pub Length: u16,
    /// Required.
    pub ClientAttachProvider: PNPI_CLIENT_ATTACH_PROVIDER_FN,
    /// Required.
    pub ClientDetachProvider: PNPI_CLIENT_DETACH_PROVIDER_FN,
    /// Optional (NULL when the client has nothing to release).
    pub ClientCleanupBindingContext: PNPI_CLIENT_CLEANUP_BINDING_CONTEXT_FN,
    /// Embedded, not a pointer.
    pub ClientRegistrationInstance: NPI_REGISTRATION_INSTANCE,
}

/// `NPI_PROVIDER_CHARACTERISTICS`: same layout as the client's.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct NPI_PROVIDER_CHARACTERISTICS {
    /// 0.
    pub Version: u16,
    /// `sizeof(NPI_PROVIDER_CHARACTERISTICS)`.
    pub Length: u16,
    /// Required.
    pub ProviderAttachClient: PNPI_PROVIDER_ATTACH_CLIENT_FN,
    /// Required.
    pub ProviderDetachClient: PNPI_PROVIDER_DETACH_CLIENT_FN,
    /// Optional (NULL when the provider has nothing to release).
    pub ProviderCleanupBindingContext: PNPI_PROVIDER_CLEANUP_BINDING_CONTEXT_FN,
    /// Embedded, not a pointer.
    pub ProviderRegistrationInstance: NPI_REGISTRATION_INSTANCE,
}

/// `NPI` from `netioddk.h`: a handle plus dispatch table (no NMR function takes it).
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct NPI {
    /// Opaque handle.
    pub Handle: HANDLE,
    /// Dispatch table.
    pub Dispatch: *const c_void,
}

// Layout checks against `spec/nmr-contract.md` §3, on every target this crate is built for.
// The 32-bit numbers are checked by the i686 kernel build, not compiled out.
const _: () = {
    use core::mem::{align_of, offset_of, size_of};
    assert!(size_of::<NPI_MODULEID>() == 24 && align_of::<NPI_MODULEID>() == 4);
    assert!(offset_of!(NPI_MODULEID, Length) == 0);
    assert!(offset_of!(NPI_MODULEID, Type) == 4);
    assert!(offset_of!(NPI_MODULEID, Anonymous) == 8);

    #[cfg(target_pointer_width = "64")]
    {
        assert!(size_of::<NPI_REGISTRATION_INSTANCE>() == 40);
        assert!(offset_of!(NPI_REGISTRATION_INSTANCE, Size) == 2);
        assert!(offset_of!(NPI_REGISTRATION_INSTANCE, NpiId) == 8);
        assert!(offset_of!(NPI_REGISTRATION_INSTANCE, ModuleId) == 16);
        assert!(offset_of!(NPI_REGISTRATION_INSTANCE, Number) == 24);
        assert!(offset_of!(NPI_REGISTRATION_INSTANCE, NpiSpecificCharacteristics) == 32);
        assert!(size_of::<NPI_CLIENT_CHARACTERISTICS>() == 72);
        assert!(offset_of!(NPI_CLIENT_CHARACTERISTICS, Length) == 2);
        assert!(offset_of!(NPI_CLIENT_CHARACTERISTICS, ClientAttachProvider) == 8);
        assert!(offset_of!(NPI_CLIENT_CHARACTERISTICS, ClientDetachProvider) == 16);
        assert!(offset_of!(NPI_CLIENT_CHARACTERISTICS, ClientCleanupBindingContext) == 24);
        assert!(offset_of!(NPI_CLIENT_CHARACTERISTICS, ClientRegistrationInstance) == 32);
        assert!(size_of::<NPI_PROVIDER_CHARACTERISTICS>() == 72);
        assert!(offset_of!(NPI_PROVIDER_CHARACTERISTICS, ProviderAttachClient) == 8);
        assert!(offset_of!(NPI_PROVIDER_CHARACTERISTICS, ProviderDetachClient) == 16);
        assert!(offset_of!(NPI_PROVIDER_CHARACTERISTICS, ProviderCleanupBindingContext) == 24);
        assert!(offset_of!(NPI_PROVIDER_CHARACTERISTICS, ProviderRegistrationInstance) == 32);
        assert!(size_of::<NPI>() == 16);
    }
    #[cfg(target_pointer_width = "32")]
    {
        assert!(size_of::<NPI_REGISTRATION_INSTANCE>() == 20);
        assert!(offset_of!(NPI_REGISTRATION_INSTANCE, Size) == 2);
        assert!(offset_of!(NPI_REGISTRATION_INSTANCE, NpiId) == 4);
        assert!(offset_of!(NPI_REGISTRATION_INSTANCE, ModuleId) == 8);
        assert!(offset_of!(NPI_REGISTRATION_INSTANCE, Number) == 12);
        assert!(offset_of!(NPI_REGISTRATION_INSTANCE, NpiSpecificCharacteristics) == 16);
        assert!(size_of::<NPI_CLIENT_CHARACTERISTICS>() == 36);
        assert!(offset_of!(NPI_CLIENT_CHARACTERISTICS, Length) == 2);
        assert!(offset_of!(NPI_CLIENT_CHARACTERISTICS, ClientAttachProvider) == 4);
        assert!(offset_of!(NPI_CLIENT_CHARACTERISTICS, ClientDetachProvider) == 8);
        assert!(offset_of!(NPI_CLIENT_CHARACTERISTICS, ClientCleanupBindingContext) == 12);
        assert!(offset_of!(NPI_CLIENT_CHARACTERISTICS, ClientRegistrationInstance) == 16);
        assert!(size_of::<NPI_PROVIDER_CHARACTERISTICS>() == 36);
        assert!(offset_of!(NPI_PROVIDER_CHARACTERISTICS, ProviderAttachClient) == 4);
        assert!(offset_of!(NPI_PROVIDER_CHARACTERISTICS, ProviderDetachClient) == 8);
        assert!(offset_of!(NPI_PROVIDER_CHARACTERISTICS, ProviderCleanupBindingContext) == 12);
        assert!(offset_of!(NPI_PROVIDER_CHARACTERISTICS, ProviderRegistrationInstance) == 16);
        assert!(size_of::<NPI>() == 8);
    }
};
