//! What every conformance test builds on: a scriptable test module (client or provider) written
//! the way a C driver uses the NMR, a per-test event log, fresh NPI ids, and small helpers.
//!
//! A module is a leaked (`'static`) struct holding its characteristics, so they outlive the
//! registration as R2 demands. Its registration context is the module itself; each binding
//! context is a leaked [`Binding`]. The callbacks are `unsafe extern "system" fn`s that append
//! to the test's [`EventLog`] (`"C.attach(P)"`, `"P.detach(C)"`, `"C.cleanup(P)"`, …) and then
//! run the behaviour the test scripted with `on_attach` / `on_detach` / `on_cleanup`.
//!
//! Nothing a module receives is trusted blindly: a registration or binding context that support
//! never handed out is reported instead of dereferenced, and a panic inside a scripted
//! behaviour is caught (it must not unwind across `extern "system"`) and logged, so that the
//! test's next look at the log fails with it.

use std::any::Any;
use std::cell::UnsafeCell;
use std::collections::{HashMap, HashSet};
use std::ffi::c_void;
use std::ops::Deref;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::ptr;
use std::sync::atomic::{AtomicBool, AtomicPtr, AtomicU32, AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Condvar, LazyLock, Mutex, MutexGuard, PoisonError, mpsc};
use std::thread::{self, ThreadId};
use std::time::Duration;

use npi_runtime::host::{self, BindingInfo, Irql, Side as Role, ViolationKind, WaitError};
use npi_runtime::sys::*;

/// How long a test waits for a signal from another thread before it calls the run a hang.
pub(crate) const SIGNAL_LIMIT: Duration = Duration::from_secs(10);
/// How long a raw `NmrWaitFor*` may block before the whole binary is stopped as hung.
pub(crate) const HANG_LIMIT: Duration = Duration::from_secs(20);
/// The short delay used where a test must show that something did *not* happen yet.
pub(crate) const SHORT: Duration = Duration::from_millis(30);

const PANIC: &str = "PANIC";

pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

pub(crate) fn handle(value: usize) -> HANDLE {
    ptr::without_provenance_mut(value)
}

// ---------------------------------------------------------------------------------------------
// Ids.

static SERIAL: AtomicU32 = AtomicU32::new(1);

/// A GUID no other test uses: `{4E504943-0000-4000-8000-0000xxxxxxxx}`.
pub(crate) fn fresh_guid() -> GUID {
    GUID::from_u128(
        0x4E50_4943_0000_4000_8000_0000_0000_0000 | u128::from(SERIAL.fetch_add(1, SeqCst)),
    )
}

/// A copy of `guid` in its own allocation, as each NPI header defines its own `const NPIID`.
pub(crate) fn leak_guid(guid: GUID) -> &'static GUID {
    Box::leak(Box::new(guid))
}

pub(crate) fn leak_module_id(guid: GUID) -> &'static NPI_MODULEID {
    Box::leak(Box::new(NPI_MODULEID::from_guid(guid)))
}

// ---------------------------------------------------------------------------------------------
// The event log.

/// One callback invocation (or a mark the test wrote).
#[derive(Clone, Debug)]
pub(crate) struct Event {
    pub(crate) what: String,
    /// The binding handle the callback concerned (0 for marks).
    pub(crate) binding: usize,
    pub(crate) thread: ThreadId,
    pub(crate) irql: Irql,
}

#[derive(Default)]
pub(crate) struct EventLog {
    events: Mutex<Vec<Event>>,
}

pub(crate) type Log = Arc<EventLog>;

impl EventLog {
    pub(crate) fn push(&self, what: String, binding: usize) {
        let event = Event { what, binding, thread: thread::current().id(), irql: host::irql() };
        lock(&self.events).push(event);
    }

    /// Records a point in the test's own flow, to order it against the callbacks.
    pub(crate) fn mark(&self, what: &str) {
        self.push(what.to_owned(), 0);
    }

    /// Every event so far. Fails the test if a module callback panicked.
    pub(crate) fn events(&self) -> Vec<Event> {
        let events = lock(&self.events).clone();
        if let Some(p) = events.iter().find(|e| e.what.starts_with(PANIC)) {
            panic!("a module callback failed: {}", p.what);
        }
        events
    }

    pub(crate) fn names(&self) -> Vec<String> {
        self.events().into_iter().map(|e| e.what).collect()
    }

