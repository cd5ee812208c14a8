//! The real NMR: imports from `NETIO.SYS`.
//!
//! `raw-dylib` with `+verbatim` names the kernel module exactly, so no WDK import library is
//! needed to link. On x86 the functions are `__stdcall` (`extern "system"`); the link name is
//! decorated (`_NmrRegisterClient@12`) while NETIO.SYS exports the undecorated name, which is
//! what `import_name_type = "undecorated"` asks for.
#![allow(non_snake_case)]

use core::ffi::c_void;

use crate::sys::{HANDLE, NPI_CLIENT_CHARACTERISTICS, NPI_PROVIDER_CHARACTERISTICS, NTSTATUS};

pub(crate) mod pool;

#[cfg_attr(
    not(target_arch = "x86"),
    link(name = "NETIO.SYS", kind = "raw-dylib", modifiers = "+verbatim")
)]
#[cfg_attr(
    target_arch = "x86",
    link(
        name = "NETIO.SYS",
        kind = "raw-dylib",
        modifiers = "+verbatim",
        import_name_type = "undecorated"
    )
)]
unsafe extern "system" {
    /// See `NmrRegisterClient` in `netioddk.h`.
    pub fn NmrRegisterClient(
        ClientCharacteristics: *const NPI_CLIENT_CHARACTERISTICS,
        ClientContext: *mut c_void,
        NmrClientHandle: *mut HANDLE,
    ) -> NTSTATUS;
    /// See `NmrDeregisterClient` in `netioddk.h`.
    pub fn NmrDeregisterClient(NmrClientHandle: HANDLE) -> NTSTATUS;
    /// See `NmrWaitForClientDeregisterComplete` in `netioddk.h`.
    pub fn NmrWaitForClientDeregisterComplete(NmrClientHandle: HANDLE) -> NTSTATUS;
    /// See `NmrClientAttachProvider` in `netioddk.h`.
    pub fn NmrClientAttachProvider(
        NmrBindingHandle: HANDLE,
        ClientBindingContext: *mut c_void,
        ClientDispatch: *const c_void,
        ProviderBindingContext: *mut *mut c_void,
        ProviderDispatch: *mut *const c_void,
    ) -> NTSTATUS;
    /// See `NmrClientDetachProviderComplete` in `netioddk.h`.
    pub fn NmrClientDetachProviderComplete(NmrBindingHandle: HANDLE);
    /// See `NmrRegisterProvider` in `netioddk.h`.
    pub fn NmrRegisterProvider(
        ProviderCharacteristics: *const NPI_PROVIDER_CHARACTERISTICS,
        ProviderContext: *mut c_void,
        NmrProviderHandle: *mut HANDLE,
    ) -> NTSTATUS;
    /// See `NmrDeregisterProvider` in `netioddk.h`.
    pub fn NmrDeregisterProvider(NmrProviderHandle: HANDLE) -> NTSTATUS;
    /// See `NmrWaitForProviderDeregisterComplete` in `netioddk.h`.
    pub fn NmrWaitForProviderDeregisterComplete(NmrProviderHandle: HANDLE) -> NTSTATUS;
    /// See `NmrProviderDetachClientComplete` in `netioddk.h`.
    pub fn NmrProviderDetachClientComplete(NmrBindingHandle: HANDLE);
}
