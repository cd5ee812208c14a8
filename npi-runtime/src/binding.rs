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

use core::alloc::Layout;
use core::ffi::c_void;
use core::fmt;
use core::marker::PhantomData;
use core::mem::ManuallyDrop;
use core::ops::Deref;
use core::ptr::{self, NonNull};

use crate::heap::{AllocationSite, dealloc_layout, try_alloc_layout};
use crate::module::{ModuleDecl, SideKind};
use crate::npi::{DispatchTable, Npi, NpiData, Peer};
use crate::sync::{AtomicPtr, AtomicUsize, Ordering, fence};
use crate::sys::{HANDLE, NTSTATUS, STATUS_PENDING, STATUS_SUCCESS};

pub(crate) mod sealed {
    /// Keeps [`Side`](super::Side) and the attach requests to the runtime's own types: the
    /// runtime trusts what their items say about a binding context.
    pub trait Sealed {}
}

/// One role of a module: what the runtime needs to know to keep a binding context of it.
/// Implemented for [`AsClient`] and [`AsProvider`] only (sealed). What differs between the two
/// beyond a name is in its [`Kind`](Side::Kind); what the module declares is in
/// [`ModuleDecl`].
pub trait Side: sealed::Sealed + Sized + 'static {
    /// [`ClientKind`](crate::generic::ClientKind) or [`ProviderKind`](crate::generic::ProviderKind).
    type Kind: SideKind;
    /// The registration context type.
    type Module: ModuleDecl<Self::Kind>;
    /// The module's own per-binding value.
    type Value: Send + Sync + 'static;
    /// The dispatch table the peer offers.
    type PeerDispatch: DispatchTable;
    /// The dispatch table this side offers its peer.
    type OwnDispatch: DispatchTable;
    /// The NPI-specific characteristics type this side publishes.
    type NpiCharacteristics: NpiData;
    /// The NPI's id, for diagnostics.
    const NPI_ID: crate::sys::GUID = <<Self::Module as ModuleDecl<Self::Kind>>::Npi as Npi>::ID;
    /// How many hold-count shards a binding record of this side has (see
    /// `Client::PARALLEL_CALLERS`).
    #[doc(hidden)]
    const SHARDS: usize;
    /// The module's detach (`Client::detach` or `Provider::detach`).
    #[doc(hidden)]
    fn module_detach(binding: &Binding<'_, Self>, request: DetachRequest<'_, Self>) -> Detach;
    /// The module's cleanup (`Client::cleanup` or `Provider::cleanup`).
    #[doc(hidden)]
    fn module_cleanup(module: &Self::Module, value: &Self::Value);
}

/// The client role of `T`.
pub struct AsClient<T>(PhantomData<T>);
/// The provider role of `T`.
pub struct AsProvider<T>(PhantomData<T>);

impl<T> fmt::Debug for AsClient<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "AsClient<{}>", core::any::type_name::<T>())
    }
}

impl<T> fmt::Debug for AsProvider<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "AsProvider<{}>", core::any::type_name::<T>())
    }
}

