//! Hygiene check for npi's macros, built by `cargo test --workspace` and linted by CI's
//! clippy run: the expansions must compile in a `#![no_std]` crate, next to local items that
//! shadow the names they could have used relatively (`core`, `npi_runtime`, `Option`, `GUID`,
//! …), and stay silent under pedantic clippy, `missing_docs` and `unused_qualifications`.
#![no_std]
#![deny(
    missing_docs,
    unused_qualifications,
    unreachable_pub,
    rust_2018_idioms,
    clippy::pedantic,
    clippy::all
)]

use ::core::ffi::c_void;

use ::npi_runtime::generic::AsClient;
use ::npi_runtime::{
    Attach, Client, ClientAttachRequest, ClientBinding, ClientTable, Provider,
    ProviderAttachRequest, ProviderBinding, ProviderTable, dispatch_table, npi, npi_client,
    npi_data, npi_provider,
};

/// Shadows the `core` crate for relative paths.
pub mod core {}
/// Shadows the `npi_runtime` crate for relative paths.
pub mod npi_runtime {}
/// Shadows `core::option::Option` from the prelude.
pub type Option = ();
/// Shadows `Some`.
pub struct Some;
/// Shadows the ABI's `GUID`.
pub struct GUID;
/// Shadows `NPI_MODULEID`.
#[allow(non_camel_case_types)]
pub struct NPI_MODULEID;
/// Shadows `Sync`.
pub trait Sync {}
/// Shadows `usize`.
#[allow(non_camel_case_types)]
pub type usize = u8;

/// The provider's table.
#[dispatch_table]
pub struct HygieneProviderDispatch {
    /// Table version.
    pub version: u16,
    /// Reserved, 0.
    pub reserved: u16,
    /// Adds one.
    pub increment: fn(#[context] binding: *mut c_void, value: u32) -> u32,
    /// Takes a pointer, so its caller is `unsafe`.
    pub raw: fn(buffer: *const u8, length: u32) -> i32,
}

/// The client's table: data only, C convention.
#[dispatch_table(abi = "C")]
pub struct HygieneClientDispatch {
    /// `sizeof` the table.
    pub size: u32,
}

/// What a provider publishes.
#[npi_data]
pub struct HygieneProviderCharacteristics {
    /// Highest version supported.
    pub highest: u16,
}
/// The NPI.
#[npi(
    id = "9E3D7C51-6A2B-4F80-B1C4-5D7E9A0B2C3D",
    provider_characteristics = HygieneProviderCharacteristics,
    client_dispatch = HygieneClientDispatch,
    provider_dispatch = HygieneProviderDispatch,
    registration_version = 1
)]
pub struct HygieneNpi;
// SAFETY: the types this declaration gives the NPI are its layouts, and it is the only
// declaration of this id in the program.
unsafe impl ::npi_runtime::NpiLayout for HygieneNpi {}

static PROVIDER_CHARACTERISTICS: HygieneProviderCharacteristics =
    HygieneProviderCharacteristics { highest: 2 };

/// A provider.
#[npi_provider(
    npi = HygieneNpi,
    module_id = "9E3D7C51-6A2B-4F80-B1C4-5D7E9A0B2C3E",
    characteristics = PROVIDER_CHARACTERISTICS,
    number = 4
)]
pub struct HygieneProvider;

impl Provider for HygieneProvider {
    type Binding = u32;
    fn attach(&self, request: ProviderAttachRequest<'_, Self>) -> Attach {
        request.accept(0, &PROVIDER_DISPATCH).into()
    }
}

impl HygieneProviderDispatchImpl for HygieneProvider {
    fn increment(binding: &ProviderBinding<'_, HygieneProvider>, value: u32) -> u32 {
        **binding + value + 1
    }
    unsafe fn raw(buffer: *const u8, length: u32) -> i32 {
        i32::from(!buffer.is_null() && length > 0)
    }
}

static PROVIDER_DISPATCH: ProviderTable<HygieneProvider> =
    HygieneProviderDispatch::new::<HygieneProvider>(1, 0);

/// A client whose module id is chosen per registration.
#[npi_client(npi = HygieneNpi, dynamic_module_id, version = 1)]
pub struct HygieneClient {
    /// Something the client keeps.
    pub state: u32,
}

impl Client for HygieneClient {
    type Binding = ();
    fn attach(&self, request: ClientAttachRequest<'_, Self>) -> Attach {
        match request.provider().characteristics() {
            ::core::option::Option::Some(c) if c.highest >= 2 => {
                request.accept((), &CLIENT_DISPATCH).into()
            }
            _ => request.decline(),
        }
    }
}

/// Calls the provider through the typed view.
#[must_use]
pub fn call(binding: &ClientBinding<'_, HygieneClient>) -> ::core::option::Option<u32> {
    binding.peer().map(|provider| provider.increment(1))
}

static CLIENT_DISPATCH: ClientTable<HygieneClient> = HygieneClientDispatch::new(4);

/// Keeps `AsClient` used in a signature, as a module naming its role would.
pub type HygieneClientRole = AsClient<HygieneClient>;
