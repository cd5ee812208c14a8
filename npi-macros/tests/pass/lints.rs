//! The expansions stay silent under a strict set of rustc lints a driver crate may deny.
//! (`unsafe_code` is not in the list: this crate declares an NPI, which takes `unsafe impl
//! NpiLayout`, and implements `unsafe fn` table functions; `tests/forbid-unsafe` is the crate
//! that forbids it.)
#![deny(
    warnings,
    future_incompatible,
    nonstandard_style,
    rust_2018_idioms,
    unused,
    unused_qualifications,
    unused_results,
    unreachable_pub,
    missing_docs,
    missing_debug_implementations,
    missing_copy_implementations,
    single_use_lifetimes,
    unused_lifetimes,
    redundant_lifetimes,
    elided_lifetimes_in_paths,
    trivial_casts,
    trivial_numeric_casts,
    let_underscore_drop,
    unit_bindings,
    unsafe_op_in_unsafe_fn,
    variant_size_differences
)]

use core::ffi::c_void;

use npi_runtime::{Attach, Client, ProviderAttachRequest, ClientRegistration, ClientTable, Provider, ProviderBinding, ClientAttachRequest, ProviderRegistration, ProviderTable, dispatch_table, npi, npi_client, npi_data, npi_provider};

/// The provider's table.
#[dispatch_table]
pub struct LintDispatch {
    /// Version.
    pub version: u16,
    /// A function that gets the provider's binding context.
    pub with_context: fn(#[context] binding: *mut c_void, value: u32) -> u32,
    /// A function without one, with a pointer parameter.
    pub without_context: fn(out: *mut u32),
}

/// The client's table: data only.
#[dispatch_table(abi = "C")]
pub struct LintClientDispatch {
    /// Its own size.
    pub size: usize,
}

/// Provider characteristics.
#[npi_data]
#[derive(Debug, Clone, Copy)]
pub struct LintProviderInfo {
    /// Highest version.
    pub highest: u16,
}


/// The NPI.
#[npi(
    id = "1A2B3C4D-0000-4000-8000-00000000000A",
    provider_characteristics = LintProviderInfo,
    client_dispatch = LintClientDispatch,
    provider_dispatch = LintDispatch,
    registration_version = 3
)]
#[derive(Debug, Clone, Copy)]
pub struct LintNpi;
// SAFETY: the types this declaration gives the NPI are its layouts, and it is the only
// declaration of this id in the program.
unsafe impl ::npi_runtime::NpiLayout for LintNpi {}

static PROVIDER_INFO: LintProviderInfo = LintProviderInfo { highest: 1 };

#[npi_provider(
    npi = LintNpi,
    module_id = "1A2B3C4D-0000-4000-8000-00000000000B",
    number = 1,
    characteristics = PROVIDER_INFO
)]
#[derive(Debug)]
struct LintProvider;

impl Provider for LintProvider {
    type Binding = u32;

    fn attach(&self, request: ProviderAttachRequest<'_, Self>) -> Attach {
        request.accept(7, &LINT_DISPATCH).into()
    }
}

impl LintDispatchImpl for LintProvider {
    fn with_context(binding: &ProviderBinding<'_, Self>, value: u32) -> u32 {
        value + **binding
    }

    unsafe fn without_context(out: *mut u32) {
        // SAFETY: the caller passes a valid out-pointer.
        unsafe { out.write(1) };
    }
}

static LINT_DISPATCH: ProviderTable<LintProvider> = LintDispatch::new::<LintProvider>(1);
static CLIENT_DISPATCH: ClientTable<LintClient> =
    LintClientDispatch::new(size_of::<LintClientDispatch>());
static PROVIDER: LintProvider = LintProvider;

#[npi_client(npi = LintNpi, dynamic_module_id, version = 3)]
#[derive(Debug)]
struct LintClient;

impl Client for LintClient {
    type Binding = ();

    fn attach(&self, request: ClientAttachRequest<'_, Self>) -> Attach {
        match request.accept((), &CLIENT_DISPATCH) {
            Ok(accepted) => {
                let provider = accepted.binding().peer().expect("the provider's table");
                assert_eq!(provider.with_context(1), 8);
                let mut out = 0;
                // SAFETY: a valid out-pointer.
                unsafe { provider.without_context(&mut out) };
                assert_eq!(out, 1);
                accepted.into()
            }
            Err(refused) => refused.into(),
        }
    }
}

static CLIENT: LintClient = LintClient;

fn main() {
    let provider = ProviderRegistration::register(&PROVIDER).expect("register");
    let client = ClientRegistration::builder(&CLIENT)
        .module_guid(npi_runtime::sys::GUID::from_u128(0x1A2B_3C4D_0000_4000_8000_0000_0000_000C))
        .register()
        .expect("register");
    drop(client);
    drop(provider);
}