/// The most hold-count shards a record may have (`PARALLEL_CALLERS` is clamped to it).
pub(crate) const MAX_SHARDS: usize = 16;
/// A shard's top bit: no hold may be taken (not attached yet, or detach began).
const CLOSED: usize = 1 << (usize::BITS - 1);
/// Holds at or above this in one shard are refused (`peer()` returns `None`) instead of
/// counted, so a count never reaches the `CLOSED` bit however many guards are leaked, and the
/// sum over `MAX_SHARDS` shards that detach gathers into `remaining` (with `GATHERING` and the
/// `DETACHING` bit) cannot wrap, even on a 32-bit target (2²⁵ holds per shard there).
const MAX_HOLDS: usize = (usize::MAX >> 3) / MAX_SHARDS;
/// Added to `remaining` while detach gathers the shards' counts, so that holds released
/// meanwhile cannot bring it to zero early.
const GATHERING: usize = usize::MAX >> 2;
/// The first shard's second bit from the top, set with `CLOSED` when detach begins: what
/// `BindingRef::is_detaching` reads (a shard is also closed before attach, and for good when
/// the peer offered no table, so `CLOSED` alone cannot say). Above `MAX_HOLDS`, so `try_hold`'s
/// one comparison still refuses every closed shard.
const DETACHING: usize = 1 << (usize::BITS - 2);
const _: () = assert!(MAX_HOLDS < DETACHING && GATHERING + MAX_SHARDS * MAX_HOLDS + 2 < usize::MAX);
/// Reference counts above this are saturated: the record is then never freed (a leak, sound).
const MAX_REFS: usize = isize::MAX.unsigned_abs();
/// Where a saturated count is parked, far from both zero and wrapping.
const SATURATED: usize = MAX_REFS + (MAX_REFS >> 1);
/// Distance between extra shards: two cache lines, since processors prefetch lines in pairs.
const SHARD_STRIDE: usize = 128;

/// One hold counter, with its own copy of the peer's context and table, so a call touches only
/// the counter's cache line.
#[repr(C)]
pub(crate) struct Shard {
    /// `CLOSED` | holds.
    holds: AtomicUsize,
    peer_context: AtomicPtr<c_void>,
    peer_dispatch: AtomicPtr<c_void>,
}

/// An extra shard, alone on its own pair of cache lines, after the record.
#[repr(C, align(128))]
pub(crate) struct PaddedShard {
    shard: Shard,
    /// In the first extra shard only: the round robin over the shards for new `BindingRef`s
    /// (a record with one shard needs none, and pays nothing for it).
    next_shard: AtomicUsize,
}

const _: () = assert!(size_of::<PaddedShard>() == SHARD_STRIDE);

impl Shard {
    // A function, not a `const`: loom's atomics (`crate::sync`) have no `const fn new`.
    fn new() -> Shard {
        Shard {
            holds: AtomicUsize::new(CLOSED),
            peer_context: AtomicPtr::new(ptr::null_mut()),
            peer_dispatch: AtomicPtr::new(ptr::null_mut()),
        }
    }

    fn open(&self, peer_context: *mut c_void, peer_dispatch: *const c_void) {
        self.peer_context.store(peer_context, Ordering::Relaxed);
        self.peer_dispatch.store(peer_dispatch.cast_mut(), Ordering::Relaxed);
        // Opens the shard; `try_hold`'s acquire pairs with it, so the pointers are seen.
        self.holds.store(0, Ordering::Release);
    }

    /// Closes the shard for detach (`DETACHING` goes with it); the holds it counted.
    fn close(&self) -> usize {
        let before = self.holds.fetch_or(CLOSED | DETACHING, Ordering::AcqRel);
        if before & CLOSED == 0 { before } else { 0 }
    }
}

/// The hold count of a binding: the part of a record that does not depend on the module, so
/// its code exists once in a driver image, not once per client and provider type.
#[repr(C)]
pub(crate) struct Holds {
    /// The first shard, inside the record: all a binding has unless its module asks for more.
    first: Shard,
    /// After detach began: the holds not yet released (the shards' counts, the detach
    /// callback's, each `PendingDetach`'s). The one that brings it to zero completes.
    remaining: AtomicUsize,
}

/// Opens the extra shards (only linked for modules that have some).
#[inline(never)]
fn open_extra(extra: &[PaddedShard], peer_context: *mut c_void, peer_dispatch: *const c_void) {
    for shard in extra {
        shard.shard.open(peer_context, peer_dispatch);
    }
}

/// Closes the extra shards; the holds they counted.
#[inline(never)]
fn close_extra(extra: &[PaddedShard]) -> usize {
    extra.iter().map(|shard| shard.shard.close()).sum()
}

impl Holds {
    // A function, not a `const`: see `Shard::new`.
    fn new() -> Holds {
        Holds { first: Shard::new(), remaining: AtomicUsize::new(0) }
    }

