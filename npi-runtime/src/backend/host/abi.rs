//! The nine `Nmr*` functions of the host NMR, with their exact C signatures.
//!
//! Each is a thin shim over [`Registrar`]. None of them unwinds: a panic inside the registrar is
//! a bug in npi, and the process stops with the message, as a bugcheck would. Answering with a
//! status instead would be unsound: the registrar may have half-applied a call (a registration
//! inserted, its proposals not made), and a module told "failed" frees what the NMR still uses.
#![allow(non_snake_case)]

use core::ffi::c_void;
use std::panic::{AssertUnwindSafe, catch_unwind};

use super::{Registrar, Role, nmr};
use crate::sys::{HANDLE, NPI_CLIENT_CHARACTERISTICS, NPI_PROVIDER_CHARACTERISTICS, NTSTATUS};

fn shielded<T>(function: &'static str, f: impl FnOnce(&Registrar) -> T) -> T {
    let nmr = nmr();
    match catch_unwind(AssertUnwindSafe(|| f(nmr))) {
        Ok(v) => v,
        Err(payload) => {
            let message = payload
                .downcast_ref::<&str>()
                .copied()
                .or_else(|| payload.downcast_ref::<std::string::String>().map(|s| s.as_str()))
                .unwrap_or("(no message)");
            std::eprintln!(
                "npi: the host NMR panicked in {function}: {message}; this is a bug in npi, stopping"
            );
            std::process::abort();
        }
    }
}

/// Registers a client module (`netioddk.h`).
///
/// # Safety
/// `ClientCharacteristics`, everything it points to and `ClientContext` must stay valid until
/// `NmrWaitForClientDeregisterComplete` returns; `NmrClientHandle` must be writable.
pub unsafe extern "system" fn NmrRegisterClient(
    ClientCharacteristics: *const NPI_CLIENT_CHARACTERISTICS,
    ClientContext: *mut c_void,
    NmrClientHandle: *mut HANDLE,
) -> NTSTATUS {
    shielded("NmrRegisterClient", |n| {
        // SAFETY: forwarded from this function's own contract.
        unsafe {
            n.register(Role::Client, ClientCharacteristics.cast(), ClientContext, NmrClientHandle)
        }
    })
}

/// Registers a provider module (`netioddk.h`).
///
/// # Safety
/// As [`NmrRegisterClient`], for the provider side.
pub unsafe extern "system" fn NmrRegisterProvider(
    ProviderCharacteristics: *const NPI_PROVIDER_CHARACTERISTICS,
    ProviderContext: *mut c_void,
    NmrProviderHandle: *mut HANDLE,
) -> NTSTATUS {
    shielded("NmrRegisterProvider", |n| {
        // SAFETY: forwarded from this function's own contract.
        unsafe {
            n.register(
                Role::Provider,
                ProviderCharacteristics.cast(),
                ProviderContext,
                NmrProviderHandle,
            )
        }
    })
}

/// Starts deregistering a client; always `STATUS_PENDING` for a live handle.
///
/// # Safety
/// Any handle value is accepted; the callbacks of the module's bindings must still be callable.
pub unsafe extern "system" fn NmrDeregisterClient(NmrClientHandle: HANDLE) -> NTSTATUS {
    shielded("NmrDeregisterClient", |n| n.deregister(Role::Client, NmrClientHandle.addr()))
}

/// Starts deregistering a provider; always `STATUS_PENDING` for a live handle.
///
/// # Safety
/// As [`NmrDeregisterClient`].
pub unsafe extern "system" fn NmrDeregisterProvider(NmrProviderHandle: HANDLE) -> NTSTATUS {
    shielded("NmrDeregisterProvider", |n| n.deregister(Role::Provider, NmrProviderHandle.addr()))
}

/// Blocks until every binding of a deregistering client is gone, cleanups included.
///
/// # Safety
/// Any handle value is accepted.
pub unsafe extern "system" fn NmrWaitForClientDeregisterComplete(
    NmrClientHandle: HANDLE,
) -> NTSTATUS {
    shielded("NmrWaitForClientDeregisterComplete", |n| {
        n.wait_status(Role::Client, NmrClientHandle.addr())
    })
}

/// Blocks until every binding of a deregistering provider is gone, cleanups included.
///
/// # Safety
/// Any handle value is accepted.
pub unsafe extern "system" fn NmrWaitForProviderDeregisterComplete(
    NmrProviderHandle: HANDLE,
) -> NTSTATUS {
    shielded("NmrWaitForProviderDeregisterComplete", |n| {
        n.wait_status(Role::Provider, NmrProviderHandle.addr())
    })
}

/// Attaches the client to the provider proposed to its `ClientAttachProvider` callback.
///
/// # Safety
/// The out-pointers must be writable (NULL is rejected); the context and dispatch table must
/// stay valid while the binding exists.
pub unsafe extern "system" fn NmrClientAttachProvider(
    NmrBindingHandle: HANDLE,
    ClientBindingContext: *mut c_void,
    ClientDispatch: *const c_void,
    ProviderBindingContext: *mut *mut c_void,
    ProviderDispatch: *mut *const c_void,
) -> NTSTATUS {
    shielded("NmrClientAttachProvider", |n| {
        // SAFETY: forwarded from this function's own contract.
        unsafe {
            n.client_attach_provider(
                NmrBindingHandle.addr(),
                ClientBindingContext,
                ClientDispatch,
                ProviderBindingContext,
                ProviderDispatch,
            )
        }
    })
}

/// Completes the client's half of a detach that returned `STATUS_PENDING`.
///
/// # Safety
/// Any handle value is accepted; a bad one is recorded as a violation and ignored.
pub unsafe extern "system" fn NmrClientDetachProviderComplete(NmrBindingHandle: HANDLE) {
    shielded("NmrClientDetachProviderComplete", |n| {
        n.detach_complete(Role::Client, NmrBindingHandle.addr());
    });
}

/// Completes the provider's half of a detach that returned `STATUS_PENDING`.
///
/// # Safety
/// Any handle value is accepted; a bad one is recorded as a violation and ignored.
pub unsafe extern "system" fn NmrProviderDetachClientComplete(NmrBindingHandle: HANDLE) {
    shielded("NmrProviderDetachClientComplete", |n| {
        n.detach_complete(Role::Provider, NmrBindingHandle.addr());
    });
}
