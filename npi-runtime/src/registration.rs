//! Registrations: `NmrRegister*` on creation, `NmrDeregister*` plus the wait on drop, so a
//! module cannot forget the wait (R25, R26).

#[cfg(feature = "alloc")]
use alloc::sync::Arc;
use core::ffi::c_void;
use core::fmt;
use core::marker::PhantomData;
use core::mem::ManuallyDrop;
use core::ptr::{self, NonNull};
use core::sync::atomic::{AtomicPtr, Ordering};

use crate::binding::{AsClient, AsProvider, Side};
use crate::heap::{AllocationSite, RtBox};
use crate::module::{ModuleDecl, SideKind};
use crate::npi::NpiData;
use crate::status::Status;
use crate::sys::{GUID, HANDLE, MIT_GUID, MIT_IF_LUID, NPI_MODULEID, NTSTATUS, STATUS_SUCCESS};

/// The registration context: a `'static` module or one shared through an `Arc` (a run-time
/// registration, one per object).
#[cfg(feature = "alloc")]
#[cfg_attr(docsrs, doc(cfg(feature = "alloc")))]
pub enum ModuleRef<M: 'static> {
    /// A static module, typically one per driver.
    Static(&'static M),
    /// A module created at run time; the registration keeps it alive.
    Shared(Arc<M>),
}

/// The variant and the module's address (a module need not be `Debug`).
#[cfg(feature = "alloc")]
impl<M> fmt::Debug for ModuleRef<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ModuleRef::Static(m) => f.debug_tuple("Static").field(&ptr::from_ref(*m)).finish(),
            ModuleRef::Shared(m) => f.debug_tuple("Shared").field(&Arc::as_ptr(m)).finish(),
        }
    }
}

/// What `register` and `builder` accept as the registration context: `&'static M`,
/// `Arc<M>` or a [`ModuleRef`]. Sealed.
///
/// A `'static` module needs nothing kept and nothing released, and a registration made from
/// one carries no code to release anything: that is why this is a trait over the argument's
/// type rather than a conversion into `ModuleRef` (which would link the `Arc` path into every
/// driver).
pub trait IntoModule<M: 'static>: crate::binding::sealed::Sealed {
    /// The module's address, and what the registration must keep alive for it.
    #[doc(hidden)]
    fn into_parts(self) -> (*const M, Option<Keep>);
}

impl<M> crate::binding::sealed::Sealed for &'static M {}
impl<M: 'static> IntoModule<M> for &'static M {
    #[inline]
    fn into_parts(self) -> (*const M, Option<Keep>) {
        (self, None)
    }
}

#[cfg(feature = "alloc")]
impl<M> crate::binding::sealed::Sealed for Arc<M> {}
#[cfg(feature = "alloc")]
#[cfg_attr(docsrs, doc(cfg(feature = "alloc")))]
impl<M: Send + Sync + 'static> IntoModule<M> for Arc<M> {
    fn into_parts(self) -> (*const M, Option<Keep>) {
        (Arc::as_ptr(&self), Some(Keep::arc(self)))
    }
}

#[cfg(feature = "alloc")]
impl<M> crate::binding::sealed::Sealed for ModuleRef<M> {}
#[cfg(feature = "alloc")]
impl<M: Send + Sync + 'static> IntoModule<M> for ModuleRef<M> {
    fn into_parts(self) -> (*const M, Option<Keep>) {
        match self {
            ModuleRef::Static(m) => m.into_parts(),
            ModuleRef::Shared(m) => m.into_parts(),
        }
    }
}

/// Something a registration keeps alive for the NMR until its wait returns (R26), with the
/// function that releases it: type-erased, so that only registrations that keep something
/// link the code that releases it.
#[doc(hidden)]
#[derive(Debug)]
pub struct Keep {
    ptr: NonNull<()>,
    release: unsafe fn(NonNull<()>),
}

