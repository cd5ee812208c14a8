//! MsQuic's NMR interface (`src/inc/msquic.h`, `src/bin/winkernel/nmrprovider.c`).
//!
//! - `MSQUIC_NPI_ID` = `{C43138E3-CD13-4CB1-9CAE-E005C8557ABA}`.
//! - `MSQUIC_MODULE_ID` = `{698F7C72-C2E6-49CD-8C39-98851D501901}`, the provider's module id; the
//!   test driver registers its client with the same GUID.
//! - `MSQUIC_NMR_DISPATCH` (provider → client); `QUIC_API` is `NTAPI` in kernel mode.
//! - No client dispatch (`NULL`), no NPI-specific characteristics on either side, `Number` 0.
//!
//! The client binds the first provider only and calls `OpenVersion(QUIC_API_VERSION_2)` and
//! `Close` through the table.

use core::ffi::c_void;
use core::mem::{offset_of, size_of};
use core::ptr;
use core::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use npi_runtime::sys::{GUID, NTSTATUS, STATUS_NOT_SUPPORTED, STATUS_SUCCESS};
use npi_runtime::{Attach, Client, ClientBindingRef, ProviderAttachRequest, ClientRegistration, Npi, Provider, ClientAttachRequest, ProviderRegistration, ProviderTable, dispatch_table, host, npi, npi_client, npi_provider};

/// `QUIC_API_VERSION_2`.
const QUIC_API_VERSION_2: u32 = 2;

/// `MSQUIC_NMR_DISPATCH`.
#[dispatch_table]
pub struct MsQuicNmrDispatch {
    /// The provider sets 0.
    pub version: u16,
    /// The provider sets 0.
    pub reserved: u16,
    /// `MsQuicOpenVersionFn`: `QUIC_STATUS (uint32_t Version, const void** QuicApi)`.
    pub open_version: fn(version: u32, quic_api: *mut *const c_void) -> NTSTATUS,
    /// `MsQuicCloseFn`: `void (const void* QuicApi)`.
    pub close: fn(quic_api: *const c_void),
}

/// MsQuic over NMR.
#[npi(id = "C43138E3-CD13-4CB1-9CAE-E005C8557ABA", provider_dispatch = MsQuicNmrDispatch)]
pub struct MsQuic;
// SAFETY: the types this declaration gives the NPI are its layouts, and it is the only
// declaration of this id in the program.
unsafe impl ::npi_runtime::NpiLayout for MsQuic {}

fn check_layouts() {
    assert_eq!(MsQuic::ID, GUID::from_u128(0xC431_38E3_CD13_4CB1_9CAE_E005_C855_7ABA));
    assert_eq!(offset_of!(MsQuicNmrDispatch, reserved), 2);
    #[cfg(target_pointer_width = "64")]
    {
        assert_eq!(size_of::<MsQuicNmrDispatch>(), 24);
        assert_eq!(offset_of!(MsQuicNmrDispatch, open_version), 8);
        assert_eq!(offset_of!(MsQuicNmrDispatch, close), 16);
    }
    #[cfg(target_pointer_width = "32")]
    {
        assert_eq!(size_of::<MsQuicNmrDispatch>(), 12);
        assert_eq!(offset_of!(MsQuicNmrDispatch, open_version), 4);
        assert_eq!(offset_of!(MsQuicNmrDispatch, close), 8);
    }
    assert_eq!(MsQuicNmrDispatch::END_OF_CLOSE, size_of::<MsQuicNmrDispatch>());
    // Neither side has a table or characteristics beyond the provider's dispatch.
    assert_eq!(size_of::<<MsQuic as Npi>::ClientDispatch>(), 0);
    assert_eq!(size_of::<<MsQuic as Npi>::ClientCharacteristics>(), 0);
    assert_eq!(size_of::<<MsQuic as Npi>::ProviderCharacteristics>(), 0);
}

// ----- the provider (msquic.sys) ---------------------------------------------------------------

#[npi_provider(npi = MsQuic, module_id = "698F7C72-C2E6-49CD-8C39-98851D501901")]
struct MsQuicProvider {
    /// Open API handles (the library's own reference count).
    open: AtomicUsize,
}

impl Provider for MsQuicProvider {
    type Binding = ();

