//! The in-process NMR: `docs/nmr-contract.md` (R1–R35, OQ-1..OQ-20) implemented behind the nine `Nmr*`
//! functions.
//!
//! One lock guards all registrar state and is never held while a module callback runs (R32), so
//! modules may call back into the NMR from any callback. Every transition is a short critical
//! section that reads or writes the tables below and returns what the caller must invoke next;
//! the callbacks then run unlocked on the calling thread.
//!
//! Handles are `HANDLE_BASE + (registrar << REGISTRAR_SHIFT) + serial * 4 + tag`: never NULL,
//! never reused (serials only grow, and registrar ids are never reused), and the tag tells
//! client, provider and binding handles apart so that a handle of the wrong kind is an error,
//! not a mix-up (OQ-17). Serial order is also registration order (OQ-2).
//!
//! # Registrars
//! Process-wide there is one default registrar ([`nmr`], id 0), which is what code that never
//! opts in uses, like the real NMR. A test may create registrars of its own ([`Registrar::
//! scoped`], `host::Registrar`) so that tests registering the same NPI id run in parallel
//! without seeing each other. The nine functions have no context argument, so the registrar is
//! found from the call:
//! - `NmrRegister*` uses the calling thread's *current* registrar (one it entered, see
//!   [`Entered`]), else the default one;
//! - every call that names a handle goes to the registrar the handle names (its id is in the
//!   handle), so a completion or deregistration from a thread that never entered it — a worker,
//!   a timer — lands in the right one. A thread that entered a registrar and passes a handle of
//!   another is refused with `STATUS_INVALID_PARAMETER` and an
//!   [`ViolationKind::ForeignHandle`] violation in its own registrar.
//! - module callbacks run with their registrar current on that thread, so whatever a callback
//!   registers or asks the host about belongs to the same registrar.

pub(crate) mod abi;
pub(crate) mod faults;
mod frames;
pub(crate) mod graph;
pub(crate) mod report;
mod slab;
mod sync;

use core::ffi::c_void;
use core::ptr;
use std::collections::BTreeSet;
use std::format;
use std::string::String;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;
#[cfg(not(loom))]
use std::time::Instant;
use std::vec::Vec;

use rustc_hash::FxBuildHasher;

pub(crate) use report::Role;
use report::{
    BindingInfo, BindingState, HalfState, Irql, RegistrationInfo, StuckWait, Violation,
    ViolationKind,
};
use sync::{Condvar, Mutex, host_static, host_thread_local};

use crate::heap::AllocationSite;
use crate::sys::{
    GUID, HANDLE, NPI_CLIENT_CHARACTERISTICS, NPI_MODULEID, NPI_PROVIDER_CHARACTERISTICS,
    NPI_REGISTRATION_INSTANCE, NTSTATUS, STATUS_INVALID_DEVICE_STATE, STATUS_INVALID_PARAMETER,
    STATUS_PENDING, STATUS_SUCCESS,
};

type FxHashMap<K, V> = std::collections::HashMap<K, V, FxBuildHasher>;
type FxHashSet<T> = std::collections::HashSet<T, FxBuildHasher>;

const TAG_CLIENT: usize = 1;
const TAG_PROVIDER: usize = 2;
const TAG_BINDING: usize = 3;
const TAG_MASK: usize = 3;
/// Handles start far from small integers, so a made-up value such as `1` or `0x1234` is never
/// mistaken for a live handle. A multiple of 4, so the tag bits stay free and order is kept.
const HANDLE_BASE: usize = 0x4E50_0000;

/// How often an unbounded `NmrWaitFor*` that makes no progress prints what it waits for.
const DEFAULT_REPORT_INTERVAL_MS: u64 = 10_000;

/// Where the registrar id starts in a handle: above the tag and one registrar's own payload.
const REGISTRAR_SHIFT: u32 = 2 + slab::PAYLOAD_BITS;
/// The largest registrar id; a handle of the largest id still fits above `HANDLE_BASE`.
const MAX_REGISTRAR: usize = if usize::BITS == 64 { (1 << 19) - 1 } else { 63 };
const _: () = assert!(
    (MAX_REGISTRAR << REGISTRAR_SHIFT) < usize::MAX - HANDLE_BASE - (1 << REGISTRAR_SHIFT) + 1
);

host_static!(
    fn default_registrar() -> Registrar {
        Registrar::new(0, Weak::new())
    }
);

/// The default, process-wide registrar: what code that never opts into a registrar of its own
/// uses.
pub(crate) fn nmr() -> &'static Registrar {
    default_registrar()
}

/// The registrars created by tests, by id, so that a handle finds its own from any thread.
#[derive(Default)]
struct Directory {
    /// The last id handed out; ids are never reused, so neither are handle values.
    last: usize,
    live: FxHashMap<usize, Weak<Registrar>>,
}

// Not the registrar's lock type: the directory is held only for a lookup, never across a
// module callback or a wait, so loom need not see it (it is still fresh per execution).
host_static!(
    fn directory() -> std::sync::Mutex<Directory> {
        std::sync::Mutex::new(Directory::default())
    }
);

fn lock_directory() -> std::sync::MutexGuard<'static, Directory> {
    directory().lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

host_thread_local! {
    /// The registrar this thread entered (`Entered`), if any.
    static CURRENT: core::cell::RefCell<Option<Arc<Registrar>>> = core::cell::RefCell::new(None);
    /// Its id, 0 for none: what every NMR call reads first, without the `RefCell` or the `Arc`.
    static CURRENT_ID: core::cell::Cell<usize> = core::cell::Cell::new(0);
}

fn current_id() -> usize {
    CURRENT_ID.try_with(core::cell::Cell::get).unwrap_or(0)
}

/// A registrar to call into: the default one, or one a test created.
pub(crate) enum Nmr {
    Default(&'static Registrar),
    Scoped(Arc<Registrar>),
}

impl core::ops::Deref for Nmr {
    type Target = Registrar;
    fn deref(&self) -> &Registrar {
        match self {
            Nmr::Default(r) => r,
            Nmr::Scoped(r) => r,
        }
    }
}

/// The registrar this thread entered, if any.
fn entered() -> Option<Arc<Registrar>> {
    if current_id() == 0 {
        return None;
    }
    CURRENT.try_with(|c| c.borrow().clone()).ok().flatten()
}

/// The calling thread's registrar: the one it entered, else the default one. `NmrRegister*`
/// and the host's listings use it.
pub(crate) fn current() -> Nmr {
    entered().map_or(Nmr::Default(nmr()), Nmr::Scoped)
}

/// The id of the registrar `handle` belongs to, if it is shaped like a handle at all.
fn registrar_id(handle: usize) -> Option<usize> {
    let id = handle.checked_sub(HANDLE_BASE)? >> REGISTRAR_SHIFT;
    (id <= MAX_REGISTRAR).then_some(id)
}

/// The registrar a call naming `handle` goes to: the handle's own. `Err` when the calling
/// thread entered another registrar; the violation is then already recorded in the caller's.
pub(crate) fn for_handle(handle: usize, function: &'static str) -> Result<Nmr, NTSTATUS> {
    // The common case, a thread in no registrar of its own and a default handle, reads one
    // thread-local cell.
    if current_id() == 0 && registrar_id(handle).is_none_or(|id| id == 0) {
        return Ok(Nmr::Default(nmr()));
    }
    let here = entered();
    let Some(id) = registrar_id(handle) else {
        // Not a handle of any registrar: the caller's registrar records it as a bad handle.
        return Ok(here.map_or(Nmr::Default(nmr()), Nmr::Scoped));
    };
    let mine = here.as_ref().map_or(0, |r| r.id);
    if id == mine {
        return Ok(here.map_or(Nmr::Default(nmr()), Nmr::Scoped));
    }
    if let Some(here) = here {
        here.violation(
            ViolationKind::ForeignHandle,
            None,
            handle,
            function,
            format!(
                "a handle of registrar {id}, passed on a thread that entered registrar {}; \
                 ignored",
                here.id
            ),
        );
        return Err(STATUS_INVALID_PARAMETER);
    }
    if id == 0 {
        return Ok(Nmr::Default(nmr()));
    }
    let found = lock_directory().live.get(&id).and_then(Weak::upgrade);
    // A registrar that is gone has no live handles: its default neighbour says so.
    Ok(found.map_or(Nmr::Default(nmr()), Nmr::Scoped))
}

/// Makes a registrar current on this thread until dropped, restoring the previous one.
pub(crate) struct Entered {
    previous: Option<Arc<Registrar>>,
    // Thread-local state: the guard stays on its thread.
    _thread: core::marker::PhantomData<*const ()>,
}

impl Entered {
    pub(crate) fn enter(registrar: Option<Arc<Registrar>>) -> Self {
        Self { previous: Self::set(registrar), _thread: core::marker::PhantomData }
    }