impl Keep {
    #[cfg(feature = "alloc")]
    fn arc<T: Send + Sync + 'static>(a: Arc<T>) -> Self {
        /// # Safety
        /// `p` came from `Arc::into_raw` of an `Arc<T>`, released once.
        unsafe fn release<T>(p: NonNull<()>) {
            // SAFETY: per the function's contract.
            drop(unsafe { Arc::from_raw(p.as_ptr().cast_const().cast::<T>()) });
        }
        // SAFETY: `Arc::into_raw` is never NULL.
        let ptr = unsafe { NonNull::new_unchecked(Arc::into_raw(a).cast_mut().cast()) };
        Self { ptr, release: release::<T> }
    }

    fn boxed<T>(b: RtBox<T>) -> Self {
        /// # Safety
        /// `p` came from `RtBox::into_raw` of an `RtBox<T>`, released once.
        unsafe fn release<T>(p: NonNull<()>) {
            // SAFETY: per the function's contract.
            drop(unsafe { RtBox::from_raw(p.cast::<T>()) });
        }
        Self { ptr: RtBox::into_raw(b).cast(), release: release::<T> }
    }
}

impl Drop for Keep {
    fn drop(&mut self) {
        // SAFETY: made by `arc` or `boxed` with the matching function, released once (here).
        unsafe { (self.release)(self.ptr) };
    }
}

#[cfg(feature = "alloc")]
impl<M> From<&'static M> for ModuleRef<M> {
    fn from(m: &'static M) -> Self {
        ModuleRef::Static(m)
    }
}

#[cfg(feature = "alloc")]
impl<M> From<Arc<M>> for ModuleRef<M> {
    fn from(m: Arc<M>) -> Self {
        ModuleRef::Shared(m)
    }
}

/// `NPI_CLIENT_CHARACTERISTICS` or `NPI_PROVIDER_CHARACTERISTICS`, for side `R`.
type Characteristics<R> = <<R as Side>::Kind as SideKind>::Characteristics;

/// The module's declared settings, for side `R`: whether its module id is per registration.
const fn dynamic_module_id<R: Side>() -> bool {
    <R::Module as ModuleDecl<R::Kind>>::DYNAMIC_MODULE_ID
}

/// The macro's `'static` characteristics of the module of side `R`.
fn static_characteristics<R: Side>() -> &'static Characteristics<R> {
    <R::Module as ModuleDecl<R::Kind>>::characteristics()
}

/// Per-registration characteristics: a copy of the static template, patched (the pattern of
/// eBPF's link objects), kept at a fixed address for the life of the registration.
struct Patched<C> {
    characteristics: C,
    module_id: NPI_MODULEID,
}

/// What a registration made with per-registration values keeps alive, in one block.
struct BuilderParts<R: Side> {
    // Never read after registering: it only has to stay where the NMR points (R2).
    patched: Patched<Characteristics<R>>,
    _module: Option<Keep>,
    // The owner of characteristics the registration keeps alive (per-object data); only the
    // NMR reads them, through the pointer in the characteristics.
    _owned: Option<Keep>,
}

/// A live registration with the NMR. Dropping it deregisters and waits until every binding is
/// detached and cleaned up; [`Registration::deregister`] does the same and returns the status.
///
/// Sound whatever happens to it: everything the NMR points at (the module, the
/// characteristics) is `'static` or owned by the registration, so forgetting the registration
/// (`mem::forget`, a reference cycle) leaks them and keeps the module registered, never leaves
/// the NMR a dangling pointer. If the wait fails (the host NMR refuses a wait from inside a
/// callback it would wait for), the registration keeps its parts forever for the same reason.
pub struct Registration<R: Side> {
    handle: HANDLE,
    module: *const R::Module,
    /// What the NMR may use until the wait returns; `None` for a `'static` module with the
    /// macro's characteristics.
    keep: ManuallyDrop<Option<Keep>>,
}

/// A client registration.
pub type ClientRegistration<T> = Registration<AsClient<T>>;
/// A provider registration.
pub type ProviderRegistration<T> = Registration<AsProvider<T>>;

// SAFETY: the handle is an opaque value and the NMR functions may be called from any thread
// (R33); the module is Sync (and Send where required); owned characteristics are only ever set
// when they are Send (and NpiData makes them Sync); the patched copy is only read by the NMR.
unsafe impl<R: Side> Send for Registration<R> where R::Module: Send {}
// SAFETY: as above; `&Registration` only reads the handle and the module.
unsafe impl<R: Side> Sync for Registration<R> {}

