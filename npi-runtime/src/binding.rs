//! Binding contexts owned by the runtime, from attach until cleanup.
//!
//! The pointer the NMR carries as a module's binding context is a [`Record`] in a runtime heap
//! block with its own reference count: one reference belongs to the NMR and is released in the
//! cleanup callback (R22), never in detach; [`BindingRef`]s and [`PendingDetach`]es held by the
//! module are the others. The record also counts *holds* — calls into the peer in flight, the
//! detach callback itself, a [`PendingDetach`] — and this side's half of the detach completes
//! when the last hold goes after detach began. That is the reference-count pattern of the NMR
//! documentation's programming considerations, so a module that returns "done" while its own
//! calls into the peer are still running gets a pending detach instead of a use-after-free in
//! the peer (R23).
//!
//! Soundness rests on two counts, never on a destructor running: a forgotten [`PeerCall`] or
//! [`PendingDetach`] keeps its hold forever (the detach never completes: a hang the host NMR
//! reports, not a dangling pointer), and a forgotten [`BindingRef`] keeps its reference forever
//! (a leak). Both counts saturate instead of wrapping, so not even 2³¹ forgotten guards on a
//! 32-bit target can bring a count back to zero while a guard is alive.

use core::ffi::c_void;
use core::fmt;
use core::marker::PhantomData;
use core::mem::ManuallyDrop;
use core::ops::Deref;
use core::ptr::{self, NonNull};
use core::sync::atomic::{AtomicPtr, AtomicUsize, Ordering, fence};

use crate::heap::{AllocationSite, RtBox};
use crate::npi::{DispatchTable, Peer};
use crate::sys::{HANDLE, NTSTATUS, STATUS_PENDING, STATUS_SUCCESS};

pub(crate) mod sealed {
    /// Keeps [`Side`](super::Side) and [`Role`](crate::Role) to the runtime's own roles: the
    /// runtime trusts what their items say about a binding context.
    pub trait Sealed {}
}

/// One role of a module: what the runtime needs to know to keep a binding context of it.
/// Implemented for [`AsClient`] and [`AsProvider`] only (sealed).
pub trait Side: sealed::Sealed + 'static {
    /// The registration context type.
    type Module: Sync + 'static;
    /// The module's own per-binding value.
    type Value: Send + Sync + 'static;
    /// The dispatch table the peer offers.
    type PeerDispatch: DispatchTable;
    /// The dispatch table this side offers its peer.
    type OwnDispatch: DispatchTable;
    /// The NPI's id, for diagnostics.
    const NPI_ID: crate::sys::GUID;
    /// Completes this side's half of a pending detach (`NmrClientDetachProviderComplete` or
    /// `NmrProviderDetachClientComplete`).
    ///
    /// # Safety
    /// `handle` is a binding handle of this side whose detach callback returned (or is about to
    /// return) `STATUS_PENDING`, completed once.
    #[doc(hidden)]
    unsafe fn complete(handle: HANDLE);
}

/// The client role of `T`.
pub struct AsClient<T>(PhantomData<T>);
/// The provider role of `T`.
pub struct AsProvider<T>(PhantomData<T>);

const ATTACHED: usize = 1;
const DETACHING: usize = 2;
const HOLD: usize = 4;
/// Holds above this are refused (`peer()` returns `None`) instead of counted: the hold count
/// can never wrap into the flag bits or back to zero.
const MAX_HOLDS: usize = usize::MAX >> 3;
/// Reference counts above this are saturated: the record is then never freed (a leak, sound).
const MAX_REFS: usize = isize::MAX.unsigned_abs();
/// Where a saturated count is parked, far from both zero and wrapping.
const SATURATED: usize = MAX_REFS + (MAX_REFS >> 1);

pub(crate) struct Record<S: Side> {
    refs: AtomicUsize,
    module: *const S::Module,
    handle: HANDLE,
    peer_context: AtomicPtr<c_void>,
    peer_dispatch: AtomicPtr<c_void>,
    state: AtomicUsize,
    /// Dropped by the last reference (see `RecordRef::drop`), or moved out by `try_unwrap`.
    value: ManuallyDrop<S::Value>,
}

