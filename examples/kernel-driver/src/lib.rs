//! EXNPI, the example NPI of Microsoft's NMR documentation, as a Windows kernel driver: the
//! provider and client of `suite/examples/exnpi.rs` written with the same macros, registered from
//! `DriverEntry` and deregistered from `DriverUnload`, with npi-runtime's `NETIO.SYS` backend.
//!
//! ```text
//! cargo xtask driver --target x64   # -> target/xtask/x86_64-pc-windows-msvc/debug/exnpi_driver.sys
//! cargo xtask driver --target all --release
//! ```
//!
//! Where it differs from the host example, it is because of the kernel:
//! - one `'static` client registration instead of two run-time ones (no threads, no `std`), and
//!   both kept in `StaticRegistration`s, one handle each;
//! - the provider answers detach at once instead of pending it for a worker thread;
//! - the trace goes to the kernel debugger (`DbgPrint`) instead of stdout;
//! - no `#[global_allocator]`: npi-runtime is built without its `alloc` feature (this driver
//!   registers `'static` modules only) and takes its binding records from the non-paged pool
//!   itself; a panic is a bugcheck (`kernel.rs`).
#![no_std]

mod kernel;

use core::ffi::c_void;

use npi_runtime::sys::{NTSTATUS, STATUS_INVALID_PARAMETER, STATUS_SUCCESS};
use npi_runtime::{
    Attach, Client, ClientAttachRequest, ClientBinding, ClientDetachRequest, ClientTable, Detach,
    Provider, ProviderAttachRequest, ProviderBinding, ProviderDetachRequest, ProviderTable,
    StaticClientRegistration, StaticProviderRegistration, npi_client, npi_provider,
};

use kernel::{trace, trace_value};

// ---------------------------------------------------------------------------------------------
// The NPI: what both sides agree on (as in suite/examples/exnpi.rs).

// EXNPI's tables and id come from its definition crate, `npis/exnpi`: this module only
// implements them.
use exnpi::{
    ExClientDispatch, ExClientDispatchImpl, ExProviderDispatch, ExProviderDispatchImpl, Exnpi,
    VERSION, length_of,
};

// ---------------------------------------------------------------------------------------------
// The provider module.

#[npi_provider(npi = Exnpi, module_id = "6D6C7F54-80C6-4A52-B0C8-4C9A1D0E3F21")]
struct ExProvider;

/// The provider's per-binding state.
struct ProviderBindingState {
    client_number: u32,
}

impl Provider for ExProvider {
    type Binding = ProviderBindingState;

    fn attach(&self, request: ProviderAttachRequest<'_, Self>) -> Attach {
        let client_number = request.client().number();
        trace_value!("provider: attach from client #", client_number);
        request.accept(ProviderBindingState { client_number }, &PROVIDER_DISPATCH).into()
    }

    fn detach(
        &self,
        binding: &ProviderBinding<'_, Self>,
        request: ProviderDetachRequest<'_, Self>,
    ) -> Detach {
        trace_value!("provider: detach client #", binding.client_number);
        request.done()
    }

    fn cleanup(&self, binding: &ProviderBindingState) {
        trace_value!("provider: cleanup binding of client #", binding.client_number);
    }
}

impl ExProviderDispatchImpl for ExProvider {
    fn provider_function(binding: &ProviderBinding<'_, ExProvider>, value: u32) -> u32 {
        trace_value!("provider: provider_function from client #", binding.client_number);
        if let Some(client) = binding.peer() {
            client.client_notify(value * 2);
        }
        value * 2
    }
}

static PROVIDER_DISPATCH: ProviderTable<ExProvider> =
    ExProviderDispatch::new::<ExProvider>(VERSION, length_of::<ExProviderDispatch>());
static PROVIDER: ExProvider = ExProvider;

// ---------------------------------------------------------------------------------------------
// The client module.

#[npi_client(npi = Exnpi, module_id = "1B0E58E1-0A8F-4E2A-8B6A-0D3577B4C9E0", number = 1)]
struct ExClient;

impl Client for ExClient {
    type Binding = ();

    fn attach(&self, request: ClientAttachRequest<'_, Self>) -> Attach {
        trace!("client: attach to provider -> accept");
        match request.accept((), &CLIENT_DISPATCH) {
            Ok(accepted) => {
                // Call the provider through its table right away: with no threads to hand the
                // binding to, this is where the kernel example exercises both tables.
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

// ---------------------------------------------------------------------------------------------
// The driver: DriverEntry registers, DriverUnload deregisters.

/// The registrations, live from a successful `DriverEntry` to `DriverUnload`: one handle each,
/// as a C driver keeps them.
static PROVIDER_REGISTRATION: StaticProviderRegistration<ExProvider> =
    StaticProviderRegistration::new();
static CLIENT_REGISTRATION: StaticClientRegistration<ExClient> = StaticClientRegistration::new();

/// `DRIVER_INITIALIZE`: registers the EXNPI provider, then the client, whose attach (and its
/// calls through both dispatch tables) runs inside `NmrRegisterClient`.
///
/// `driver_object` is the I/O manager's `DRIVER_OBJECT`, which this fills with the unload
/// routine; `registry_path` (the service key) is not used.
#[unsafe(no_mangle)]
#[allow(clippy::not_unsafe_ptr_arg_deref)] // the documented DRIVER_INITIALIZE signature; only the I/O manager calls it
pub extern "system" fn DriverEntry(
    driver_object: *mut c_void,
    registry_path: *const c_void,
) -> NTSTATUS {
    let _ = registry_path;
    if driver_object.is_null() {
        return STATUS_INVALID_PARAMETER;
    }
    trace!("DriverEntry: register the provider (no client yet, so no callbacks)");
    if let Err(status) = PROVIDER_REGISTRATION.register(&PROVIDER) {
        return status.raw();
    }
    trace!("DriverEntry: register the client (attach runs inside the call)");
    if let Err(status) = CLIENT_REGISTRATION.register(&CLIENT) {
        // The provider goes before the driver does.
        let _ = PROVIDER_REGISTRATION.deregister();
        return status.raw();
    }
    // SAFETY: the I/O manager's DRIVER_OBJECT (checked non-NULL above), which a driver fills in
    // during DriverEntry; the offset of `DriverUnload` is asserted in `kernel`.
    unsafe {
        (&raw mut (*driver_object.cast::<kernel::DRIVER_OBJECT>()).DriverUnload)
            .write(Some(DriverUnload));
    }
    STATUS_SUCCESS
}

/// `DRIVER_UNLOAD`: deregisters the client and the provider and waits for both, so no NMR
/// callback can run in this image once the I/O manager unmaps it.
#[allow(non_snake_case)] // the DDI's name for the role
unsafe extern "system" fn DriverUnload(driver_object: *mut kernel::DRIVER_OBJECT) {
    let _ = driver_object;
    trace!("DriverUnload: deregister (each deregistration waits for its bindings)");
    // The client leaves first, then the provider; each waits until its bindings are detached
    // and cleaned up. A failed wait cannot be helped here: the NMR finishes on its own.
    let _ = CLIENT_REGISTRATION.deregister();
    let _ = PROVIDER_REGISTRATION.deregister();
    trace!("DriverUnload: done");
}
