//! Registrations: `NmrRegister*` on creation, `NmrDeregister*` plus the wait on drop, so a
//! module cannot forget the wait (R25, R26).

use alloc::boxed::Box;
use alloc::sync::Arc;
use core::ffi::c_void;
use core::fmt;
use core::marker::PhantomData;
use core::ptr;

use crate::binding::{AsClient, AsProvider, Side};
use crate::module::{Client, ClientModule, Provider, ProviderModule};
use crate::npi::{Npi, NpiData, data_ptr};
use crate::sys::{
    self, GUID, HANDLE, NPI_CLIENT_CHARACTERISTICS, NPI_MODULEID, NPI_PROVIDER_CHARACTERISTICS,
    NPI_REGISTRATION_INSTANCE, NTSTATUS, STATUS_SUCCESS,
};

/// What registering one role takes. Implemented for [`AsClient`] and [`AsProvider`].
pub trait Role: Side {
    /// `NPI_CLIENT_CHARACTERISTICS` or `NPI_PROVIDER_CHARACTERISTICS`.
    type Characteristics: Copy + 'static;
    /// The NPI-specific characteristics type this side publishes.
    type NpiCharacteristics: NpiData;
    /// The module id must be given per registration.
    #[doc(hidden)]
    const DYNAMIC_MODULE_ID: bool;
    /// The macro-generated `'static` characteristics.
    #[doc(hidden)]
    fn static_characteristics() -> &'static Self::Characteristics;
    /// The registration instance inside the characteristics.
    #[doc(hidden)]
    fn instance_mut(c: &mut Self::Characteristics) -> &mut NPI_REGISTRATION_INSTANCE;
    /// `NmrRegister*`.
    ///
    /// # Safety
    /// `c` and `context` stay valid and unchanged until the registration's wait returns.
    #[doc(hidden)]
    unsafe fn register(
        c: &Self::Characteristics,
        context: *mut c_void,
        out: &mut HANDLE,
    ) -> NTSTATUS;
    /// `NmrDeregister*` then `NmrWaitFor*DeregisterComplete`; returns the wait's status.
    ///
    /// # Safety
    /// `handle` came from a successful `register` of this role and is deregistered once.
    #[doc(hidden)]
    unsafe fn deregister_and_wait(handle: HANDLE) -> NTSTATUS;
}

impl<T: Client> Role for AsClient<T> {
    type Characteristics = NPI_CLIENT_CHARACTERISTICS;
    type NpiCharacteristics = <<T as ClientModule>::Npi as Npi>::ClientCharacteristics;
    const DYNAMIC_MODULE_ID: bool = T::DYNAMIC_MODULE_ID;
    fn static_characteristics() -> &'static NPI_CLIENT_CHARACTERISTICS {
        T::characteristics()
    }
    fn instance_mut(c: &mut NPI_CLIENT_CHARACTERISTICS) -> &mut NPI_REGISTRATION_INSTANCE {
        &mut c.ClientRegistrationInstance
    }
    unsafe fn register(
        c: &NPI_CLIENT_CHARACTERISTICS,
        context: *mut c_void,
        out: &mut HANDLE,
    ) -> NTSTATUS {
        // SAFETY: per the trait's contract (R2).
        unsafe { sys::NmrRegisterClient(c, context, out) }
    }
    unsafe fn deregister_and_wait(handle: HANDLE) -> NTSTATUS {
        // SAFETY: per the trait's contract.
        unsafe {
            sys::NmrDeregisterClient(handle);
            sys::NmrWaitForClientDeregisterComplete(handle)
        }
    }
}

impl<T: Provider> Role for AsProvider<T> {
    type Characteristics = NPI_PROVIDER_CHARACTERISTICS;
    type NpiCharacteristics = <<T as ProviderModule>::Npi as Npi>::ProviderCharacteristics;
    const DYNAMIC_MODULE_ID: bool = T::DYNAMIC_MODULE_ID;
    fn static_characteristics() -> &'static NPI_PROVIDER_CHARACTERISTICS {
        T::characteristics()
    }
    fn instance_mut(c: &mut NPI_PROVIDER_CHARACTERISTICS) -> &mut NPI_REGISTRATION_INSTANCE {
        &mut c.ProviderRegistrationInstance
    }
    unsafe fn register(
        c: &NPI_PROVIDER_CHARACTERISTICS,
        context: *mut c_void,
        out: &mut HANDLE,
    ) -> NTSTATUS {
        // SAFETY: per the trait's contract (R2).
        unsafe { sys::NmrRegisterProvider(c, context, out) }
    }
    unsafe fn deregister_and_wait(handle: HANDLE) -> NTSTATUS {
        // SAFETY: per the trait's contract.
        unsafe {
            sys::NmrDeregisterProvider(handle);
            sys::NmrWaitForProviderDeregisterComplete(handle)
        }
    }
}

