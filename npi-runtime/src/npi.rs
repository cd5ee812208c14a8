//! What an NPI is to the safe layer: an id, the NPI-specific characteristics each side
//! publishes, and the dispatch table each side offers. `npi!` implements these traits; a
//! client and a provider of one NPI can then only exchange that NPI's types.

use core::ffi::c_void;
use core::marker::PhantomData;
use core::ptr;

use crate::sys::GUID;

/// The promise behind an NPI declaration, which only its author can make: the types an `#[npi]`
/// declaration gives its NPI are that NPI's binary layouts.
///
/// A client and a provider never see each other's Rust types: the NMR matches them by the NPI
/// id alone and hands each a `void *` to the other's characteristics, binding context and
/// dispatch table, which the safe layer then reads as the types of *its own* declaration of the
/// NPI. Whether those agree with what the peer wrote is a fact about the NPI, like the
/// signature in an `extern` block, that no macro can check; hence this is an `unsafe` trait,
/// implemented by hand once per NPI, next to its `#[npi]`:
///
/// ```
/// # use npi_runtime::*;
/// #[npi(id = "0F5C2A7E-1B3D-4C8A-9E61-27D4B0A351C9")]
/// pub struct MyNpi;
/// // SAFETY: MyNpi has no NPI-specific characteristics and no dispatch tables, and this is the
/// // only declaration of its id in the program.
/// unsafe impl NpiLayout for MyNpi {}
/// ```
///
/// # Safety
/// - Every type the declaration names (NPI-specific characteristics, dispatch tables, and every
///   member of them) has the layout the NPI specifies, and is valid for every value a peer that
///   follows the NPI may put there: `u8` rather than `bool` for a C `BOOLEAN` the NPI does not
///   restrict to 0 and 1, `Option<fn>` (`#[optional]`) for an entry a peer may leave NULL.
/// - No other declaration of the same NPI id reachable in the program gives it other types
///   (declare each NPI once, in one crate both sides use).
#[diagnostic::on_unimplemented(
    message = "the layout of NPI `{Self}` is not vouched for",
    label = "needs `unsafe impl npi_runtime::NpiLayout for {Self} {{}}`",
    note = "the NMR passes NPI data between modules as `void *`, so the types `#[npi]` declares \
            are a promise about the NPI's binary layout: add \
            `unsafe impl npi_runtime::NpiLayout for {Self} {{}}` with a `// SAFETY:` comment \
            saying where the layout comes from"
)]
pub unsafe trait NpiLayout {}

/// A Network Programming Interface. Implemented by `#[npi]`.
///
/// # Safety
/// `ClientDispatch` and `ProviderDispatch` must be the exact `#[repr(C)]` tables the NPI's C
/// definition specifies (or `()` for "no table"), and the characteristics types the exact
/// layouts the peer reads: a C module on the other side reads them through a `void *`.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not an NPI",
    label = "not declared with `#[npi(...)]`",
    note = "declare the NPI with `#[npi_runtime::npi(id = \"...\")]` on a unit struct"
)]
pub unsafe trait Npi: NpiLayout + 'static {
    /// The NPIID, matched by value.
    const ID: GUID;
    /// The Rust name of the NPI, for traces and messages.
    const NAME: &'static str;
    /// The NPI's name in its C header's guard ([`c_header`](crate::c_header)).
    #[doc(hidden)]
    const C_NAME: &'static str = Self::NAME;
    /// The C name of the NPI id's constant in its header.
    #[doc(hidden)]
    const C_ID: &'static str = "NPI_ID";
    /// Registration-instance `Version` the NPI uses (0 unless the NPI versions its bindings,
    /// as XDP does with 1).
    const REGISTRATION_VERSION: u16 = 0;
    /// NPI-specific characteristics a client publishes; `()` if the NPI defines none.
    type ClientCharacteristics: NpiData;
    /// NPI-specific characteristics a provider publishes; `()` if the NPI defines none.
    type ProviderCharacteristics: NpiData;
    /// The table a client offers its provider; `()` if none (a NULL `ClientDispatch`).
    type ClientDispatch: DispatchTable;
    /// The table a provider offers its client; `()` if none (a NULL `ProviderDispatch`).
    type ProviderDispatch: DispatchTable;
}

