//! The safe layer without the macros: an NPI, a client and a provider implemented by hand the
//! way the macros expand, run end to end on the host NMR.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use std::fmt;

use npi_runtime::__private::{ClientVTable, ProviderVTable, Static};
use npi_runtime::c_header::{CLayout, CType};
use npi_runtime::generic::*;
use npi_runtime::sys::*;
use npi_runtime::*;

struct TestNpi;
// SAFETY: both sides in this file use the tables below, and nothing else declares this id.
unsafe impl NpiLayout for TestNpi {}
// SAFETY: the tables below are #[repr(C)] and are exactly what both sides use.
unsafe impl Npi for TestNpi {
    const ID: GUID = GUID::from_u128(0x11AA_22BB_33CC_44DD_8000_0000_0000_0001);
    const NAME: &'static str = "TestNpi";
    type ClientCharacteristics = ();
    type ProviderCharacteristics = ProviderInfo;
    type ClientDispatch = ClientTable;
    type ProviderDispatch = ProviderTable;
}

#[repr(C)]
struct ProviderInfo {
    highest: u16,
}
// SAFETY: #[repr(C)] plain data.
unsafe impl NpiData for ProviderInfo {}
// SAFETY: the layout below is this struct's (asserted); plain data. By hand, as the macros
// would: this test writes no header, so there is nothing to define beyond the name.
unsafe impl CType for ProviderInfo {
    const LAYOUT: CLayout = CLayout::of_struct(&[CLayout::scalar(2)]);
    fn declare(out: &mut dyn fmt::Write, q: &str, d: &dyn fmt::Display) -> fmt::Result {
        write!(out, "{q}PROVIDER_INFO {d}")
    }
}
const _: () = assert!(<ProviderInfo as CType>::LAYOUT.is_layout_of::<ProviderInfo>());

#[repr(C)]
struct ProviderTable {
    double: unsafe extern "system" fn(*mut std::ffi::c_void, u32) -> u32,
}
// SAFETY: #[repr(C)] table of fn pointers.
unsafe impl NpiData for ProviderTable {}
// SAFETY: the layout below is this struct's (asserted); plain data. By hand, as the macros
// would: this test writes no header, so there is nothing to define beyond the name.
unsafe impl CType for ProviderTable {
    const LAYOUT: CLayout = CLayout::of_struct(&[CLayout::POINTER]);
    fn declare(out: &mut dyn fmt::Write, q: &str, d: &dyn fmt::Display) -> fmt::Result {
        write!(out, "{q}PROVIDER_TABLE {d}")
    }
}
const _: () = assert!(<ProviderTable as CType>::LAYOUT.is_layout_of::<ProviderTable>());
// SAFETY: the view is the bare peer.
unsafe impl DispatchTable for ProviderTable {
    type Calls<'a> = Peer<'a, Self>;
    fn calls(peer: Peer<'_, Self>) -> Option<Peer<'_, Self>> {
        Some(peer)
    }
}

#[repr(C)]
struct ClientTable {
    notify: unsafe extern "system" fn(*mut std::ffi::c_void, u32),
}
// SAFETY: #[repr(C)] table of fn pointers.
unsafe impl NpiData for ClientTable {}
// SAFETY: the layout below is this struct's (asserted); plain data. By hand, as the macros
// would: this test writes no header, so there is nothing to define beyond the name.
unsafe impl CType for ClientTable {
    const LAYOUT: CLayout = CLayout::of_struct(&[CLayout::POINTER]);
    fn declare(out: &mut dyn fmt::Write, q: &str, d: &dyn fmt::Display) -> fmt::Result {
        write!(out, "{q}CLIENT_TABLE {d}")
    }
}
const _: () = assert!(<ClientTable as CType>::LAYOUT.is_layout_of::<ClientTable>());
// SAFETY: the view is the bare peer.
unsafe impl DispatchTable for ClientTable {
    type Calls<'a> = Peer<'a, Self>;
    fn calls(peer: Peer<'_, Self>) -> Option<Peer<'_, Self>> {
        Some(peer)
    }
}

static PROVIDER_INFO: ProviderInfo = ProviderInfo { highest: 7 };

// --- provider -------------------------------------------------------------------------------

struct Prov {
    log: Mutex<Vec<String>>,
    pending: Mutex<Vec<ProviderPendingDetach<Prov>>>,
}

unsafe extern "system" fn double(ctx: *mut std::ffi::c_void, v: u32) -> u32 {
    let _ = ctx;
    v * 2
}
// SAFETY: built for `Prov`, the side that offers it; `double` does not read its context.
static PROVIDER_TABLE: Table<AsProvider<Prov>, ProviderTable> =
    unsafe { Table::new_unchecked(ProviderTable { double }) };

// SAFETY: what #[npi_provider] emits: characteristics built by the runtime for Self.
unsafe impl ProviderModule for Prov {
    type Npi = TestNpi;
    const MODULE_ID: NPI_MODULEID = NPI_MODULEID::from_guid(GUID::from_u128(0x51));
    const DYNAMIC_MODULE_ID: bool = false;
    const NUMBER: u32 = 0;
    const REGISTRATION_VERSION: u16 = 0;
    const CHARACTERISTICS: Option<&'static ProviderInfo> = Some(&PROVIDER_INFO);
    fn characteristics() -> &'static NPI_PROVIDER_CHARACTERISTICS {
        static C: Static<NPI_PROVIDER_CHARACTERISTICS> =
            Static(ProviderVTable::<Prov>::CHARACTERISTICS);
        &C.0
    }
}

impl Provider for Prov {
    type Binding = u32;
    fn attach(&self, request: ProviderAttachRequest<'_, Self>) -> Attach {
        let n = request.client().number();
        self.log.lock().unwrap().push(format!("P.attach #{n}"));
        if let Some(t) = request.client_dispatch() {
            // SAFETY: the client's table, valid while it is being attached.
            unsafe { (t.notify)(std::ptr::null_mut(), 1) };
        }
        request.accept(n, &PROVIDER_TABLE).into()
    }
    fn detach(
        &self,
        binding: &ProviderBinding<'_, Self>,
        request: ProviderDetachRequest<'_, Self>,
    ) -> Detach {
        self.log.lock().unwrap().push(format!("P.detach #{}", **binding));
        let (d, pending) = request.pend();
        self.pending.lock().unwrap().push(pending);
        d
    }
    fn cleanup(&self, binding: &u32) {
        self.log.lock().unwrap().push(format!("P.cleanup #{binding}"));
    }
}

// --- client ---------------------------------------------------------------------------------

struct Cli {
    log: Mutex<Vec<String>>,
    bindings: Mutex<Vec<ClientBindingRef<Cli>>>,
}

static NOTIFIED: AtomicUsize = AtomicUsize::new(0);
unsafe extern "system" fn notify(_ctx: *mut std::ffi::c_void, v: u32) {
    NOTIFIED.fetch_add(v as usize, Ordering::SeqCst);
}
// SAFETY: built for `Cli`, the side that offers it; `notify` does not read its context.
static CLIENT_TABLE: Table<AsClient<Cli>, ClientTable> =
    unsafe { Table::new_unchecked(ClientTable { notify }) };

// SAFETY: what #[npi_client] emits.
unsafe impl ClientModule for Cli {
    type Npi = TestNpi;
    const MODULE_ID: NPI_MODULEID = NPI_MODULEID::from_guid(GUID::from_u128(0xC1));
    const DYNAMIC_MODULE_ID: bool = false;
    const NUMBER: u32 = 3;
    const REGISTRATION_VERSION: u16 = 0;
    const CHARACTERISTICS: Option<&'static ()> = None;
    fn characteristics() -> &'static NPI_CLIENT_CHARACTERISTICS {
        static C: Static<NPI_CLIENT_CHARACTERISTICS> = Static(ClientVTable::<Cli>::CHARACTERISTICS);
        &C.0
    }
}

