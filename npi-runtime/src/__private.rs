//! Not public API. Everything generated code names is reached through here, so expansions use
//! one absolute path (`::npi_runtime::__private::…`) and keep working in `no_std` crates and
//! next to local items that shadow `core` or `npi_runtime` names.

pub use core::ffi::c_void;
pub use core::marker::{PhantomData, Sync};
pub use core::mem::{offset_of, size_of};
pub use core::option::Option::{self, None, Some};
pub use core::primitive::{str, u16, u32, usize};

pub use crate::binding::{Binding, Side};
pub use crate::module::{ClientModule, ClientVTable, ProviderModule, ProviderVTable};
pub use crate::npi::{DispatchTable, Npi, NpiData, Peer};
pub use crate::sys::{
    GUID, NPI_CLIENT_CHARACTERISTICS, NPI_MODULEID, NPI_PROVIDER_CHARACTERISTICS,
};
pub use crate::unwind::dispatch_guard;

/// Characteristics in a `static`: the raw struct holds pointers, so it is not `Sync` by itself;
/// it is immutable and only ever read, by the NMR and by the module.
#[repr(transparent)]
pub struct Static<T>(pub T);

// SAFETY: see the type's documentation: the wrapped characteristics are never written.
unsafe impl<T> Sync for Static<T> {}