    /// Starts gathering the shards' holds into `remaining`, biased so that holds released
    /// meanwhile cannot bring it to zero; the shards are closed next, then `finish_close`.
    /// Published before any shard reads as closed (their `fetch_or`s release it).
    fn start_gathering(&self) {
        self.remaining.store(GATHERING + 1, Ordering::Relaxed);
    }

    /// The whole detach close of a record with one shard: one out-of-line copy for every
    /// module type of a driver.
    #[inline(never)]
    fn close_one(&self) {
        self.start_gathering();
        let held = self.first.close();
        self.finish_close(held);
    }

    /// Ends the gathering: `remaining` is now the `held` holds the shards counted, plus the
    /// detach callback's own.
    fn finish_close(&self, held: usize) {
        self.remaining.fetch_sub(GATHERING - held, Ordering::AcqRel);
    }

    /// Drops one hold counted in `remaining`; true for the last one, whose caller completes.
    ///
    /// Takes a pointer, not `&self`: once another holder has brought the count to zero, the
    /// record may be freed while this function still runs.
    ///
    /// # Safety
    /// The caller owns a hold counted in `remaining`.
    unsafe fn release_remaining(this: NonNull<Holds>) -> bool {
        // SAFETY: the caller's hold keeps this side's half incomplete, so the NMR's reference
        // (released only in cleanup, after completion) keeps the block alive here.
        unsafe { this.as_ref() }.remaining.fetch_sub(1, Ordering::AcqRel) == 1
    }
}

/// A binding context: the hold count, the module's value and the runtime's bookkeeping; then,
/// in the same heap block, `S::SHARDS - 1` extra shards (see `Record::LAYOUT`).
#[repr(C)]
pub(crate) struct Record<S: Side> {
    holds: Holds,
    refs: AtomicUsize,
    module: *const S::Module,
    handle: HANDLE,
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
    /// Extra shards after the record.
    const EXTRA: usize = S::SHARDS - 1;
    /// Where the extra shards start in the block.
    const EXTRA_OFFSET: usize = size_of::<Self>().next_multiple_of(SHARD_STRIDE);
    /// The heap block: just the record, or the record and its extra shards.
    const LAYOUT: Layout = if Self::EXTRA == 0 {
        Layout::new::<Self>()
    } else {
        let align =
            if align_of::<Self>() > SHARD_STRIDE { align_of::<Self>() } else { SHARD_STRIDE };
        match Layout::from_size_align(Self::EXTRA_OFFSET + Self::EXTRA * SHARD_STRIDE, align) {
            Ok(layout) => layout,
            Err(_) => panic!("a binding record's layout"),
        }
    };

    /// The extra shards, from the block's pointer (not from `&self`, whose reach ends with
    /// the record).
    fn extra<'a>(this: NonNull<Self>) -> &'a [PaddedShard] {
        if Self::EXTRA == 0 {
            return &[];
        }
        // SAFETY: `EXTRA_OFFSET` is inside the record's block (`LAYOUT`).
        let first = unsafe { this.as_ptr().cast::<u8>().add(Self::EXTRA_OFFSET) };
        // SAFETY: the block holds `EXTRA` initialised shards there (`LAYOUT`,
        // `RecordRef::try_new`), alive as long as the record, which the caller keeps.
        unsafe { core::slice::from_raw_parts(first.cast::<PaddedShard>(), Self::EXTRA) }
    }

    /// Publishes the peer once the attach succeeded; calls through it are allowed from now,
    /// unless the NPI has a table for the peer to offer and it offered none (then `peer()`
    /// stays `None` for good, and a call never has to test for NULL).
    pub(crate) fn attached(
        this: RecordPtr<'_, S>,
        peer_context: *mut c_void,
        peer_dispatch: *const c_void,
    ) {
        if <S::PeerDispatch as NpiData>::PRESENT && peer_dispatch.is_null() {
            return;
        }
        this.get().holds.first.open(peer_context, peer_dispatch);
        if Self::EXTRA > 0 {
            open_extra(Self::extra(this.ptr), peer_context, peer_dispatch);
        }
    }

