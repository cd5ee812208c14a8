//! The hook NPI (`EBPF_HOOK_EXTENSION_IID`): how ebpfcore's link objects attach eBPF programs
//! to a hook extension such as netebpfext.
//!
//! - [`EbpfHook`]: NPI id `{5d564054-2736-406d-8b22-12bcffaf0a9f}`.
//! - The client is a **link**: every link registers its own client at run time, with the link's
//!   GUID as its module id and its [`EbpfExtensionData`] (`link->client_data`) as NPI-specific
//!   characteristics, and offers an [`EbpfLinkDispatch`] through which the hook invokes the
//!   program. Clients of this NPI are `dynamic_module_id`.
//! - The provider is the extension: its module id is the **attach-type GUID** the link
//!   compares, its characteristics an [`EbpfAttachProviderData`] naming the program type the
//!   hook runs, its dispatch NULL.
//! - Every extension data structure starts with an [`EbpfExtensionHeader`]: `version` must
//!   equal the supported one, `size` (through the last field, [`EbpfExtensionHeader::new`]) must
//!   be one of the sizes known for it, `total_size` is `sizeof`.
//! - The link dispatch starts with `{u16 version, u16 count}`
//!   ([`EBPF_LINK_DISPATCH_TABLE_VERSION_1`], [`EBPF_LINK_DISPATCH_TABLE_FUNCTION_COUNT_1`]),
//!   then four C-convention functions (`abi = "C"`).
//!
//! Using it: a link is `#[npi_client(npi = EbpfHook, dynamic_module_id)]` implementing
//! `EbpfLinkDispatchImpl`, registered with its own GUID and owned `client_data`; a hook
//! provider is `#[npi_provider(npi = EbpfHook, module_id = "<attach type>", characteristics =
//! …)]`. `suite/examples/link_objects.rs` in the npi repository runs a thousand links against one.
//!
//! In the C header (`include/ebpf_hook.h`) the NPI id is `EBPF_HOOK_EXTENSION_IID`, the structs
//! keep eBPF's names, and the members are PascalCase (see the crate docs).

use core::ffi::c_void;
use core::fmt::{self, Display, Write};
use core::mem::offset_of;

use npi_runtime::c_header::{CLayout, CType};
use npi_runtime::sys::GUID;
use npi_runtime::{Npi, dispatch_table, npi, npi_data};

/// `ebpf_extension_header_t`, first in every extension data structure.
#[npi_data(c_name = "ebpf_extension_header_t")]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EbpfExtensionHeader {
    /// Bumped only for incompatible changes.
    pub version: u16,
    /// Bytes through the last field, without tail padding (`EBPF_SIZE_INCLUDING_FIELD`).
    pub size: usize,
    /// `sizeof` the struct.
    pub total_size: usize,
}

impl EbpfExtensionHeader {
    /// The header of a `T` of `version` whose fields run through `size` bytes (an `X_HEADER`
    /// initialiser): `total_size` is `sizeof(T)`.
    #[must_use]
    pub const fn new<T>(version: u16, size: usize) -> Self {
        Self { version, size, total_size: size_of::<T>() }
    }
}

/// A `const void*` carried in NPI data: only passed along, never dereferenced by this crate.
#[repr(transparent)]
#[derive(Debug, Clone, Copy)]
pub struct OpaquePtr(pub *const c_void);

// SAFETY: an opaque value, never dereferenced through this type: sharing it shares an address.
unsafe impl Sync for OpaquePtr {}
// SAFETY: as above.
unsafe impl Send for OpaquePtr {}

// SAFETY: `#[repr(transparent)]` over a pointer: spelled and laid out as one.
unsafe impl CType for OpaquePtr {
    const LAYOUT: CLayout = <*const c_void as CType>::LAYOUT;
    fn declare(out: &mut dyn Write, qualifier: &str, d: &dyn Display) -> fmt::Result {
        <*const c_void as CType>::declare(out, qualifier, d)
    }
}

/// `ebpf_extension_data_t`: a link's client characteristics (`link->client_data`).
#[npi_data(c_name = "ebpf_extension_data_t")]
#[derive(Debug)]
pub struct EbpfExtensionData {
    /// Version [`EBPF_ATTACH_CLIENT_DATA_HEADER_VERSION`].
    pub header: EbpfExtensionHeader,
    /// Attach parameters.
    pub data: OpaquePtr,
    /// Their size.
    pub data_size: usize,
    /// `prog_attach_flags`.
    pub prog_attach_flags: u64,
}

/// `ebpf_attach_provider_data_t`: the hook provider's characteristics.
#[npi_data(c_name = "ebpf_attach_provider_data_t")]
#[derive(Debug)]
pub struct EbpfAttachProviderData {
    /// Version [`EBPF_ATTACH_PROVIDER_DATA_CURRENT_VERSION`].
    pub header: EbpfExtensionHeader,
    /// The program type the hook runs.
    pub supported_program_type: GUID,
    /// `bpf_attach_type_t`.
    pub bpf_attach_type: u32,
    /// `enum bpf_link_type`.
    pub link_type: u32,
}

/// `EBPF_ATTACH_CLIENT_DATA_HEADER_VERSION`: a link's `client_data` version.
pub const EBPF_ATTACH_CLIENT_DATA_HEADER_VERSION: u16 = 1;
/// `EBPF_ATTACH_CLIENT_DATA_CURRENT_VERSION_SIZE`: through `prog_attach_flags`.
pub const EBPF_ATTACH_CLIENT_DATA_CURRENT_VERSION_SIZE: usize =
    offset_of!(EbpfExtensionData, prog_attach_flags) + size_of::<u64>();
