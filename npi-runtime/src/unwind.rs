//! Module code never unwinds across `extern "system"`.
//!
//! On the host NMR a panic in a module's callback is caught at the boundary, recorded as a
//! [`ViolationKind::ModulePanic`](crate::host::ViolationKind::ModulePanic) and answered with a
//! fallback (an error status for attach; "finished" for detach and cleanup). In a kernel build
//! there is no unwinding: drivers build with `panic = "abort"`, so a panic goes straight to the
//! driver's `#[panic_handler]`, which should bugcheck (`KeBugCheckEx`) with the message. Either
//! way no unwind crosses into NETIO.SYS.

/// Runs `f`; `None` if it panicked (recorded as a violation).
#[cfg(npi_host)]
pub(crate) fn guard<R>(
    npi: &crate::sys::GUID,
    handle: crate::sys::HANDLE,
    callback: &'static str,
    f: impl FnOnce() -> R,
) -> Option<R> {
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)) {
        Ok(r) => Some(r),
        Err(payload) => {
            let message = payload
                .downcast_ref::<&str>()
                .map(|s| std::string::String::from(*s))
                .or_else(|| payload.downcast_ref::<std::string::String>().cloned())
                .unwrap_or_default();
            // The payload's own destructor could panic too, with a payload whose destructor
            // panics in turn: catch the first, and leak what that panic carries.
            if let Err(inner) =
                std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| drop(payload)))
            {
                core::mem::forget(inner);
            }
            crate::backend::host::current().violation(
                crate::host::ViolationKind::ModulePanic,
                Some(*npi),
                handle.addr(),
                callback,
                std::format!("module code panicked: {message}"),
            );
            None
        }
    }
}

/// Runs `f`; a panic aborts (kernel builds use `panic = "abort"`).
#[cfg(not(npi_host))]
pub(crate) fn guard<R>(
    npi: &crate::sys::GUID,
    handle: crate::sys::HANDLE,
    callback: &'static str,
    f: impl FnOnce() -> R,
) -> Option<R> {
    let _ = (npi, handle, callback);
    Some(f())
}

/// An attach callback answered success with an [`Attach`](crate::Attach) that did not come from
/// this callback's `accept`: recorded on the host (the runtime answers `STATUS_NOINTERFACE`).
#[cfg(npi_host)]
pub(crate) fn success_without_accept(
    npi: &crate::sys::GUID,
    handle: crate::sys::HANDLE,
    callback: &'static str,
) {
    crate::backend::host::current().violation(
        crate::host::ViolationKind::SuccessWithoutAttach,
        Some(*npi),
        handle.addr(),
        callback,
        std::string::String::from(
            "the module answered success without a successful accept in this callback (an \
             `Attach` kept from another callback?); the attach was failed with \
             STATUS_NOINTERFACE",
        ),
    );
}

#[cfg(not(npi_host))]
pub(crate) fn success_without_accept(
    npi: &crate::sys::GUID,
    handle: crate::sys::HANDLE,
    callback: &'static str,
) {
    let _ = (npi, handle, callback);
}

/// Runs a dispatch-table function. A panic cannot be answered with a status here (the return
/// type is the NPI's), so on the host it is recorded and the process aborts with the message,
/// as a bugcheck would; in a kernel build the panic handler runs.
#[doc(hidden)]
pub fn dispatch_guard<R>(function: &'static str, f: impl FnOnce() -> R) -> R {
    #[cfg(npi_host)]
    {
        match std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)) {
            Ok(r) => r,
            Err(_) => {
                std::eprintln!(
                    "npi: dispatch function {function} panicked; a panic cannot cross \
                     `extern \"system\"`, stopping"
                );
                std::process::abort();
            }
        }
    }
    #[cfg(not(npi_host))]
    {
        let _ = function;
        f()
    }
}