    pub(crate) fn module(&self) -> &S::Module {
        // SAFETY: see the `Send` impl: the registration context outlives its bindings.
        unsafe { &*self.module }
    }

    /// The reference count, by pointer (see [`release_ref`]).
    fn refs(this: NonNull<Self>) -> NonNull<AtomicUsize> {
        // SAFETY: a place projection through the raw pointer (no reference made) to a field of
        // the record, so in bounds.
        let refs = unsafe { &raw mut (*this.as_ptr()).refs };
        // SAFETY: a field of a record at a non-NULL address is not NULL.
        unsafe { NonNull::new_unchecked(refs) }
    }

    pub(crate) fn value(&self) -> &S::Value {
        &self.value
    }

    pub(crate) fn handle(&self) -> HANDLE {
        self.handle
    }

    /// The shard a new `BindingRef` calls through, round robin over the record's shards.
    fn pick_shard(this: NonNull<Self>) -> usize {
        match Self::extra(this) {
            [] => 0,
            [first, ..] => first.next_shard.fetch_add(1, Ordering::Relaxed) % S::SHARDS,
        }
    }

    /// A pointer to shard `i` (`i < S::SHARDS`) with the block's own provenance. Pointer
    /// arithmetic rather than indexing: an index is bounds-checked, and the check's panic
    /// message formats.
    fn shard_ptr(this: NonNull<Self>, i: usize) -> NonNull<Shard> {
        debug_assert!(i < S::SHARDS);
        let p = this.as_ptr();
        let shard = if i == 0 {
            // SAFETY: a place projection through the raw pointer (no reference made) to the
            // first shard, a field of the record.
            unsafe { &raw mut (*p).holds.first }
        } else {
            // SAFETY: the extra shards are in the same block (`LAYOUT`), and `i - 1 < EXTRA`.
            unsafe { p.cast::<u8>().add(Self::EXTRA_OFFSET + (i - 1) * SHARD_STRIDE) }
                .cast::<Shard>()
        };
        // SAFETY: inside a record at a non-NULL address, so not NULL.
        unsafe { NonNull::new_unchecked(shard) }
    }

    /// Marks detach begun and takes the hold of the detach callback itself.
    pub(crate) fn begin_detach(this: RecordPtr<'_, S>) {
        let holds = &this.get().holds;
        if Self::EXTRA == 0 {
            holds.close_one();
            return;
        }
        // The extra shards first, the first shard (whose `DETACHING` bit `is_detaching` reads)
        // last: its acquire-release close publishes the others', so once `is_detaching` is
        // true no shard hands out a hold.
        holds.start_gathering();
        let held = close_extra(Self::extra(this.ptr)) + holds.first.close();
        holds.finish_close(held);
    }

    /// Releases the detach callback's hold and tells the NMR whether this half is done.
    pub(crate) fn end_detach_callback(&self) -> NTSTATUS {
        if self.holds.remaining.fetch_sub(1, Ordering::AcqRel) == 1 {
            STATUS_SUCCESS
        } else {
            STATUS_PENDING
        }
    }

    /// Takes one hold after detach began (a `PendingDetach`, inside the detach callback, where
    /// the callback's own hold keeps `remaining` above zero).
    fn hold_remaining(&self) {
        self.holds.remaining.fetch_add(1, Ordering::Relaxed);
    }

    /// Drops one hold counted in `remaining`; the last one completes this side's half.
    fn release_remaining(this: NonNull<Self>) {
        // SAFETY: a place projection (no reference made) to a field of the live record.
        let holds = unsafe { &raw mut (*this.as_ptr()).holds };
        // SAFETY: a field of a record at a non-NULL address is not NULL.
        let holds = unsafe { NonNull::new_unchecked(holds) };
        // SAFETY: the holds of the live record; the caller owns a counted hold.
        let last = unsafe { Holds::release_remaining(holds) };
        if last {
            // SAFETY: still alive: only the completion below can lead to cleanup.
            let handle = unsafe { this.as_ref() }.handle;
            // SAFETY: the last hold after detach began: exactly one caller gets here, and the
            // detach callback has returned or is returning STATUS_PENDING (R21). The record is
            // not touched again.
            unsafe { S::Kind::complete(handle) };
        }
    }
}