    /// Makes `registrar` this thread's; the one it replaces.
    fn set(registrar: Option<Arc<Registrar>>) -> Option<Arc<Registrar>> {
        let _ = CURRENT_ID.try_with(|c| c.set(registrar.as_ref().map_or(0, |r| r.id)));
        CURRENT.try_with(|c| c.replace(registrar)).ok().flatten()
    }
}

impl Drop for Entered {
    fn drop(&mut self) {
        Self::set(self.previous.take());
    }
}

/// A module callback running on this thread ([`Registrar::frame`]): its binding's frame, and
/// the registrar entered for it (restored when dropped) if the thread was in another.
struct CallbackFrame {
    _frame: frames::Frame,
    previous: Option<Option<Arc<Registrar>>>,
}

impl Drop for CallbackFrame {
    #[inline]
    fn drop(&mut self) {
        if let Some(previous) = self.previous.take() {
            Entered::set(previous);
        }
    }
}

/// What `Registrar::leftovers` found at the end of a scope.
pub(crate) struct Leftovers {
    pub(crate) waits: Vec<StuckWait>,
    pub(crate) bindings: Vec<BindingInfo>,
}

/// One registration's characteristics, by pointer (R2: the NMR keeps pointers, not copies).
#[derive(Clone, Copy)]
enum Chars {
    Client(*const NPI_CLIENT_CHARACTERISTICS),
    Provider(*const NPI_PROVIDER_CHARACTERISTICS),
}

impl Chars {
    /// The embedded registration instance: the very pointer the peer's attach callback gets.
    fn instance(self) -> *const NPI_REGISTRATION_INSTANCE {
        match self {
            // SAFETY: the pointer was validated non-NULL at registration and stays valid until
            // the registration's wait returns (R2); `&raw const` reads nothing.
            Chars::Client(c) => unsafe { &raw const (*c).ClientRegistrationInstance },
            // SAFETY: as above.
            Chars::Provider(p) => unsafe { &raw const (*p).ProviderRegistrationInstance },
        }
    }
}

struct Registration {
    role: Role,
    chars: Chars,
    context: *mut c_void,
    npi: GUID,
    deregistering: bool,
    /// Deregistering because `host::AttachFaults` said its owner did: the owner's own
    /// `NmrDeregister*` is still to come and is then accepted quietly.
    deregistered_by_fault: bool,
    waiting: bool,
    /// Handles of the bindings this registration took part in, oldest first. Entries of
    /// bindings that are gone are skipped when read and dropped in bulk (see
    /// `State::remove_binding`), so ending a binding costs no search here.
    bindings: Vec<usize>,
    /// Bindings (attaches in flight included, R28) not yet gone: what the wait waits for.
    live: usize,
}

/// One side's share of a detach. `early` records a `*DetachComplete` that arrived before the
/// callback returned `STATUS_PENDING` (R21, OQ-11). `Starting`: detach began, but this side's
/// callback has not been invoked yet (the provider's waits for the client's to return).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Half {
    Attached { early: bool },
    Starting { early: bool },
    Running { early: bool },
    Pending,
    Done { completed: bool },
}

impl Half {
    fn is_done(self) -> bool {
        matches!(self, Half::Done { .. })
    }

    fn public(self) -> HalfState {
        match self {
            Half::Attached { .. } => HalfState::Attached,
            Half::Starting { .. } | Half::Running { .. } => HalfState::Detaching,
            Half::Pending => HalfState::Pending,
            Half::Done { .. } => HalfState::Done,
        }
    }

    fn begin_detach(&mut self) {
        if let Half::Attached { early } = *self {
            *self = Half::Running { early };
        }
    }
}

type DetachFn = unsafe extern "system" fn(*mut c_void) -> NTSTATUS;
type CleanupFn = unsafe extern "system" fn(*mut c_void);

struct Binding {
    /// Creation order, for listings (slab handles are not ordered).
    serial: usize,
    npi: GUID,
    client: usize,
    provider: usize,
    state: BindingState,
    client_context: *mut c_void,
    provider_context: *mut c_void,
    client_half: Half,
    provider_half: Half,
    /// False while unwinding a provider whose client failed after it accepted (OQ-7): the
    /// client considers itself unattached and gets no detach or cleanup callback.
    client_attached: bool,
    // The detach and cleanup callbacks, read from the characteristics when the binding is
    // proposed. The characteristics must not change while registered (R2), so this is the
    // same value the NMR would read later, without a registration lookup on every transition.
    client_detach: Option<DetachFn>,
    client_cleanup: Option<CleanupFn>,
    provider_detach: Option<DetachFn>,
    provider_cleanup: Option<CleanupFn>,
}

impl Binding {
    fn begin_detach(&mut self) {
        self.state = BindingState::Detaching;
        self.client_half.begin_detach();
        // The provider's callback runs once the client's has returned (OQ-3); a completion from
        // the provider before then comes before its own callback was invoked (OQ-11).
        if let Half::Attached { early } = self.provider_half {
            self.provider_half = Half::Starting { early };
        }
    }

    /// The detach callbacks to run for a binding just marked `Detaching`.
    fn detach_job(&self, binding: usize) -> DetachJob {
        DetachJob {
            binding,
            client: self
                .client_detach
                .filter(|_| self.client_attached)
                .map(|f| (f, self.client_context)),
            provider: self.provider_detach.map(|f| (f, self.provider_context)),
        }
    }

    fn half_mut(&mut self, role: Role) -> &mut Half {
        match role {
            Role::Client => &mut self.client_half,
            Role::Provider => &mut self.provider_half,
        }
    }
}

#[derive(Default)]
struct NpiEntry {
    clients: BTreeSet<usize>,
    providers: BTreeSet<usize>,
}

struct State {
    /// Handles start here: `HANDLE_BASE` plus the registrar id.
    base: usize,
    next_serial: usize,
    /// Creation order of bindings, for listings.
    next_binding: usize,
    registrations: FxHashMap<usize, Registration>,
    bindings: slab::Slab<Binding>,
    /// Active (not deregistering) registrations per NPI id, in registration order.
    npis: FxHashMap<GUID, NpiEntry>,
}

// SAFETY: the raw pointers in `State` are addresses the modules gave us; the registrar only
// dereferences them to call a module or read its characteristics, which the contract keeps
// valid from any thread (R2, R33). Access to the tables themselves is serialised by the mutex.
unsafe impl Send for State {}

