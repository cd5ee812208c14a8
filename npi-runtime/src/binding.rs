//! Binding contexts owned by the runtime, from attach until cleanup.
//!
//! The pointer the NMR carries as a module's binding context is an `Arc<Record>`: one strong
//! reference belongs to the NMR and is released in the cleanup callback (R22), never in
//! detach; [`BindingRef`]s held by the module are the others. The record counts *holds* — calls
//! into the peer in flight, the detach callback itself, a [`PendingDetach`] — and this side's
//! half of the detach completes when the last hold goes after detach began. That is the
//! reference-count pattern of the NMR documentation's programming considerations, so a module
//! that returns "done" while its own calls into the peer are still running gets a pending
//! detach instead of a use-after-free in the peer (R23).

use alloc::sync::Arc;
use core::ffi::c_void;
use core::fmt;
use core::marker::PhantomData;
use core::ops::Deref;
use core::ptr;
use core::sync::atomic::{AtomicPtr, AtomicUsize, Ordering};

use crate::npi::{DispatchTable, Peer};
use crate::sys::{HANDLE, NTSTATUS, STATUS_PENDING, STATUS_SUCCESS};

/// One role of a module: what the runtime needs to know to keep a binding context of it.
/// Implemented for [`AsClient`] and [`AsProvider`]; not meant to be implemented elsewhere.
pub trait Side: 'static {
    /// The registration context type.
    type Module: Sync + 'static;
    /// The module's own per-binding value.
    type Value: Send + Sync + 'static;
    /// The dispatch table the peer offers.
    type PeerDispatch: DispatchTable;
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

pub(crate) struct Record<S: Side> {
    module: *const S::Module,
    handle: HANDLE,
    peer_context: AtomicPtr<c_void>,
    peer_dispatch: AtomicPtr<c_void>,
    state: AtomicUsize,
    value: S::Value,
}

// SAFETY: the raw pointers are the registration context (Sync, outlives every binding because
// the registration waits for cleanup before it lets go of it), the NMR's binding handle (an
// opaque value), and the peer's context and table, which the NMR contract makes valid from any
// thread while bound (R14, R33). The value is Send + Sync.
unsafe impl<S: Side> Send for Record<S> {}
// SAFETY: as above; all mutation goes through atomics.
unsafe impl<S: Side> Sync for Record<S> {}

impl<S: Side> Record<S> {
    pub(crate) fn new(module: &S::Module, handle: HANDLE, value: S::Value) -> Arc<Self> {
        Arc::new(Self {
            module,
            handle,
            peer_context: AtomicPtr::new(ptr::null_mut()),
            peer_dispatch: AtomicPtr::new(ptr::null_mut()),
            state: AtomicUsize::new(0),
            value,
        })
    }

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

    pub(crate) fn into_value(self) -> S::Value {
        self.value
    }