    /// The events so far, removed from the log.
    pub(crate) fn take_events(&self) -> Vec<Event> {
        let events = std::mem::take(&mut *lock(&self.events));
        if let Some(p) = events.iter().find(|e| e.what.starts_with(PANIC)) {
            panic!("a module callback failed: {}", p.what);
        }
        events
    }

    /// The names of the events so far, removed from the log.
    pub(crate) fn take(&self) -> Vec<String> {
        self.take_events().into_iter().map(|e| e.what).collect()
    }

    pub(crate) fn count(&self, what: &str) -> usize {
        self.names().iter().filter(|n| *n == what).count()
    }

    fn failure(&self, what: String) {
        self.push(format!("{PANIC}: {what}"), 0);
    }
}

fn panic_message(e: &(dyn Any + Send)) -> String {
    e.downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| e.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| String::from("<non-string panic>"))
}

/// Runs a scripted behaviour inside a callback: a panic must not unwind into the NMR.
fn shielded<T>(log: &EventLog, site: &str, fallback: T, f: impl FnOnce() -> T) -> T {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(v) => v,
        Err(e) => {
            log.failure(format!("in {site}: {}", panic_message(&*e)));
            fallback
        }
    }
}

// ---------------------------------------------------------------------------------------------
// What support handed out, so a callback can tell a real context from a stray pointer.

static MODULES: LazyLock<Mutex<HashMap<usize, Role>>> = LazyLock::new(Mutex::default);
static BINDINGS: LazyLock<Mutex<HashSet<usize>>> = LazyLock::new(Mutex::default);
/// Registration-instance address → module name, to name the peer in the log.
static NAMES: LazyLock<Mutex<HashMap<usize, &'static str>>> = LazyLock::new(Mutex::default);
/// Contexts the NMR passed that support never handed out.
static STRAYS: AtomicUsize = AtomicUsize::new(0);

pub(crate) fn name_of(instance: *const NPI_REGISTRATION_INSTANCE) -> &'static str {
    lock(&NAMES).get(&instance.addr()).copied().unwrap_or("?")
}

/// Names a registration instance that support did not build (a hand-written module).
pub(crate) fn name_instance(instance: *const NPI_REGISTRATION_INSTANCE, name: &'static str) {
    lock(&NAMES).insert(instance.addr(), name);
}

fn stray(what: &str, p: *const c_void) {
    STRAYS.fetch_add(1, SeqCst);
    eprintln!("conformance: the NMR passed {what} {p:p}, which no test module handed out");
}

// ---------------------------------------------------------------------------------------------
// Dispatch tables: a version word and some payload, never read by the NMR (R14).

#[repr(C)]
pub(crate) struct Dispatch {
    pub(crate) version: u16,
    pub(crate) tag: u16,
}

pub(crate) static CLIENT_DISPATCH: Dispatch = Dispatch { version: 0x0100, tag: 0xC1 };
pub(crate) static CLIENT_DISPATCH_V2: Dispatch = Dispatch { version: 0x0200, tag: 0xC2 };
pub(crate) static PROVIDER_DISPATCH: Dispatch = Dispatch { version: 0x0100, tag: 0xB1 };

pub(crate) fn dispatch(d: &'static Dispatch) -> *const c_void {
    ptr::from_ref(d).cast()
}

// ---------------------------------------------------------------------------------------------
// Scripted behaviour.