impl State {
    fn new(registrar: usize) -> Self {
        let base = HANDLE_BASE + (registrar << REGISTRAR_SHIFT);
        Self {
            base,
            next_serial: 0,
            next_binding: 0,
            registrations: FxHashMap::default(),
            bindings: slab::Slab::new(base, TAG_BINDING),
            npis: FxHashMap::default(),
        }
    }

    /// A fresh handle, or `None` once the handle space is used up (never reuse one: OQ-17).
    fn issue(&mut self, tag: usize) -> Option<usize> {
        let serial = self.next_serial.checked_add(1)?;
        if serial >> slab::PAYLOAD_BITS != 0 {
            return None;
        }
        let handle = (self.base + serial * 4) | tag;
        self.next_serial = serial;
        Some(handle)
    }

    /// Unlinks a finished binding; true if a deregistering registration just lost its last
    /// binding, so its waiter must be woken.
    fn remove_binding(&mut self, handle: usize) -> bool {
        let Some(b) = self.bindings.remove(&handle) else {
            return false;
        };
        let mut wake = false;
        for reg in [b.client, b.provider] {
            if let Some(r) = self.registrations.get_mut(&reg) {
                r.live -= 1;
                wake |= r.deregistering && r.live == 0;
                // Drop the dead entries once they outnumber the live ones: amortised O(1).
                if r.bindings.len() > 2 * r.live + 16 {
                    let bindings = &self.bindings;
                    r.bindings.retain(|h| bindings.contains_key(h));
                }
            }
        }
        wake
    }

    /// The live bindings of a registration, oldest first.
    fn live_bindings(&self, reg: &Registration) -> impl Iterator<Item = usize> {
        reg.bindings.iter().copied().filter(|h| self.bindings.contains_key(h))
    }

    fn module_id(&self, reg: usize) -> NPI_MODULEID {
        self.registrations.get(&reg).map_or(NPI_MODULEID::from_guid(GUID::default()), |r| {
            // SAFETY: validated non-NULL at registration and valid until the wait returns (R2).
            unsafe { *(*r.chars.instance()).ModuleId }
        })
    }

    fn registration_info(&self, handle: usize, r: &Registration) -> RegistrationInfo {
        // SAFETY: as in `module_id`.
        let number = unsafe { (*r.chars.instance()).Number };
        RegistrationInfo {
            handle,
            role: r.role,
            npi: r.npi,
            module_id: self.module_id(handle),
            number,
            deregistering: r.deregistering,
            bindings: r.live,
        }
    }

    fn binding_info(&self, handle: usize, b: &Binding) -> BindingInfo {
        BindingInfo {
            handle,
            npi: b.npi,
            client: b.client,
            client_module: self.module_id(b.client),
            provider: b.provider,
            provider_module: self.module_id(b.provider),
            state: b.state,
            client_half: b.client_half.public(),
            provider_half: b.provider_half.public(),
        }
    }
}

/// What must run after a binding's last half completed: both cleanup callbacks, then unlink.
struct Cleanup {
    binding: usize,
    client: Option<(CleanupFn, *mut c_void)>,
    provider: Option<(CleanupFn, *mut c_void)>,
}

/// The detach callbacks of a binding that has been marked `Detaching`, client first (OQ-3).
struct DetachJob {
    binding: usize,
    client: Option<(DetachFn, *mut c_void)>,
    provider: Option<(DetachFn, *mut c_void)>,
}

#[derive(Default)]
struct Diagnostics {
    violations: Vec<Violation>,
    strict: FxHashSet<GUID>,
}

/// Why a bounded wait did not return `STATUS_SUCCESS`.
pub(crate) enum WaitFailure {
    Status(NTSTATUS),
    #[cfg_attr(loom, allow(dead_code))] // no time under loom: a wait never gives up
    Stuck(StuckWait),
}

pub(crate) struct Registrar {
    /// 0 for the default registrar; the rest are never reused.
    id: usize,
    /// This registrar itself, for module callbacks to make it current (empty for the default).
    me: Weak<Registrar>,
    state: Mutex<State>,
    /// Signalled when a deregistering registration loses its last binding.
    emptied: Condvar,
    diagnostics: Mutex<Diagnostics>,
    report_interval_ms: AtomicU64,
}

fn role_of_tag(handle: usize) -> Option<Role> {
    match handle & TAG_MASK {
        TAG_CLIENT => Some(Role::Client),
        TAG_PROVIDER => Some(Role::Provider),
        _ => None,
    }
}

fn as_handle(value: usize) -> HANDLE {
    ptr::without_provenance_mut(value)
}

impl Registrar {
    fn new(id: usize, me: Weak<Registrar>) -> Self {
        Self {
            id,
            me,
            state: Mutex::new(State::new(id)),
            emptied: Condvar::new(),
            diagnostics: Mutex::new(Diagnostics::default()),
            report_interval_ms: AtomicU64::new(DEFAULT_REPORT_INTERVAL_MS),
        }
    }

    /// A registrar of a test's own, with a fresh id; `None` once ids run out.
    pub(crate) fn scoped() -> Option<Arc<Registrar>> {
        let mut dir = lock_directory();
        let id = dir.last.checked_add(1).filter(|id| *id <= MAX_REGISTRAR)?;
        dir.last = id;
        let registrar = Arc::new_cyclic(|me| Registrar::new(id, me.clone()));
        dir.live.insert(id, Arc::downgrade(&registrar));
        Some(registrar)
    }

    pub(crate) fn id(&self) -> usize {
        self.id
    }

    /// Marks a module callback of `binding` as running on this thread, with this registrar
    /// current there (unless the thread entered it already), until dropped.
    #[inline]
    fn frame(&self, binding: usize) -> CallbackFrame {
        // The default registrar's callbacks run only on threads in no registrar (a thread in
        // one has its calls with default handles refused), which use the default anyway.
        let previous = if self.id == 0 || self.id == current_id() {
            None
        } else {
            self.me.upgrade().map(|me| Entered::set(Some(me)))
        };
        CallbackFrame { _frame: frames::Frame::enter(binding), previous }
    }

    /// What is still registered or bound: what a scope that ends should have cleaned up.
    pub(crate) fn leftovers(&self) -> Option<Leftovers> {
        let st = sync::lock(&self.state);
        if st.registrations.is_empty() && st.bindings.iter().next().is_none() {
            return None;
        }
        let mut handles: Vec<usize> = st.registrations.keys().copied().collect();
        handles.sort_unstable();
        let waits = handles.into_iter().map(|h| self.stuck_report(&st, h)).collect();
        let mut bindings: Vec<_> =
            st.bindings.iter().map(|(h, b)| (b.serial, st.binding_info(h, b))).collect();
        bindings.sort_by_key(|(serial, _)| *serial);
        Some(Leftovers { waits, bindings: bindings.into_iter().map(|(_, b)| b).collect() })
    }

    // ----- diagnostics ---------------------------------------------------------------------

    /// Records a violation. In strict mode for the NPI (and for anything that is not a mere
    /// warning) the process stops here, as Driver Verifier would bugcheck.
    pub(crate) fn violation(
        &self,
        kind: ViolationKind,
        npi: Option<GUID>,
        handle: usize,
        function: &'static str,
        detail: String,
    ) {
        let v = Violation { kind, npi, handle, function, detail };
        let mut d = sync::lock(&self.diagnostics);
        let strict = npi.is_some_and(|n| d.strict.contains(&n));
        let warning = matches!(
            kind,
            ViolationKind::NonZeroCharacteristicsVersion | ViolationKind::CompleteBeforeDetach
        );
        d.violations.push(v.clone());
        drop(d);
        if strict && !warning {
            std::eprintln!(
                "npi host NMR: contract violation in strict mode, stopping like a bugcheck:\n  {v}"
            );
            std::process::abort();
        }
    }