// SAFETY: the raw pointers are the registration context (Sync, outlives every binding because
// the registration waits for cleanup before it lets go of it, and leaks it if the wait fails),
// the NMR's binding handle (an opaque value), and the peer's context and table, which the NMR
// contract makes valid from any thread while bound (R14, R33). The value is Send + Sync.
unsafe impl<S: Side> Send for Record<S> {}
// SAFETY: as above; all mutation goes through atomics.
unsafe impl<S: Side> Sync for Record<S> {}

impl<S: Side> Record<S> {
    /// Publishes the peer once the attach succeeded; calls through it are allowed from now.
    pub(crate) fn attached(&self, peer_context: *mut c_void, peer_dispatch: *const c_void) {
        self.peer_context.store(peer_context, Ordering::Relaxed);
        self.peer_dispatch.store(peer_dispatch.cast_mut(), Ordering::Relaxed);
        self.state.fetch_or(ATTACHED, Ordering::Release);
    }

    pub(crate) fn module(&self) -> &S::Module {
        // SAFETY: see the `Send` impl: the registration context outlives its bindings.
        unsafe { &*self.module }
    }

    pub(crate) fn value(&self) -> &S::Value {
        &self.value
    }

    pub(crate) fn handle(&self) -> HANDLE {
        self.handle
    }

    fn try_hold(&self) -> bool {
        let mut s = self.state.load(Ordering::Acquire);
        loop {
            if s & ATTACHED == 0 || s & DETACHING != 0 || s >> 2 >= MAX_HOLDS {
                return false;
            }
            match self.state.compare_exchange_weak(
                s,
                s + HOLD,
                Ordering::Acquire,
                Ordering::Acquire,
            ) {
                Ok(_) => return true,
                Err(now) => s = now,
            }
        }
    }

    /// Drops one hold; the last one after detach began completes this side's half.
    ///
    /// Takes a pointer, not `&self`: completing may run the cleanup callbacks on this thread,
    /// and the record may be freed before this function returns.
    fn release(this: NonNull<Self>) {
        // SAFETY: the caller's hold keeps the record's half incomplete, so the NMR's reference
        // (released only in cleanup) keeps the block alive until the `fetch_sub`.
        let (handle, before) = unsafe {
            let r = this.as_ref();
            (r.handle, r.state.fetch_sub(HOLD, Ordering::AcqRel))
        };
        if before & DETACHING != 0 && before >> 2 == 1 {
            // SAFETY: the last hold after detach began: exactly one caller gets here, and the
            // detach callback has returned or is returning STATUS_PENDING (R21). The record is
            // not touched again.
            unsafe { S::complete(handle) };
        }
    }

    /// Marks detach begun and takes the hold of the detach callback itself.
    pub(crate) fn begin_detach(&self) {
        self.state.fetch_add(DETACHING + HOLD, Ordering::AcqRel);
    }

    /// Releases the detach callback's hold and tells the NMR whether this half is done.
    pub(crate) fn end_detach_callback(&self) -> NTSTATUS {
        let before = self.state.fetch_sub(HOLD, Ordering::AcqRel);
        if before >> 2 == 1 { STATUS_SUCCESS } else { STATUS_PENDING }
    }

    fn peer(&self) -> Peer<'_, S::PeerDispatch> {
        // SAFETY: published by `attached` before ATTACHED, which `try_hold` saw; valid until our
        // half completes, which our hold prevents.
        unsafe {
            Peer::new(
                self.peer_context.load(Ordering::Relaxed),
                self.peer_dispatch.load(Ordering::Relaxed),
            )
        }
    }
}

/// A record borrowed for `'a` (a callback, or the life of a counted reference). A pointer rather
/// than `&'a Record`: the block's last reference may free it while such a borrow is still in a
/// local that is no longer used, and the pointer keeps the allocation's own provenance.
pub(crate) struct RecordPtr<'a, S: Side> {
    ptr: NonNull<Record<S>>,
    _life: PhantomData<&'a Record<S>>,
}

impl<S: Side> Clone for RecordPtr<'_, S> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<S: Side> Copy for RecordPtr<'_, S> {}