impl<R: Side> Registration<R> {
    /// Registers `module` (`&'static M` or `Arc<M>`) with the characteristics its macro
    /// generated.
    ///
    /// # Errors
    /// The status of `NmrRegister*` if it fails; `STATUS_INVALID_PARAMETER` without calling
    /// the NMR if the module declared `dynamic_module_id` (use [`Registration::builder`]).
    pub fn register(module: impl IntoModule<R::Module>) -> Result<Self, Status> {
        if dynamic_module_id::<R>() {
            return Err(Status::INVALID_PARAMETER);
        }
        let (module, keep) = module.into_parts();
        // SAFETY: the characteristics are the macro's `'static` ones; the module is `'static`
        // or kept alive by `keep`, which the registration holds until its wait returns.
        unsafe { Self::register_with(static_characteristics::<R>(), module, keep) }
    }

    /// `NmrRegister*`, then the registration that keeps `keep`; `keep` is released if the
    /// registration fails.
    ///
    /// # Safety
    /// `characteristics` and what they point to stay valid until the wait returns, kept alive
    /// by `keep` if they are not `'static`; `module` is `'static` or kept alive by `keep`.
    unsafe fn register_with(
        characteristics: &Characteristics<R>,
        module: *const R::Module,
        keep: Option<Keep>,
    ) -> Result<Self, Status> {
        let mut handle = ptr::null_mut();
        // SAFETY: per this function's contract (R2).
        let status =
            unsafe { R::Kind::register(characteristics, module.cast_mut().cast(), &mut handle) };
        if status != STATUS_SUCCESS {
            return Err(Status::from_raw(status));
        }
        Ok(Registration { handle, module, keep: ManuallyDrop::new(keep) })
    }

    /// Registers with per-registration values: a module id known only at run time, a `Number`,
    /// NPI-specific characteristics.
    pub fn builder(module: impl IntoModule<R::Module>) -> RegistrationBuilder<R> {
        let (module, keep) = module.into_parts();
        RegistrationBuilder {
            module,
            keep,
            module_id: None,
            number: None,
            characteristics: None,
            owned: None,
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
        // SAFETY: the module is `'static` or kept alive by this registration.
        unsafe { &*self.module }
    }

    /// Deregisters and waits for every binding to be detached and cleaned up.
    ///
    /// # Errors
    /// The status of `NmrWaitFor*DeregisterComplete` if it is not `STATUS_SUCCESS`; the
    /// module and characteristics are then kept alive forever (the NMR may still use them).
    pub fn deregister(self) -> Result<(), Status> {
        // `finish` runs here instead of in `drop`.
        let mut this = ManuallyDrop::new(self);
        // SAFETY: `this` is never dropped, so this is the only call.
        match unsafe { this.finish() } {
            STATUS_SUCCESS => Ok(()),
            status => Err(Status::from_raw(status)),
        }
    }

    /// Deregisters and waits; releases the parts only if the wait succeeded.
    ///
    /// # Safety
    /// Called once per registration: from `drop`, or from `deregister`, which keeps `drop` from
    /// running. (A flag would cost every registration a field, and every driver the code that
    /// tests it.)
    unsafe fn finish(&mut self) -> NTSTATUS {
        // SAFETY: our handle, from a successful registration, deregistered once (the caller's
        // contract).
        let status = unsafe { R::Kind::deregister_and_wait(self.handle) };
        if status == STATUS_SUCCESS {
            // SAFETY: the wait returned, so the NMR reads none of what is kept any more (R26);
            // this runs once (the caller's contract).
            unsafe { ManuallyDrop::drop(&mut self.keep) };
        }
        status
    }
}

#[cfg(npi_host)]
#[cfg_attr(docsrs, doc(cfg(npi_host)))]
impl<R: Side> Registration<R> {
    /// Host NMR only: deregisters, then waits at most `limit` for every binding to be detached
    /// and cleaned up — what a test does instead of hanging when a module under test never
    /// completes a pending detach.
    ///
    /// # Errors
    /// [`Deregistering`], still owning the registration's parts, if the wait ran out of time
    /// (or was refused): [`Deregistering::stuck`] says which bindings it waits for, in which
    /// state; wait again with [`Deregistering::wait_within`], or drop it to wait without a limit.
    pub fn deregister_within(self, limit: std::time::Duration) -> Result<(), Deregistering<R>> {
        // The parts move into `Deregistering`; `drop` must not run.
        let this = ManuallyDrop::new(self);
        // SAFETY: our handle, from a successful registration, deregistered once: `this` is never
        // dropped, and `Deregistering` only waits.
        let status = unsafe { R::Kind::deregister(this.handle) };
        // SAFETY: read once out of a value that is never used or dropped again.
        let keep = unsafe { ptr::read(&this.keep) };
        if status < 0 {
            // Refused (a handle of another registrar): no wait can succeed; like a registration
            // whose wait fails, it keeps its parts for good.
            let stuck = crate::host::WaitError::Status(status);
            return Err(Deregistering { handle: this.handle, keep, stuck, _role: PhantomData });
        }
        Deregistering::wait_parts(this.handle, keep, limit)
    }
}

/// A registration whose deregistration began and whose bounded wait did not succeed (host NMR
/// only, from [`Registration::deregister_within`]). It keeps the module and characteristics
/// until a wait succeeds; dropping it waits without a limit, as dropping a `Registration` does.
#[cfg(npi_host)]
#[cfg_attr(docsrs, doc(cfg(npi_host)))]
pub struct Deregistering<R: Side> {
    handle: HANDLE,
    keep: ManuallyDrop<Option<Keep>>,
    stuck: crate::host::WaitError,
    _role: PhantomData<fn() -> R>,
}

#[cfg(npi_host)]
impl<R: Side> Deregistering<R> {
    /// Why the last wait returned: what it still waits for, or the status it was refused with.
    #[must_use]
    pub fn stuck(&self) -> &crate::host::WaitError {
        &self.stuck
    }