    pub(crate) fn violations(&self) -> Vec<Violation> {
        sync::lock(&self.diagnostics).violations.clone()
    }

    pub(crate) fn take_violations(&self, npi: Option<&GUID>) -> Vec<Violation> {
        let mut d = sync::lock(&self.diagnostics);
        let (taken, kept) =
            d.violations.drain(..).partition(|v| npi.is_none() || v.npi.as_ref() == npi);
        d.violations = kept;
        taken
    }

    pub(crate) fn set_strict(&self, npi: GUID, strict: bool) {
        let mut d = sync::lock(&self.diagnostics);
        if strict {
            d.strict.insert(npi);
        } else {
            d.strict.remove(&npi);
        }
    }

    fn is_strict(&self, npi: &GUID) -> bool {
        sync::lock(&self.diagnostics).strict.contains(npi)
    }

    pub(crate) fn set_report_interval(&self, interval: Duration) {
        let ms = u64::try_from(interval.as_millis()).unwrap_or(u64::MAX).max(1);
        self.report_interval_ms.store(ms, Ordering::Relaxed);
    }

    pub(crate) fn registrations(&self) -> Vec<RegistrationInfo> {
        let st = sync::lock(&self.state);
        let mut out: Vec<_> =
            st.registrations.iter().map(|(h, r)| st.registration_info(*h, r)).collect();
        out.sort_by_key(|r| r.handle);
        out
    }

    pub(crate) fn bindings(&self) -> Vec<BindingInfo> {
        let st = sync::lock(&self.state);
        let mut out: Vec<_> =
            st.bindings.iter().map(|(h, b)| (b.serial, st.binding_info(h, b))).collect();
        out.sort_by_key(|(serial, _)| *serial);
        out.into_iter().map(|(_, b)| b).collect()
    }

    fn check_irql(
        &self,
        max: Irql,
        function: &'static str,
        npi: Option<GUID>,
        handle: usize,
    ) -> bool {
        let now = frames::irql();
        if now > max {
            self.violation(
                ViolationKind::IrqlTooHigh,
                npi,
                handle,
                function,
                format!("called at {now:?}; the limit is {max:?}"),
            );
            return false;
        }
        true
    }

    /// Reports a handle that does not name a live registration of `role`.
    fn bad_registration_handle(
        &self,
        st: &State,
        role: Role,
        handle: usize,
        function: &'static str,
    ) {
        let (kind, detail) = match st.registrations.get(&handle) {
            Some(r) => (
                ViolationKind::WrongHandleKind,
                format!("this is a {:?} registration handle, not a {role:?} one", r.role),
            ),
            None if st.bindings.contains_key(&handle) => (
                ViolationKind::WrongHandleKind,
                format!("this is a binding handle, not a {role:?} registration handle"),
            ),
            None => (
                ViolationKind::BadHandle,
                String::from(
                    "not a live registration handle (never issued, or already waited for)",
                ),
            ),
        };
        let npi = st
            .registrations
            .get(&handle)
            .map(|r| r.npi)
            .or_else(|| st.bindings.get(&handle).map(|b| b.npi));
        self.violation(kind, npi, handle, function, detail);
    }

    // ----- registration (R1–R8) --------------------------------------------------------------

    /// `NmrRegisterClient` / `NmrRegisterProvider`.
    ///
    /// # Safety
    /// `chars` (client or provider characteristics per `role`), everything it points to and
    /// `context` must stay valid until the registration's wait returns; `out` must be writable
    /// or NULL.
    pub(crate) unsafe fn register(
        &self,
        role: Role,
        chars: *const c_void,
        context: *mut c_void,
        out: *mut HANDLE,
    ) -> NTSTATUS {
        let function = match role {
            Role::Client => "NmrRegisterClient",
            Role::Provider => "NmrRegisterProvider",
        };
        // SAFETY: forwarded from this function's contract.
        let validated = unsafe { self.validate_characteristics(role, chars, out, function) };
        let (chars, npi) = match validated {
            Ok(v) => v,
            Err(status) => return status,
        };
        if !self.check_irql(Irql::Passive, function, Some(npi), 0) {
            return STATUS_INVALID_DEVICE_STATE;
        }
        // NETIO allocates a block per registration; a test can make that fail.
        if faults::should_fail(AllocationSite::NmrRegistration) {
            return crate::sys::STATUS_INSUFFICIENT_RESOURCES;
        }

        let (handle, peers) = {
            let mut st = sync::lock(&self.state);
            let Some(handle) = st.issue(match role {
                Role::Client => TAG_CLIENT,
                Role::Provider => TAG_PROVIDER,
            }) else {
                return crate::sys::STATUS_INSUFFICIENT_RESOURCES;
            };
            st.registrations.insert(
                handle,
                Registration {
                    role,
                    chars,
                    context,
                    npi,
                    deregistering: false,
                    deregistered_by_fault: false,
                    waiting: false,
                    bindings: Vec::new(),
                    live: 0,
                },
            );
            let entry = st.npis.entry(npi).or_default();
            // The index insert and the peer snapshot happen under one lock, so of any two
            // registrations of one NPI exactly one sees the other: each pair is proposed once.
            let peers: Vec<usize> = match role {
                Role::Client => {
                    entry.clients.insert(handle);
                    entry.providers.iter().copied().collect()
                }
                Role::Provider => {
                    entry.providers.insert(handle);
                    entry.clients.iter().copied().collect()
                }
            };
            (handle, peers)
        };
        // The handle is the caller's before any callback runs, so an attach callback may use a
        // module-global handle variable (to deregister, say).
        // SAFETY: `out` was checked non-NULL and is writable per the contract.
        unsafe { out.write(as_handle(handle)) };

        for peer in peers {
            let (client, provider) = match role {
                Role::Client => (handle, peer),
                Role::Provider => (peer, handle),
            };
            if !self.propose(client, provider, handle) {
                break;
            }
        }
        STATUS_SUCCESS
    }