/// The registration context: a `'static` module or one shared through an `Arc` (a run-time
/// registration, one per object).
pub enum ModuleRef<M: 'static> {
    /// A static module, typically one per driver.
    Static(&'static M),
    /// A module created at run time; the registration keeps it alive.
    Shared(Arc<M>),
}

impl<M> ModuleRef<M> {
    fn as_ptr(&self) -> *const M {
        match self {
            ModuleRef::Static(m) => *m,
            ModuleRef::Shared(m) => Arc::as_ptr(m),
        }
    }
}

impl<M> From<&'static M> for ModuleRef<M> {
    fn from(m: &'static M) -> Self {
        ModuleRef::Static(m)
    }
}

impl<M> From<Arc<M>> for ModuleRef<M> {
    fn from(m: Arc<M>) -> Self {
        ModuleRef::Shared(m)
    }
}

/// Per-registration characteristics: a copy of the static template, patched (the pattern of
/// eBPF's link objects), kept at a fixed address for the life of the registration.
struct Patched<C> {
    characteristics: C,
    module_id: NPI_MODULEID,
}

/// A live registration with the NMR. Dropping it deregisters and waits until every binding is
/// detached and cleaned up; [`Registration::deregister`] does the same and returns the status.
///
/// `'a` is the lifetime of NPI-specific characteristics borrowed from the caller.
pub struct Registration<'a, R: Role> {
    handle: HANDLE,
    module: ModuleRef<R::Module>,
    // Never read after registering: it only has to stay where the NMR points (R2).
    _patched: Option<Box<Patched<R::Characteristics>>>,
    _borrowed: PhantomData<&'a R::NpiCharacteristics>,
    // Characteristics the registration owns (per-object data); only the NMR reads them.
    _owned: Option<Arc<R::NpiCharacteristics>>,
    live: bool,
}

/// A client registration.
pub type ClientRegistration<'a, T> = Registration<'a, AsClient<T>>;
/// A provider registration.
pub type ProviderRegistration<'a, T> = Registration<'a, AsProvider<T>>;

// SAFETY: the handle is an opaque value and the NMR functions may be called from any thread
// (R33); the module is Sync; owned characteristics are only ever set when they are Send (and
// NpiData makes them Sync).
unsafe impl<R: Role> Send for Registration<'_, R> where R::Module: Send {}
// SAFETY: as above; `&Registration` only reads the handle.
unsafe impl<R: Role> Sync for Registration<'_, R> {}

impl<R: Role> Registration<'static, R> {
    /// Registers `module` with the characteristics its macro generated.
    ///
    /// # Errors
    /// The status of `NmrRegister*` if it fails.
    pub fn register(module: impl Into<ModuleRef<R::Module>>) -> Result<Self, NTSTATUS> {
        Self::builder(module).register()
    }
}

impl<'a, R: Role> Registration<'a, R> {
    /// Registers with per-registration values: a module id known only at run time, a `Number`,
    /// borrowed NPI-specific characteristics.
    pub fn builder(module: impl Into<ModuleRef<R::Module>>) -> RegistrationBuilder<'a, R> {
        RegistrationBuilder {
            module: module.into(),
            module_id: None,
            number: None,
            characteristics: None,
            owned: None,
            _r: PhantomData,
        }
    }

    /// The NMR registration handle.
    #[must_use]
    pub fn handle(&self) -> HANDLE {
        self.handle
    }

    /// The registration context.
    #[must_use]
    pub fn module(&self) -> &R::Module {
        // SAFETY: the pointer comes from `self.module`, which this registration owns.
        unsafe { &*self.module.as_ptr() }
    }

    /// Deregisters and waits for every binding to be detached and cleaned up.
    ///
    /// # Errors
    /// The status of `NmrWaitFor*DeregisterComplete` if it is not `STATUS_SUCCESS`.
    pub fn deregister(mut self) -> Result<(), NTSTATUS> {
        self.live = false;
        // SAFETY: our handle, from a successful registration; `live` makes this the only
        // deregistration.
        match unsafe { R::deregister_and_wait(self.handle) } {
            STATUS_SUCCESS => Ok(()),
            status => Err(status),
        }
    }
}