    /// The registration handle (deregistered, not yet complete).
    #[must_use]
    pub fn handle(&self) -> HANDLE {
        self.handle
    }

    /// Waits again, at most `limit`.
    ///
    /// # Errors
    /// `self` again if the wait ran out of time or was refused (see [`Deregistering::stuck`]).
    pub fn wait_within(self, limit: std::time::Duration) -> Result<(), Self> {
        // The parts move into the next attempt; `drop` (an unbounded wait) must not run.
        let this = ManuallyDrop::new(self);
        // SAFETY: read once out of a value that is never used or dropped again.
        let keep = unsafe { ptr::read(&this.keep) };
        // SAFETY: as above; the old report is dropped here.
        drop(unsafe { ptr::read(&this.stuck) });
        Self::wait_parts(this.handle, keep, limit)
    }

    /// Waits at most `limit`; releases `keep` if the wait succeeded, else keeps it in the
    /// returned value.
    fn wait_parts(
        handle: HANDLE,
        mut keep: ManuallyDrop<Option<Keep>>,
        limit: std::time::Duration,
    ) -> Result<(), Self> {
        match crate::host::wait_for_deregister_complete(handle, limit) {
            Ok(()) => {
                // SAFETY: the wait returned, so the NMR reads none of what is kept any more
                // (R26); released once, here.
                unsafe { ManuallyDrop::drop(&mut keep) };
                Ok(())
            }
            Err(stuck) => Err(Self { handle, keep, stuck, _role: PhantomData }),
        }
    }
}

#[cfg(npi_host)]
impl<R: Side> Drop for Deregistering<R> {
    fn drop(&mut self) {
        // SAFETY: a deregistered handle of this role; waiting again is allowed (the host NMR
        // keeps the handle valid until a wait succeeds).
        if unsafe { R::Kind::wait(self.handle) } == STATUS_SUCCESS {
            // SAFETY: the wait returned (R26); `drop` runs once.
            unsafe { ManuallyDrop::drop(&mut self.keep) };
        }
    }
}

#[cfg(npi_host)]
impl<R: Side> fmt::Debug for Deregistering<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Deregistering")
            .field("handle", &self.handle)
            .field("stuck", &self.stuck)
            .finish()
    }
}