    /// Checks what `NmrRegister*` was given before anything else happens (R1, OQ-6).
    ///
    /// # Safety
    /// As [`Registrar::register`].
    unsafe fn validate_characteristics(
        &self,
        role: Role,
        chars: *const c_void,
        out: *mut HANDLE,
        function: &'static str,
    ) -> Result<(Chars, GUID), NTSTATUS> {
        let invalid = |npi: Option<GUID>, detail: &str| {
            self.violation(
                ViolationKind::InvalidCharacteristics,
                npi,
                0,
                function,
                String::from(detail),
            );
            Err(STATUS_INVALID_PARAMETER)
        };
        if chars.is_null() {
            return invalid(None, "the characteristics pointer is NULL");
        }
        // Both layouts share the header; `Length` is read first, so a short struct is refused
        // before its missing fields are touched.
        // SAFETY: non-NULL, and the caller promises characteristics of `role`.
        let (version, length) = unsafe {
            let c = chars.cast::<NPI_CLIENT_CHARACTERISTICS>();
            ((*c).Version, (*c).Length)
        };
        let (c, attach_missing, detach_missing) = match role {
            Role::Client => {
                let c = chars.cast::<NPI_CLIENT_CHARACTERISTICS>();
                if usize::from(length) < size_of::<NPI_CLIENT_CHARACTERISTICS>() {
                    return invalid(
                        None,
                        "Length is smaller than sizeof(NPI_CLIENT_CHARACTERISTICS)",
                    );
                }
                // SAFETY: the full struct is there (Length checked).
                let (a, d) = unsafe {
                    ((*c).ClientAttachProvider.is_none(), (*c).ClientDetachProvider.is_none())
                };
                (Chars::Client(c), a, d)
            }
            Role::Provider => {
                let c = chars.cast::<NPI_PROVIDER_CHARACTERISTICS>();
                if usize::from(length) < size_of::<NPI_PROVIDER_CHARACTERISTICS>() {
                    return invalid(
                        None,
                        "Length is smaller than sizeof(NPI_PROVIDER_CHARACTERISTICS)",
                    );
                }
                // SAFETY: the full struct is there (Length checked).
                let (a, d) = unsafe {
                    ((*c).ProviderAttachClient.is_none(), (*c).ProviderDetachClient.is_none())
                };
                (Chars::Provider(c), a, d)
            }
        };
        // SAFETY: the instance is embedded in the characteristics checked above.
        let inst = unsafe { &*c.instance() };
        if inst.NpiId.is_null() {
            return invalid(None, "the registration instance's NpiId is NULL");
        }
        // SAFETY: non-NULL; the caller keeps it valid (R2).
        let npi = unsafe { *inst.NpiId };
        if attach_missing {
            return invalid(Some(npi), "the attach callback is NULL");
        }
        if detach_missing {
            return invalid(Some(npi), "the detach callback is NULL");
        }
        if usize::from(inst.Size) < size_of::<NPI_REGISTRATION_INSTANCE>() {
            return invalid(Some(npi), "Size is smaller than sizeof(NPI_REGISTRATION_INSTANCE)");
        }
        if inst.ModuleId.is_null() {
            return invalid(Some(npi), "the registration instance's ModuleId is NULL");
        }
        // Checked once the NPI is known, so that the violation names it.
        if out.is_null() {
            return invalid(Some(npi), "the handle out-pointer is NULL");
        }
        if version != 0 {
            self.violation(
                ViolationKind::NonZeroCharacteristicsVersion,
                Some(npi),
                0,
                function,
                format!("characteristics Version is {version}; the documentation says 0"),
            );
            if self.is_strict(&npi) {
                return Err(STATUS_INVALID_PARAMETER);
            }
        }
        Ok((c, npi))
    }

    /// Proposes one (client, provider) pair on the registering thread (R4, R5, R7).
    /// Returns false once the registering registration itself is deregistering (R6).
    fn propose(&self, client: usize, provider: usize, registering: usize) -> bool {
        let (binding, attach, context, peer_instance) = {
            let mut st = sync::lock(&self.state);
            match st.registrations.get(&registering) {
                Some(r) if !r.deregistering => {}
                _ => return false,
            }
            let (Some(c), Some(p)) =
                (st.registrations.get(&client), st.registrations.get(&provider))
            else {
                return true;
            };
            if c.deregistering || p.deregistering {
                return true;
            }
            let (Chars::Client(cc), Chars::Provider(pc)) = (c.chars, p.chars) else {
                return true;
            };
            // SAFETY: both validated at registration, valid and unchanged until their waits
            // return (R2).
            let (attach, client_detach, client_cleanup, provider_detach, provider_cleanup) = unsafe {
                (
                    (*cc).ClientAttachProvider,
                    (*cc).ClientDetachProvider,
                    (*cc).ClientCleanupBindingContext,
                    (*pc).ProviderDetachClient,
                    (*pc).ProviderCleanupBindingContext,
                )
            };
            let (context, npi, peer_instance) = (c.context, c.npi, p.chars.instance());
            // NETIO allocates the binding before proposing it; when a test makes that fail,
            // this pair is not proposed (nothing tells either module) and the others still are.
            if faults::should_fail(AllocationSite::NmrBinding) {
                return true;
            }
            st.next_binding += 1;
            let serial = st.next_binding;
            let Some(binding) = st.bindings.insert_with(|_| Binding {
                serial,
                npi,
                client,
                provider,
                state: BindingState::Proposed,
                client_context: ptr::null_mut(),
                provider_context: ptr::null_mut(),
                client_half: Half::Attached { early: false },
                provider_half: Half::Attached { early: false },
                client_attached: true,
                client_detach,
                client_cleanup,
                provider_detach,
                provider_cleanup,
            }) else {
                return false;
            };
            for reg in [client, provider] {
                if let Some(r) = st.registrations.get_mut(&reg) {
                    r.bindings.push(binding);
                    r.live += 1;
                }
            }
            (binding, attach, context, peer_instance)
        };
        let status = match attach {
            Some(f) => {
                let _frame = self.frame(binding);
                // SAFETY: the module registered this callback with this signature; its context
                // and the peer's registration instance are valid while both are registered.
                unsafe { f(as_handle(binding), context, peer_instance) }
            }
            None => crate::sys::STATUS_NOINTERFACE,
        };
        self.after_client_attach(binding, status);
        true
    }

    /// Settles a proposal once `ClientAttachProvider` returned (R10, R11, OQ-7, OQ-8, R28).
    fn after_client_attach(&self, binding: usize, status: NTSTATUS) {
        let mut st = sync::lock(&self.state);
        let Some(b) = st.bindings.get_mut(&binding) else {
            return;
        };
        let (npi, state) = (b.npi, b.state);
        match state {
            BindingState::Attached if status == STATUS_SUCCESS => {
                b.state = BindingState::Established;
                let (client, provider) = (b.client, b.provider);
                let late = [client, provider]
                    .iter()
                    .any(|r| st.registrations.get(r).is_some_and(|r| r.deregistering));
                if late && let Some(b) = st.bindings.get_mut(&binding) {
                    // R28: a deregistration began while this attach ran; detach it at once.
                    b.begin_detach();
                    let job = b.detach_job(binding);
                    drop(st);
                    self.run_detach(job);
                }
            }
            BindingState::Attached => {
                b.state = BindingState::Detaching;
                b.client_attached = false;
                b.client_half = Half::Done { completed: false };
                b.provider_half.begin_detach();
                let job = b.detach_job(binding);
                drop(st);
                self.violation(
                    ViolationKind::FailureAfterProviderAccepted,
                    Some(npi),
                    binding,
                    "ClientAttachProvider",
                    format!(
                        "returned {status:#x} after NmrClientAttachProvider succeeded; the \
                         provider side is detached and cleaned up, the client gets no callbacks"
                    ),
                );
                self.run_detach(job);
            }
            BindingState::Proposed => {
                let wake = st.remove_binding(binding);
                drop(st);
                if wake {
                    self.emptied.notify_all();
                }
                if status == STATUS_SUCCESS {
                    self.violation(
                        ViolationKind::SuccessWithoutAttach,
                        Some(npi),
                        binding,
                        "ClientAttachProvider",
                        String::from(
                            "returned STATUS_SUCCESS without a successful NmrClientAttachProvider; \
                             no binding exists",
                        ),
                    );
                }
            }
            other => {
                drop(st);
                self.violation(
                    ViolationKind::Internal,
                    Some(npi),
                    binding,
                    "ClientAttachProvider",
                    format!("binding in state {other:?} when its attach callback returned"),
                );
            }
        }
    }

    // ----- attach (R9–R14) ------------------------------------------------------------------