impl<R: Role> Drop for Registration<'_, R> {
    fn drop(&mut self) {
        if self.live {
            self.live = false;
            // SAFETY: as in `deregister`.
            let _ = unsafe { R::deregister_and_wait(self.handle) };
        }
    }
}

impl<R: Role> fmt::Debug for Registration<'_, R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Registration").field("handle", &self.handle).finish_non_exhaustive()
    }
}

/// Builds a [`Registration`] with per-registration values.
pub struct RegistrationBuilder<'a, R: Role> {
    module: ModuleRef<R::Module>,
    module_id: Option<NPI_MODULEID>,
    number: Option<u32>,
    characteristics: Option<&'a R::NpiCharacteristics>,
    owned: Option<Arc<R::NpiCharacteristics>>,
    _r: PhantomData<R>,
}

impl<'a, R: Role> RegistrationBuilder<'a, R> {
    /// A `MIT_GUID` module id chosen at run time (read from the registry, per object, …).
    #[must_use]
    pub fn module_guid(self, guid: GUID) -> Self {
        self.module_id(NPI_MODULEID::from_guid(guid))
    }

    /// A module id chosen at run time.
    #[must_use]
    pub fn module_id(mut self, id: NPI_MODULEID) -> Self {
        self.module_id = Some(id);
        self
    }

    /// The registration instance's `Number` (XDP: the interface index).
    #[must_use]
    pub fn number(mut self, number: u32) -> Self {
        self.number = Some(number);
        self
    }

    /// NPI-specific characteristics borrowed from the caller for the registration's life.
    #[must_use]
    pub fn characteristics(mut self, data: &'a R::NpiCharacteristics) -> Self {
        self.characteristics = Some(data);
        self.owned = None;
        self
    }

    /// NPI-specific characteristics the registration keeps alive itself: per-object data (an
    /// eBPF link's `client_data`) for a registration stored next to its object. They are
    /// released after the deregistration wait, when the NMR no longer reads them.
    #[must_use]
    pub fn owned_characteristics(mut self, data: Arc<R::NpiCharacteristics>) -> Self
    where
        R::NpiCharacteristics: Send,
    {
        self.characteristics = None;
        self.owned = Some(data);
        self
    }

    /// `NmrRegister*`. Attach callbacks for matching peers run before this returns (R7).
    ///
    /// # Errors
    /// The status of `NmrRegister*` if it fails; `STATUS_INVALID_PARAMETER` without calling
    /// the NMR if the module declared `dynamic_module_id` and no module id was given.
    pub fn register(self) -> Result<Registration<'a, R>, NTSTATUS> {
        if R::DYNAMIC_MODULE_ID && self.module_id.is_none() {
            return Err(crate::sys::STATUS_INVALID_PARAMETER);
        }
        let template = R::static_characteristics();
        let patched = if self.module_id.is_none()
            && self.number.is_none()
            && self.characteristics.is_none()
            && self.owned.is_none()
        {
            None
        } else {
            let mut p = Box::new(Patched {
                characteristics: *template,
                // SAFETY: the static template's module id is a valid `'static` NPI_MODULEID.
                module_id: unsafe { *R::instance_mut(&mut { *template }).ModuleId },
            });
            if let Some(id) = self.module_id {
                p.module_id = id;
            }
            let module_id = ptr::from_ref(&p.module_id);
            let instance = R::instance_mut(&mut p.characteristics);
            instance.ModuleId = module_id;
            if let Some(n) = self.number {
                instance.Number = n;
            }
            if let Some(c) = self.characteristics {
                instance.NpiSpecificCharacteristics = data_ptr(c);
            }
            if let Some(c) = &self.owned {
                instance.NpiSpecificCharacteristics = data_ptr(&**c);
            }
            Some(p)
        };
        let characteristics = patched.as_ref().map_or(template, |p| &p.characteristics);
        let mut handle = ptr::null_mut();
        // SAFETY: the characteristics are the 'static template or the boxed copy the
        // registration keeps; the module is 'static or kept alive by the registration.
        let status = unsafe {
            R::register(characteristics, self.module.as_ptr().cast_mut().cast(), &mut handle)
        };
        if status != STATUS_SUCCESS {
            return Err(status);
        }
        Ok(Registration {
            handle,
            module: self.module,
            _patched: patched,
            _borrowed: PhantomData,
            _owned: self.owned,
            live: true,
        })
    }
}
