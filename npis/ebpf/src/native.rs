//! The native-module NPI: a bpf2c-generated driver (the client) hands ebpfcore (the provider)
//! its [`MetadataTable`], from which ebpfcore loads the module's programs and maps.
//!
//! - [`EbpfNative`]: NPI id `{c847aac8-a6f2-4b53-aea3-f4a94b9a80cb}`.
//! - The client dispatch is [`MetadataTable`] (`metadata_table_t`): a data table whose first
//!   member is its own size (`sizeof(metadata_table_t)`, for versioning), then C-convention
//!   functions (no calling convention in `bpf2c.h`: `abi = "C"`).
//! - The provider dispatch is NULL; neither side has NPI-specific characteristics; the
//!   registration-instance `Version` is 0.
//! - ebpfcore's module id is [`EBPF_CORE_MODULE_ID`]. The generated client's module id is read
//!   from `<service key>\Parameters\NpiModuleId` in `DriverEntry`: a client of this NPI is
//!   `#[npi_client(npi = EbpfNative, dynamic_module_id)]` and gives it per registration.
//! - ebpfcore copies `min(size, sizeof)` bytes of the table, requires `size` to reach at least
//!   `version` ([`MetadataTable::END_OF_HASH`] is where `version` starts) and rejects modules
//!   older than [`EBPF_NATIVE_MINIMUM_VERSION`].
//!
//! Using it: the client implements `MetadataTableImpl` and offers
//! `MetadataTable::new::<Client>(size_of::<MetadataTable>())`; the provider reads the client's
//! table in its attach and accepts with no table of its own (`&()`). `suite/examples/ebpf_native.rs`
//! in the npi repository runs such a pair.
//!
//! In the C header (`include/ebpf_native.h`) the NPI id is `_ebpf_native_npi_id`, ebpfcore's
//! name for it, and the table is `metadata_table_t`, with PascalCase members (see the crate
//! docs). The entries the table returns (`program_entry_t`, `map_entry_t`, …) are opaque here.

use core::mem::offset_of;

use npi_runtime::sys::GUID;
use npi_runtime::{Npi, dispatch_table, npi, npi_data};

/// `program_entry_t` (opaque here).
#[repr(C)]
pub struct ProgramEntry {
    _opaque: [u8; 0],
}

/// `map_entry_t` (opaque here).
#[repr(C)]
pub struct MapEntry {
    _opaque: [u8; 0],
}

/// `map_initial_values_t` (opaque here).
#[repr(C)]
pub struct MapInitialValues {
    _opaque: [u8; 0],
}

/// `global_variable_section_info_t` (opaque here).
#[repr(C)]
pub struct GlobalVariableSectionInfo {
    _opaque: [u8; 0],
}

npi_runtime::c_opaque!(ProgramEntry => "program_entry_t");
npi_runtime::c_opaque!(MapEntry => "map_entry_t");
npi_runtime::c_opaque!(MapInitialValues => "map_initial_values_t");
npi_runtime::c_opaque!(GlobalVariableSectionInfo => "global_variable_section_info_t");

/// `bpf2c_version_t`.
#[npi_data(c_name = "bpf2c_version_t")]
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Bpf2cVersion {
    /// `major`.
    pub major: u32,
    /// `minor`.
    pub minor: u32,
    /// `revision`.
    pub revision: u32,
}

/// `metadata_table_t`.
#[dispatch_table(abi = "C", c_name = "metadata_table_t", c_prefix = "METADATA_TABLE")]
pub struct MetadataTable {
    /// `sizeof(metadata_table_t)`: the table's own size, for versioning.
    pub size: usize,
    /// `void (*)(program_entry_t** programs, size_t* count)`.
    pub programs: fn(programs: *mut *mut ProgramEntry, count: *mut usize),
    /// `void (*)(map_entry_t** maps, size_t* count)`.
    pub maps: fn(maps: *mut *mut MapEntry, count: *mut usize),
    /// `void (*)(const uint8_t** hash, size_t* size)`.
    pub hash: fn(hash: *mut *const u8, size: *mut usize),
    /// `void (*)(bpf2c_version_t* version)`.
    pub version: fn(version: *mut Bpf2cVersion),
    /// `void (*)(map_initial_values_t** map_initial_values, size_t* count)`.
    pub map_initial_values: fn(map_initial_values: *mut *mut MapInitialValues, count: *mut usize),
    /// `void (*)(global_variable_section_info_t** global_variable_sections, size_t* count)`.
    pub global_variable_sections:
        fn(global_variable_sections: *mut *mut GlobalVariableSectionInfo, count: *mut usize),
}

