//! The EXNPI client as a Windows kernel driver of its own: registered from `DriverEntry`,
//! deregistered (with the wait) from `DriverUnload`. Its provider is another driver: the Rust
//! provider `examples/drivers/exnpi-provider`, or the C provider
//! `examples/drivers/c/exnpi_provider.c`.
//!
//! On attach it calls the provider through its table (`provider_function(21)`), and the
//! provider calls back through the client's table (`client_notify(42)`): dispatch both ways.
//! Its detach is done at once; the provider's pends.
//!
//! `cargo xtask emulate` runs it against its peers in an emulated kernel.
#![no_std]

#[path = "../../kernel.rs"]
mod kernel;

use core::ffi::c_void;

use npi_runtime::sys::{NTSTATUS, STATUS_INVALID_PARAMETER, STATUS_SUCCESS};
use npi_runtime::{
    Attach, Client, ClientAttachRequest, ClientBinding, ClientDetachRequest, ClientTable, Detach,
    StaticClientRegistration, npi_client,
};

use exnpi::{ExClientDispatch, ExClientDispatchImpl, Exnpi};
use exnpi::{VERSION, length_of};
use kernel::{trace, trace_value};

#[npi_client(npi = Exnpi, module_id = "1B0E58E1-0A8F-4E2A-8B6A-0D3577B4C9E0", number = 1)]
struct ExClient;

impl Client for ExClient {
    type Binding = ();

    fn attach(&self, request: ClientAttachRequest<'_, Self>) -> Attach {
        trace!("client: attach to provider -> accept");
        match request.accept((), &CLIENT_DISPATCH) {
            Ok(accepted) => {
                if let Some(provider) = accepted.binding().peer() {
                    let doubled = provider.provider_function(21);
                    trace_value!("client: provider_function(21) returned", doubled);
                }
                accepted.into()
            }
            Err(refused) => refused.into(),
        }
    }

    fn detach(
        &self,
        binding: &ClientBinding<'_, Self>,
        request: ClientDetachRequest<'_, Self>,
    ) -> Detach {
        let _ = binding;
        trace!("client: detach -> done (nothing in flight)");
        request.done()
    }

    fn cleanup(&self, (): &()) {
        trace!("client: cleanup");
    }
}

impl ExClientDispatchImpl for ExClient {

    fn client_notify(binding: &ClientBinding<'_, ExClient>, value: u32) {
        let _ = binding;
        trace_value!("client: notified of", value);
    }
}

static CLIENT_DISPATCH: ClientTable<ExClient> =
    ExClientDispatch::new::<ExClient>(VERSION, length_of::<ExClientDispatch>());
static CLIENT: ExClient = ExClient;

static CLIENT_REGISTRATION: StaticClientRegistration<ExClient> = StaticClientRegistration::new();

/// `DRIVER_INITIALIZE`: registers the EXNPI client; a provider already registered attaches
/// inside the call.
#[unsafe(no_mangle)]
#[allow(clippy::not_unsafe_ptr_arg_deref)] // the documented DRIVER_INITIALIZE signature
pub extern "system" fn DriverEntry(
    driver_object: *mut c_void,
    registry_path: *const c_void,
) -> NTSTATUS {
    let _ = registry_path;
    if driver_object.is_null() {
        return STATUS_INVALID_PARAMETER;
    }
    trace!("DriverEntry: register the client");
    if let Err(status) = CLIENT_REGISTRATION.register(&CLIENT) {
        return status.raw();
    }
    // SAFETY: the DRIVER_OBJECT DriverEntry received, checked non-NULL.
    unsafe { kernel::set_unload(driver_object, DriverUnload) };
    STATUS_SUCCESS
}

/// `DRIVER_UNLOAD`: deregisters the client and waits until its bindings are detached and
/// cleaned up.
#[allow(non_snake_case)] // the DDI's name for the role
unsafe extern "system" fn DriverUnload(driver_object: *mut kernel::DRIVER_OBJECT) {
    let _ = driver_object;
    trace!("DriverUnload: deregister the client (waits for its bindings)");
    if cfg!(feature = "broken-unload-keeps-registration") {
        // Broken on purpose: the image goes away while still registered.
        return;
    }
    let _ = CLIENT_REGISTRATION.deregister();
    trace!("DriverUnload: done");
}
