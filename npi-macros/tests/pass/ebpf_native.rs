//! eBPF for Windows, the native-module NPI between a bpf2c-generated driver (the client) and
//! ebpfcore (the provider): `tools/bpf2c/bpf2c_driver.c`, `include/bpf2c.h`,
//! `libs/execution_context/ebpf_native.c`.
//!
//! - NPI id `{c847aac8-a6f2-4b53-aea3-f4a94b9a80cb}` (written lower case, as in the sources).
//! - The client dispatch is `metadata_table_t`: a data table whose first member is its own
//!   size (used for versioning) and whose functions have no explicit calling convention (C).
//! - The provider dispatch is `NULL`; neither side has NPI-specific characteristics.
//! - ebpfcore's module id is `{5e24d2f5-f799-42c3-a945-87feefd930a7}`; the generated client's
//!   module id is read from the registry at load, so it is `dynamic_module_id`.

use core::ffi::c_void;
use core::mem::{offset_of, size_of};
use core::ptr;
use core::sync::atomic::{AtomicPtr, Ordering};
use std::sync::Mutex;

use npi_runtime::sys::{GUID, STATUS_INVALID_PARAMETER, STATUS_NOT_SUPPORTED};
use npi_runtime::{Attach, Client, ProviderAttachRequest, ClientRegistration, ClientTable, Npi, Provider, ProviderBindingRef, ClientAttachRequest, ProviderRegistration, dispatch_table, host, npi, npi_client, npi_provider};

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

npi_runtime::c_opaque!(ProgramEntry => "PROGRAM_ENTRY");
npi_runtime::c_opaque!(MapEntry => "MAP_ENTRY");
npi_runtime::c_opaque!(MapInitialValues => "MAP_INITIAL_VALUES");
npi_runtime::c_opaque!(GlobalVariableSectionInfo => "GLOBAL_VARIABLE_SECTION_INFO");

/// `bpf2c_version_t`.
#[npi_runtime::npi_data]
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
#[dispatch_table(abi = "C")]
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
#[npi(id = "c847aac8-a6f2-4b53-aea3-f4a94b9a80cb", client_dispatch = MetadataTable)]
pub struct EbpfNative;
// SAFETY: the types this declaration gives the NPI are its layouts, and it is the only
// declaration of this id in the program.
unsafe impl ::npi_runtime::NpiLayout for EbpfNative {}

fn check_layouts() {
    assert_eq!(EbpfNative::ID, GUID::from_u128(0xC847_AAC8_A6F2_4B53_AEA3_F4A9_4B9A_80CB));
    assert_eq!(size_of::<Bpf2cVersion>(), 12);
    assert_eq!(offset_of!(MetadataTable, size), 0);
    #[cfg(target_pointer_width = "64")]
    {
        assert_eq!(size_of::<MetadataTable>(), 56);
        assert_eq!(offset_of!(MetadataTable, programs), 8);
        assert_eq!(offset_of!(MetadataTable, maps), 16);
        assert_eq!(offset_of!(MetadataTable, hash), 24);
        assert_eq!(offset_of!(MetadataTable, version), 32);
        assert_eq!(offset_of!(MetadataTable, map_initial_values), 40);
        assert_eq!(offset_of!(MetadataTable, global_variable_sections), 48);
        // EBPF_NATIVE_METADATA_TABLE_CURRENT_VERSION_SIZE runs through map_initial_values only.
        assert_eq!(MetadataTable::END_OF_MAP_INITIAL_VALUES, 48);
    }
    #[cfg(target_pointer_width = "32")]
    {
        assert_eq!(size_of::<MetadataTable>(), 28);
        assert_eq!(offset_of!(MetadataTable, programs), 4);
        assert_eq!(offset_of!(MetadataTable, maps), 8);
        assert_eq!(offset_of!(MetadataTable, hash), 12);
        assert_eq!(offset_of!(MetadataTable, version), 16);
        assert_eq!(offset_of!(MetadataTable, map_initial_values), 20);
        assert_eq!(offset_of!(MetadataTable, global_variable_sections), 24);
        assert_eq!(MetadataTable::END_OF_MAP_INITIAL_VALUES, 24);
    }
    assert_eq!(MetadataTable::END_OF_GLOBAL_VARIABLE_SECTIONS, size_of::<MetadataTable>());
    assert_eq!(size_of::<<EbpfNative as Npi>::ProviderDispatch>(), 0);
}

// ----- the generated driver (client) -----------------------------------------------------------

#[npi_client(npi = EbpfNative, dynamic_module_id)]
struct Bpf2cClient {
    /// `_bpf2c_nmr_provider_handle`: the binding handle, also the "already bound" flag.
    provider_handle: AtomicPtr<c_void>,
}

impl Client for Bpf2cClient {
    type Binding = ();

    fn attach(&self, request: ClientAttachRequest<'_, Self>) -> Attach {
        if !self.provider_handle.load(Ordering::Acquire).is_null() {
            return request.fail(STATUS_INVALID_PARAMETER);
        }
        let handle = request.handle();
        match request.accept((), &METADATA_TABLE) {
            Ok(accepted) => {
                self.provider_handle.store(handle, Ordering::Release);
                accepted.into()
            }
            Err(refused) => refused.into(),
        }
    }

    fn cleanup(&self, (): &()) {
        self.provider_handle.store(ptr::null_mut(), Ordering::Release);
    }
}

static HASH: [u8; 32] = [0x5A; 32];

impl MetadataTableImpl for Bpf2cClient {

