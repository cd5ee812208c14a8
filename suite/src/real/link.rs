//! eBPF for Windows' hook NPI (`EBPF_HOOK_EXTENSION_IID`, declared in `npi-ebpf` as
//! [`npi_ebpf::hook::EbpfHook`]) as link objects use it: every link
//! registers its own client at run time (`libs/execution_context/ebpf_link.c`), with a copy of a
//! `static const` template whose module id is the link's GUID and whose NPI-specific
//! characteristics point at the link's `client_data`, which the registration owns; the
//! extension (here [`HookProvider`]) registers with the attach-type GUID as its module id and
//! pends its detaches until rundown.
//!
//! [`run_churn`] creates and destroys many links while the provider comes and goes, and
//! counts what happened.

use core::ffi::c_void;
use core::ptr;
use core::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use core::time::Duration;
use std::sync::mpsc::{self, Sender};
use std::sync::{Arc, Mutex};
use std::thread;
use std::vec::Vec;

use npi_ebpf::hook::{
    EBPF_ATTACH_CLIENT_DATA_CURRENT_VERSION_SIZE, EBPF_ATTACH_CLIENT_DATA_HEADER_VERSION,
    EBPF_ATTACH_PROVIDER_DATA_CURRENT_VERSION, EBPF_ATTACH_PROVIDER_DATA_CURRENT_VERSION_SIZE,
    EBPF_LINK_DISPATCH_TABLE_FUNCTION_COUNT_1, EBPF_LINK_DISPATCH_TABLE_VERSION_1, EBPF_SUCCESS,
    EbpfAttachProviderData, EbpfExtensionData, EbpfExtensionHeader, EbpfHook, EbpfLinkDispatch,
    EbpfLinkDispatchImpl, EbpfResult, OpaquePtr,
};
use npi_runtime::Status;
use npi_runtime::sys::{GUID, STATUS_NOINTERFACE};
use npi_runtime::{
    Attach, Client, ClientAttachRequest, ClientBinding, ClientDetachRequest, ClientRegistration,
    ClientTable, Detach, Npi, Provider, ProviderAttachRequest, ProviderBinding, ProviderBindingRef,
    ProviderDetachRequest, ProviderPendingDetach, ProviderRegistration, npi_client, npi_provider,
};

use super::{Trace, lock};

/// A sample attach type: the hook provider's module id (any GUID will do for the port).
pub const SAMPLE_ATTACH_TYPE: GUID = GUID::from_u128(0x7D8F_3A5E_2C41_4B7A_9E60_1F2D_3C4B_5A69);
/// A sample program type the hook runs.
pub const SAMPLE_PROGRAM_TYPE: GUID = GUID::from_u128(0x2B6C_0E1F_9A34_4D58_8C7B_6E5D_4C3B_2A19);

/// The hook provider's characteristics.
pub static SAMPLE_ATTACH_PROVIDER_DATA: EbpfAttachProviderData = EbpfAttachProviderData {
    header: EbpfExtensionHeader::new::<EbpfAttachProviderData>(
        EBPF_ATTACH_PROVIDER_DATA_CURRENT_VERSION,
        EBPF_ATTACH_PROVIDER_DATA_CURRENT_VERSION_SIZE,
    ),
    supported_program_type: SAMPLE_PROGRAM_TYPE,
    bpf_attach_type: 1,
    link_type: 1,
};

// ----- link objects (clients) ------------------------------------------------------------------

/// Counters shared by every link of a run, or by a provider.
#[derive(Debug, Default)]
pub struct Counters {
    /// Attaches that succeeded.
    pub attached: AtomicUsize,
    /// Detach callbacks.
    pub detached: AtomicUsize,
    /// Cleanup callbacks.
    pub cleaned: AtomicUsize,
    /// Offers declined.
    pub declined: AtomicUsize,
    /// Programs invoked through a link.
    pub invoked: AtomicUsize,
}

impl Counters {
    fn get(c: &AtomicUsize) -> usize {
        c.load(Ordering::SeqCst)
    }

    /// (attached, detached, cleaned, declined, invoked).
    #[must_use]
    pub fn snapshot(&self) -> (usize, usize, usize, usize, usize) {
        (
            Self::get(&self.attached),
            Self::get(&self.detached),
            Self::get(&self.cleaned),
            Self::get(&self.declined),
            Self::get(&self.invoked),
        )
    }
}