#[cfg(npi_host)]
impl<R: Side> fmt::Display for Deregistering<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "deregistration not complete: {}", self.stuck())
    }
}

#[cfg(npi_host)]
impl<R: Side> std::error::Error for Deregistering<R> {}

impl<R: Side> Drop for Registration<R> {
    fn drop(&mut self) {
        // SAFETY: `drop` runs once, and never after `deregister` (which forgets the value).
        let _ = unsafe { self.finish() };
    }
}

impl<R: Side> fmt::Debug for Registration<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Registration").field("handle", &self.handle).finish_non_exhaustive()
    }
}

/// A registration kept in a `static`: a `'static` module registered with the characteristics
/// its macro generated, deregistered by [`deregister`](Self::deregister). What a driver keeps
/// from `DriverEntry` to `DriverUnload`, with no `Option`, cell or `unsafe impl Sync` of its
/// own, in one word of `.data` (the handle), where a C driver keeps its `HANDLE`.
///
/// ```
/// use npi_runtime::sys::NTSTATUS;
/// use npi_runtime::{Attach, Provider, ProviderAttachRequest, StaticProviderRegistration};
/// use npi_runtime::{npi, npi_provider};
///
/// #[npi(id = "0B5E55ED-0000-4000-8000-000000000001")]
/// struct MyNpi;
/// // SAFETY: the only declaration of this id; all its types are `()`.
/// unsafe impl npi_runtime::NpiLayout for MyNpi {}
///
/// #[npi_provider(npi = MyNpi, module_id = "0B5E55ED-0000-4000-8000-0000000000AA")]
/// struct MyProvider;
/// impl Provider for MyProvider {
///     type Binding = ();
///     fn attach(&self, request: ProviderAttachRequest<'_, Self>) -> Attach {
///         request.accept((), &()).into()
///     }
/// }
///
/// static MY_PROVIDER: MyProvider = MyProvider;
/// static REGISTRATION: StaticProviderRegistration<MyProvider> = StaticProviderRegistration::new();
///
/// fn driver_entry() -> NTSTATUS {
///     match REGISTRATION.register(&MY_PROVIDER) {
///         Ok(()) => npi_runtime::sys::STATUS_SUCCESS,
///         Err(status) => status.raw(),
///     }
/// }
///
/// fn driver_unload() {
///     let _ = REGISTRATION.deregister();
/// }
///
/// assert_eq!(driver_entry(), npi_runtime::sys::STATUS_SUCCESS);
/// assert!(REGISTRATION.is_registered());
/// driver_unload();
/// assert!(!REGISTRATION.is_registered());
/// ```
///
/// Sound whatever its owner does: the module and the characteristics are `'static`, so a
/// registration that is never deregistered (a `static` is never dropped) leaves the NMR no
/// dangling pointer. In a driver, `'static` data lives until the image is unloaded: every
/// registration must be deregistered before `DriverUnload` returns, exactly as in C. One that is
/// not in a `static` deregisters when dropped.
///
/// Registering and deregistering may race from any threads: each is one atomic transition of
/// the handle word (empty → busy → registered → empty), so a second `register` of a live
/// registration, or a `deregister` of an empty one, fails with `STATUS_INVALID_DEVICE_STATE`
/// instead of losing a handle.
pub struct StaticRegistration<R: Side> {
    /// NULL (not registered), `BUSY` (a `register` is in the NMR) or the NMR's handle.
    handle: AtomicPtr<c_void>,
    _role: PhantomData<fn() -> R>,
}

/// A client [`StaticRegistration`].
pub type StaticClientRegistration<T> = StaticRegistration<AsClient<T>>;
/// A provider [`StaticRegistration`].
pub type StaticProviderRegistration<T> = StaticRegistration<AsProvider<T>>;

/// The handle word while a `register` is inside the NMR: all ones, which no NMR handle is (the
/// kernel's are aligned pool addresses; the host NMR's stay below `usize::MAX`).
const BUSY: *mut c_void = ptr::without_provenance_mut(usize::MAX);

