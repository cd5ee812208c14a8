//! Module code never unwinds across `extern "system"`.
//!
//! On the host NMR a panic in a module's callback is caught at the boundary, recorded as a
//! [`ViolationKind::ModulePanic`](crate::host::ViolationKind::ModulePanic) and answered with a
//! fallback (an error status for attach; "finished" for detach and cleanup). In a kernel build
//! there is no unwinding: drivers build with `panic = "abort"`, so a panic goes straight to the
//! driver's `#[panic_handler]`, which should bugcheck (`KeBugCheckEx`) with the message. Either
//! way no unwind crosses into NETIO.SYS.

/// Runs `f`, turning a panic into `fallback`.
#[cfg(npi_host)]
pub(crate) fn guard<R>(
    npi: &crate::sys::GUID,
    callback: &'static str,
    fallback: R,
    f: impl FnOnce() -> R,
) -> R {
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)) {
        Ok(r) => r,
        Err(payload) => {
            let message = payload
                .downcast_ref::<&str>()
                .map(|s| std::string::String::from(*s))
                .or_else(|| payload.downcast_ref::<std::string::String>().cloned())
                .unwrap_or_default();
            crate::backend::host::nmr().violation(
                crate::host::ViolationKind::ModulePanic,
                Some(*npi),
                0,
                callback,
                std::format!("module code panicked: {message}"),
            );
            fallback
        }
    }
}

/// Runs `f`; a panic aborts (kernel builds use `panic = "abort"`).
#[cfg(not(npi_host))]
pub(crate) fn guard<R>(
    npi: &crate::sys::GUID,
    callback: &'static str,
    fallback: R,
    f: impl FnOnce() -> R,
) -> R {
    let _ = (npi, callback, fallback);
    f()
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