/// An eBPF link: one client registration of its own.
#[npi_client(npi = EbpfHook, dynamic_module_id)]
pub struct LinkObject {
    attach_type: GUID,
    program_type: GUID,
    bound: AtomicBool,
    counters: Arc<Counters>,
}

impl LinkObject {
    /// A link of `program_type` to hooks of `attach_type`.
    #[must_use]
    pub fn new(attach_type: GUID, program_type: GUID, counters: Arc<Counters>) -> Self {
        Self { attach_type, program_type, bound: AtomicBool::new(false), counters }
    }

    /// The link's `client_data`, which its registration keeps (in an `Arc`).
    #[must_use]
    pub fn client_data(flags: u64) -> EbpfExtensionData {
        EbpfExtensionData {
            header: EbpfExtensionHeader::new::<EbpfExtensionData>(
                EBPF_ATTACH_CLIENT_DATA_HEADER_VERSION,
                EBPF_ATTACH_CLIENT_DATA_CURRENT_VERSION_SIZE,
            ),
            data: OpaquePtr(ptr::null()),
            data_size: 0,
            prog_attach_flags: flags,
        }
    }

    /// Registers the link: the template copied, `ModuleId` = the link's GUID,
    /// `NpiSpecificCharacteristics` = its `client_data`, kept alive by the registration until
    /// its deregistration wait returns.
    ///
    /// # Errors
    /// The status of `NmrRegisterClient`.
    pub fn register(
        self: &Arc<Self>,
        link_id: GUID,
        client_data: Arc<EbpfExtensionData>,
    ) -> Result<ClientRegistration<LinkObject>, Status> {
        ClientRegistration::builder(Arc::clone(self))
            .module_guid(link_id)
            .owned_characteristics(client_data)
            .register()
    }
}

impl Client for LinkObject {
    type Binding = Arc<Counters>;

    fn attach(&self, request: ClientAttachRequest<'_, Self>) -> Attach {
        let provider = request.provider();
        let valid = provider.characteristics().is_some_and(|d| {
            d.header.version == EBPF_ATTACH_PROVIDER_DATA_CURRENT_VERSION
                && d.header.size <= d.header.total_size
                && d.supported_program_type != GUID::default()
        });
        let declined = if !valid {
            Some("bad provider data")
        } else if provider.module_id().guid() != Some(self.attach_type) {
            Some("another attach type")
        } else if provider.characteristics().map(|d| d.supported_program_type)
            != Some(self.program_type)
        {
            Some("another program type")
        } else if self.bound.swap(true, Ordering::AcqRel) {
            Some("one provider per link")
        } else {
            None
        };
        if declined.is_some() {
            self.counters.declined.fetch_add(1, Ordering::SeqCst);
            return request.fail(STATUS_NOINTERFACE);
        }
        match request.accept(Arc::clone(&self.counters), &LINK_DISPATCH) {
            Ok(accepted) => {
                self.counters.attached.fetch_add(1, Ordering::SeqCst);
                accepted.into()
            }
            Err(refused) => {
                self.bound.store(false, Ordering::Release);
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
        self.counters.detached.fetch_add(1, Ordering::SeqCst);
        request.done()
    }

    fn cleanup(&self, counters: &Arc<Counters>) {
        counters.cleaned.fetch_add(1, Ordering::SeqCst);
        self.bound.store(false, Ordering::Release);
    }
}

impl EbpfLinkDispatchImpl for LinkObject {
    unsafe fn ebpf_program_invoke_function(
        client_binding_context: &ClientBinding<'_, LinkObject>,
        program_context: *mut c_void,
        result: *mut u32,
    ) -> EbpfResult {
        let _ = program_context;
        client_binding_context.invoked.fetch_add(1, Ordering::SeqCst);
        if !result.is_null() {
            // SAFETY: checked non-NULL; the hook passes a valid out-pointer.
            unsafe { result.write(0) };
        }
        EBPF_SUCCESS
    }

    unsafe fn ebpf_program_batch_begin_invoke_function(
        state_size: usize,
        state: *mut c_void,
    ) -> EbpfResult {
        let _ = (state_size, state);
        EBPF_SUCCESS
    }

    unsafe fn ebpf_program_batch_invoke_function(
        client_binding_context: &ClientBinding<'_, LinkObject>,
        program_context: *mut c_void,
        result: *mut u32,
        state: *const c_void,
    ) -> EbpfResult {
        let _ = state;
        // SAFETY: the same pointers the caller vouched for, passed on unchanged.
        unsafe {
            Self::ebpf_program_invoke_function(client_binding_context, program_context, result)
        }
    }

    unsafe fn ebpf_program_batch_end_invoke_function(state: *mut c_void) -> EbpfResult {
        let _ = state;
        EBPF_SUCCESS
    }
}

/// `_ebpf_link_dispatch_table`.
pub static LINK_DISPATCH: ClientTable<LinkObject> = EbpfLinkDispatch::new::<LinkObject>(
    EBPF_LINK_DISPATCH_TABLE_VERSION_1,
    EBPF_LINK_DISPATCH_TABLE_FUNCTION_COUNT_1,
);

// ----- the hook provider (an extension such as netebpfext) -------------------------------------

/// A hook provider: module id = [`SAMPLE_ATTACH_TYPE`]. Its detaches pend until a rundown
/// worker completes them.
#[npi_provider(
    npi = EbpfHook,
    module_id = "7D8F3A5E-2C41-4B7A-9E60-1F2D3C4B5A69",
    characteristics = SAMPLE_ATTACH_PROVIDER_DATA
)]
pub struct HookProvider {
    links: Mutex<Vec<ProviderBindingRef<HookProvider>>>,
    rundown: Mutex<Sender<ProviderPendingDetach<HookProvider>>>,
    /// The provider side's counters.
    pub counters: Counters,
}

