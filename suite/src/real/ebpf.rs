//! The eBPF native-module port (`tools/bpf2c/bpf2c_driver.c`,
//! `libs/execution_context/ebpf_native.c`) on the NPI declared in `npi-ebpf`
//! ([`npi_ebpf::native::EbpfNative`]). The generated client's module id is read from
//! `<service key>\Parameters\NpiModuleId` at load ([`ServiceParameters`]).
//!
//! [`Bpf2cClient`] is the generated driver (single provider, synchronous detach);
//! [`EbpfCore`] validates the module's table and always detaches with `STATUS_PENDING`,
//! completing from another thread once the module's last reference is gone.

use core::ffi::c_void;
use core::mem::offset_of;
use core::ptr;
use core::sync::atomic::{AtomicPtr, AtomicUsize, Ordering};
use core::time::Duration;
use std::sync::{Arc, Mutex};
use std::thread::{self, ThreadId};
use std::vec::Vec;

use npi_ebpf::native::{
    Bpf2cVersion, EBPF_NATIVE_MINIMUM_VERSION, EbpfNative, GlobalVariableSectionInfo, MapEntry,
    MapInitialValues, MetadataTable, MetadataTableImpl, ProgramEntry,
};
use npi_runtime::Status;
use npi_runtime::sys::{GUID, NPI_MODULEID, STATUS_INVALID_PARAMETER, STATUS_NOT_SUPPORTED};
use npi_runtime::{
    Attach, Client, ClientAttachRequest, ClientBinding, ClientDetachRequest, ClientRegistration,
    ClientTable, Detach, Provider, ProviderAttachRequest, ProviderBinding, ProviderDetachRequest,
    npi_client, npi_provider,
};

use super::{Trace, lock};

// ----- configuration: the registry value, in place of RtlQueryRegistryValues -------------------

/// `<service key>\Parameters`, as far as the generated driver reads it.
#[derive(Debug, Clone, Default)]
pub struct ServiceParameters {
    /// `NpiModuleId`, a `REG_BINARY` value (16 bytes: a GUID in memory order).
    pub npi_module_id: Option<Vec<u8>>,
}

/// The environment variable [`ServiceParameters::from_env`] reads `NpiModuleId` from.
pub const NPI_MODULE_ID_ENV: &str = "EBPF_NATIVE_NPI_MODULE_ID";

impl ServiceParameters {
    /// Parameters holding `guid` as `NpiModuleId`.
    #[must_use]
    pub fn with_module_id(guid: GUID) -> Self {
        Self { npi_module_id: Some(guid_bytes(&guid).to_vec()) }
    }

    /// `NpiModuleId` from [`NPI_MODULE_ID_ENV`] (see [`ServiceParameters::from_text`]).
    #[must_use]
    pub fn from_env() -> Self {
        Self::from_text(std::env::var(NPI_MODULE_ID_ENV).ok().as_deref())
    }

    /// `NpiModuleId` from a GUID in registry text form (`xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx`,
    /// braces allowed); anything else is kept as raw bytes, which the query then rejects.
    #[must_use]
    pub fn from_text(value: Option<&str>) -> Self {
        Self {
            npi_module_id: value.map(|v| {
                parse_guid(v).map_or_else(|| v.as_bytes().to_vec(), |g| guid_bytes(&g).to_vec())
            }),
        }
    }
}

/// A GUID's 16 bytes in memory order (little-endian fields), as `REG_BINARY` holds it.
#[must_use]
pub fn guid_bytes(g: &GUID) -> [u8; 16] {
    let mut b = [0; 16];
    b[..4].copy_from_slice(&g.data1.to_le_bytes());
    b[4..6].copy_from_slice(&g.data2.to_le_bytes());
    b[6..8].copy_from_slice(&g.data3.to_le_bytes());
    b[8..].copy_from_slice(&g.data4);
    b
}