    fn try_hold(&self) -> bool {
        let mut s = self.state.load(Ordering::Acquire);
        loop {
            if s & ATTACHED == 0 || s & DETACHING != 0 {
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
    fn release(&self) {
        let before = self.state.fetch_sub(HOLD, Ordering::AcqRel);
        if before & DETACHING != 0 && before >> 2 == 1 {
            // SAFETY: the last hold after detach began: exactly one caller gets here, and the
            // detach callback has returned or is returning STATUS_PENDING (R21).
            unsafe { S::complete(self.handle) };
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

    pub(crate) fn into_context(this: Arc<Self>) -> *mut c_void {
        Arc::into_raw(this).cast_mut().cast()
    }

    /// # Safety
    /// `context` came from [`Record::into_context`] for the same `S` and is still owned.
    pub(crate) unsafe fn from_context(context: *mut c_void) -> Arc<Self> {
        // SAFETY: per the caller.
        unsafe { Arc::from_raw(context.cast_const().cast()) }
    }

    /// # Safety
    /// `context` came from [`Record::into_context`] for the same `S`, and the NMR's reference
    /// has not been released yet (we are inside one of its callbacks or dispatch functions).
    pub(crate) unsafe fn borrow<'a>(context: *mut c_void) -> &'a Self {
        // SAFETY: per the caller, the Arc allocation is alive for the duration of the call.
        unsafe { &*context.cast_const().cast::<Self>() }
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

/// A binding as this side's callbacks see it: the module's own value (through `Deref`) and
/// access to the peer.
pub struct Binding<'a, S: Side> {
    record: &'a Record<S>,
}

impl<'a, S: Side> Binding<'a, S> {
    pub(crate) fn new(record: &'a Record<S>) -> Self {
        Self { record }
    }

    /// The NMR binding handle.
    #[must_use]
    pub fn handle(&self) -> HANDLE {
        self.record.handle
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
        // SAFETY: `record` lives in an `Arc` created by `Record::new`; bumping its count is
        // what `Arc::clone` does.
        let arc = unsafe {
            Arc::increment_strong_count(self.record);
            Arc::from_raw(ptr::from_ref(self.record))
        };
        BindingRef { record: arc }
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
        Binding { record: unsafe { Record::borrow(context) } }
    }
}

impl<S: Side> Deref for Binding<'_, S> {
    type Target = S::Value;
    fn deref(&self) -> &S::Value {
        &self.record.value
    }
}

impl<S: Side> fmt::Debug for Binding<'_, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Binding").field("handle", &self.record.handle).finish_non_exhaustive()
    }
}

/// A binding reference a module may keep and send anywhere. It keeps the binding's value alive
/// (not the binding: that ends when the NMR detaches it), and offers [`BindingRef::peer`] for as
/// long as calls into the peer are allowed.
pub struct BindingRef<S: Side> {
    record: Arc<Record<S>>,
}

impl<S: Side> BindingRef<S> {
    /// As [`Binding::peer`].
    #[must_use]
    pub fn peer(&self) -> Option<PeerCall<'_, S>> {
        PeerCall::hold(&self.record)
    }

    /// The NMR binding handle.
    #[must_use]
    pub fn handle(&self) -> HANDLE {
        self.record.handle
    }

    /// True once the binding's detach has begun on this side.
    #[must_use]
    pub fn is_detaching(&self) -> bool {
        self.record.state.load(Ordering::Acquire) & DETACHING != 0
    }
}

impl<S: Side> Clone for BindingRef<S> {
    fn clone(&self) -> Self {
        Self { record: Arc::clone(&self.record) }
    }
}

impl<S: Side> Deref for BindingRef<S> {
    type Target = S::Value;
    fn deref(&self) -> &S::Value {
        &self.record.value
    }
}

impl<S: Side> fmt::Debug for BindingRef<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BindingRef").field("handle", &self.record.handle).finish_non_exhaustive()
    }
}

/// A call into the peer in progress: derefs to the peer's typed dispatch view (the table's
/// `Calls` type). This side's detach cannot complete while one exists.
pub struct PeerCall<'a, S: Side> {
    record: &'a Record<S>,
    calls: <S::PeerDispatch as DispatchTable>::Calls<'a>,
}

impl<'a, S: Side> PeerCall<'a, S> {
    fn hold(record: &'a Record<S>) -> Option<Self> {
        if !record.try_hold() {
            return None;
        }
        match S::PeerDispatch::calls(record.peer()) {
            Some(calls) => Some(Self { record, calls }),
            None => {
                record.release();
                None
            }
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
        self.record.release();
    }
}

/// The NMR asked this side to detach. Answer with [`DetachRequest::done`] or
/// [`DetachRequest::pend`].
pub struct DetachRequest<'a, S: Side> {
    record: &'a Record<S>,
}

/// The answer to a [`DetachRequest`]; only obtainable from one.
#[must_use]
pub struct Detach {
    _private: (),
}

impl<'a, S: Side> DetachRequest<'a, S> {
    pub(crate) fn new(record: &'a Record<S>) -> Self {
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
        self.record.state.fetch_add(HOLD, Ordering::AcqRel);
        let arc = {
            // SAFETY: the record lives in an Arc (see `Binding::to_ref`).
            unsafe {
                Arc::increment_strong_count(self.record);
                Arc::from_raw(ptr::from_ref(self.record))
            }
        };
        (Detach { _private: () }, PendingDetach { record: Some(arc) })
    }
}

/// A pending detach of this side. Completing it (or dropping it) ends this side's half of the
/// detach; the type makes a second completion impossible.
#[must_use = "dropping a PendingDetach completes the detach at once"]
pub struct PendingDetach<S: Side> {
    record: Option<Arc<Record<S>>>,
}

impl<S: Side> PendingDetach<S> {
    /// Completes this side's half of the detach (`Nmr*DetachComplete` once nothing else holds
    /// it). Callable from any thread.
    pub fn complete(mut self) {
        if let Some(r) = self.record.take() {
            r.release();
        }
    }

    /// The NMR binding handle being detached.
    #[must_use]
    pub fn handle(&self) -> HANDLE {
        self.record.as_ref().map_or(ptr::null_mut(), |r| r.handle)
    }
}

impl<S: Side> Drop for PendingDetach<S> {
    fn drop(&mut self) {
        if let Some(r) = self.record.take() {
            r.release();
        }
    }
}

impl<S: Side> fmt::Debug for PendingDetach<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PendingDetach").field("handle", &self.handle()).finish()
    }
}