impl<R: Side> StaticRegistration<R> {
    /// Not registered.
    #[must_use]
    pub const fn new() -> Self {
        Self { handle: AtomicPtr::new(ptr::null_mut()), _role: PhantomData }
    }

    /// Registers `module` with the characteristics its macro generated. Attach callbacks for
    /// matching peers run before this returns (R7).
    ///
    /// # Errors
    /// The status of `NmrRegister*` if it fails; `STATUS_INVALID_DEVICE_STATE` without calling
    /// the NMR if this registration is live (or being registered); `STATUS_INVALID_PARAMETER`
    /// without calling the NMR if the module declared `dynamic_module_id` (use
    /// [`Registration::builder`]).
    pub fn register(&self, module: &'static R::Module) -> Result<(), Status> {
        if dynamic_module_id::<R>() {
            return Err(Status::INVALID_PARAMETER);
        }
        if !claim_empty(&self.handle) {
            return Err(Status::INVALID_DEVICE_STATE);
        }
        let mut handle = ptr::null_mut();
        // SAFETY: the macro's `'static` characteristics and a `'static` module: valid for as
        // long as the NMR may use them, whatever happens to this value (R2, R26).
        let status = unsafe {
            R::Kind::register(
                static_characteristics::<R>(),
                ptr::from_ref(module).cast_mut().cast(),
                &mut handle,
            )
        };
        // `BUSY` kept every other `register` and `deregister` away: the word is still ours.
        if status != STATUS_SUCCESS {
            self.handle.store(ptr::null_mut(), Ordering::Release);
            return Err(Status::from_raw(status));
        }
        self.handle.store(handle, Ordering::Release);
        Ok(())
    }

    /// Whether the module is registered (and not being deregistered).
    #[must_use]
    pub fn is_registered(&self) -> bool {
        let handle = self.handle.load(Ordering::Acquire);
        !handle.is_null() && handle != BUSY
    }

    /// Deregisters and waits until every binding is detached and cleaned up; the registration
    /// is empty again and may be registered anew.
    ///
    /// # Errors
    /// `STATUS_INVALID_DEVICE_STATE` if it is not registered (or a `register` or another
    /// `deregister` holds it); the error of `NmrDeregister*` if the NMR refused it (the host NMR
    /// refuses a handle of another registrar: the registration stays live and registered here);
    /// otherwise the status of `NmrWaitFor*DeregisterComplete` if it is not `STATUS_SUCCESS`
    /// (the deregistration started and the NMR finishes it on its own; the module and
    /// characteristics are `'static`, so nothing is released early; the word is empty again).
    pub fn deregister(&self) -> Result<(), Status> {
        let Some(handle) = claim_live(&self.handle) else {
            return Err(Status::INVALID_DEVICE_STATE);
        };
        // SAFETY: the handle of a successful registration of this role, taken out of the word
        // by the exchange above, so deregistered once.
        let status = unsafe { R::Kind::deregister(handle) };
        if status < 0 {
            // Refused, so not started (the host NMR refuses a handle of another registrar): the
            // registration is still live and the word keeps its handle.
            self.handle.store(handle, Ordering::Release);
            return Err(Status::from_raw(status));
        }
        // SAFETY: deregistered just above.
        let status = unsafe { R::Kind::wait(handle) };
        self.handle.store(ptr::null_mut(), Ordering::Release);
        match status {
            STATUS_SUCCESS => Ok(()),
            status => Err(Status::from_raw(status)),
        }
    }

    /// The NMR registration handle, or NULL if it is not registered.
    #[must_use]
    pub fn handle(&self) -> HANDLE {
        let handle = self.handle.load(Ordering::Acquire);
        if handle == BUSY { ptr::null_mut() } else { handle }
    }
}

/// Empty → `BUSY`; false if the word was not empty. Out of line and not generic: one copy for
/// every registration of a driver.
#[inline(never)]
fn claim_empty(word: &AtomicPtr<c_void>) -> bool {
    word.compare_exchange(ptr::null_mut(), BUSY, Ordering::Acquire, Ordering::Relaxed).is_ok()
}