/// A GUID in text form, with or without braces.
#[must_use]
pub fn parse_guid(text: &str) -> Option<GUID> {
    let hex: String = text.trim().trim_start_matches('{').trim_end_matches('}').replace('-', "");
    if hex.len() != 32 {
        return None;
    }
    u128::from_str_radix(&hex, 16).ok().map(GUID::from_u128)
}

/// `_bpf2c_query_npi_module_id`: `REG_BINARY` of exactly 16 bytes, else
/// `STATUS_INVALID_PARAMETER`; a missing value fails too (`RTL_QUERY_REGISTRY_REQUIRED`).
///
/// # Errors
/// `STATUS_INVALID_PARAMETER` as above.
pub fn query_npi_module_id(parameters: &ServiceParameters) -> Result<GUID, Status> {
    let bytes: [u8; 16] = parameters
        .npi_module_id
        .as_deref()
        .and_then(|b| b.try_into().ok())
        .ok_or(STATUS_INVALID_PARAMETER)?;
    let u32_at =
        |i: usize| u32::from_le_bytes([bytes[i], bytes[i + 1], bytes[i + 2], bytes[i + 3]]);
    let u16_at = |i: usize| u16::from_le_bytes([bytes[i], bytes[i + 1]]);
    let mut data4 = [0; 8];
    data4.copy_from_slice(&bytes[8..]);
    Ok(GUID { data1: u32_at(0), data2: u16_at(4), data3: u16_at(6), data4 })
}

// ----- the generated driver (client) -----------------------------------------------------------

/// The bpf2c-generated driver's NMR client.
#[npi_client(npi = EbpfNative, dynamic_module_id)]
pub struct Bpf2cClient {
    /// `_bpf2c_nmr_provider_handle`: the binding handle, also the "already bound" flag.
    provider_handle: AtomicPtr<c_void>,
    /// The port's trace.
    pub trace: Arc<Trace>,
}

impl Bpf2cClient {
    /// The driver before `DriverEntry`.
    #[must_use]
    pub fn new(trace: Arc<Trace>) -> Self {
        Self { provider_handle: AtomicPtr::new(ptr::null_mut()), trace }
    }

    /// The binding handle while bound.
    #[must_use]
    pub fn provider_handle(&self) -> Option<*mut c_void> {
        let h = self.provider_handle.load(Ordering::Acquire);
        (!h.is_null()).then_some(h)
    }
}

/// The generated `DriverEntry`: read `NpiModuleId`, then `NmrRegisterClient`. Dropping the
/// registration is `DriverUnload`.
///
/// # Errors
/// `STATUS_INVALID_PARAMETER` for a missing or malformed `NpiModuleId`; the registration's
/// status otherwise.
pub fn driver_entry(
    client: Arc<Bpf2cClient>,
    parameters: &ServiceParameters,
) -> Result<ClientRegistration<Bpf2cClient>, Status> {
    let module_id = query_npi_module_id(parameters)?;
    client.trace.note(format!("bpf2c: DriverEntry, NpiModuleId = {module_id}"));
    ClientRegistration::builder(client).module_guid(module_id).register()
}

impl Client for Bpf2cClient {
    type Binding = ();

    fn attach(&self, request: ClientAttachRequest<'_, Self>) -> Attach {
        if self.provider_handle().is_some() {
            self.trace.note("bpf2c: a second provider -> STATUS_INVALID_PARAMETER");
            return request.fail(STATUS_INVALID_PARAMETER);
        }
        let handle = request.handle();
        match request.accept((), &METADATA_TABLE) {
            Ok(accepted) => {
                self.provider_handle.store(handle, Ordering::Release);
                self.trace.note(format!("bpf2c: attached to ebpfcore, binding {handle:?}"));
                accepted.into()
            }
            Err(refused) => {
                self.trace.note(format!("bpf2c: ebpfcore refused: {:#x}", refused.status));
                refused.into()
            }
        }
    }

    fn detach(
        &self,
        binding: &ClientBinding<'_, Self>,
        request: ClientDetachRequest<'_, Self>,
    ) -> Detach {
        let _ = binding;
        self.provider_handle.store(ptr::null_mut(), Ordering::Release);
        self.trace.note("bpf2c: detach -> done");
        request.done()
    }
}