impl Client for Cli {
    type Binding = String;
    fn attach(&self, request: ClientAttachRequest<'_, Self>) -> Attach {
        let highest = request.provider().characteristics().map(|c| c.highest);
        self.log.lock().unwrap().push(format!("C.attach highest={highest:?}"));
        match request.accept(String::from("b"), &CLIENT_TABLE) {
            Ok(a) => a.into(),
            Err(refused) => refused.into(),
        }
    }
    fn detach(
        &self,
        binding: &ClientBinding<'_, Self>,
        request: ClientDetachRequest<'_, Self>,
    ) -> Detach {
        assert!(binding.peer().is_none(), "no calls into the peer after detach began (R23)");
        self.log.lock().unwrap().push(format!("C.detach {}", **binding));
        request.done()
    }
    fn cleanup(&self, binding: &String) {
        self.log.lock().unwrap().push(format!("C.cleanup {binding}"));
    }
}

#[test]
fn client_and_provider_attach_call_detach_pending_and_clean_up() {
    let prov = Arc::new(Prov { log: Mutex::default(), pending: Mutex::default() });
    let cli: &'static Cli =
        Box::leak(Box::new(Cli { log: Mutex::default(), bindings: Mutex::default() }));
    let preg = ProviderRegistration::register(Arc::clone(&prov)).unwrap();
    // Keep a reference to the binding from inside attach? Use the listing instead.
    let creg = ClientRegistration::register(cli).unwrap();
    assert_eq!(NOTIFIED.load(Ordering::SeqCst), 1, "the provider called the client's table");
    assert_eq!(*cli.log.lock().unwrap(), ["C.attach highest=Some(7)"]);
    assert_eq!(*prov.log.lock().unwrap(), ["P.attach #3"]);
    assert!(cli.bindings.lock().unwrap().is_empty());

    let bindings = npi_runtime::host::bindings_of(&TestNpi::ID);
    assert_eq!(bindings.len(), 1);

    // Deregister the provider on another thread: its detach pends until we complete it.
    let t = std::thread::spawn(move || preg.deregister());
    while prov.pending.lock().unwrap().is_empty() {
        std::thread::yield_now();
    }
    assert_eq!(*cli.log.lock().unwrap(), ["C.attach highest=Some(7)", "C.detach b"]);
    let pending = prov.pending.lock().unwrap().pop().unwrap();
    pending.complete();
    assert_eq!(t.join().unwrap(), Ok(()));
    assert_eq!(*cli.log.lock().unwrap(), ["C.attach highest=Some(7)", "C.detach b", "C.cleanup b"]);
    assert_eq!(*prov.log.lock().unwrap(), ["P.attach #3", "P.detach #3", "P.cleanup #3"]);
    drop(creg);
    assert!(npi_runtime::host::violations_of(&TestNpi::ID).is_empty());
    assert!(npi_runtime::host::registrations_of(&TestNpi::ID).is_empty());
}
