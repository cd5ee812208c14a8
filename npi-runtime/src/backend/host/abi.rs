//! The nine `Nmr*` functions of the host NMR, with their exact C signatures.
//!
//! Each is a thin shim over [`Registrar`]. None of them unwinds: a panic inside the registrar is
//! a bug in npi, and the process stops with the message, as a bugcheck would. Answering with a
//! status instead would be unsound: the registrar may have half-applied a call (a registration
//! inserted, its proposals not made), and a module told "failed" frees what the NMR still uses.
#![allow(non_snake_case)]

use core::ffi::c_void;
use std::panic::{AssertUnwindSafe, catch_unwind};

use super::{Nmr, Registrar, Role, current, for_handle};
use crate::sys::{HANDLE, NPI_CLIENT_CHARACTERISTICS, NPI_PROVIDER_CHARACTERISTICS, NTSTATUS};

/// Which registrar a call goes to: the calling thread's (registration), or the one the handle
/// names (everything else; see the module comment of `super`).
enum Route {
    Current,
    Handle(HANDLE),
}

/// Runs `f` on the registrar of `route`; `refused` if the handle belongs to a registrar the
/// calling thread may not use (already recorded as a violation).
fn shielded<T>(
    function: &'static str,
    route: Route,
    refused: impl FnOnce(NTSTATUS) -> T,
    f: impl FnOnce(&Registrar) -> T,
) -> T {
    // Routing takes no module code and no registrar lock; it records a violation at most.
    let nmr: Nmr = match route {
        Route::Current => current(),
        Route::Handle(h) => match for_handle(h.addr(), function) {
            Ok(nmr) => nmr,
            Err(status) => return refused(status),
        },
    };
    match catch_unwind(AssertUnwindSafe(|| f(&nmr))) {
        Ok(v) => v,
        Err(payload) => {
            let message = payload
                .downcast_ref::<&str>()
                .copied()
                .or_else(|| payload.downcast_ref::<std::string::String>().map(|s| s.as_str()))
                .unwrap_or("(no message)");
            // Under loom a panic here is usually loom's own verdict (a deadlock: a wait nothing
            // can end; too many branches), raised where a thread blocked. It cannot unwind out
            // of an `extern "system"` function either, so it stops the process as well.
            #[cfg(loom)]
            std::eprintln!(
                "npi: loom stopped the model inside {function}: {message}; stopping (a wait \
                 nothing can end is a module that never completes a detach or releases a call)"
            );
            #[cfg(not(loom))]
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
    shielded(
        "NmrRegisterClient",
        Route::Current,
        |s| s,
        |n| {
            // SAFETY: forwarded from this function's own contract.
            unsafe {
                n.register(
                    Role::Client,
                    ClientCharacteristics.cast(),
                    ClientContext,
                    NmrClientHandle,
                )
            }
        },
    )
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
    shielded(
        "NmrRegisterProvider",
        Route::Current,
        |s| s,
        |n| {
            // SAFETY: forwarded from this function's own contract.
            unsafe {
                n.register(
                    Role::Provider,
                    ProviderCharacteristics.cast(),
                    ProviderContext,
                    NmrProviderHandle,
                )
            }
        },
    )
}

/// Starts deregistering a client: its bindings are detached; `STATUS_PENDING` (Windows returns
/// it too; wait with [`NmrWaitForClientDeregisterComplete`]).
///
/// # Safety
/// `NmrClientHandle` came from a successful [`NmrRegisterClient`] and was not deregistered
/// before (NETIO does not check: anything else is undefined behaviour in the kernel); the
/// module's callbacks stay callable until the wait returns. *Host NMR:* any value is accepted;
/// a bad or repeated handle gets an error status and a recorded violation.
pub unsafe extern "system" fn NmrDeregisterClient(NmrClientHandle: HANDLE) -> NTSTATUS {
    shielded(
        "NmrDeregisterClient",
        Route::Handle(NmrClientHandle),
        |s| s,
        |n| n.deregister(Role::Client, NmrClientHandle.addr()),
    )
}

/// Starts deregistering a provider: its bindings are detached; `STATUS_PENDING`.
///
/// # Safety
/// As [`NmrDeregisterClient`], with a handle from [`NmrRegisterProvider`].
pub unsafe extern "system" fn NmrDeregisterProvider(NmrProviderHandle: HANDLE) -> NTSTATUS {
    shielded(
        "NmrDeregisterProvider",
        Route::Handle(NmrProviderHandle),
        |s| s,
        |n| n.deregister(Role::Provider, NmrProviderHandle.addr()),
    )
}

/// Blocks until every binding of a deregistering client is gone, cleanups included; then the
/// handle is dead and the NMR no longer uses the characteristics or the context.
///
/// # Safety
/// A handle passed to [`NmrDeregisterClient`], waited for once, at `PASSIVE_LEVEL`, and not from
/// a callback that the wait would wait for (on Windows: a deadlock). *Host NMR:* any value is
/// accepted; a bad handle or a wait from such a callback gets an error status and a violation.
pub unsafe extern "system" fn NmrWaitForClientDeregisterComplete(
    NmrClientHandle: HANDLE,
) -> NTSTATUS {
    shielded(
        "NmrWaitForClientDeregisterComplete",
        Route::Handle(NmrClientHandle),
        |s| s,
        |n| n.wait_status(Role::Client, NmrClientHandle.addr()),
    )
}

/// Blocks until every binding of a deregistering provider is gone, cleanups included.
///
/// # Safety
/// As [`NmrWaitForClientDeregisterComplete`], with a handle passed to [`NmrDeregisterProvider`].
pub unsafe extern "system" fn NmrWaitForProviderDeregisterComplete(
    NmrProviderHandle: HANDLE,
) -> NTSTATUS {
    shielded(
        "NmrWaitForProviderDeregisterComplete",
        Route::Handle(NmrProviderHandle),
        |s| s,
        |n| n.wait_status(Role::Provider, NmrProviderHandle.addr()),
    )
}

/// Attaches the client to the provider proposed to its `ClientAttachProvider` callback.
///
/// # Safety
/// Called from the client's `ClientAttachProvider` callback with the handle it was given, once;
/// the out-pointers are writable; the context and dispatch table stay valid until the client's
/// cleanup callback returns. *Host NMR:* NULL out-pointers, a wrong handle or a second call are
/// refused with an error status and a violation.
pub unsafe extern "system" fn NmrClientAttachProvider(
    NmrBindingHandle: HANDLE,
    ClientBindingContext: *mut c_void,
    ClientDispatch: *const c_void,
    ProviderBindingContext: *mut *mut c_void,
    ProviderDispatch: *mut *const c_void,
) -> NTSTATUS {
    shielded(
        "NmrClientAttachProvider",
        Route::Handle(NmrBindingHandle),
        |s| s,
        |n| {
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
        },
    )
}

/// Completes the client's half of a detach that returned `STATUS_PENDING`.
///
/// # Safety
/// The binding handle of a binding whose client detach callback returned (or is returning)
/// `STATUS_PENDING`, completed once (on Windows anything else corrupts the NMR). *Host NMR:* any
/// value is accepted; a bad one is recorded as a violation and ignored.
pub unsafe extern "system" fn NmrClientDetachProviderComplete(NmrBindingHandle: HANDLE) {
    shielded("NmrClientDetachProviderComplete", Route::Handle(NmrBindingHandle), drop, |n| {
        n.detach_complete(Role::Client, NmrBindingHandle.addr());
    });
}

/// Completes the provider's half of a detach that returned `STATUS_PENDING`.
///
/// # Safety
/// As [`NmrClientDetachProviderComplete`], for the provider's half.
pub unsafe extern "system" fn NmrProviderDetachClientComplete(NmrBindingHandle: HANDLE) {
    shielded("NmrProviderDetachClientComplete", Route::Handle(NmrBindingHandle), drop, |n| {
        n.detach_complete(Role::Provider, NmrBindingHandle.addr());
    });
}
