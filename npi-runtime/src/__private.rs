//! Not public API. Everything generated code names is reached through here, so expansions use
//! one absolute path (`::npi_runtime::__private::…`) and keep working in `no_std` crates and
//! next to local items that shadow `core` or `npi_runtime` names.

pub use core::clone::Clone;
pub use core::ffi::c_void;
pub use core::marker::{Copy, PhantomData, Sync};
pub use core::mem::{offset_of, size_of};
pub use core::option::Option::{self, None, Some};
pub use core::primitive::{bool, str, u16, u32, usize};

pub use crate::binding::{AsClient, AsProvider, Binding, Side};
pub use crate::module::{
    ClientKind, ClientModule, ClientVTable, ProviderKind, ProviderModule, ProviderVTable, SideKind,
};
pub use crate::npi::{DispatchTable, Npi, NpiData, Peer};
pub use crate::npi::{PeerTable, Table};
pub use crate::sys::{
    GUID, NPI_CLIENT_CHARACTERISTICS, NPI_MODULEID, NPI_PROVIDER_CHARACTERISTICS,
};
pub use crate::unwind::dispatch_guard;

/// `NPI_CLIENT_CHARACTERISTICS` or `NPI_PROVIDER_CHARACTERISTICS`, by kind: what a generated
/// `characteristics()` returns.
pub type Characteristics<K> = <K as SideKind>::Characteristics;
/// The NPI-specific characteristics side `K` of NPI `N` publishes.
pub type NpiCharacteristics<K, N> = <K as SideKind>::NpiCharacteristics<N>;

/// Characteristics in a `static`: the raw struct holds pointers, so it is not `Sync` by itself.
/// `Sync` only for the two NMR characteristics structs, whose pointers are only ever read (a
/// pointer value read from several threads is harmless; dereferencing one takes `unsafe`), so
/// that no other type can be smuggled into a shared `static` through it.
#[repr(transparent)]
#[derive(Debug)]
pub struct Static<T>(pub T);

// SAFETY: see the type's documentation: plain data and pointers, never written.
unsafe impl Sync for Static<NPI_CLIENT_CHARACTERISTICS> {}
// SAFETY: as above.
unsafe impl Sync for Static<NPI_PROVIDER_CHARACTERISTICS> {}

/// `<T as ClientVTableCharacteristics>::CHARACTERISTICS`: the same constant as
/// `ClientVTable::<T>::CHARACTERISTICS`, through a trait, so a module without `impl Client`
/// gets "`T` does not implement `Client`" rather than an unsatisfied-bounds E0599. One trait per
/// side, not one generic over the kind, because the message names the side's trait.
#[diagnostic::on_unimplemented(
    message = "`{Self}` has `#[npi_client]` but does not implement `npi_runtime::Client`",
    label = "add `impl npi_runtime::Client for {Self}`",
    note = "the client's attach (and optionally detach and cleanup) callbacks are the methods of \
            `npi_runtime::Client`"
)]
pub trait ClientVTableCharacteristics {
    /// The characteristics `ClientVTable::<Self>` builds: the runtime's callbacks for `Self`.
    const CHARACTERISTICS: NPI_CLIENT_CHARACTERISTICS;
}
impl<T: crate::Client> ClientVTableCharacteristics for T {
    const CHARACTERISTICS: NPI_CLIENT_CHARACTERISTICS = ClientVTable::<T>::CHARACTERISTICS;
}
/// As [`ClientVTableCharacteristics`].
#[diagnostic::on_unimplemented(
    message = "`{Self}` has `#[npi_provider]` but does not implement `npi_runtime::Provider`",
    label = "add `impl npi_runtime::Provider for {Self}`",
    note = "the provider's attach (and optionally detach and cleanup) callbacks are the methods \
            of `npi_runtime::Provider`"
)]
pub trait ProviderVTableCharacteristics {
    /// The characteristics `ProviderVTable::<Self>` builds: the runtime's callbacks for `Self`.
    const CHARACTERISTICS: NPI_PROVIDER_CHARACTERISTICS;
}
impl<T: crate::Provider> ProviderVTableCharacteristics for T {
    const CHARACTERISTICS: NPI_PROVIDER_CHARACTERISTICS = ProviderVTable::<T>::CHARACTERISTICS;
}

