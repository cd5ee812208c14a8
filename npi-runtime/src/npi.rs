//! What an NPI is to the safe layer: an id, the NPI-specific characteristics each side
//! publishes, and the dispatch table each side offers. `npi!` implements these traits; a
//! client and a provider of one NPI can then only exchange that NPI's types.

use core::ffi::c_void;
use core::marker::PhantomData;
use core::ptr;

use crate::sys::GUID;

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
pub unsafe trait Npi: 'static {
    /// The NPIID, matched by value.
    const ID: GUID;
    /// The Rust name of the NPI, for traces and messages.
    const NAME: &'static str;
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
/// As [`NpiData`]; `calls` must only build a view of `peer`'s table and context.
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
}

// SAFETY: `()` has no table; its view is the bare peer.
unsafe impl DispatchTable for () {
    type Calls<'a> = Peer<'a, ()>;
    fn calls(peer: Peer<'_, Self>) -> Option<Self::Calls<'_>> {
        Some(peer)
    }
}

/// Data that crosses the NMR by pointer: NPI-specific characteristics and dispatch tables.
///
/// Implement it for an NPI's `#[repr(C)]` characteristics types (`unsafe impl NpiData for
/// WskProviderCharacteristics {}`); `#[dispatch_table]` implements it for tables.
///
/// `()` stands for "none" and travels as NULL.
///
/// # Safety
/// Implementors are `#[repr(C)]` (or `()`), immutable while published, and safe to read from
/// any thread.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not NPI data",
    label = "the NMR passes this by pointer to the peer",
    note = "declare the type `#[repr(C)]` and add `unsafe impl npi_runtime::NpiData for {Self} {{}}`"
)]
pub unsafe trait NpiData: Sync + Sized + 'static {
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
/// Calls through a `Peer` are what the NPI's dispatch functions are for: the generated
/// methods on `Peer<'_, Table>` pass [`Peer::context`] as the first argument where the NPI's
/// functions take one. A `Peer` is only handed out while the binding is attached and no detach
/// has begun on this side (R23), and holding one keeps this side's detach pending.
#[derive(Clone, Copy)]
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

    /// The peer's dispatch table, if it offered one.
    #[must_use]
    pub fn dispatch(&self) -> Option<&'a D> {
        // SAFETY: per `new`, NULL or a live `D` for `'a`.
        unsafe { data_ref(self.dispatch) }
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