impl Shard {
    /// Takes a hold on this shard, unless it is closed (not attached, or detaching) or full.
    #[inline]
    fn try_hold(&self) -> bool {
        let mut s = self.holds.load(Ordering::Relaxed);
        loop {
            // `CLOSED` is above `MAX_HOLDS`: one comparison covers both.
            if s >= MAX_HOLDS {
                return false;
            }
            match self.holds.compare_exchange_weak(s, s + 1, Ordering::Acquire, Ordering::Relaxed) {
                Ok(_) => return true,
                Err(now) => s = now,
            }
        }
    }

    /// The peer, as published to this shard.
    ///
    /// # Safety
    /// The caller holds this shard (so it was opened after the pointers were stored, and the
    /// peer stays valid: this side's half cannot complete).
    #[inline]
    unsafe fn peer<D: DispatchTable>(&self) -> Peer<'_, D> {
        // SAFETY: per the caller.
        unsafe {
            Peer::new(
                self.peer_context.load(Ordering::Relaxed),
                self.peer_dispatch.load(Ordering::Relaxed),
            )
        }
    }
}

/// Drops one hold taken on `shard`. If the shard was closed meanwhile, the hold was gathered
/// into the record's `remaining`, and is released there (the last one completes).
///
/// # Safety
/// `shard` belongs to a live record of `S` (the hold keeps it so) and the caller took a hold
/// on it.
#[inline]
unsafe fn release_shard<S: Side>(record: NonNull<Record<S>>, shard: NonNull<Shard>) {
    // SAFETY: the hold keeps the record, and so the shard, alive until this decrement.
    let before = unsafe { shard.as_ref() }.holds.fetch_sub(1, Ordering::Release);
    if before & CLOSED != 0 {
        // Closed after our hold was taken: it was gathered into `remaining`. The acquire makes
        // `begin_detach`'s write of `remaining` visible here.
        fence(Ordering::Acquire);
        Record::release_remaining(record);
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
        let Some(block) = try_alloc_layout(Record::<S>::LAYOUT, AllocationSite::BindingRecord)
        else {
            return Err(value);
        };
        let p = block.as_ptr().cast::<Record<S>>();
        let record = Record {
            holds: Holds::new(),
            refs: AtomicUsize::new(1),
            module,
            handle,
            value: ManuallyDrop::new(value),
        };
        // SAFETY: a fresh block of `LAYOUT`, aligned for a `Record<S>`: written once, in place,
        // through a raw pointer (no reference to uninitialised memory).
        unsafe { p.write(record) };
        for i in 0..Record::<S>::EXTRA {
            // SAFETY: the extra shards follow the record in the same block (`LAYOUT`).
            let shard = unsafe { block.as_ptr().add(Record::<S>::EXTRA_OFFSET + i * SHARD_STRIDE) };
            let shard = shard.cast::<PaddedShard>();
            // SAFETY: in the fresh block, aligned for a shard (`SHARD_STRIDE`), written once.
            unsafe {
                shard.write(PaddedShard { shard: Shard::new(), next_shard: AtomicUsize::new(0) })
            };
        }
        // SAFETY: from a successful allocation.
        let ptr = unsafe { NonNull::new_unchecked(p) };
        Ok(Self { ptr })
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

    /// The value, if this was the last reference (the block is then freed); otherwise the
    /// reference is released and the last one drops the value.
    pub(crate) fn try_unwrap(self) -> Option<S::Value> {
        let ptr = self.ptr;
        core::mem::forget(self);
        // SAFETY: this reference, released once (forgotten above, so not again in `drop`).
        if !unsafe { release_ref(Record::refs(ptr)) } {
            return None;
        }
        // SAFETY: that was the last reference: the block is ours; the value is read out once,
        // and never dropped in place (the block is freed below without dropping it).
        let value = unsafe { &raw const (*ptr.as_ptr()).value };
        // SAFETY: as above: read out once.
        let value = unsafe { value.read() };
        // SAFETY: the block came from `try_alloc_layout` with this layout, and nothing refers
        // to it any more.
        unsafe { dealloc_layout(ptr.cast(), Record::<S>::LAYOUT) };
        Some(ManuallyDrop::into_inner(value))
    }
}

impl<S: Side> Drop for RecordRef<S> {
    fn drop(&mut self) {
        // SAFETY: this reference, released once (here).
        if !unsafe { release_ref(Record::refs(self.ptr)) } {
            return;
        }
        if !core::mem::needs_drop::<S::Value>() {
            // SAFETY: the last reference: the block is ours, and nothing in it needs a drop.
            unsafe { dealloc_layout(self.ptr.cast(), Record::<S>::LAYOUT) };
            return;
        }
        /// Frees the block when dropped, even while a panicking value destructor unwinds (the
        /// record's other fields and the shards need no drop).
        struct Free(NonNull<u8>, Layout);
        impl Drop for Free {
            fn drop(&mut self) {
                // SAFETY: the block of this layout, its value dropped (or being dropped).
                unsafe { dealloc_layout(self.0, self.1) };
            }
        }
        // SAFETY: the last reference: nothing else can reach the block.
        let _free = Free(self.ptr.cast(), Record::<S>::LAYOUT);
        // SAFETY: the last reference: no other reference to the record exists.
        let record = unsafe { &mut *self.ptr.as_ptr() };
        // SAFETY: the value is dropped once, here; the block is freed after (`_free`).
        unsafe { ManuallyDrop::drop(&mut record.value) };
    }
}

/// Drops one counted reference to a record; true if it was the last, whose owner then has the
/// block to itself. Not generic, and out of line: every module type's cleanup and failed
/// attach shares this one copy.
///
/// Takes a pointer, not `&AtomicUsize`: once another owner has brought the count to zero, the
/// block may be freed while this function still runs.
///
/// # Safety
/// `refs` is the count of a live record, and the caller owns one of its references, which
/// this releases.
#[inline(never)]
unsafe fn release_ref(refs: NonNull<AtomicUsize>) -> bool {
    // SAFETY: the caller's reference keeps the record alive until this decrement.
    let old = unsafe { refs.as_ref() }.fetch_sub(1, Ordering::Release);
    if old > MAX_REFS {
        // Saturated: the record is kept forever (a leak, sound). Nobody frees it, so the count
        // is still there to park again.
        // SAFETY: a saturated record is never freed.
        unsafe { refs.as_ref() }.store(SATURATED, Ordering::Relaxed);
        return false;
    }
    if old != 1 {
        return false;
    }
    // Every other owner's use of the block happens before the free that follows.
    fence(Ordering::Acquire);
    true
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
        PeerCall::hold(self.record, Record::shard_ptr(self.record.ptr, 0))
    }

    /// The module (registration context) this binding belongs to: what a dispatch function,
    /// which gets no `&self`, reaches shared module state through. It outlives every binding of
    /// its registration, whose deregistration waits for this binding's cleanup.
    #[must_use]
    pub fn module(&self) -> &'a S::Module {
        self.record.get().module()
    }

    /// A counted reference that outlives this callback, for calls into the peer from
    /// elsewhere (a worker thread, the driver's own API).
    #[must_use]
    pub fn to_ref(&self) -> BindingRef<S> {
        BindingRef::new(self.record.counted())
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
///
/// Each `BindingRef` calls through its own shard of the binding's hold count, and clones take
/// the next shard: threads that call the peer at once should each hold their own clone, so
/// that their calls do not contend for one cache line.
pub struct BindingRef<S: Side> {
    record: RecordRef<S>,
    /// The hold-count shard this reference calls through.
    shard: NonNull<Shard>,
}

// SAFETY: a counted reference to a Send + Sync record (as `RecordRef`), and a pointer into it.
unsafe impl<S: Side> Send for BindingRef<S> {}
// SAFETY: as above; `&BindingRef` only reads.
unsafe impl<S: Side> Sync for BindingRef<S> {}

impl<S: Side> BindingRef<S> {
    fn new(record: RecordRef<S>) -> Self {
        let i = Record::pick_shard(record.ptr);
        let shard = Record::shard_ptr(record.ptr, i);
        Self { record, shard }
    }

    /// As [`Binding::peer`]; the guard borrows this reference.
    #[must_use]
    #[inline]
    pub fn peer(&self) -> Option<PeerCall<'_, S>> {
        PeerCall::hold(self.record.borrow(), self.shard)
    }

    /// The NMR binding handle.
    #[must_use]
    pub fn handle(&self) -> HANDLE {
        self.record.get().handle
    }

    /// True once the binding's detach has begun on this side.
    #[must_use]
    pub fn is_detaching(&self) -> bool {
        self.record.get().holds.first.holds.load(Ordering::Acquire) & DETACHING != 0
    }
}