/// The body of a generated dispatch function whose first parameter is `#[context]`: the binding
/// whose context the peer passed back, lent to `f` (the module's `<Table>Impl` function), under
/// [`dispatch_guard`]. The dereference of the context is here, once, rather than in every
/// expansion.
///
/// # Safety
/// `context` is the binding context this runtime handed the peer at attach for a binding of
/// `S`, passed back before this side's cleanup (the NPI has the peer do so for the table's
/// `#[context]` functions, and the table was built for `S`).
#[inline(always)]
pub unsafe fn dispatch_with_binding<S: Side, R>(
    function: &'static str,
    context: *mut c_void,
    f: impl FnOnce(&Binding<'_, S>) -> R,
) -> R {
    dispatch_guard(function, || {
        // SAFETY: per the caller: a context of a live binding of `S`.
        let binding = unsafe { Binding::<S>::from_context(context) };
        f(&binding)
    })
}

/// The one role of a module: `AsClient<Self>` from `#[npi_client]`, `AsProvider<Self>` from
/// `#[npi_provider]`, and no impl for a struct that carries both attributes. A table's
/// `<Table>Impl` trait and `<Table>::new::<T>()` default to this side.
#[diagnostic::on_unimplemented(
    message = "`{Self}` does not have exactly one role, so the side of this table cannot be left out",
    label = "not a module with one role",
    note = "a struct with one of `#[npi_client]` and `#[npi_provider]` implements a table as \
            `impl MyTableImpl for {Self}` and builds it with `MyTable::new::<{Self}>(..)`",
    note = "a struct with both names the side in each: `impl MyTableImpl<AsProvider<{Self}>> \
            for {Self}` and `MyTable::new_for::<AsProvider<{Self}>>(..)` (or `AsClient`)"
)]
pub trait SoleRole {
    /// `AsClient<Self>` or `AsProvider<Self>`.
    type Side;
}

/// Stands in for the NPI of a `#[npi_client]`/`#[npi_provider]` whose `npi` argument is
/// missing, so the one error about it is not followed by a cascade. Never registered: its
/// module impl comes with a compile error.
#[derive(Debug)]
pub struct NoNpi;

// SAFETY: no types, nothing published.
unsafe impl crate::npi::NpiLayout for NoNpi {}
// SAFETY: no types, nothing published.
unsafe impl Npi for NoNpi {
    const ID: GUID = GUID::from_u128(0);
    const NAME: &'static str = "(missing npi)";
    type ClientCharacteristics = ();
    type ProviderCharacteristics = ();
    type ClientDispatch = ();
    type ProviderDispatch = ();
}

/// Plain values: what a safe table function may pass and return. `#[dispatch_table]` makes a
/// table function `unsafe fn` when it is declared `unsafe fn(..)` or its signature spells a raw
/// pointer or a function pointer; for every other function it checks each parameter and
/// return type against this trait, at the type the user wrote.
///
/// Implemented for the primitive integers, floats, `bool`, `char` and `()`, and for arrays of,
/// references to and `Option`s of references to plain values. A type alias of one of these
/// (`NTSTATUS`, `ULONG`, `c_int`) is that type, so it is plain too; an alias that hides a
/// pointer (`HANDLE`, `PVOID`) or a struct is not.
///
/// # Safety
/// Every value of the type is safe to hand to a peer that follows the NPI: it carries no
/// pointer the peer would follow on the caller's word.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a plain value, so this table function cannot be safe",
    label = "a safe table function passes and returns only plain values",
    note = "plain values are integers, floats, `bool`, `char` and `()`, and arrays of and \
            references to them (aliases such as `NTSTATUS`, `ULONG` or `c_int` are these types)",
    note = "declare the function `unsafe fn(..)` in the table if it passes other data (a struct, \
            or a pointer behind an alias such as `HANDLE`): its callers then promise to pass \
            what the NPI specifies, or use a plain type"
)]
pub unsafe trait Plain {}

macro_rules! plain {
    ($($t:ty),*) => { $(
        // SAFETY: a primitive value: no pointer the peer could be made to follow.
        unsafe impl Plain for $t {}
    )* };
}
plain!(u8, u16, u32, u64, u128, usize, i8, i16, i32, i64, i128, isize, bool, f32, f64, char, ());
// SAFETY: plain values side by side.
unsafe impl<T: Plain, const N: usize> Plain for [T; N] {}
// SAFETY: a valid reference to a plain value, for the duration of the call.
unsafe impl<T: Plain> Plain for &T {}
// SAFETY: as above.
unsafe impl<T: Plain> Plain for &mut T {}
// SAFETY: NULL or a valid reference to a plain value.
unsafe impl<T: Plain> Plain for Option<&T> {}
// SAFETY: as above.
unsafe impl<T: Plain> Plain for Option<&mut T> {}

/// Compiles only for a [`Plain`] type; does nothing.
#[inline(always)]
pub const fn assert_plain<T: Plain>() {}

// The C header of an NPI (`c_header`): what `#[dispatch_table]`, `#[npi_data]` and `#[npi]`
// generate refers to.
pub use crate::c_header::{CFunction, CLayout, CMember, CStruct, CType, CTypeRef, Header};
pub use core::assert;
pub use core::fmt::{Display, Result as FmtResult, Write};