    /// `NmrClientAttachProvider`.
    ///
    /// # Safety
    /// The out-pointers are writable or NULL; context and dispatch stay valid while bound.
    pub(crate) unsafe fn client_attach_provider(
        &self,
        binding: usize,
        client_context: *mut c_void,
        client_dispatch: *const c_void,
        out_context: *mut *mut c_void,
        out_dispatch: *mut *const c_void,
    ) -> NTSTATUS {
        const F: &str = "NmrClientAttachProvider";
        let provider_leaves;
        let (attach, provider_context, client_instance) = {
            let mut st = sync::lock(&self.state);
            let Some(b) = st.bindings.get(&binding) else {
                drop(st);
                self.violation(
                    ViolationKind::AttachOutsideCallback,
                    None,
                    binding,
                    F,
                    String::from("not the handle of a running ClientAttachProvider callback"),
                );
                return STATUS_INVALID_PARAMETER;
            };
            let npi = b.npi;
            let refused = match b.state {
                // OQ-9: the handle must be the one of the ClientAttachProvider callback running
                // innermost on this thread, not another client's live proposal.
                BindingState::Proposed if frames::innermost() != Some(binding) => Some((
                    ViolationKind::AttachOutsideCallback,
                    "not the handle of the ClientAttachProvider callback running on this thread",
                )),
                BindingState::Proposed => None,
                BindingState::Attached => Some((
                    ViolationKind::AttachAfterSuccess,
                    "NmrClientAttachProvider already succeeded for this binding",
                )),
                _ => Some((
                    ViolationKind::AttachOutsideCallback,
                    "called outside the ClientAttachProvider callback of this binding",
                )),
            };
            if let Some((kind, detail)) = refused {
                drop(st);
                self.violation(kind, Some(npi), binding, F, String::from(detail));
                return STATUS_INVALID_PARAMETER;
            }
            if out_context.is_null() || out_dispatch.is_null() {
                drop(st);
                self.violation(
                    ViolationKind::AttachNullOutParameter,
                    Some(npi),
                    binding,
                    F,
                    String::from("ProviderBindingContext or ProviderDispatch is NULL"),
                );
                return STATUS_INVALID_PARAMETER;
            }
            if !self.check_irql(Irql::Passive, F, Some(npi), binding) {
                return STATUS_INVALID_DEVICE_STATE;
            }
            // A test's plan (`host::AttachFaults`) answers as a refusing provider would, without
            // calling it: nothing changed, so the client may try again (R12).
            let fault = faults::attach_fault();
            if let Some(faults::AttachFault::Refuse(status)) = fault {
                return status;
            }
            provider_leaves = matches!(fault, Some(faults::AttachFault::ProviderLeaves));
            let (client, provider) = (b.client, b.provider);
            let (Some(c), Some(p)) =
                (st.registrations.get(&client), st.registrations.get(&provider))
            else {
                return STATUS_INVALID_PARAMETER;
            };
            let Chars::Provider(pc) = p.chars else {
                return STATUS_INVALID_PARAMETER;
            };
            // SAFETY: validated at registration, valid until its wait returns (R2).
            let attach = unsafe { (*pc).ProviderAttachClient };
            let found = (attach, p.context, c.chars.instance());
            if let Some(b) = st.bindings.get_mut(&binding) {
                b.state = BindingState::ProviderAttaching;
                b.client_context = client_context;
            }
            found
        };
        let mut provider_binding_context: *mut c_void = ptr::null_mut();
        let mut provider_dispatch: *const c_void = ptr::null();
        let status = match attach {
            Some(f) => {
                let _frame = self.frame(binding);
                // SAFETY: the provider registered this callback with this signature; every
                // pointer passed is valid for the call (R2, R9).
                unsafe {
                    f(
                        as_handle(binding),
                        provider_context,
                        client_instance,
                        client_context,
                        client_dispatch,
                        &raw mut provider_binding_context,
                        &raw mut provider_dispatch,
                    )
                }
            }
            None => crate::sys::STATUS_NOINTERFACE,
        };
        {
            let mut st = sync::lock(&self.state);
            if let Some(b) = st.bindings.get_mut(&binding) {
                if status == STATUS_SUCCESS {
                    b.state = BindingState::Attached;
                    b.provider_context = provider_binding_context;
                } else {
                    // R12: the client may try again within the same callback.
                    b.state = BindingState::Proposed;
                }
            }
        }
        if status == STATUS_SUCCESS {
            // SAFETY: both checked non-NULL above and writable per the contract. On failure the
            // client's variables stay untouched (R10).
            unsafe {
                out_context.write(provider_binding_context);
                out_dispatch.write(provider_dispatch);
            }
            #[cfg(not(loom))]
            if provider_leaves {
                self.provider_leaves(binding);
            }
        }
        #[cfg(loom)]
        let _ = provider_leaves;
        status
    }

    /// `host::AttachFaults::provider_leaves_during_nth`: the provider of `binding` starts
    /// deregistering now, as if its owner did on another thread (R28). This binding is detached
    /// when the client's attach callback returns (`after_client_attach`); the provider's other
    /// bindings are detached on a thread of their own, as the owner's thread would.
    #[cfg(not(loom))]
    fn provider_leaves(&self, binding: usize) {
        let provider = {
            let st = sync::lock(&self.state);
            let Some(b) = st.bindings.get(&binding) else { return };
            b.provider
        };
        let jobs = match self.begin_deregistration(Role::Provider, provider, true) {
            Ok(jobs) => jobs,
            Err(_) => return,
        };
        if let Some(jobs) = self.detach_later(jobs, Some(Duration::ZERO)) {
            for job in jobs {
                self.run_detach(job);
            }
        }
    }

    // ----- detach (R17–R23) -----------------------------------------------------------------

    /// `NmrDeregister*`: stop proposals, start detaching every established binding, return
    /// `STATUS_PENDING` without waiting for anything (R24).
    pub(crate) fn deregister(&self, role: Role, handle: usize) -> NTSTATUS {
        let jobs = match self.begin_deregistration(role, handle, false) {
            Ok(jobs) => jobs,
            Err(status) => return status,
        };
        #[cfg(not(loom))]
        let Some(jobs) = self.detach_later(jobs, faults::detach_later()) else {
            return STATUS_PENDING;
        };
        for job in jobs {
            self.run_detach(job);
        }
        STATUS_PENDING
    }

    /// Marks a registration deregistering, takes it out of the NPI's index and marks its
    /// established bindings detaching; the detach callbacks to run. `by_fault`: started by
    /// `host::AttachFaults`, not by the owner, whose own call is still to come.
    fn begin_deregistration(
        &self,
        role: Role,
        handle: usize,
        by_fault: bool,
    ) -> Result<Vec<DetachJob>, NTSTATUS> {
        let function = match role {
            Role::Client => "NmrDeregisterClient",
            Role::Provider => "NmrDeregisterProvider",
        };
        let mut st = sync::lock(&self.state);
        let r = match st.registrations.get_mut(&handle) {
            Some(r) if r.role == role => r,
            _ => {
                self.bad_registration_handle(&st, role, handle, function);
                return Err(STATUS_INVALID_PARAMETER);
            }
        };
        let npi = r.npi;
        if r.deregistering {
            if by_fault {
                return Err(STATUS_PENDING);
            }
            if r.deregistered_by_fault {
                // The owner's own call, after a fault started the deregistration for it.
                r.deregistered_by_fault = false;
                return Ok(Vec::new());
            }
            drop(st);
            self.violation(
                ViolationKind::DeregisterTwice,
                Some(npi),
                handle,
                function,
                String::from("this registration is already deregistering"),
            );
            return Err(STATUS_INVALID_PARAMETER);
        }
        r.deregistering = true;
        r.deregistered_by_fault = by_fault;
        let bindings = core::mem::take(&mut r.bindings);
        if let Some(e) = st.npis.get_mut(&npi) {
            e.clients.remove(&handle);
            e.providers.remove(&handle);
            if e.clients.is_empty() && e.providers.is_empty() {
                st.npis.remove(&npi);
            }
        }
        // Oldest binding first; the list is in creation order already.
        let mut jobs = Vec::new();
        let mut kept = Vec::with_capacity(bindings.len());
        for h in bindings {
            if let Some(b) = st.bindings.get_mut(&h) {
                kept.push(h);
                if b.state == BindingState::Established {
                    b.begin_detach();
                    jobs.push(b.detach_job(h));
                }
            }
        }
        if let Some(r) = st.registrations.get_mut(&handle) {
            r.bindings = kept;
        }
        Ok(jobs)
    }