/// A dispatch table, with the typed view a peer calls it through. `#[dispatch_table]`
/// implements it; `()` is "no table".
///
/// # Safety
/// As [`NpiData`]; `calls` must only build a view of `peer`'s table and context, must return
/// `Some` whenever the table pointer is not NULL, and the view must give nothing out that
/// outlives a borrow of it (no `Copy`/`Clone` view, no `'a`
/// references): a [`PeerCall`](crate::generic::PeerCall) lends the view only while it holds this side's
/// detach open.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not an NPI dispatch table",
    note = "declare it with `#[npi_runtime::dispatch_table]`, or use `()` for no table"
)]
pub unsafe trait DispatchTable: NpiData + Sized {
    /// The typed view: one method per function of the table, passing the peer's binding
    /// context where the table's functions take one.
    type Calls<'a>;
    /// The view of `peer`, or `None` if the peer offered no table.
    fn calls(peer: Peer<'_, Self>) -> Option<Self::Calls<'_>>;

    /// [`calls`](Self::calls) where the caller knows the table is there: the runtime opens a
    /// binding for calls only once the peer's table is, so a call does not test for NULL.
    ///
    /// # Safety
    /// `peer`'s table pointer is not NULL (or `Self` is `()`).
    #[doc(hidden)]
    #[inline]
    unsafe fn calls_unchecked(peer: Peer<'_, Self>) -> Self::Calls<'_> {
        match Self::calls(peer) {
            Some(calls) => calls,
            // SAFETY: per the caller, and the trait's contract: `calls` declines only a NULL
            // table.
            None => unsafe { core::hint::unreachable_unchecked() },
        }
    }
}

// SAFETY: `()` has no table; its view is the bare peer, which is neither `Copy` nor `Clone`.
unsafe impl DispatchTable for () {
    type Calls<'a> = Peer<'a, ()>;
    fn calls(peer: Peer<'_, Self>) -> Option<Self::Calls<'_>> {
        Some(peer)
    }
}

/// Data that crosses the NMR by pointer: NPI-specific characteristics and dispatch tables.
///
/// `#[npi_data]` implements it for an NPI's characteristics structs, `#[dispatch_table]` for
/// tables. Every NPI data type has a C spelling ([`CType`](crate::c_header::CType)): it is what
/// a C peer reads, and the NPI's C header declares it.
///
/// `()` stands for "none" and travels as NULL.
///
/// # Safety
/// Implementors are `#[repr(C)]` (or `()`), immutable while published, and safe to read from
/// any thread.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not NPI data",
    label = "the NMR passes this by pointer to the peer",
    note = "declare the type with `#[npi_runtime::npi_data]`"
)]
pub unsafe trait NpiData: crate::c_header::CType + Sync + Sized + 'static {
    /// False only for `()`, which is passed as NULL.
    const PRESENT: bool = true;
}

// SAFETY: `()` is never dereferenced: it is passed as NULL.
unsafe impl NpiData for () {
    const PRESENT: bool = false;
}

/// The pointer the NMR carries for `value`: NULL for `()`.
pub(crate) fn data_ptr<T: NpiData>(value: &T) -> *const c_void {
    if T::PRESENT { ptr::from_ref(value).cast() } else { ptr::null() }
}

/// Reads NPI data a peer published; `None` for `()` or a NULL pointer.
///
/// # Safety
/// `p` is NULL or points to a live `T` for `'a`.
pub(crate) unsafe fn data_ref<'a, T: NpiData>(p: *const c_void) -> Option<&'a T> {
    if !T::PRESENT || p.is_null() {
        return None;
    }
    // SAFETY: non-NULL and, per the caller and the NPI's definition, a live `T`.
    Some(unsafe { &*p.cast::<T>() })
}

/// The other side of a binding: its binding context and its dispatch table, typed by the NPI.
///
/// A `Peer` is only handed out while the binding is attached and no detach has begun on this
/// side (R23), inside a [`PeerCall`](crate::generic::PeerCall) guard that keeps this side's detach
/// pending, and only by reference: it is neither `Copy` nor `Clone`, and what it lends is
/// borrowed from it, so nothing outlives the guard.
pub struct Peer<'a, D: NpiData> {
    context: *mut c_void,
    dispatch: *const c_void,
    _table: PhantomData<&'a D>,
}

impl<'a, D: NpiData> Peer<'a, D> {
    /// # Safety
    /// `dispatch` is NULL or a live `D` for `'a`; `context` is the peer's binding context.
    pub unsafe fn new(context: *mut c_void, dispatch: *const c_void) -> Self {
        Self { context, dispatch, _table: PhantomData }
    }

    /// The peer's binding context, as the NPI's functions expect it.
    #[must_use]
    pub fn context(&self) -> *mut c_void {
        self.context
    }

    /// The peer's dispatch table, if it offered one (the name the generated `<Table>Calls`
    /// views use for the same thing).
    #[must_use]
    pub fn as_table(&self) -> Option<&D> {
        // SAFETY: per `new`, NULL or a live `D` for `'a`, which outlives this borrow.
        unsafe { data_ref(self.dispatch) }
    }