// The provider's module id is the attach type it serves.
const _: () =
    assert!(match <HookProvider as npi_runtime::generic::ProviderModule>::MODULE_ID.guid() {
        Some(g) => g.to_u128() == SAMPLE_ATTACH_TYPE.to_u128(),
        None => false,
    });

impl HookProvider {
    /// The provider and its rundown worker (which ends when the provider is dropped).
    #[must_use]
    pub fn new() -> Arc<Self> {
        let (tx, rx) = mpsc::channel::<ProviderPendingDetach<HookProvider>>();
        thread::spawn(move || {
            for pending in rx {
                pending.complete();
            }
        });
        Arc::new(Self {
            links: Mutex::default(),
            rundown: Mutex::new(tx),
            counters: Counters::default(),
        })
    }

    /// Fires the hook: invokes the program of every attached link; returns how many ran.
    pub fn fire(&self) -> usize {
        let links = lock(&self.links).clone();
        let mut ran = 0;
        for link in &links {
            if let Some(program) = link.peer() {
                let mut result = u32::MAX;
                // SAFETY: no program context, a valid out-pointer.
                let status =
                    unsafe { program.ebpf_program_invoke_function(ptr::null_mut(), &mut result) };
                if status == EBPF_SUCCESS {
                    ran += 1;
                }
            }
        }
        ran
    }
}

impl Provider for HookProvider {
    type Binding = ();

    fn attach(&self, request: ProviderAttachRequest<'_, Self>) -> Attach {
        if request.client().characteristics().is_none_or(|d| d.header.version != 1)
            || request.client_dispatch().is_none_or(|t| t.count < 4)
        {
            self.counters.declined.fetch_add(1, Ordering::SeqCst);
            return request.decline();
        }
        match request.accept((), &()) {
            Ok(accepted) => {
                lock(&self.links).push(accepted.binding().to_ref());
                self.counters.attached.fetch_add(1, Ordering::SeqCst);
                accepted.into()
            }
            Err(refused) => refused.into(),
        }
    }

    fn detach(
        &self,
        binding: &ProviderBinding<'_, Self>,
        request: ProviderDetachRequest<'_, Self>,
    ) -> Detach {
        let handle = binding.handle();
        lock(&self.links).retain(|l| l.handle() != handle);
        self.counters.detached.fetch_add(1, Ordering::SeqCst);
        let (answer, pending) = request.pend();
        if let Err(mpsc::SendError(pending)) = lock(&self.rundown).send(pending) {
            pending.complete();
        }
        answer
    }

    fn cleanup(&self, (): &()) {
        self.counters.cleaned.fetch_add(1, Ordering::SeqCst);
    }
}

// ----- the churn -------------------------------------------------------------------------------