/// Registered → `BUSY`; the handle, or `None` if the word held none (empty, or `BUSY`).
#[inline(never)]
fn claim_live(word: &AtomicPtr<c_void>) -> Option<HANDLE> {
    let handle = word.load(Ordering::Relaxed);
    if handle.is_null() || handle == BUSY {
        return None;
    }
    word.compare_exchange(handle, BUSY, Ordering::Acquire, Ordering::Relaxed).ok()
}

impl<R: Side> Default for StaticRegistration<R> {
    fn default() -> Self {
        Self::new()
    }
}

impl<R: Side> Drop for StaticRegistration<R> {
    fn drop(&mut self) {
        // Only values outside a `static` get here; a live one leaves like a `Registration`.
        let _ = self.deregister();
    }
}

impl<R: Side> fmt::Debug for StaticRegistration<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StaticRegistration").field("handle", &self.handle()).finish()
    }
}

/// Builds a [`Registration`] with per-registration values.
pub struct RegistrationBuilder<R: Side> {
    module: *const R::Module,
    keep: Option<Keep>,
    module_id: Option<NPI_MODULEID>,
    number: Option<u32>,
    characteristics: Option<*const R::NpiCharacteristics>,
    owned: Option<Keep>,
}

impl<R: Side> fmt::Debug for RegistrationBuilder<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RegistrationBuilder")
            .field("module_id", &self.module_id)
            .field("number", &self.number)
            .finish_non_exhaustive()
    }
}

impl<R: Side> RegistrationBuilder<R> {
    /// A `MIT_GUID` module id chosen at run time (read from the registry, per object, …).
    #[must_use]
    pub fn module_guid(self, guid: GUID) -> Self {
        self.module_id(NPI_MODULEID::from_guid(guid))
    }

    /// A module id chosen at run time. Its `Length` is set to `sizeof(NPI_MODULEID)` whatever it
    /// was: the NMR may read that many bytes. A `Type` other than `MIT_GUID` or `MIT_IF_LUID`
    /// makes [`register`](Self::register) fail with `STATUS_INVALID_PARAMETER`.
    #[must_use]
    pub fn module_id(mut self, mut id: NPI_MODULEID) -> Self {
        #[allow(clippy::cast_possible_truncation)] // 24 bytes
        {
            id.Length = size_of::<NPI_MODULEID>() as u16;
        }
        self.module_id = Some(id);
        self
    }

    /// The registration instance's `Number` (XDP: the interface index).
    #[must_use]
    pub fn number(mut self, number: u32) -> Self {
        self.number = Some(number);
        self
    }

    /// NPI-specific characteristics in a `static`.
    #[must_use]
    pub fn characteristics(mut self, data: &'static R::NpiCharacteristics) -> Self {
        self.characteristics = Some(data);
        self.owned = None;
        self
    }

    /// NPI-specific characteristics the registration keeps alive itself: per-object data (an
    /// eBPF link's `client_data`) for a registration stored next to its object. They are
    /// released after the deregistration wait, when the NMR no longer reads them.
    #[cfg(feature = "alloc")]
    #[cfg_attr(docsrs, doc(cfg(feature = "alloc")))]
    #[must_use]
    pub fn owned_characteristics(self, data: Arc<R::NpiCharacteristics>) -> Self
    where
        R::NpiCharacteristics: Send,
    {
        self.owned_characteristics_in(data, |c| c)
    }