impl<'a, S: Side> RecordPtr<'a, S> {
    /// # Safety
    /// `context` came from [`RecordRef::into_context`] for the same `S`, and a reference to the
    /// record (the NMR's, inside one of its callbacks or dispatch functions, or a counted one)
    /// lives for `'a`.
    pub(crate) unsafe fn from_context(context: *mut c_void) -> Self {
        // SAFETY: per the caller, a live record, so not NULL.
        Self { ptr: unsafe { NonNull::new_unchecked(context.cast()) }, _life: PhantomData }
    }

    pub(crate) fn get(self) -> &'a Record<S> {
        // SAFETY: alive for 'a per the constructor's contract.
        unsafe { self.ptr.as_ref() }
    }

    /// Another counted reference to the same record.
    pub(crate) fn counted(self) -> RecordRef<S> {
        let old = self.get().refs.fetch_add(1, Ordering::Relaxed);
        if old > MAX_REFS {
            self.get().refs.store(SATURATED, Ordering::Relaxed);
        }
        RecordRef { ptr: self.ptr }
    }
}

/// One counted reference to a record; the last one drops the value and frees the block.
pub(crate) struct RecordRef<S: Side> {
    ptr: NonNull<Record<S>>,
}

// SAFETY: a counted reference to a Send + Sync record, like `Arc<Record<S>>`.
unsafe impl<S: Side> Send for RecordRef<S> {}
// SAFETY: as above.
unsafe impl<S: Side> Sync for RecordRef<S> {}

impl<S: Side> RecordRef<S> {
    /// A new record with one reference, or the value back if no memory is available.
    pub(crate) fn try_new(
        module: &S::Module,
        handle: HANDLE,
        value: S::Value,
    ) -> Result<Self, S::Value> {
        let record = Record {
            refs: AtomicUsize::new(1),
            module,
            handle,
            peer_context: AtomicPtr::new(ptr::null_mut()),
            peer_dispatch: AtomicPtr::new(ptr::null_mut()),
            state: AtomicUsize::new(0),
            value: ManuallyDrop::new(value),
        };
        match RtBox::try_new(record, AllocationSite::BindingRecord) {
            Ok(block) => Ok(Self { ptr: RtBox::into_raw(block) }),
            Err(record) => Err(ManuallyDrop::into_inner(record.value)),
        }
    }

    pub(crate) fn borrow(&self) -> RecordPtr<'_, S> {
        RecordPtr { ptr: self.ptr, _life: PhantomData }
    }

    fn get(&self) -> &Record<S> {
        // SAFETY: this counted reference keeps the block alive.
        unsafe { self.ptr.as_ref() }
    }

    /// Hands this reference to the NMR as the binding context.
    pub(crate) fn into_context(self) -> *mut c_void {
        let ptr = self.ptr;
        core::mem::forget(self);
        ptr.as_ptr().cast()
    }

    /// Takes the NMR's reference back (cleanup, or an attach that failed).
    ///
    /// # Safety
    /// `context` came from [`RecordRef::into_context`] for the same `S`, and the reference it
    /// carries is taken back once.
    pub(crate) unsafe fn from_context(context: *mut c_void) -> Self {
        // SAFETY: per the caller, a live record, so not NULL.
        Self { ptr: unsafe { NonNull::new_unchecked(context.cast()) } }
    }

    /// The value, if this is the only reference left; the block is freed either way once the
    /// last reference goes.
    pub(crate) fn try_unwrap(self) -> Option<S::Value> {
        if self.get().refs.compare_exchange(1, 0, Ordering::Acquire, Ordering::Relaxed).is_err() {
            return None;
        }
        let ptr = self.ptr;
        core::mem::forget(self);
        // SAFETY: the count was 1 and is now 0: no other reference exists, the block is ours.
        let record = RtBox::into_inner(unsafe { RtBox::from_raw(ptr) });
        Some(ManuallyDrop::into_inner(record.value))
    }
}