    unsafe fn programs(programs: *mut *mut ProgramEntry, count: *mut usize) {
        // SAFETY: ebpfcore passes valid out-pointers.
        unsafe {
            programs.write(ptr::null_mut());
            count.write(0);
        }
    }

    unsafe fn maps(maps: *mut *mut MapEntry, count: *mut usize) {
        // SAFETY: as above.
        unsafe {
            maps.write(ptr::null_mut());
            count.write(0);
        }
    }

    unsafe fn hash(hash: *mut *const u8, size: *mut usize) {
        // SAFETY: as above.
        unsafe {
            hash.write(HASH.as_ptr());
            size.write(HASH.len());
        }
    }

    unsafe fn version(version: *mut Bpf2cVersion) {
        // SAFETY: as above. The expected bpf2c output reports 1.6.0.
        unsafe { version.write(Bpf2cVersion { major: 1, minor: 6, revision: 0 }) };
    }

    unsafe fn map_initial_values(map_initial_values: *mut *mut MapInitialValues, count: *mut usize) {
        // SAFETY: as above.
        unsafe {
            map_initial_values.write(ptr::null_mut());
            count.write(0);
        }
    }

    unsafe fn global_variable_sections(
        global_variable_sections: *mut *mut GlobalVariableSectionInfo,
        count: *mut usize,
    ) {
        // SAFETY: as above.
        unsafe {
            global_variable_sections.write(ptr::null_mut());
            count.write(0);
        }
    }
}

/// `{ sizeof(metadata_table_t), _get_programs, _get_maps, _get_hash, _get_version, ... }`.
static METADATA_TABLE: ClientTable<Bpf2cClient> =
    MetadataTable::new::<Bpf2cClient>(size_of::<MetadataTable>());
static CLIENT: Bpf2cClient = Bpf2cClient { provider_handle: AtomicPtr::new(ptr::null_mut()) };

// ----- ebpfcore (provider) ---------------------------------------------------------------------

#[npi_provider(npi = EbpfNative, module_id = "5e24d2f5-f799-42c3-a945-87feefd930a7")]
struct EbpfCore {
    /// Loaded native modules, keyed by the client's module GUID.
    modules: Mutex<Vec<(GUID, ProviderBindingRef<EbpfCore>)>>,
}

/// The minimum bpf2c version ebpfcore accepts.
const MINIMUM_VERSION: Bpf2cVersion = Bpf2cVersion { major: 0, minor: 21, revision: 0 };

impl Provider for EbpfCore {
    type Binding = GUID;

    fn attach(&self, request: ProviderAttachRequest<'_, Self>) -> Attach {
        // A NULL client dispatch is an older module: rejected.
        let Some(table) = request.client_dispatch() else { return request.fail(STATUS_NOT_SUPPORTED) };
        if table.size < offset_of!(MetadataTable, version) {
            return request.fail(STATUS_INVALID_PARAMETER);
        }
        let mut version = Bpf2cVersion::default();
        // SAFETY: the module's own table, at least through `version` (checked above).
        unsafe { (table.version)(&mut version) };
        if version < MINIMUM_VERSION {
            return request.fail(STATUS_NOT_SUPPORTED);
        }
        let Some(guid) = request.client().module_id().guid() else { return request.decline() };
        let mut modules = self.modules.lock().unwrap();
        if modules.iter().any(|(g, _)| *g == guid) {
            return request.fail(STATUS_INVALID_PARAMETER);
        }
        // ProviderDispatch = NULL.
        match request.accept(guid, &()) {
            Ok(accepted) => {
                modules.push((guid, accepted.binding().to_ref()));
                accepted.into()
            }
            Err(refused) => refused.into(),
        }
    }
}

static EBPF_CORE: EbpfCore = EbpfCore { modules: Mutex::new(Vec::new()) };

fn main() {
    check_layouts();

    let provider = ProviderRegistration::register(&EBPF_CORE).expect("register ebpfcore");

    // The module id must be given per registration.
    assert_eq!(ClientRegistration::register(&CLIENT).err(), Some(npi_runtime::Status::INVALID_PARAMETER));

    // `<service key>\Parameters\NpiModuleId`, read in DriverEntry.
    let npi_module_id = GUID::from_u128(0x0B7F_3E2A_51C4_4D8E_9A06_7C21_E4F5_A9D3);
    let client = ClientRegistration::builder(&CLIENT)
        .module_guid(npi_module_id)
        .register()
        .expect("register the native module");
    assert_eq!(host::bindings_of(&EbpfNative::ID).len(), 1);
    assert!(!CLIENT.provider_handle.load(Ordering::Acquire).is_null());

    {
        let modules = EBPF_CORE.modules.lock().unwrap();
        assert_eq!(modules.len(), 1);
        let (guid, binding) = &modules[0];
        assert_eq!(*guid, npi_module_id);
        assert_eq!(**binding, npi_module_id);
        let module = binding.peer().expect("the module's metadata table");
        assert_eq!(module.as_table().size, size_of::<MetadataTable>());
        let (mut hash, mut size) = (ptr::null(), 0);
        // SAFETY: valid out-pointers, as `_get_hash` expects.
        unsafe { module.hash(&mut hash, &mut size) };
        assert_eq!((hash, size), (HASH.as_ptr(), 32));
    }

    EBPF_CORE.modules.lock().unwrap().clear();
    drop(client);
    assert!(CLIENT.provider_handle.load(Ordering::Acquire).is_null());
    drop(provider);
    assert!(host::violations_of(&EbpfNative::ID).is_empty());
}