    /// `host::DetachFaults`: hands `jobs` to a thread of their own that runs them after the
    /// thread's delay, as NETIO may run detach from a worker, after `NmrDeregister*` returned.
    /// Gives the jobs back to run here if no plan is armed or no thread can be started.
    #[cfg(not(loom))]
    fn detach_later(
        &self,
        jobs: Vec<DetachJob>,
        delay: Option<Duration>,
    ) -> Option<Vec<DetachJob>> {
        let delay = delay.filter(|_| !jobs.is_empty());
        let Some(delay) = delay else {
            return Some(jobs);
        };
        let registrar = match self.me.upgrade() {
            Some(me) => Nmr::Scoped(me),
            None if self.id == 0 => Nmr::Default(nmr()),
            // A scoped registrar being dropped cannot have live registrations to deregister.
            None => return Some(jobs),
        };
        /// The jobs and their registrar, moved to the detaching thread.
        struct Later(Nmr, Vec<DetachJob>);
        // SAFETY: the jobs' pointers are module callbacks and binding contexts, which the
        // contract makes callable and valid from any thread until cleanup (R33, R14); the
        // registrar is `Sync`.
        unsafe impl Send for Later {}
        let later = std::sync::Arc::new(std::sync::Mutex::new(Some(Later(registrar, jobs))));
        let moved = std::sync::Arc::clone(&later);
        let spawned =
            std::thread::Builder::new().name(String::from("npi-detach")).spawn(move || {
                std::thread::sleep(delay);
                let taken = moved.lock().unwrap_or_else(std::sync::PoisonError::into_inner).take();
                if let Some(Later(registrar, jobs)) = taken {
                    for job in jobs {
                        registrar.run_detach(job);
                    }
                }
            });
        match spawned {
            Ok(_) => None,
            // No thread: detach here after all (the jobs were not moved).
            Err(_) => later
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .take()
                .map(|Later(_, jobs)| jobs),
        }
    }

    /// Calls both detach callbacks of a binding already marked `Detaching`, client first
    /// (OQ-3), then settles the halves; runs the cleanups if this thread finished the pair.
    fn run_detach(&self, job: DetachJob) {
        let call = |(f, context): (DetachFn, *mut c_void)| {
            let _frame = self.frame(job.binding);
            // SAFETY: registered callback, called with the binding context its module gave at
            // attach; both stay valid until cleanup (R14, R22).
            unsafe { f(context) }
        };
        let client = job.client.map(call);
        // The client's half is settled before the provider runs: a pending half's completion
        // may come at any moment, and a finished one is shown as done (listings, stuck-wait
        // reports). The same critical section marks the provider's callback as invoked.
        if let Some(cleanup) = self.detach_returned(job.binding, client, None, true) {
            self.run_cleanup(cleanup);
            return;
        }
        let provider = job.provider.map(call);
        if let Some(cleanup) = self.detach_returned(job.binding, None, provider, false) {
            self.run_cleanup(cleanup);
        }
    }

    /// Settles the halves whose detach callbacks returned these statuses (R20, R21, OQ-10).
    fn detach_returned(
        &self,
        binding: usize,
        client: Option<NTSTATUS>,
        provider: Option<NTSTATUS>,
        start_provider: bool,
    ) -> Option<Cleanup> {
        let mut st = sync::lock(&self.state);
        let b = st.bindings.get_mut(&binding)?;
        if start_provider && let Half::Starting { early } = b.provider_half {
            b.provider_half = Half::Running { early };
        }
        let npi = b.npi;
        let mut complaints = Vec::new();
        for (role, status) in [(Role::Client, client), (Role::Provider, provider)] {
            let Some(status) = status else { continue };
            let half = b.half_mut(role);
            let Half::Running { early } = *half else {
                continue;
            };
            *half = match status {
                STATUS_PENDING if early => Half::Done { completed: true },
                STATUS_PENDING => Half::Pending,
                STATUS_SUCCESS => {
                    if early {
                        complaints.push((
                            role,
                            ViolationKind::CompleteAfterSuccess,
                            String::from(
                                "completed the detach and then also returned STATUS_SUCCESS",
                            ),
                        ));
                    }
                    Half::Done { completed: early }
                }
                other => {
                    complaints.push((
                        role,
                        ViolationKind::BadDetachStatus,
                        format!(
                            "returned {other:#x}; only STATUS_SUCCESS or STATUS_PENDING are \
                             allowed; treated as STATUS_SUCCESS"
                        ),
                    ));
                    Half::Done { completed: early }
                }
            };
        }
        let cleanup = take_cleanup(&mut st, binding);
        drop(st);
        for (role, kind, detail) in complaints {
            let function = match role {
                Role::Client => "ClientDetachProvider",
                Role::Provider => "ProviderDetachClient",
            };
            self.violation(kind, Some(npi), binding, function, detail);
        }
        cleanup
    }

    /// `Nmr*DetachComplete` (R20, R21, R30, OQ-11).
    pub(crate) fn detach_complete(&self, role: Role, binding: usize) {
        let function = match role {
            Role::Client => "NmrClientDetachProviderComplete",
            Role::Provider => "NmrProviderDetachClientComplete",
        };
        let mut st = sync::lock(&self.state);
        let Some(b) = st.bindings.get_mut(&binding) else {
            let npi = st.registrations.get(&binding).map(|r| r.npi);
            let kind = if npi.is_some() {
                ViolationKind::WrongHandleKind
            } else {
                ViolationKind::BadHandle
            };
            drop(st);
            self.violation(
                kind,
                npi,
                binding,
                function,
                String::from("not a live binding handle; ignored"),
            );
            return;
        };
        let npi = b.npi;
        let client_attached = b.client_attached;
        let half = b.half_mut(role);
        let mut complaint = None;
        match *half {
            Half::Attached { early: false } => {
                *half = Half::Attached { early: true };
                complaint = Some((
                    ViolationKind::CompleteBeforeDetach,
                    "completion before the binding's detach began; it counts if the detach \
                     callback later returns STATUS_PENDING",
                ));
            }
            Half::Starting { early: false } => {
                *half = Half::Starting { early: true };
                complaint = Some((
                    ViolationKind::CompleteBeforeDetach,
                    "completion before this side's detach callback was invoked; it counts if \
                     the callback then returns STATUS_PENDING",
                ));
            }
            Half::Running { early: false } => *half = Half::Running { early: true },
            Half::Pending => *half = Half::Done { completed: true },
            Half::Attached { early: true }
            | Half::Starting { early: true }
            | Half::Running { early: true } => {
                complaint = Some((
                    ViolationKind::CompleteTwice,
                    "second completion for this half; ignored",
                ));
            }
            Half::Done { completed: true } => {
                complaint =
                    Some((ViolationKind::CompleteTwice, "this half is already complete; ignored"));
            }
            Half::Done { completed: false } => {
                complaint = Some((
                    ViolationKind::CompleteAfterSuccess,
                    if role == Role::Client && !client_attached {
                        "the client never attached this binding; ignored"
                    } else {
                        "the detach callback returned STATUS_SUCCESS; ignored"
                    },
                ));
            }
        }
        let cleanup = take_cleanup(&mut st, binding);
        drop(st);
        if let Some((kind, detail)) = complaint {
            self.violation(kind, Some(npi), binding, function, String::from(detail));
        }
        if let Some(cleanup) = cleanup {
            self.run_cleanup(cleanup);
        }
    }