impl<S: Side> Drop for RecordRef<S> {
    fn drop(&mut self) {
        let old = self.get().refs.fetch_sub(1, Ordering::Release);
        if old > MAX_REFS {
            // Saturated: the record is kept forever.
            self.get().refs.store(SATURATED, Ordering::Relaxed);
            return;
        }
        if old != 1 {
            return;
        }
        fence(Ordering::Acquire);
        // SAFETY: the last reference: nothing else can reach the block.
        let mut block = unsafe { RtBox::from_raw(self.ptr) };
        // SAFETY: the value is dropped once, here; if its drop panics, `block` still frees the
        // allocation while unwinding (the record's other fields need no drop).
        unsafe { ManuallyDrop::drop(&mut block.value) };
    }
}

/// A binding as this side's callbacks see it: the module's own value (through `Deref`) and
/// access to the peer.
pub struct Binding<'a, S: Side> {
    record: RecordPtr<'a, S>,
}

// SAFETY: a `Binding` only gives shared access to a Send + Sync record.
unsafe impl<S: Side> Send for Binding<'_, S> {}
// SAFETY: as above.
unsafe impl<S: Side> Sync for Binding<'_, S> {}

impl<'a, S: Side> Binding<'a, S> {
    pub(crate) fn new(record: RecordPtr<'a, S>) -> Self {
        Self { record }
    }

    /// The NMR binding handle.
    #[must_use]
    pub fn handle(&self) -> HANDLE {
        self.record.get().handle
    }

    /// A call into the peer, if it is still allowed: the binding is attached, this side's
    /// detach has not begun (R23) and the peer offered a table. While the returned guard lives,
    /// this side's detach stays pending.
    #[must_use]
    pub fn peer(&self) -> Option<PeerCall<'a, S>> {
        PeerCall::hold(self.record)
    }

    /// A counted reference that outlives this callback, for calls into the peer from
    /// elsewhere (a worker thread, the driver's own API).
    #[must_use]
    pub fn to_ref(&self) -> BindingRef<S> {
        BindingRef { record: self.record.counted() }
    }
}

impl<S: Side> Binding<'_, S> {
    /// The binding whose context a peer passed back to one of this side's dispatch functions.
    ///
    /// # Safety
    /// `context` is a binding context this runtime created for `S` (the one handed to the peer
    /// at attach), and the call happens before this side's cleanup (R14, R22).
    pub unsafe fn from_context<'a>(context: *mut c_void) -> Binding<'a, S> {
        // SAFETY: per the caller.
        Binding { record: unsafe { RecordPtr::from_context(context) } }
    }
}

impl<S: Side> Deref for Binding<'_, S> {
    type Target = S::Value;
    fn deref(&self) -> &S::Value {
        self.record.get().value()
    }
}

impl<S: Side> fmt::Debug for Binding<'_, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Binding").field("handle", &self.handle()).finish_non_exhaustive()
    }
}

/// A binding reference a module may keep and send anywhere. It keeps the binding's value alive
/// (not the binding: that ends when the NMR detaches it), and offers [`BindingRef::peer`] for as
/// long as calls into the peer are allowed.
pub struct BindingRef<S: Side> {
    record: RecordRef<S>,
}

impl<S: Side> BindingRef<S> {
    /// As [`Binding::peer`]; the guard borrows this reference.
    #[must_use]
    pub fn peer(&self) -> Option<PeerCall<'_, S>> {
        PeerCall::hold(self.record.borrow())
    }

    /// The NMR binding handle.
    #[must_use]
    pub fn handle(&self) -> HANDLE {
        self.record.get().handle
    }

    /// True once the binding's detach has begun on this side.
    #[must_use]
    pub fn is_detaching(&self) -> bool {
        self.record.get().state.load(Ordering::Acquire) & DETACHING != 0
    }
}

impl<S: Side> Clone for BindingRef<S> {
    fn clone(&self) -> Self {
        Self { record: self.record.borrow().counted() }
    }
}

impl<S: Side> Deref for BindingRef<S> {
    type Target = S::Value;
    fn deref(&self) -> &S::Value {
        self.record.get().value()
    }
}

impl<S: Side> fmt::Debug for BindingRef<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BindingRef").field("handle", &self.handle()).finish_non_exhaustive()
    }
}