    /// NPI-specific characteristics inside a larger object the registration keeps alive: a
    /// field of `owner`, chosen by `project`. For characteristics followed by data they point
    /// into (XDP's capabilities and their version array), or kept in a driver's own object.
    ///
    /// `project` is a function, not a closure, and its result borrows its argument: it can only
    /// point into `owner` (or at a `static`), which the registration keeps until its
    /// deregistration wait returns — and forever if it is leaked.
    #[cfg(feature = "alloc")]
    #[cfg_attr(docsrs, doc(cfg(feature = "alloc")))]
    #[must_use]
    pub fn owned_characteristics_in<O: Send + Sync + 'static>(
        mut self,
        owner: Arc<O>,
        project: fn(&O) -> &R::NpiCharacteristics,
    ) -> Self {
        self.characteristics = Some(project(&owner));
        self.owned = Some(Keep::arc(owner));
        self
    }

    /// NPI-specific characteristics owned by someone else (memory the operating system gave
    /// the driver, a field of a device extension), for data that is neither `'static` nor in
    /// an `Arc`.
    ///
    /// # Safety
    /// `data` must stay valid and unchanged until the registration is deregistered: dropped, or
    /// [`Registration::deregister`] returned. A registration that is leaked (`mem::forget`, a
    /// reference cycle) or whose wait fails never stops pointing at `data`: it must then live
    /// forever. Safe code cannot promise this for a borrow, which is why this is `unsafe`;
    /// prefer [`characteristics`](Self::characteristics) or
    /// [`owned_characteristics`](Self::owned_characteristics).
    #[must_use]
    pub unsafe fn borrowed_characteristics(mut self, data: &R::NpiCharacteristics) -> Self {
        self.characteristics = Some(data);
        self.owned = None;
        self
    }

    /// `NmrRegister*`. Attach callbacks for matching peers run before this returns (R7).
    ///
    /// # Errors
    /// The status of `NmrRegister*` if it fails; `STATUS_INVALID_PARAMETER` without calling
    /// the NMR if the module declared `dynamic_module_id` and no module id was given;
    /// `STATUS_INSUFFICIENT_RESOURCES` without calling the NMR if the registration's own copy
    /// of its characteristics could not be allocated; `STATUS_INVALID_PARAMETER` without
    /// calling the NMR for a module id of an unknown `Type`.
    pub fn register(self) -> Result<Registration<R>, Status> {
        if dynamic_module_id::<R>() && self.module_id.is_none() {
            return Err(Status::INVALID_PARAMETER);
        }
        if self.module_id.is_some_and(|id| !matches!(id.Type, MIT_GUID | MIT_IF_LUID)) {
            return Err(Status::INVALID_PARAMETER);
        }
        let template = static_characteristics::<R>();
        if self.module_id.is_none()
            && self.number.is_none()
            && self.characteristics.is_none()
            && self.owned.is_none()
        {
            // SAFETY: the macro's `'static` characteristics; the module is `'static` or kept.
            return unsafe { Registration::register_with(template, self.module, self.keep) };
        }
        let parts = BuilderParts::<R> {
            patched: Patched {
                characteristics: *template,
                // SAFETY: the static template's module id is a valid `'static` NPI_MODULEID.
                module_id: unsafe { *R::Kind::instance_mut(&mut { *template }).ModuleId },
            },
            _module: self.keep,
            _owned: self.owned,
        };
        let Ok(mut parts) = RtBox::try_new(parts, AllocationSite::RegistrationCharacteristics)
        else {
            return Err(Status::INSUFFICIENT_RESOURCES);
        };
        let p = &mut parts.patched;
        if let Some(id) = self.module_id {
            p.module_id = id;
        }
        let module_id = ptr::from_ref(&p.module_id);
        let instance = R::Kind::instance_mut(&mut p.characteristics);
        instance.ModuleId = module_id;
        if let Some(n) = self.number {
            instance.Number = n;
        }
        if let Some(c) = self.characteristics {
            instance.NpiSpecificCharacteristics = data_ptr_raw(c);
        }
        let characteristics = ptr::from_ref(&parts.patched.characteristics);
        // SAFETY: the patched copy lives in the block `keep` holds, at a fixed address, for as
        // long as the registration (the block moves only as a pointer).
        let characteristics = unsafe { &*characteristics };
        // SAFETY: the characteristics and what they point to ('static, owned by the block, or
        // promised by the caller of `borrowed_characteristics`) and the module ('static or
        // kept by the block) stay valid until the wait returns.
        unsafe {
            Registration::register_with(characteristics, self.module, Some(Keep::boxed(parts)))
        }
    }
}

/// [`data_ptr`](crate::npi::data_ptr) for a pointer: NULL for `()`.
fn data_ptr_raw<T: NpiData>(p: *const T) -> *const c_void {
    if T::PRESENT { p.cast() } else { ptr::null() }
}