    /// Accepts every client; its dispatch and context are ignored.
    fn attach(&self, request: ProviderAttachRequest<'_, Self>) -> Attach {
        assert!(request.client_dispatch().is_none(), "the client passes a NULL dispatch");
        assert_eq!(request.client().number(), 0);
        assert_eq!(request.client().version(), 0);
        request.accept((), &MSQUIC_NMR_DISPATCH).into()
    }
}

/// The API table `OpenVersion` hands out.
static QUIC_API_TABLE: [usize; 4] = [0; 4];

impl MsQuicNmrDispatchImpl for MsQuicProvider {

    unsafe fn open_version(version: u32, quic_api: *mut *const c_void) -> NTSTATUS {
        if version != QUIC_API_VERSION_2 || quic_api.is_null() {
            return STATUS_NOT_SUPPORTED;
        }
        PROVIDER.open.fetch_add(1, Ordering::Relaxed);
        // SAFETY: checked non-NULL; the caller passes a valid out-pointer.
        unsafe { quic_api.write(ptr::from_ref(&QUIC_API_TABLE).cast()) };
        STATUS_SUCCESS
    }

    unsafe fn close(quic_api: *const c_void) {
        assert_eq!(quic_api, ptr::from_ref(&QUIC_API_TABLE).cast());
        PROVIDER.open.fetch_sub(1, Ordering::Relaxed);
    }
}

static MSQUIC_NMR_DISPATCH: ProviderTable<MsQuicProvider> =
    MsQuicNmrDispatch::new::<MsQuicProvider>(0, 0);
static PROVIDER: MsQuicProvider = MsQuicProvider { open: AtomicUsize::new(0) };

// ----- the client helper (MsQuicNmrClientRegister) ---------------------------------------------

/// The test driver registers with `ClientModuleId = &MSQUIC_MODULE_ID`, the provider's own id.
#[npi_client(npi = MsQuic, module_id = "698F7C72-C2E6-49CD-8C39-98851D501901")]
struct MsQuicClient {
    binding_count: AtomicUsize,
    provider: Mutex<Option<ClientBindingRef<MsQuicClient>>>,
}

impl Client for MsQuicClient {
    type Binding = ();

    /// Binds the first provider only; later ones get `STATUS_NOINTERFACE`.
    fn attach(&self, request: ClientAttachRequest<'_, Self>) -> Attach {
        if self.binding_count.fetch_add(1, Ordering::AcqRel) != 0 {
            self.binding_count.fetch_sub(1, Ordering::AcqRel);
            return request.decline();
        }
        // No client dispatch table: `()` travels as NULL.
        match request.accept((), &()) {
            Ok(accepted) => {
                *self.provider.lock().unwrap() = Some(accepted.binding().to_ref());
                accepted.into()
            }
            Err(refused) => {
                self.binding_count.fetch_sub(1, Ordering::AcqRel);
                refused.into()
            }
        }
    }
}

static CLIENT: MsQuicClient =
    MsQuicClient { binding_count: AtomicUsize::new(0), provider: Mutex::new(None) };

fn main() {
    check_layouts();

    let provider = ProviderRegistration::register(&PROVIDER).expect("register msquic");
    let client = ClientRegistration::register(&CLIENT).expect("register the client");
    assert_eq!(host::bindings_of(&MsQuic::ID).len(), 1);

    {
        let guard = CLIENT.provider.lock().unwrap();
        let msquic = guard.as_ref().and_then(|b| b.peer()).expect("QUIC_GET_DISPATCH");
        assert_eq!(msquic.as_table().version, 0);
        let mut api: *const c_void = ptr::null();
        // SAFETY: a valid out-pointer, as MsQuicOpenVersion expects.
        let status = unsafe { msquic.open_version(QUIC_API_VERSION_2, &mut api) };
        assert_eq!(status, STATUS_SUCCESS);
        assert!(!api.is_null());
        assert_eq!(PROVIDER.open.load(Ordering::Relaxed), 1);
        // SAFETY: the handle OpenVersion returned, closed once.
        unsafe { msquic.close(api) };
        assert_eq!(PROVIDER.open.load(Ordering::Relaxed), 0);
    }

    *CLIENT.provider.lock().unwrap() = None;
    drop(client);
    provider.deregister().expect("deregistered");
    assert!(host::violations_of(&MsQuic::ID).is_empty());
}