/// A call into the peer in progress: derefs to the peer's typed dispatch view (the table's
/// `Calls` type). This side's detach cannot complete while one exists.
///
/// The view is reachable only by reference, so nothing taken from it outlives this guard; if
/// the guard is leaked (`mem::forget`), the hold is never released and the binding's detach
/// never completes: the deregistration wait hangs (the host NMR reports which binding), but
/// the peer is never released under a caller.
pub struct PeerCall<'a, S: Side> {
    record: RecordPtr<'a, S>,
    calls: <S::PeerDispatch as DispatchTable>::Calls<'a>,
}

impl<'a, S: Side> PeerCall<'a, S> {
    fn hold(record: RecordPtr<'a, S>) -> Option<Self> {
        if !record.get().try_hold() {
            return None;
        }
        if let Some(calls) = S::PeerDispatch::calls(record.get().peer()) {
            Some(Self { record, calls })
        } else {
            Record::release(record.ptr);
            None
        }
    }
}

impl<'a, S: Side> Deref for PeerCall<'a, S> {
    type Target = <S::PeerDispatch as DispatchTable>::Calls<'a>;
    fn deref(&self) -> &Self::Target {
        &self.calls
    }
}

impl<S: Side> Drop for PeerCall<'_, S> {
    fn drop(&mut self) {
        Record::release(self.record.ptr);
    }
}

impl<S: Side> fmt::Debug for PeerCall<'_, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PeerCall")
            .field("handle", &self.record.get().handle)
            .finish_non_exhaustive()
    }
}

/// The NMR asked this side to detach. Answer with [`DetachRequest::done`] or
/// [`DetachRequest::pend`].
pub struct DetachRequest<'a, S: Side> {
    record: RecordPtr<'a, S>,
}

/// The answer to a [`DetachRequest`]; only obtainable from one.
#[must_use]
pub struct Detach {
    _private: (),
}

impl fmt::Debug for Detach {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Detach")
    }
}

impl<'a, S: Side> DetachRequest<'a, S> {
    pub(crate) fn new(record: RecordPtr<'a, S>) -> Self {
        Self { record }
    }

    /// This side has nothing in flight: its half is done as soon as the runtime's own calls
    /// into the peer (through [`PeerCall`]s) have drained.
    pub fn done(self) -> Detach {
        Detach { _private: () }
    }

    /// This side needs time: its half stays pending until the returned [`PendingDetach`] is
    /// completed (or dropped), from any thread.
    pub fn pend(self) -> (Detach, PendingDetach<S>) {
        // One hold per detach callback (the request is consumed), so this cannot overflow.
        self.record.get().state.fetch_add(HOLD, Ordering::AcqRel);
        (Detach { _private: () }, PendingDetach { record: Some(self.record.counted()) })
    }
}

/// A pending detach of this side. Completing it (or dropping it) ends this side's half of the
/// detach; the type makes a second completion impossible. Leaking it (`mem::forget`) leaves the
/// detach pending forever: the deregistration wait hangs, nothing is freed early.
#[must_use = "dropping a PendingDetach completes the detach at once"]
pub struct PendingDetach<S: Side> {
    record: Option<RecordRef<S>>,
}

impl<S: Side> PendingDetach<S> {
    /// Completes this side's half of the detach (`Nmr*DetachComplete` once nothing else holds
    /// it). Callable from any thread.
    pub fn complete(mut self) {
        self.finish();
    }

    fn finish(&mut self) {
        if let Some(r) = self.record.take() {
            // Our counted reference keeps the block alive across the completion.
            Record::release(r.ptr);
        }
    }

    /// The NMR binding handle being detached.
    #[must_use]
    pub fn handle(&self) -> HANDLE {
        self.record.as_ref().map_or(ptr::null_mut(), |r| r.get().handle)
    }
}

impl<S: Side> Drop for PendingDetach<S> {
    fn drop(&mut self) {
        self.finish();
    }
}

impl<S: Side> fmt::Debug for PendingDetach<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PendingDetach").field("handle", &self.handle()).finish()
    }
}