impl<S: Side> Clone for BindingRef<S> {
    /// Another reference to the binding, calling through the next shard of its hold count.
    fn clone(&self) -> Self {
        Self::new(self.record.borrow().counted())
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
    shard: NonNull<Shard>,
    calls: <S::PeerDispatch as DispatchTable>::Calls<'a>,
}

// SAFETY: moving the guard to another thread is what a `BindingRef` (Send + Sync) already
// allows: it could take the same hold there. The hold's release is an atomic decrement on its
// shard, and the detach completion it may trigger is an NMR call any thread may make (R21).
// The view calls the peer's dispatch functions with the peer's context, which any thread may
// do while the binding is held (R23; the contract's "Concurrency and IRQL"): nothing in it is tied
// to the thread that took it. Being `Send` also makes "kept in a `static`" fail on the borrow
// of the binding (the real reason) instead of on a raw pointer inside the view.
unsafe impl<S: Side> Send for PeerCall<'_, S> {}
// SAFETY: a shared guard only lends `&` to the view; concurrent calls through one binding
// from several threads are what the NMR contract allows and what `PARALLEL_CALLERS` shards.
unsafe impl<S: Side> Sync for PeerCall<'_, S> {}

impl<'a, S: Side> PeerCall<'a, S> {
    /// `shard` is one of `record`'s shards.
    #[inline]
    fn hold(record: RecordPtr<'a, S>, shard: NonNull<Shard>) -> Option<Self> {
        // SAFETY: a shard of `record`, which is alive for 'a.
        let held = unsafe { shard.as_ref() };
        if !held.try_hold() {
            return None;
        }
        // SAFETY: this thread holds the shard (`try_hold` above).
        let peer = unsafe { held.peer() };
        // SAFETY: held, so opened by `attached`, which opens shards only when the peer's table
        // is present or the NPI has none.
        let calls = unsafe { S::PeerDispatch::calls_unchecked(peer) };
        Some(Self { record, shard, calls })
    }
}

impl<'a, S: Side> Deref for PeerCall<'a, S> {
    type Target = <S::PeerDispatch as DispatchTable>::Calls<'a>;
    fn deref(&self) -> &Self::Target {
        &self.calls
    }
}

impl<S: Side> Drop for PeerCall<'_, S> {
    #[inline]
    fn drop(&mut self) {
        // SAFETY: the hold this guard took on this shard of this record.
        unsafe { release_shard(self.record.ptr, self.shard) };
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

impl<S: Side> fmt::Debug for DetachRequest<'_, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DetachRequest").field("handle", &self.record.get().handle()).finish()
    }
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
        self.record.get().hold_remaining();
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
            Record::release_remaining(r.ptr);
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