type ClientAttachHook = Arc<dyn Fn(&ClientAttach) -> NTSTATUS + Send + Sync>;
type ProviderAttachHook = Arc<dyn Fn(&ProviderAttach) -> NTSTATUS + Send + Sync>;
type DetachHook = Arc<dyn Fn(&'static Binding) -> NTSTATUS + Send + Sync>;
type CleanupHook = Arc<dyn Fn(&'static Binding) + Send + Sync>;

#[derive(Clone)]
struct Hooks {
    client_attach: ClientAttachHook,
    provider_attach: ProviderAttachHook,
    detach: DetachHook,
    cleanup: CleanupHook,
}

impl Default for Hooks {
    fn default() -> Self {
        Self {
            client_attach: Arc::new(ClientAttach::attach),
            provider_attach: Arc::new(ProviderAttach::accept),
            detach: Arc::new(|_| STATUS_SUCCESS),
            cleanup: Arc::new(|_| {}),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Modules.

/// What clients and providers share: name, log, ids, registration handle, behaviour, bindings.
pub(crate) struct Core {
    pub(crate) name: &'static str,
    pub(crate) role: Role,
    pub(crate) log: Log,
    /// This module's own copy of the NPI id (the NMR matches by value, R3).
    pub(crate) npi: &'static GUID,
    pub(crate) module_id: &'static NPI_MODULEID,
    /// The registration handle: the NMR writes it here (like a driver's global) before any
    /// attach callback runs.
    handle: AtomicUsize,
    registered: AtomicBool,
    hooks: Mutex<Hooks>,
    bindings: Mutex<Vec<&'static Binding>>,
}

impl Core {
    fn new(name: &'static str, role: Role, log: &Log, npi: GUID) -> Self {
        Self {
            name,
            role,
            log: Arc::clone(log),
            npi: leak_guid(npi),
            module_id: leak_module_id(fresh_guid()),
            handle: AtomicUsize::new(0),
            registered: AtomicBool::new(false),
            hooks: Mutex::default(),
            bindings: Mutex::default(),
        }
    }

    pub(crate) fn handle(&self) -> HANDLE {
        handle(self.handle.load(SeqCst))
    }

    pub(crate) fn handle_value(&self) -> usize {
        self.handle.load(SeqCst)
    }

    /// `NmrDeregisterClient` / `NmrDeregisterProvider` with this module's handle.
    pub(crate) fn deregister(&self) -> NTSTATUS {
        let h = self.handle();
        // SAFETY: any handle value is accepted; the module's callbacks stay callable (leaked).
        unsafe {
            match self.role {
                Role::Client => NmrDeregisterClient(h),
                Role::Provider => NmrDeregisterProvider(h),
            }
        }
    }

    /// `NmrWaitFor*DeregisterComplete` with this module's handle, on this thread. A wait that
    /// never returns stops the whole binary after [`HANG_LIMIT`] instead of hanging it.
    pub(crate) fn wait(&self) -> NTSTATUS {
        let h = self.handle();
        let status = watchdog(&format!("the wait for {}", self.name), || {
            // SAFETY: any handle value is accepted.
            unsafe {
                match self.role {
                    Role::Client => NmrWaitForClientDeregisterComplete(h),
                    Role::Provider => NmrWaitForProviderDeregisterComplete(h),
                }
            }
        });
        if status == STATUS_SUCCESS {
            self.registered.store(false, SeqCst);
        }
        status
    }

    /// The driver's `Unload`: deregister (always `STATUS_PENDING`, R24), then wait.
    pub(crate) fn unload(&self) {
        assert_eq!(self.deregister(), STATUS_PENDING, "{}: NmrDeregister*", self.name);
        assert_eq!(self.wait(), STATUS_SUCCESS, "{}: NmrWaitFor*DeregisterComplete", self.name);
    }

    /// The bounded wait of `npi_runtime::host`.
    pub(crate) fn wait_for(&self, limit: Duration) -> Result<(), WaitError> {
        let r = host::wait_for_deregister_complete(self.handle(), limit);
        if r.is_ok() {
            self.registered.store(false, SeqCst);
        }
        r
    }

    pub(crate) fn on_detach(
        &self,
        f: impl Fn(&'static Binding) -> NTSTATUS + Send + Sync + 'static,
    ) {
        lock(&self.hooks).detach = Arc::new(f);
    }

    pub(crate) fn on_cleanup(&self, f: impl Fn(&'static Binding) + Send + Sync + 'static) {
        lock(&self.hooks).cleanup = Arc::new(f);
    }

    /// Every detach callback returns `STATUS_PENDING`; the test completes later.
    pub(crate) fn detach_pending(&self) {
        self.on_detach(|_| STATUS_PENDING);
    }

    /// Every detach callback returns `status`.
    pub(crate) fn detach_returns(&self, status: NTSTATUS) {
        self.on_detach(move |_| status);
    }

    /// The bindings this module accepted, oldest first.
    pub(crate) fn bindings(&self) -> Vec<&'static Binding> {
        lock(&self.bindings).clone()
    }

    /// The (last) binding with the module called `peer`.
    pub(crate) fn binding(&self, peer: &str) -> &'static Binding {
        self.bindings()
            .into_iter()
            .rev()
            .find(|b| b.peer == peer)
            .unwrap_or_else(|| panic!("{} has no binding with {peer}", self.name))
    }
}

macro_rules! module {
    ($module:ident, $chars:ident, $instance:ident, $role:expr, $register:ident,
     $attach_field:ident: $attach:expr, $detach_field:ident, $cleanup_field:ident) => {
        pub(crate) struct $module {
            core: Core,
            chars: UnsafeCell<$chars>,
        }

        // SAFETY: the characteristics are written only through `edit`, which refuses while the
        // module is registered; the NMR only reads them. Everything else is Sync.
        unsafe impl Sync for $module {}

        impl Deref for $module {
            type Target = Core;
            fn deref(&self) -> &Core {
                &self.core
            }
        }

        impl $module {
            pub(crate) fn new(name: &'static str, npi: GUID, log: &Log) -> &'static Self {
                let core = Core::new(name, $role, log, npi);
                let chars = $chars {
                    Version: 0,
                    Length: u16::try_from(size_of::<$chars>()).unwrap(),
                    $attach_field: Some($attach),
                    $detach_field: Some(detach_cb),
                    $cleanup_field: Some(cleanup_cb),
                    $instance: NPI_REGISTRATION_INSTANCE {
                        Version: 0,
                        Size: u16::try_from(size_of::<NPI_REGISTRATION_INSTANCE>()).unwrap(),
                        NpiId: core.npi,
                        ModuleId: core.module_id,
                        Number: 0,
                        NpiSpecificCharacteristics: ptr::null(),
                    },
                };
                let m: &'static Self =
                    Box::leak(Box::new(Self { core, chars: UnsafeCell::new(chars) }));
                lock(&MODULES).insert(ptr::from_ref(m).addr(), $role);
                name_instance(m.instance(), name);
                m
            }

            /// This module as a client-or-provider [`Core`].
            pub(crate) fn core_ref(&'static self) -> &'static Core {
                &self.core
            }

            /// The characteristics the NMR is given (and keeps a pointer to, R2).
            pub(crate) fn chars(&self) -> *const $chars {
                self.chars.get()
            }

            /// `&chars.*RegistrationInstance`: what the peer's attach callback must receive.
            pub(crate) fn instance(&self) -> *const NPI_REGISTRATION_INSTANCE {
                // SAFETY: projecting a field of our own live allocation; nothing is read.
                unsafe { &raw const (*self.chars.get()).$instance }
            }

            /// The registration context this module registers with (the module itself).
            pub(crate) fn context(&'static self) -> *mut c_void {
                ptr::from_ref(self).cast_mut().cast()
            }

            /// Changes the characteristics; only before registering or after the wait (R2).
            pub(crate) fn edit(&self, f: impl FnOnce(&mut $chars)) {
                assert!(
                    !self.registered.load(SeqCst),
                    "{}: characteristics changed while registered",
                    self.name
                );
                // SAFETY: not registered, so the NMR holds no pointer to them, and tests edit a
                // module from one thread.
                f(unsafe { &mut *self.chars.get() });
            }

            /// Registers with the module itself as the context; the NMR writes the handle into
            /// the module before any attach callback runs.
            pub(crate) fn register(&'static self) -> NTSTATUS {
                self.core.handle.store(0, SeqCst);
                let out = self.core.handle.as_ptr().cast::<HANDLE>();
                self.core.registered.store(true, SeqCst);
                // SAFETY: the characteristics and the context are leaked, so they outlive the
                // registration; `out` is this module's handle variable (pointer-sized).
                let status = unsafe { $register(self.chars(), self.context(), out) };
                if status != STATUS_SUCCESS {
                    self.core.registered.store(false, SeqCst);
                }
                status
            }

            /// Registers with a caller-chosen context and out-pointer (bad-input tests).
            pub(crate) fn register_raw(
                &'static self,
                context: *mut c_void,
                out: *mut HANDLE,
            ) -> NTSTATUS {
                self.core.registered.store(true, SeqCst);
                // SAFETY: the characteristics are leaked; `out` is the caller's (NULL included).
                let status = unsafe { $register(self.chars(), context, out) };
                if status != STATUS_SUCCESS {
                    self.core.registered.store(false, SeqCst);
                }
                status
            }
        }
    };
}

module!(Client, NPI_CLIENT_CHARACTERISTICS, ClientRegistrationInstance, Role::Client, NmrRegisterClient,
        ClientAttachProvider: client_attach_cb, ClientDetachProvider, ClientCleanupBindingContext);
module!(Provider, NPI_PROVIDER_CHARACTERISTICS, ProviderRegistrationInstance, Role::Provider,
        NmrRegisterProvider, ProviderAttachClient: provider_attach_cb, ProviderDetachClient,
        ProviderCleanupBindingContext);

impl Client {
    pub(crate) fn on_attach(&self, f: impl Fn(&ClientAttach) -> NTSTATUS + Send + Sync + 'static) {
        lock(&self.hooks).client_attach = Arc::new(f);
    }

    /// Declines every provider with `STATUS_NOINTERFACE` without calling the NMR (R9 a).
    pub(crate) fn decline(&self) {
        self.on_attach(|_| STATUS_NOINTERFACE);
    }
}

impl Provider {
    pub(crate) fn on_attach(
        &self,
        f: impl Fn(&ProviderAttach) -> NTSTATUS + Send + Sync + 'static,
    ) {
        lock(&self.hooks).provider_attach = Arc::new(f);
    }

    /// Declines every client with `status`.
    pub(crate) fn decline(&self, status: NTSTATUS) {
        self.on_attach(move |_| status);
    }
}

// ---------------------------------------------------------------------------------------------
// Bindings.

/// One module's binding context: leaked, never freed (a stray callback can always be logged).
pub(crate) struct Binding {
    pub(crate) core: &'static Core,
    /// The binding handle the attach callback received.
    pub(crate) handle: usize,
    pub(crate) peer: &'static str,
    /// The peer's binding context and dispatch table as this side learned them at attach.
    peer_context: AtomicPtr<c_void>,
    peer_dispatch: AtomicPtr<c_void>,
    pub(crate) detaches: AtomicUsize,
    pub(crate) cleanups: AtomicUsize,
}

impl Binding {
    fn leak(core: &'static Core, handle: usize, peer: &'static str) -> &'static Self {
        let b: &'static Self = Box::leak(Box::new(Self {
            core,
            handle,
            peer,
            peer_context: AtomicPtr::new(ptr::null_mut()),
            peer_dispatch: AtomicPtr::new(ptr::null_mut()),
            detaches: AtomicUsize::new(0),
            cleanups: AtomicUsize::new(0),
        }));
        lock(&BINDINGS).insert(ptr::from_ref(b).addr());
        b
    }

    /// The pointer this side handed to the NMR as its binding context.
    pub(crate) fn context(&'static self) -> *mut c_void {
        ptr::from_ref(self).cast_mut().cast()
    }

    pub(crate) fn peer_context(&self) -> *mut c_void {
        self.peer_context.load(SeqCst)
    }

    pub(crate) fn peer_dispatch(&self) -> *const c_void {
        self.peer_dispatch.load(SeqCst).cast_const()
    }

    pub(crate) fn detaches(&self) -> usize {
        self.detaches.load(SeqCst)
    }

    pub(crate) fn cleanups(&self) -> usize {
        self.cleanups.load(SeqCst)
    }

    /// This side's `Nmr*DetachComplete` for the binding.
    pub(crate) fn complete(&self) {
        complete(self.core.role, self.handle);
    }
}

/// `NmrClientDetachProviderComplete` or `NmrProviderDetachClientComplete` on any handle value.
pub(crate) fn complete(role: Role, binding: usize) {
    // SAFETY: any handle value is accepted; a bad one is recorded and ignored.
    unsafe {
        match role {
            Role::Client => NmrClientDetachProviderComplete(handle(binding)),
            Role::Provider => NmrProviderDetachClientComplete(handle(binding)),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Attach calls as the scripted behaviour sees them.

/// A running `ClientAttachProvider` callback.
pub(crate) struct ClientAttach {
    pub(crate) client: &'static Client,
    pub(crate) handle: HANDLE,
    pub(crate) instance: *const NPI_REGISTRATION_INSTANCE,
    pub(crate) peer: &'static str,
}

impl ClientAttach {
    /// Accepts: `NmrClientAttachProvider` with a fresh binding context and [`CLIENT_DISPATCH`],
    /// returning what it returned (R11).
    pub(crate) fn attach(&self) -> NTSTATUS {
        self.attach_with(dispatch(&CLIENT_DISPATCH))
    }

    /// As [`ClientAttach::attach`], with another client dispatch table (R12).
    pub(crate) fn attach_with(&self, client_dispatch: *const c_void) -> NTSTATUS {
        self.attach_handle(self.handle, client_dispatch)
    }

    /// As [`ClientAttach::attach_with`], quoting any binding handle (OQ-9 tests).
    pub(crate) fn attach_handle(&self, h: HANDLE, client_dispatch: *const c_void) -> NTSTATUS {
        let b = Binding::leak(&self.client.core, h.addr(), self.peer);
        let mut provider_context: *mut c_void = ptr::null_mut();
        let mut provider_dispatch: *const c_void = ptr::null();
        // SAFETY: the binding context is leaked and the dispatch table static, so both outlive
        // the binding; the out-pointers are locals.
        let status = unsafe {
            NmrClientAttachProvider(
                h,
                b.context(),
                client_dispatch,
                &mut provider_context,
                &mut provider_dispatch,
            )
        };
        if status == STATUS_SUCCESS {
            b.peer_context.store(provider_context, SeqCst);
            b.peer_dispatch.store(provider_dispatch.cast_mut(), SeqCst);
            lock(&self.client.bindings).push(b);
        }
        // On failure the context is the client's to free (R10); it stays leaked.
        status
    }

    /// A binding context for [`ClientAttach::attach_raw`]: a real one, so the callbacks that
    /// may follow are logged, but not kept in the module's list.
    pub(crate) fn new_binding(&self) -> &'static Binding {
        Binding::leak(&self.client.core, self.handle.addr(), self.peer)
    }

    /// `NmrClientAttachProvider` with caller-chosen arguments, nothing recorded.
    pub(crate) fn attach_raw(
        &self,
        context: *mut c_void,
        client_dispatch: *const c_void,
        out_context: *mut *mut c_void,
        out_dispatch: *mut *const c_void,
    ) -> NTSTATUS {
        // SAFETY: forwarded; the NMR accepts NULL out-pointers with an error.
        unsafe {
            NmrClientAttachProvider(
                self.handle,
                context,
                client_dispatch,
                out_context,
                out_dispatch,
            )
        }
    }
}

/// A running `ProviderAttachClient` callback.
pub(crate) struct ProviderAttach {
    pub(crate) provider: &'static Provider,
    pub(crate) handle: HANDLE,
    pub(crate) instance: *const NPI_REGISTRATION_INSTANCE,
    pub(crate) client_context: *mut c_void,
    pub(crate) client_dispatch: *const c_void,
    out_context: *mut *mut c_void,
    out_dispatch: *mut *const c_void,
    pub(crate) peer: &'static str,
}

impl ProviderAttach {
    /// Accepts with a fresh binding context and [`PROVIDER_DISPATCH`].
    pub(crate) fn accept(&self) -> NTSTATUS {
        self.accept_with(dispatch(&PROVIDER_DISPATCH))
    }

    /// Accepts with `provider_dispatch` (NULL allowed, R14).
    pub(crate) fn accept_with(&self, provider_dispatch: *const c_void) -> NTSTATUS {
        assert!(!self.out_context.is_null() && !self.out_dispatch.is_null(), "NULL out-pointers");
        let b = Binding::leak(&self.provider.core, self.handle.addr(), self.peer);
        b.peer_context.store(self.client_context, SeqCst);
        b.peer_dispatch.store(self.client_dispatch.cast_mut(), SeqCst);
        // SAFETY: the NMR's out-pointers, checked non-NULL above.
        unsafe {
            self.out_context.write(b.context());
            self.out_dispatch.write(provider_dispatch);
        }
        lock(&self.provider.bindings).push(b);
        STATUS_SUCCESS
    }
}

// ---------------------------------------------------------------------------------------------
// The callbacks the NMR calls.

fn module_from<T>(context: *mut c_void, role: Role) -> Option<&'static T> {
    if lock(&MODULES).get(&context.addr()) == Some(&role) {
        // SAFETY: support registers every module with the leaked module itself as the context,
        // and `T` is `Client` for `Role::Client` and `Provider` for `Role::Provider`.
        Some(unsafe { &*context.cast::<T>() })
    } else {
        stray("a registration context", context);
        None
    }
}

fn binding_from(context: *mut c_void) -> Option<&'static Binding> {
    if lock(&BINDINGS).contains(&context.addr()) {
        // SAFETY: every binding context support hands out is a leaked `Binding`.
        Some(unsafe { &*context.cast::<Binding>() })
    } else {
        stray("a binding context", context);
        None
    }
}

unsafe extern "system" fn client_attach_cb(
    h: HANDLE,
    context: *mut c_void,
    instance: *const NPI_REGISTRATION_INSTANCE,
) -> NTSTATUS {
    let Some(client) = module_from::<Client>(context, Role::Client) else {
        return STATUS_UNSUCCESSFUL;
    };
    let peer = name_of(instance);
    client.log.push(format!("{}.attach({peer})", client.name), h.addr());
    let hook = lock(&client.hooks).client_attach.clone();
    let call = ClientAttach { client, handle: h, instance, peer };
    shielded(&client.log, "ClientAttachProvider", STATUS_UNSUCCESSFUL, || hook(&call))
}

unsafe extern "system" fn provider_attach_cb(
    h: HANDLE,
    context: *mut c_void,
    instance: *const NPI_REGISTRATION_INSTANCE,
    client_context: *mut c_void,
    client_dispatch: *const c_void,
    out_context: *mut *mut c_void,
    out_dispatch: *mut *const c_void,
) -> NTSTATUS {
    let Some(provider) = module_from::<Provider>(context, Role::Provider) else {
        return STATUS_UNSUCCESSFUL;
    };
    let peer = name_of(instance);
    provider.log.push(format!("{}.attach({peer})", provider.name), h.addr());
    let hook = lock(&provider.hooks).provider_attach.clone();
    let call = ProviderAttach {
        provider,
        handle: h,
        instance,
        client_context,
        client_dispatch,
        out_context,
        out_dispatch,
        peer,
    };
    shielded(&provider.log, "ProviderAttachClient", STATUS_UNSUCCESSFUL, || hook(&call))
}

unsafe extern "system" fn detach_cb(context: *mut c_void) -> NTSTATUS {
    let Some(b) = binding_from(context) else { return STATUS_SUCCESS };
    b.detaches.fetch_add(1, SeqCst);
    b.core.log.push(format!("{}.detach({})", b.core.name, b.peer), b.handle);
    let hook = lock(&b.core.hooks).detach.clone();
    shielded(&b.core.log, "detach", STATUS_SUCCESS, || hook(b))
}

unsafe extern "system" fn cleanup_cb(context: *mut c_void) {
    let Some(b) = binding_from(context) else { return };
    b.cleanups.fetch_add(1, SeqCst);
    b.core.log.push(format!("{}.cleanup({})", b.core.name, b.peer), b.handle);
    let hook = lock(&b.core.hooks).cleanup.clone();
    shielded(&b.core.log, "cleanup", (), || hook(b));
}

// ---------------------------------------------------------------------------------------------
// The per-test fixture.

/// One test's NPI id and event log. Every module it makes registers for that NPI, each with
/// its own copy of the id.
pub(crate) struct Fx {
    pub(crate) npi: GUID,
    pub(crate) log: Log,
}

impl Fx {
    pub(crate) fn new() -> Self {
        Self { npi: fresh_guid(), log: Log::default() }
    }

    pub(crate) fn client(&self, name: &'static str) -> &'static Client {
        Client::new(name, self.npi, &self.log)
    }

    pub(crate) fn provider(&self, name: &'static str) -> &'static Provider {
        Provider::new(name, self.npi, &self.log)
    }

    pub(crate) fn mark(&self, what: &str) {
        self.log.mark(what);
    }

    pub(crate) fn take(&self) -> Vec<String> {
        self.log.take()
    }

    pub(crate) fn names(&self) -> Vec<String> {
        self.log.names()
    }

    /// The kinds of the violations recorded for this test's NPI, oldest first.
    pub(crate) fn violations(&self) -> Vec<ViolationKind> {
        host::violations_of(&self.npi).into_iter().map(|v| v.kind).collect()
    }

    pub(crate) fn bindings(&self) -> Vec<BindingInfo> {
        host::bindings_of(&self.npi)
    }

    /// Nothing left over: no violation, binding or registration of this NPI, no stray context.
    pub(crate) fn assert_clean(&self) {
        assert_eq!(host::violations_of(&self.npi), [], "violations");
        assert!(self.bindings().is_empty(), "bindings left: {:?}", self.bindings());
        let regs = host::registrations_of(&self.npi);
        assert!(regs.is_empty(), "registrations left: {regs:?}");
        assert_eq!(STRAYS.load(SeqCst), 0, "the NMR passed a context no module handed out");
        self.log.events();
    }
}

/// The violations recorded anywhere with this handle value (for handles that name no NPI).
pub(crate) fn violations_with_handle(h: usize) -> Vec<ViolationKind> {
    host::violations().into_iter().filter(|v| v.handle.value() == h).map(|v| v.kind).collect()
}

static NPI_LESS: Mutex<()> = Mutex::new(());

/// How many violations of `kind` with no NPI, reported by `function`, `f` caused. Tests that
/// cause such violations run one at a time through here, so the count is theirs alone.
pub(crate) fn npi_less_violations(kind: ViolationKind, function: &str, f: impl FnOnce()) -> usize {
    let _one_at_a_time = lock(&NPI_LESS);
    let count = || {
        host::violations()
            .iter()
            .filter(|v| v.npi.is_none() && v.kind == kind && v.function == function)
            .count()
    };
    let before = count();
    f();
    count() - before
}

// ---------------------------------------------------------------------------------------------
// Threads.

/// Runs `f`; if it has not returned after [`HANG_LIMIT`], stops the binary with a diagnostic
/// instead of letting the run hang.
pub(crate) fn watchdog<R>(what: &str, f: impl FnOnce() -> R) -> R {
    let (done, rx) = mpsc::channel::<()>();
    let what = what.to_owned();
    let dog = thread::spawn(move || {
        if rx.recv_timeout(HANG_LIMIT) == Err(mpsc::RecvTimeoutError::Timeout) {
            eprintln!(
                "conformance: {what} has not returned after {HANG_LIMIT:?}; stopping the run"
            );
            std::process::abort();
        }
    });
    let r = f();
    drop(done);
    dog.join().ok();
    r
}

/// Receives a signal another thread must send soon.
pub(crate) fn recv<T>(rx: &mpsc::Receiver<T>) -> T {
    rx.recv_timeout(SIGNAL_LIMIT).expect("a signal from another thread never came")
}

/// `n` parties meet; [`Rendezvous::arrive`] says whether all of them did within the limit.
pub(crate) struct Rendezvous {
    arrived: Mutex<usize>,
    all: Condvar,
    n: usize,
}

impl Rendezvous {
    pub(crate) fn new(n: usize) -> Arc<Self> {
        Arc::new(Self { arrived: Mutex::new(0), all: Condvar::new(), n })
    }

    pub(crate) fn arrive(&self, limit: Duration) -> bool {
        let mut arrived = lock(&self.arrived);
        *arrived += 1;
        self.all.notify_all();
        let (arrived, _) = self
            .all
            .wait_timeout_while(arrived, limit, |a| *a < self.n)
            .unwrap_or_else(PoisonError::into_inner);
        *arrived >= self.n
    }
}

// ---------------------------------------------------------------------------------------------
// Small conveniences.

/// An empty event list, to compare logs against.
pub(crate) const NOTHING: [&str; 0] = [];

pub(crate) type Shared<T> = Arc<Mutex<T>>;

pub(crate) fn shared<T: Default>() -> Shared<T> {
    Shared::default()
}

/// The version word of one of the static dispatch tables, told apart by address (the test
/// never dereferences what the NMR hands over).
pub(crate) fn dispatch_version(p: *const c_void) -> Option<u16> {
    [&CLIENT_DISPATCH, &CLIENT_DISPATCH_V2, &PROVIDER_DISPATCH]
        .into_iter()
        .find(|d| dispatch(d) == p)
        .map(|d| d.version)
}

/// `NmrClientAttachProvider` from wherever the caller is (R29 tests): NULL context and dispatch,
/// local out-variables.
pub(crate) fn attach_from_here(binding: usize) -> NTSTATUS {
    let (mut pc, mut pd): (*mut c_void, *const c_void) = (ptr::null_mut(), ptr::null());
    // SAFETY: any handle is accepted; the out-pointers are locals.
    unsafe {
        NmrClientAttachProvider(handle(binding), ptr::null_mut(), ptr::null(), &mut pc, &mut pd)
    }
}

/// The raw `NmrWaitFor*DeregisterComplete` of a role, without the watchdog (for waits that
/// must be refused at once).
pub(crate) fn raw_wait(role: Role, h: usize) -> NTSTATUS {
    // SAFETY: any handle value is accepted.
    unsafe {
        match role {
            Role::Client => NmrWaitForClientDeregisterComplete(handle(h)),
            Role::Provider => NmrWaitForProviderDeregisterComplete(handle(h)),
        }
    }
}