/// What [`run_churn`] did.
#[derive(Debug)]
pub struct ChurnReport {
    /// Links created and destroyed.
    pub links: usize,
    /// Links of the first batch whose program the hook invoked (all of them).
    pub first_batch_invoked: usize,
    /// Times the provider registered and deregistered.
    pub provider_cycles: usize,
    /// Programs invoked by the provider's hook.
    pub invocations: usize,
    /// The links' counters.
    pub link_counters: (usize, usize, usize, usize, usize),
    /// The provider's counters.
    pub provider_counters: (usize, usize, usize, usize, usize),
}

/// Creates and destroys `links` link objects, `batch` at a time (each with its own client
/// registration and `client_data`), while a hook provider registers and deregisters
/// on another thread.
///
/// # Panics
/// If a registration fails.
pub fn run_churn(links: usize, batch: usize, trace: &Trace) -> ChurnReport {
    let link_counters = Arc::new(Counters::default());
    let provider = HookProvider::new();
    let new_links =
        |round: u128, n: usize| -> Vec<(GUID, Arc<LinkObject>, Arc<EbpfExtensionData>)> {
            (0..n)
                .map(|i| {
                    let id = GUID::from_u128(
                        0x11AE_0000_0000_4000_8000_0000_0000_0000 | (round << 32) | i as u128,
                    );
                    let link = LinkObject::new(
                        SAMPLE_ATTACH_TYPE,
                        SAMPLE_PROGRAM_TYPE,
                        Arc::clone(&link_counters),
                    );
                    (id, Arc::new(link), Arc::new(LinkObject::client_data(i as u64)))
                })
                .collect()
        };

    // First batch, in order: the provider is there, every link binds, the hook fires, then the
    // provider leaves while the links still exist (its detaches pend until rundown).
    let first = batch.min(links);
    let objects = new_links(0, first);
    let registration =
        ProviderRegistration::register(Arc::clone(&provider)).expect("hook provider");
    let registrations: Vec<ClientRegistration<LinkObject>> = objects
        .iter()
        .map(|(id, link, data)| link.register(*id, Arc::clone(data)).expect("link registration"))
        .collect();
    let first_fired = provider.fire();
    registration.deregister().expect("hook provider deregistered");
    drop(registrations);
    drop(objects);
    trace.note(format!(
        "links: first {first} bound to the provider ({first_fired} invoked), provider left first"
    ));

    // Then the rest while the provider comes and goes on another thread.
    let stop = Arc::new(AtomicBool::new(false));
    let cycler = {
        let provider = Arc::clone(&provider);
        let stop = Arc::clone(&stop);
        thread::spawn(move || {
            let (mut cycles, mut fired) = (0, 0);
            while !stop.load(Ordering::SeqCst) || cycles == 0 {
                let registration =
                    ProviderRegistration::register(Arc::clone(&provider)).expect("hook provider");
                thread::sleep(Duration::from_micros(300));
                fired += provider.fire();
                registration.deregister().expect("hook provider deregistered");
                cycles += 1;
            }
            (cycles, fired)
        })
    };
    let mut created = first;
    let mut round = 1u128;
    while created < links {
        let n = batch.min(links - created);
        let objects = new_links(round, n);
        let registrations: Vec<ClientRegistration<LinkObject>> = objects
            .iter()
            .map(|(id, link, data)| {
                link.register(*id, Arc::clone(data)).expect("link registration")
            })
            .collect();
        // Destroy them in reverse order of creation, as the objects' references drop.
        for registration in registrations.into_iter().rev() {
            registration.deregister().expect("link deregistered");
        }
        drop(objects);
        created += n;
        round += 1;
        trace.note(format!(
            "links: {created} created and destroyed, bindings so far {}",
            link_counters.attached.load(Ordering::SeqCst)
        ));
    }
    stop.store(true, Ordering::SeqCst);
    let (provider_cycles, invocations) = cycler.join().expect("the provider thread");
    ChurnReport {
        links: created,
        first_batch_invoked: first_fired,
        provider_cycles: provider_cycles + 1,
        invocations: invocations + first_fired,
        link_counters: link_counters.snapshot(),
        provider_counters: provider.counters.snapshot(),
    }
}

/// True once nothing of the hook NPI is registered or bound.
#[must_use]
pub fn hook_npi_is_empty() -> bool {
    npi_runtime::host::registrations_of(&EbpfHook::ID).is_empty()
        && npi_runtime::host::bindings_of(&EbpfHook::ID).is_empty()
}