/// The native-module NPI.
#[npi(
    id = "c847aac8-a6f2-4b53-aea3-f4a94b9a80cb",
    client_dispatch = MetadataTable,
    c_name = "ebpf_native",
    c_id = "_ebpf_native_npi_id"
)]
pub struct EbpfNative;
// SAFETY: the layouts are bpf2c.h's metadata_table_t and bpf2c_version_t, asserted field by
// field below, and nothing else is exchanged; this crate is the one declaration of this id that
// every module speaking it takes its layouts from.
unsafe impl npi_runtime::NpiLayout for EbpfNative {}

/// ebpfcore's module id (`static const NPI_MODULEID`, `MIT_GUID`).
pub const EBPF_CORE_MODULE_ID: GUID = GUID::from_u128(0x5E24_D2F5_F799_42C3_A945_87FE_EFD9_30A7);

/// `EBPF_NATIVE_METADATA_TABLE_CURRENT_VERSION`.
pub const EBPF_NATIVE_METADATA_TABLE_CURRENT_VERSION: u32 = 1;

/// `EBPF_NATIVE_METADATA_TABLE_CURRENT_VERSION_SIZE`: through `map_initial_values` only, stale
/// relative to the struct (generated code passes `sizeof` instead).
pub const EBPF_NATIVE_METADATA_TABLE_CURRENT_VERSION_SIZE: usize =
    MetadataTable::END_OF_MAP_INITIAL_VALUES;

/// The oldest bpf2c output ebpfcore loads: 0.21.0.
pub const EBPF_NATIVE_MINIMUM_VERSION: Bpf2cVersion =
    Bpf2cVersion { major: 0, minor: 21, revision: 0 };

// ----- layouts: bpf2c.h's sizes and offsets (x64 / x86) -----------------------------------------

const _: () = assert!(EbpfNative::ID.to_u128() == 0xC847_AAC8_A6F2_4B53_AEA3_F4A9_4B9A_80CB);
const _: () = assert!(EbpfNative::REGISTRATION_VERSION == 0);
const _: () = assert!(size_of::<Bpf2cVersion>() == 12);
const _: () = assert!(offset_of!(MetadataTable, size) == 0);
const _: () = assert!(MetadataTable::END_OF_GLOBAL_VARIABLE_SECTIONS == size_of::<MetadataTable>());
const _: () = assert!(size_of::<<EbpfNative as Npi>::ProviderDispatch>() == 0);
const _: () = assert!(size_of::<<EbpfNative as Npi>::ClientCharacteristics>() == 0);
const _: () = assert!(size_of::<<EbpfNative as Npi>::ProviderCharacteristics>() == 0);
#[cfg(target_pointer_width = "64")]
const _: () = {
    assert!(size_of::<MetadataTable>() == 56);
    assert!(offset_of!(MetadataTable, programs) == 8);
    assert!(offset_of!(MetadataTable, maps) == 16);
    assert!(offset_of!(MetadataTable, hash) == 24);
    assert!(offset_of!(MetadataTable, version) == 32);
    assert!(offset_of!(MetadataTable, map_initial_values) == 40);
    assert!(offset_of!(MetadataTable, global_variable_sections) == 48);
    // EBPF_NATIVE_METADATA_TABLE_CURRENT_VERSION_SIZE runs through map_initial_values only.
    assert!(MetadataTable::END_OF_MAP_INITIAL_VALUES == 48);
};
#[cfg(target_pointer_width = "32")]
const _: () = {
    assert!(size_of::<MetadataTable>() == 28);
    assert!(offset_of!(MetadataTable, programs) == 4);
    assert!(offset_of!(MetadataTable, maps) == 8);
    assert!(offset_of!(MetadataTable, hash) == 12);
    assert!(offset_of!(MetadataTable, version) == 16);
    assert!(offset_of!(MetadataTable, map_initial_values) == 20);
    assert!(offset_of!(MetadataTable, global_variable_sections) == 24);
    assert!(MetadataTable::END_OF_MAP_INITIAL_VALUES == 24);
};
