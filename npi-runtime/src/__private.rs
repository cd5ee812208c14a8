//! Not public API. Everything generated code names is reached through here, so expansions use
//! one absolute path (`::npi_runtime::__private::…`) and keep working in `no_std` crates and
//! next to local items that shadow `core` or `npi_runtime` names.

pub use core::clone::Clone;
pub use core::ffi::c_void;
pub use core::marker::{Copy, PhantomData, Sync};
pub use core::mem::{offset_of, size_of};
pub use core::option::Option::{self, None, Some};
pub use core::primitive::{bool, str, u16, u32, usize};

pub use crate::binding::{Binding, Side};
pub use crate::module::{ClientModule, ClientVTable, ProviderModule, ProviderVTable};
pub use crate::npi::{DispatchTable, Npi, NpiData, Peer};
pub use crate::npi::{PeerTable, Table};
pub use crate::sys::{
    GUID, NPI_CLIENT_CHARACTERISTICS, NPI_MODULEID, NPI_PROVIDER_CHARACTERISTICS,
};
pub use crate::unwind::dispatch_guard;

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
/// gets "`T` does not implement `Client`" rather than an unsatisfied-bounds E0599.
#[diagnostic::on_unimplemented(
    message = "`{Self}` has `#[npi_client]` but does not implement `npi_runtime::Client`",
    label = "add `impl npi_runtime::Client for {Self}`",
    note = "the client's attach (and optionally detach and cleanup) callbacks are the methods of \
            `npi_runtime::Client`"
)]
pub trait ClientVTableCharacteristics {
    /// See [`ClientVTable::CHARACTERISTICS`].
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
    /// See [`ProviderVTable::CHARACTERISTICS`].
    const CHARACTERISTICS: NPI_PROVIDER_CHARACTERISTICS;
}
impl<T: crate::Provider> ProviderVTableCharacteristics for T {
    const CHARACTERISTICS: NPI_PROVIDER_CHARACTERISTICS = ProviderVTable::<T>::CHARACTERISTICS;
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

/// Types a safe call into a peer may pass without a promise: integers, floats, `bool`, `char`
/// and references. The macro decides from the spelling of a parameter's type; this trait
/// checks that the type really is one of these (a type alias named `u64` could be a pointer).
///
/// # Safety
/// Every value of the type is safe to hand to a peer that follows the NPI.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is named like a plain value, but it is not one",
    label = "the generated call through the peer's table would be safe with this argument",
    note = "safe calls pass integers, floats, `bool`, `char` and references; spell a pointer type \
            as a pointer (`*const T`, `*mut c_void`) so that its call is an `unsafe fn`"
)]
pub unsafe trait Plain {}

macro_rules! plain {
    ($($t:ty),*) => { $(
        // SAFETY: a primitive value: no pointer the peer could be made to follow.
        unsafe impl Plain for $t {}
    )* };
}
plain!(u8, u16, u32, u64, u128, usize, i8, i16, i32, i64, i128, isize, bool, f32, f64, char);
// SAFETY: a valid reference, for the duration of the call.
unsafe impl<T: ?Sized> Plain for &T {}
// SAFETY: as above.
unsafe impl<T: ?Sized> Plain for &mut T {}

/// Compiles only for a [`Plain`] type; does nothing.
#[inline(always)]
pub const fn assert_plain<T: Plain + ?Sized>() {}