static HASH: [u8; 32] = [0x5A; 32];

/// The version the generated code reports (the expected bpf2c output: 1.6.0).
pub const BPF2C_VERSION: Bpf2cVersion = Bpf2cVersion { major: 1, minor: 6, revision: 0 };

impl MetadataTableImpl for Bpf2cClient {
    unsafe fn programs(programs: *mut *mut ProgramEntry, count: *mut usize) {
        // SAFETY: ebpfcore passes valid out-pointers.
        unsafe { programs.write(ptr::null_mut()) };
        // SAFETY: as above.
        unsafe { count.write(0) };
    }

    unsafe fn maps(maps: *mut *mut MapEntry, count: *mut usize) {
        // SAFETY: as above.
        unsafe { maps.write(ptr::null_mut()) };
        // SAFETY: as above.
        unsafe { count.write(0) };
    }

    unsafe fn hash(hash: *mut *const u8, size: *mut usize) {
        // SAFETY: as above.
        unsafe { hash.write(HASH.as_ptr()) };
        // SAFETY: as above.
        unsafe { size.write(HASH.len()) };
    }

    unsafe fn version(version: *mut Bpf2cVersion) {
        // SAFETY: as above.
        unsafe { version.write(BPF2C_VERSION) };
    }

    unsafe fn map_initial_values(
        map_initial_values: *mut *mut MapInitialValues,
        count: *mut usize,
    ) {
        // SAFETY: as above.
        unsafe { map_initial_values.write(ptr::null_mut()) };
        // SAFETY: as above.
        unsafe { count.write(0) };
    }

    unsafe fn global_variable_sections(
        global_variable_sections: *mut *mut GlobalVariableSectionInfo,
        count: *mut usize,
    ) {
        // SAFETY: as above.
        unsafe { global_variable_sections.write(ptr::null_mut()) };
        // SAFETY: as above.
        unsafe { count.write(0) };
    }
}

/// `{ sizeof(metadata_table_t), _get_programs, _get_maps, _get_hash, _get_version, ... }`.
pub static METADATA_TABLE: ClientTable<Bpf2cClient> =
    MetadataTable::new::<Bpf2cClient>(size_of::<MetadataTable>());

// ----- ebpfcore (provider) ---------------------------------------------------------------------

/// The client's registration instance as ebpfcore's attach saw it (the NMR's pointer, read
/// field by field).
#[derive(Debug, Clone, Copy)]
pub struct SeenInstance {
    /// `Version`.
    pub version: u16,
    /// `Size`.
    pub size: u16,
    /// `*NpiId`.
    pub npi_id: GUID,
    /// `*ModuleId`.
    pub module_id: NPI_MODULEID,
    /// `Number`.
    pub number: u32,
    /// `NpiSpecificCharacteristics == NULL`.
    pub npi_specific_characteristics_null: bool,
}

/// ebpfcore's native-module provider.
#[npi_provider(npi = EbpfNative, module_id = "5e24d2f5-f799-42c3-a945-87feefd930a7")]
pub struct EbpfCore {
    /// Loaded native modules, keyed by the client's module GUID.
    modules: Mutex<Vec<GUID>>,
    /// What each attach saw of the client's registration instance.
    seen: Mutex<Vec<SeenInstance>>,
    /// The threads that completed pending detaches.
    completers: Arc<Mutex<Vec<ThreadId>>>,
    /// How long the module's last reference takes to go after detach.
    pub rundown: Duration,
    /// The port's trace.
    pub trace: Arc<Trace>,
    /// Attaches accepted.
    pub attached: AtomicUsize,
    /// Cleanups run.
    pub cleaned: AtomicUsize,
}