    /// The peer with its table known to be present, or `None` if it offered none.
    #[must_use]
    pub fn into_table(self) -> Option<PeerTable<'a, D>> {
        // SAFETY: per `new`, NULL or a live `D` for `'a`.
        let table = unsafe { data_ref(self.dispatch) }?;
        Some(PeerTable { context: self.context, table })
    }
}

impl<D: NpiData> core::fmt::Debug for Peer<'_, D> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Peer")
            .field("context", &self.context)
            .field("dispatch", &self.dispatch)
            .finish()
    }
}

/// A peer that offered a table: what a generated `<Table>Calls` view wraps. Like [`Peer`],
/// neither `Copy` nor `Clone`, and it lends its table only for a borrow of itself.
pub struct PeerTable<'a, D: NpiData> {
    context: *mut c_void,
    table: &'a D,
}

impl<D: NpiData> PeerTable<'_, D> {
    /// The peer's binding context, as the NPI's functions expect it.
    #[must_use]
    #[inline]
    pub fn context(&self) -> *mut c_void {
        self.context
    }

    /// The peer's table.
    #[must_use]
    #[inline]
    pub fn table(&self) -> &D {
        self.table
    }
}

impl<D: NpiData> core::fmt::Debug for PeerTable<'_, D> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("PeerTable")
            .field("context", &self.context)
            .field("table", &ptr::from_ref(self.table))
            .finish()
    }
}

/// A dispatch table built for one module role `S`: what `accept` offers the peer.
///
/// The functions of a table that receive this side's binding context read it as `S`'s binding
/// record, so a table may only be offered by the side it was built for. `<Table>::new::<T>()`
/// (generated by `#[dispatch_table]`) returns a `Table` for module `T`'s one role
/// (`<Table>::new_for::<S>()` one for the side `S` of a module with both), and `accept` takes only a
/// table whose `S` is the accepting module's own role; the raw struct alone cannot be offered.
/// Derefs to the raw table. Name it with [`ClientTable`](crate::ClientTable) or
/// [`ProviderTable`](crate::ProviderTable) in a `static`.
#[repr(transparent)]
pub struct Table<S, D> {
    raw: D,
    _side: PhantomData<fn() -> S>,
}

impl<S, D> Table<S, D> {
    /// Wraps a raw table.
    ///
    /// # Safety
    /// Every function of `raw` that receives this side's binding context must read it as the
    /// binding of `S` (as the generated `new::<T>()` and `new_for::<S>()` do).
    #[must_use]
    pub const unsafe fn new_unchecked(raw: D) -> Self {
        Self { raw, _side: PhantomData }
    }

    /// The raw table.
    #[must_use]
    pub const fn raw(&self) -> &D {
        &self.raw
    }
}

impl<S, D: Copy> Table<S, D> {
    /// The raw table, by value (to change a member and wrap it again with
    /// [`Table::new_unchecked`]).
    #[must_use]
    pub const fn into_raw(self) -> D {
        self.raw
    }
}

impl<S, D> core::ops::Deref for Table<S, D> {
    type Target = D;
    fn deref(&self) -> &D {
        &self.raw
    }
}

impl<S, D> core::fmt::Debug for Table<S, D> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Table").field("raw", &ptr::from_ref(&self.raw)).finish()
    }
}

/// What a module of role `S` may offer its peer in `accept`: `&()` when the NPI has no table
/// for this role, or a [`Table`] built for `S`.
///
/// # Safety
/// `as_dispatch` returns NULL or a pointer to `S::OwnDispatch`, valid for `'static`, whose
/// context-taking functions read their context as `S`'s binding.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a dispatch table that `{S}` may offer",
    label = "expected a `Table` built for `{S}` (`<Table>::new::<Module>(..)`), or `&()` for none",
    note = "a raw table, or one built for another module or role, cannot be offered: its \
            functions would read another module's binding context"
)]
pub unsafe trait OwnTable<S>: Sync + 'static {
    /// The pointer the NMR carries as this side's dispatch table.
    fn as_dispatch(&self) -> *const c_void;
}

// SAFETY: no table: NULL.
unsafe impl<S: crate::binding::Side<OwnDispatch = ()>> OwnTable<S> for () {
    fn as_dispatch(&self) -> *const c_void {
        ptr::null()
    }
}

// SAFETY: a `Table<S, _>` is built only for `S` (see `Table::new_unchecked`).
unsafe impl<S, D> OwnTable<S> for Table<S, D>
where
    S: crate::binding::Side<OwnDispatch = D>,
    D: DispatchTable,
{
    fn as_dispatch(&self) -> *const c_void {
        data_ptr(&self.raw)
    }
}