/// `EBPF_ATTACH_PROVIDER_DATA_CURRENT_VERSION`.
pub const EBPF_ATTACH_PROVIDER_DATA_CURRENT_VERSION: u16 = 1;
/// `EBPF_ATTACH_PROVIDER_DATA_CURRENT_VERSION_SIZE`: through `link_type`.
pub const EBPF_ATTACH_PROVIDER_DATA_CURRENT_VERSION_SIZE: usize =
    offset_of!(EbpfAttachProviderData, link_type) + size_of::<u32>();

/// `ebpf_result_t` (a C `enum`: 4 bytes).
pub type EbpfResult = i32;
/// `EBPF_SUCCESS`.
pub const EBPF_SUCCESS: EbpfResult = 0;

/// `EBPF_LINK_DISPATCH_TABLE_VERSION_1` (= `_CURRENT`).
pub const EBPF_LINK_DISPATCH_TABLE_VERSION_1: u16 = 1;
/// `EBPF_LINK_DISPATCH_TABLE_FUNCTION_COUNT_1`.
pub const EBPF_LINK_DISPATCH_TABLE_FUNCTION_COUNT_1: u16 = 4;

/// `ebpf_extension_program_dispatch_table_t`: the link's table, `{u16 version, u16 count}`
/// then four C-convention functions.
#[dispatch_table(abi = "C", c_name = "ebpf_extension_program_dispatch_table_t", c_prefix = "FN")]
pub struct EbpfLinkDispatch {
    /// [`EBPF_LINK_DISPATCH_TABLE_VERSION_1`].
    pub version: u16,
    /// [`EBPF_LINK_DISPATCH_TABLE_FUNCTION_COUNT_1`].
    pub count: u16,
    /// `ebpf_program_invoke_function_t`.
    pub ebpf_program_invoke_function: fn(
        #[context] client_binding_context: *mut c_void,
        program_context: *mut c_void,
        result: *mut u32,
    ) -> EbpfResult,
    /// `ebpf_program_batch_begin_invoke_function_t`.
    pub ebpf_program_batch_begin_invoke_function:
        fn(state_size: usize, state: *mut c_void) -> EbpfResult,
    /// `ebpf_program_batch_invoke_function_t`.
    pub ebpf_program_batch_invoke_function: fn(
        #[context] client_binding_context: *mut c_void,
        program_context: *mut c_void,
        result: *mut u32,
        state: *const c_void,
    ) -> EbpfResult,
    /// `ebpf_program_batch_end_invoke_function_t`.
    pub ebpf_program_batch_end_invoke_function: fn(state: *mut c_void) -> EbpfResult,
}

/// The hook NPI: `EBPF_HOOK_EXTENSION_IID`.
#[npi(
    id = "5d564054-2736-406d-8b22-12bcffaf0a9f",
    client_characteristics = EbpfExtensionData,
    provider_characteristics = EbpfAttachProviderData,
    client_dispatch = EbpfLinkDispatch,
    c_name = "ebpf_hook",
    c_id = "EBPF_HOOK_EXTENSION_IID"
)]
pub struct EbpfHook;
// SAFETY: the layouts are ebpf_extension.h's and ebpf_windows.h's (the header, the link's
// client data, the provider data, the link dispatch), asserted below; this crate is the one
// declaration of this id that every module speaking it takes its layouts from.
unsafe impl npi_runtime::NpiLayout for EbpfHook {}

// ----- layouts: ebpf_extension.h's sizes and offsets (x64 / x86) --------------------------------

const _: () = assert!(EbpfHook::ID.to_u128() == 0x5D56_4054_2736_406D_8B22_12BC_FFAF_0A9F);
const _: () = assert!(EbpfHook::REGISTRATION_VERSION == 0);
const _: () = assert!(size_of::<<EbpfHook as Npi>::ProviderDispatch>() == 0);
const _: () = assert!(offset_of!(EbpfLinkDispatch, count) == 2);
#[cfg(target_pointer_width = "64")]
const _: () = {
    assert!(size_of::<EbpfExtensionHeader>() == 24);
    assert!(offset_of!(EbpfExtensionHeader, size) == 8);
    assert!(offset_of!(EbpfExtensionHeader, total_size) == 16);
    assert!(size_of::<EbpfExtensionData>() == 48);
    assert!(size_of::<EbpfAttachProviderData>() == 48);
    assert!(size_of::<EbpfLinkDispatch>() == 40);
    assert!(offset_of!(EbpfLinkDispatch, ebpf_program_invoke_function) == 8);
};
#[cfg(target_pointer_width = "32")]
const _: () = {
    assert!(size_of::<EbpfExtensionHeader>() == 12);
    assert!(offset_of!(EbpfExtensionHeader, size) == 4);
    assert!(offset_of!(EbpfExtensionHeader, total_size) == 8);
    // MSVC x86 aligns the uint64_t to 8: 12 + 4 + 4, padding, 8.
    assert!(size_of::<EbpfExtensionData>() == 32);
    assert!(size_of::<EbpfAttachProviderData>() == 36);
    assert!(size_of::<EbpfLinkDispatch>() == 20);
    assert!(offset_of!(EbpfLinkDispatch, ebpf_program_invoke_function) == 4);
};