impl EbpfCore {
    /// ebpfcore with no module loaded.
    #[must_use]
    pub fn new(rundown: Duration, trace: Arc<Trace>) -> Self {
        Self {
            modules: Mutex::default(),
            seen: Mutex::default(),
            completers: Arc::default(),
            rundown,
            trace,
            attached: AtomicUsize::new(0),
            cleaned: AtomicUsize::new(0),
        }
    }

    /// The client instances attach saw, oldest first.
    #[must_use]
    pub fn seen(&self) -> Vec<SeenInstance> {
        lock(&self.seen).clone()
    }

    /// The GUIDs of the loaded modules.
    #[must_use]
    pub fn modules(&self) -> Vec<GUID> {
        lock(&self.modules).clone()
    }

    /// The threads that completed pending detaches, in order.
    #[must_use]
    pub fn completers(&self) -> Vec<ThreadId> {
        lock(&self.completers).clone()
    }
}

impl Provider for EbpfCore {
    type Binding = GUID;

    fn attach(&self, request: ProviderAttachRequest<'_, Self>) -> Attach {
        let raw = request.client().raw();
        let module_id = *request.client().module_id();
        lock(&self.seen).push(SeenInstance {
            version: raw.Version,
            size: raw.Size,
            // SAFETY: the NMR matched the client by this NpiId: a valid NPIID for the call.
            npi_id: unsafe { *raw.NpiId },
            module_id,
            number: raw.Number,
            npi_specific_characteristics_null: raw.NpiSpecificCharacteristics.is_null(),
        });
        // A NULL client dispatch is an older module: rejected.
        let Some(table) = request.client_dispatch() else {
            return request.fail(STATUS_NOT_SUPPORTED);
        };
        if table.size < offset_of!(MetadataTable, version) {
            return request.fail(STATUS_INVALID_PARAMETER);
        }
        let mut version = Bpf2cVersion::default();
        // SAFETY: the module's own table, at least through `version` (checked above).
        unsafe { (table.version)(&mut version) };
        if version < EBPF_NATIVE_MINIMUM_VERSION {
            self.trace.note("ebpfcore: module too old -> STATUS_NOT_SUPPORTED");
            return request.fail(STATUS_NOT_SUPPORTED);
        }
        let Some(guid) = module_id.guid() else { return request.decline() };
        let mut modules = lock(&self.modules);
        if modules.contains(&guid) {
            self.trace.note(format!("ebpfcore: module {guid} already loaded -> refuse"));
            return request.fail(STATUS_INVALID_PARAMETER);
        }
        // ProviderDispatch = NULL.
        match request.accept(guid, &()) {
            Ok(accepted) => {
                modules.push(guid);
                self.attached.fetch_add(1, Ordering::SeqCst);
                self.trace.note(format!(
                    "ebpfcore: module {guid} (bpf2c {}.{}.{}) attached",
                    version.major, version.minor, version.revision
                ));
                accepted.into()
            }
            Err(refused) => {
                self.trace.note(format!("ebpfcore: module {guid} refused: {:#x}", refused.status));
                refused.into()
            }
        }
    }

    /// Always `STATUS_PENDING`: the module's last reference goes on another thread.
    fn detach(
        &self,
        binding: &ProviderBinding<'_, Self>,
        request: ProviderDetachRequest<'_, Self>,
    ) -> Detach {
        let guid = **binding;
        lock(&self.modules).retain(|g| *g != guid);
        let (answer, pending) = request.pend();
        self.trace.note(format!("ebpfcore: detach of module {guid} -> STATUS_PENDING"));
        let rundown = self.rundown;
        let trace = Arc::clone(&self.trace);
        let completers = Arc::clone(&self.completers);
        thread::spawn(move || {
            thread::sleep(rundown);
            lock(&completers).push(thread::current().id());
            trace.note(format!("ebpfcore worker: last reference of {guid} gone -> complete"));
            pending.complete();
        });
        answer
    }

    fn cleanup(&self, guid: &GUID) {
        self.cleaned.fetch_add(1, Ordering::SeqCst);
        self.trace.note(format!("ebpfcore: cleanup of module {guid}"));
    }
}