    /// Runs the cleanup callbacks, client first, then forgets the binding (R22, OQ-5).
    fn run_cleanup(&self, cleanup: Cleanup) {
        for (f, context) in [cleanup.client, cleanup.provider].into_iter().flatten() {
            let _frame = self.frame(cleanup.binding);
            // SAFETY: registered cleanup callback with the binding context its module gave.
            unsafe { f(context) };
        }
        let wake = sync::lock(&self.state).remove_binding(cleanup.binding);
        if wake {
            self.emptied.notify_all();
        }
    }

    // ----- wait (R25, R26, R31) -------------------------------------------------------------

    pub(crate) fn wait_status(&self, role: Role, handle: usize) -> NTSTATUS {
        match self.wait(role, handle, None) {
            Ok(()) => STATUS_SUCCESS,
            Err(WaitFailure::Status(s)) => s,
            Err(WaitFailure::Stuck(_)) => crate::sys::STATUS_TIMEOUT,
        }
    }

    /// `NmrWaitFor*DeregisterComplete`, optionally bounded. After success the handle is dead.
    pub(crate) fn wait(
        &self,
        role: Role,
        handle: usize,
        limit: Option<Duration>,
    ) -> Result<(), WaitFailure> {
        let function = match role {
            Role::Client => "NmrWaitForClientDeregisterComplete",
            Role::Provider => "NmrWaitForProviderDeregisterComplete",
        };
        let mut st = sync::lock(&self.state);
        let (npi, deregistering, waiting) = match st.registrations.get(&handle) {
            // A deregistration a fault started is the owner's only once it called NmrDeregister*.
            Some(r) if r.role == role => {
                (r.npi, r.deregistering && !r.deregistered_by_fault, r.waiting)
            }
            _ => {
                self.bad_registration_handle(&st, role, handle, function);
                return Err(WaitFailure::Status(STATUS_INVALID_PARAMETER));
            }
        };
        if !deregistering || waiting {
            drop(st);
            self.violation(
                ViolationKind::WaitWithoutDeregister,
                Some(npi),
                handle,
                function,
                String::from(if waiting {
                    "another thread is already waiting for this registration"
                } else {
                    "NmrDeregister* has not been called for this handle"
                }),
            );
            return Err(WaitFailure::Status(STATUS_INVALID_PARAMETER));
        }
        if !self.check_irql(Irql::Apc, function, Some(npi), handle) {
            return Err(WaitFailure::Status(STATUS_INVALID_DEVICE_STATE));
        }
        let on_stack = frames::find_active(|b| {
            st.bindings.get(&b).is_some_and(|b| b.client == handle || b.provider == handle)
        });
        if let Some(b) = on_stack {
            drop(st);
            self.violation(
                ViolationKind::WaitWouldDeadlock,
                Some(npi),
                handle,
                function,
                format!(
                    "called from inside a callback of binding {b:#x}, which this wait would wait \
                     for forever"
                ),
            );
            return Err(WaitFailure::Status(STATUS_INVALID_DEVICE_STATE));
        }
        let Some(r) = st.registrations.get_mut(&handle) else {
            return Ok(());
        };
        if r.live == 0 {
            // Nothing to wait for: the common case at unload, without reading the clock.
            st.registrations.remove(&handle);
            return Ok(());
        }
        r.waiting = true;
        #[cfg(loom)]
        {
            // No time under loom: bounded or not, the wait blocks until the last binding goes.
            // A wait nothing can end is a deadlock, which loom reports with every thread's
            // state; a bounded wait is then a failed model, as an unbounded one would hang.
            let _ = limit;
            loop {
                if st.registrations.get(&handle).is_none_or(|r| r.live == 0) {
                    st.registrations.remove(&handle);
                    return Ok(());
                }
                st = sync::wait(&self.emptied, st);
            }
        }
        #[cfg(not(loom))]
        let start = Instant::now();
        // A limit too far to add to `now` (`Duration::MAX`) is no limit: the sum must not panic
        // here, with the lock held and `waiting` set.
        #[cfg(not(loom))]
        let limit = limit.filter(|l| start.checked_add(*l).is_some());
        #[cfg(not(loom))]
        let mut last_report = start;
        #[cfg(not(loom))]
        loop {
            let empty = st.registrations.get(&handle).is_none_or(|r| r.live == 0);
            if empty {
                st.registrations.remove(&handle);
                return Ok(());
            }
            let interval = Duration::from_millis(self.report_interval_ms.load(Ordering::Relaxed));
            let now = Instant::now();
            if let Some(limit) = limit
                && now >= start + limit
            {
                let stuck = self.stuck_report(&st, handle);
                if let Some(r) = st.registrations.get_mut(&handle) {
                    r.waiting = false;
                }
                return Err(WaitFailure::Stuck(stuck));
            }
            if limit.is_none() && now >= last_report + interval {
                std::eprintln!("npi host NMR: {}", self.stuck_report(&st, handle));
                last_report = now;
            }
            let mut slice = (last_report + interval).saturating_duration_since(now);
            if let Some(limit) = limit {
                slice = slice.min((start + limit).saturating_duration_since(now));
            }
            st = sync::wait_timeout(&self.emptied, st, slice.max(Duration::from_millis(1)));
        }
    }

    fn stuck_report(&self, st: &State, handle: usize) -> StuckWait {
        let registration = st.registrations.get(&handle).map_or_else(
            || RegistrationInfo {
                handle,
                role: Role::Client,
                npi: GUID::default(),
                module_id: NPI_MODULEID::from_guid(GUID::default()),
                number: 0,
                deregistering: true,
                bindings: 0,
            },
            |r| st.registration_info(handle, r),
        );
        let bindings: Vec<BindingInfo> = st
            .registrations
            .get(&handle)
            .map(|r| {
                st.live_bindings(r)
                    .filter_map(|h| Some(st.binding_info(h, st.bindings.get(&h)?)))
                    .collect()
            })
            .unwrap_or_default();
        StuckWait { registration, bindings }
    }
}

impl Drop for Registrar {
    fn drop(&mut self) {
        if self.id != 0 {
            lock_directory().live.remove(&self.id);
        }
    }
}

/// If both halves are done, moves the binding to `CleaningUp` and returns what to call.
/// Exactly one thread sees this transition, so cleanups run once (R22).
fn take_cleanup(st: &mut State, binding: usize) -> Option<Cleanup> {
    let b = st.bindings.get_mut(&binding)?;
    if b.state != BindingState::Detaching || !b.client_half.is_done() || !b.provider_half.is_done()
    {
        return None;
    }
    b.state = BindingState::CleaningUp;
    Some(Cleanup {
        binding,
        client: b.client_cleanup.filter(|_| b.client_attached).map(|f| (f, b.client_context)),
        provider: b.provider_cleanup.map(|f| (f, b.provider_context)),
    })
}

/// Public access for [`crate::host`].
pub(crate) fn role_of_handle(handle: usize) -> Option<Role> {
    role_of_tag(handle)
}

pub(crate) fn current_irql() -> Irql {
    frames::irql()
}

pub(crate) fn set_irql(level: Irql) -> Irql {
    frames::set_irql(level)
}
