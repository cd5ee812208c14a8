//! Client and provider modules: the traits a module implements, the attach offers it answers,
//! and the `extern "system"` callbacks the NMR calls, written once here for every module.
//!
//! Client and provider are written once wherever they differ only in name: a [`SideKind`]
//! ([`ClientKind`], [`ProviderKind`]) carries what does differ (the NMR's characteristics struct
//! and functions, which NPI-specific characteristics apply), and the registration instance, the
//! detach and cleanup callbacks and the registration code are generic over it. Two of a thing
//! remain where the sides really differ — the attach protocols (`NmrClientAttachProvider`
//! against out-parameters) and the field names of the C structs — and where a name is what a
//! user reads: `Client`/`Provider`, `ClientModule`/`ProviderModule` (each is
//! [`ModuleDecl`] of its kind, through an impl that fails to compile if the two lists differ).

use core::cell::Cell;
use core::ffi::c_void;
use core::fmt;
use core::marker::PhantomData;
use core::ptr;

use crate::binding::{
    AsClient, AsProvider, Binding, Detach, DetachRequest, MAX_SHARDS, Record, RecordPtr, RecordRef,
    Side, sealed,
};
use crate::npi::{Npi, NpiData, OwnTable, Table, data_ref};
use crate::status::Status;
use crate::sys::{
    self, HANDLE, NPI_CLIENT_CHARACTERISTICS, NPI_MODULEID, NPI_PROVIDER_CHARACTERISTICS,
    NPI_REGISTRATION_INSTANCE, NTSTATUS, STATUS_INVALID_PARAMETER, STATUS_NOINTERFACE,
    STATUS_SUCCESS,
};

// ----- the two kinds ------------------------------------------------------------------------

/// Which side a registration is, client or provider: what differs between the two beyond a
/// name. Implemented by [`ClientKind`] and [`ProviderKind`] only (sealed).
pub trait SideKind: sealed::Sealed + Sized + 'static {
    /// `NPI_CLIENT_CHARACTERISTICS` or `NPI_PROVIDER_CHARACTERISTICS`.
    type Characteristics: Copy + 'static;
    /// The NPI-specific characteristics this side of NPI `N` publishes.
    type NpiCharacteristics<N: Npi>: NpiData;
    /// The names of this side's attach, detach and cleanup callbacks, for diagnostics.
    #[doc(hidden)]
    const CALLBACKS: [&'static str; 3];
    /// The registration instance inside the characteristics.
    #[doc(hidden)]
    fn instance_mut(c: &mut Self::Characteristics) -> &mut NPI_REGISTRATION_INSTANCE;
    /// `NmrRegisterClient` or `NmrRegisterProvider`.
    ///
    /// # Safety
    /// `c` and `context` stay valid and unchanged until the registration's wait returns.
    #[doc(hidden)]
    unsafe fn register(
        c: &Self::Characteristics,
        context: *mut c_void,
        out: &mut HANDLE,
    ) -> NTSTATUS;
    /// `NmrDeregister*`; its status (an error: the NMR refused, nothing started).
    ///
    /// # Safety
    /// `handle` came from a successful `register` of this kind and is deregistered once.
    #[doc(hidden)]
    unsafe fn deregister(handle: HANDLE) -> NTSTATUS;
    /// `NmrWaitFor*DeregisterComplete`; its status.
    ///
    /// # Safety
    /// `handle` came from a successful `register` of this kind and was deregistered.
    #[doc(hidden)]
    unsafe fn wait(handle: HANDLE) -> NTSTATUS;
    /// `NmrDeregister*` then `NmrWaitFor*DeregisterComplete`; returns the wait's status.
    ///
    /// # Safety
    /// As [`SideKind::deregister`].
    #[doc(hidden)]
    #[inline]
    unsafe fn deregister_and_wait(handle: HANDLE) -> NTSTATUS {
        // SAFETY: per this function's contract, which is `deregister`'s.
        let _ = unsafe { Self::deregister(handle) };
        // SAFETY: deregistered just above: `wait`'s contract holds.
        unsafe { Self::wait(handle) }
    }
    /// Completes this side's half of a pending detach (`NmrClientDetachProviderComplete` or
    /// `NmrProviderDetachClientComplete`).
    ///
    /// # Safety
    /// `handle` is a binding handle of this kind whose detach callback returned (or is about to
    /// return) `STATUS_PENDING`, completed once.
    #[doc(hidden)]
    unsafe fn complete(handle: HANDLE);
}

/// The client side: `NPI_CLIENT_CHARACTERISTICS`, `NmrRegisterClient`, ….
#[derive(Debug)]
pub enum ClientKind {}
/// The provider side: `NPI_PROVIDER_CHARACTERISTICS`, `NmrRegisterProvider`, ….
#[derive(Debug)]
pub enum ProviderKind {}

impl sealed::Sealed for ClientKind {}
impl SideKind for ClientKind {
    type Characteristics = NPI_CLIENT_CHARACTERISTICS;
    type NpiCharacteristics<N: Npi> = N::ClientCharacteristics;
    const CALLBACKS: [&'static str; 3] =
        ["ClientAttachProvider", "ClientDetachProvider", "ClientCleanupBindingContext"];
    #[inline]
    fn instance_mut(c: &mut NPI_CLIENT_CHARACTERISTICS) -> &mut NPI_REGISTRATION_INSTANCE {
        &mut c.ClientRegistrationInstance
    }
    #[inline]
    unsafe fn register(
        c: &NPI_CLIENT_CHARACTERISTICS,
        context: *mut c_void,
        out: &mut HANDLE,
    ) -> NTSTATUS {
        // SAFETY: per the trait's contract (R2).
        unsafe { sys::NmrRegisterClient(c, context, out) }
    }
    #[inline]
    unsafe fn deregister(handle: HANDLE) -> NTSTATUS {
        // SAFETY: per the trait's contract.
        unsafe { sys::NmrDeregisterClient(handle) }
    }
    #[inline]
    unsafe fn wait(handle: HANDLE) -> NTSTATUS {
        // SAFETY: per the trait's contract.
        unsafe { sys::NmrWaitForClientDeregisterComplete(handle) }
    }
    #[inline]
    unsafe fn complete(handle: HANDLE) {
        // SAFETY: per the trait's contract.
        unsafe { sys::NmrClientDetachProviderComplete(handle) }
    }
}

impl sealed::Sealed for ProviderKind {}
impl SideKind for ProviderKind {
    type Characteristics = NPI_PROVIDER_CHARACTERISTICS;
    type NpiCharacteristics<N: Npi> = N::ProviderCharacteristics;
    const CALLBACKS: [&'static str; 3] =
        ["ProviderAttachClient", "ProviderDetachClient", "ProviderCleanupBindingContext"];
    #[inline]
    fn instance_mut(c: &mut NPI_PROVIDER_CHARACTERISTICS) -> &mut NPI_REGISTRATION_INSTANCE {
        &mut c.ProviderRegistrationInstance
    }
    #[inline]
    unsafe fn register(
        c: &NPI_PROVIDER_CHARACTERISTICS,
        context: *mut c_void,
        out: &mut HANDLE,
    ) -> NTSTATUS {
        // SAFETY: per the trait's contract (R2).
        unsafe { sys::NmrRegisterProvider(c, context, out) }
    }
    #[inline]
    unsafe fn deregister(handle: HANDLE) -> NTSTATUS {
        // SAFETY: per the trait's contract.
        unsafe { sys::NmrDeregisterProvider(handle) }
    }
    #[inline]
    unsafe fn wait(handle: HANDLE) -> NTSTATUS {
        // SAFETY: per the trait's contract.
        unsafe { sys::NmrWaitForProviderDeregisterComplete(handle) }
    }
    #[inline]
    unsafe fn complete(handle: HANDLE) {
        // SAFETY: per the trait's contract.
        unsafe { sys::NmrProviderDetachClientComplete(handle) }
    }
}

// ----- what a module declares ---------------------------------------------------------------

/// A module's registration settings, for either kind: what the runtime reads from a
/// [`ClientModule`] (as `ModuleDecl<ClientKind>`) or a [`ProviderModule`] (as
/// `ModuleDecl<ProviderKind>`). The registration instance, the registration and the
/// characteristics are built from this trait alone, once for both sides.
///
/// Implemented for every `ClientModule` and every `ProviderModule`, item by item: a setting
/// added here does not compile until both traits declare it, and one added to only one of them
/// is read by nothing.
///
/// # Safety
/// As [`ClientModule`]: [`ModuleDecl::characteristics`] are this runtime's callbacks for
/// `Self` as a `K`.
pub unsafe trait ModuleDecl<K: SideKind>: Sync + Sized + 'static {
    /// The NPI this module serves.
    type Npi: Npi;
    /// The module id (`NPI_MODULEID`), unless supplied per registration.
    const MODULE_ID: NPI_MODULEID;
    /// The module id is supplied per registration: registering without one is refused.
    const DYNAMIC_MODULE_ID: bool;
    /// The registration instance's `Number`.
    const NUMBER: u32;
    /// The registration instance's `Version`.
    const REGISTRATION_VERSION: u16;
    /// The NPI-specific characteristics published by default, if any.
    const CHARACTERISTICS: Option<&'static K::NpiCharacteristics<Self::Npi>>;
    /// The `'static` read-only characteristics, built at compile time.
    fn characteristics() -> &'static K::Characteristics;
}

/// The declarations `#[npi_client]` generates for a registration-context type: which NPI it
/// serves and the characteristics it registers with. The runtime reads them as
/// [`ModuleDecl<ClientKind>`]; this trait of its own is what errors name ("not an NPI client
/// module") and what a driver image's symbols show.
///
/// # Safety
/// Implemented by `#[npi_client]` only: [`ClientModule::characteristics`] must return
/// characteristics whose callbacks are this runtime's client callbacks for `Self`.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not an NPI client module",
    label = "needs `#[npi_client(...)]`",
    note = "put `#[npi_runtime::npi_client(npi = ..., module_id = \"...\")]` on the struct"
)]
pub unsafe trait ClientModule: Sync + Sized + 'static {
    /// See [`ModuleDecl::Npi`].
    type Npi: Npi;
    /// See [`ModuleDecl::MODULE_ID`].
    const MODULE_ID: NPI_MODULEID;
    /// See [`ModuleDecl::DYNAMIC_MODULE_ID`].
    const DYNAMIC_MODULE_ID: bool;
    /// See [`ModuleDecl::NUMBER`].
    const NUMBER: u32;
    /// See [`ModuleDecl::REGISTRATION_VERSION`].
    const REGISTRATION_VERSION: u16;
    /// See [`ModuleDecl::CHARACTERISTICS`].
    const CHARACTERISTICS: Option<&'static <Self::Npi as Npi>::ClientCharacteristics>;
    /// See [`ModuleDecl::characteristics`].
    fn characteristics() -> &'static NPI_CLIENT_CHARACTERISTICS;
}

/// The declarations `#[npi_provider]` generates; see [`ClientModule`].
///
/// # Safety
/// Implemented by `#[npi_provider]` only.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not an NPI provider module",
    label = "needs `#[npi_provider(...)]`",
    note = "put `#[npi_runtime::npi_provider(npi = ..., module_id = \"...\")]` on the struct"
)]
pub unsafe trait ProviderModule: Sync + Sized + 'static {
    /// See [`ModuleDecl::Npi`].
    type Npi: Npi;
    /// See [`ModuleDecl::MODULE_ID`].
    const MODULE_ID: NPI_MODULEID;
    /// See [`ModuleDecl::DYNAMIC_MODULE_ID`].
    const DYNAMIC_MODULE_ID: bool;
    /// See [`ModuleDecl::NUMBER`].
    const NUMBER: u32;
    /// See [`ModuleDecl::REGISTRATION_VERSION`].
    const REGISTRATION_VERSION: u16;
    /// See [`ModuleDecl::CHARACTERISTICS`].
    const CHARACTERISTICS: Option<&'static <Self::Npi as Npi>::ProviderCharacteristics>;
    /// See [`ModuleDecl::characteristics`].
    fn characteristics() -> &'static NPI_PROVIDER_CHARACTERISTICS;
}

// SAFETY: `ClientModule`'s contract is `ModuleDecl<ClientKind>`'s.
unsafe impl<T: ClientModule> ModuleDecl<ClientKind> for T {
    type Npi = <T as ClientModule>::Npi;
    const MODULE_ID: NPI_MODULEID = <T as ClientModule>::MODULE_ID;
    const DYNAMIC_MODULE_ID: bool = <T as ClientModule>::DYNAMIC_MODULE_ID;
    const NUMBER: u32 = <T as ClientModule>::NUMBER;
    const REGISTRATION_VERSION: u16 = <T as ClientModule>::REGISTRATION_VERSION;
    const CHARACTERISTICS: Option<&'static <Self::Npi as Npi>::ClientCharacteristics> =
        <T as ClientModule>::CHARACTERISTICS;
    #[inline]
    fn characteristics() -> &'static NPI_CLIENT_CHARACTERISTICS {
        <T as ClientModule>::characteristics()
    }
}

// SAFETY: `ProviderModule`'s contract is `ModuleDecl<ProviderKind>`'s.
unsafe impl<T: ProviderModule> ModuleDecl<ProviderKind> for T {
    type Npi = <T as ProviderModule>::Npi;
    const MODULE_ID: NPI_MODULEID = <T as ProviderModule>::MODULE_ID;
    const DYNAMIC_MODULE_ID: bool = <T as ProviderModule>::DYNAMIC_MODULE_ID;
    const NUMBER: u32 = <T as ProviderModule>::NUMBER;
    const REGISTRATION_VERSION: u16 = <T as ProviderModule>::REGISTRATION_VERSION;
    const CHARACTERISTICS: Option<&'static <Self::Npi as Npi>::ProviderCharacteristics> =
        <T as ProviderModule>::CHARACTERISTICS;
    #[inline]
    fn characteristics() -> &'static NPI_PROVIDER_CHARACTERISTICS {
        <T as ProviderModule>::characteristics()
    }
}

// ----- what a module does -------------------------------------------------------------------

/// A client module's behaviour: `ClientAttachProvider`, `ClientDetachProvider` and
/// `ClientCleanupBindingContext`, with typed arguments. `self` is the registration context.
#[diagnostic::on_unimplemented(
    message = "`{Self}` does not implement `npi_runtime::Client`",
    label = "no `impl Client for {Self}`",
    note = "a client module is a struct with `#[npi_client(...)]` and \
            `impl npi_runtime::Client for {Self} {{ type Binding = ...; fn attach(...) }}`"
)]
pub trait Client: ClientModule {
    /// This client's per-binding value, owned by the runtime from attach until cleanup.
    type Binding: Send + Sync + 'static;

    /// How many threads may call the provider through one binding at once without sharing a
    /// cache line (at most 16). Each binding keeps this many hold counters, and each
    /// [`BindingRef`](crate::generic::BindingRef) clone calls through the next one, so callers on
    /// different cores scale when each holds its own clone. The default, 1, keeps a binding
    /// small (one counter inside it; more cost 128 bytes each).
    const PARALLEL_CALLERS: usize = 1;

    /// A provider of the NPI is available: accept it with [`ClientAttachRequest::accept`] or decline.
    fn attach(&self, request: ClientAttachRequest<'_, Self>) -> Attach;

    /// The binding must end. Answer [`DetachRequest::done`] or [`DetachRequest::pend`]. Calls
    /// into the provider must not start from now on; [`Binding::peer`] returns `None`.
    fn detach(
        &self,
        binding: &ClientBinding<'_, Self>,
        request: ClientDetachRequest<'_, Self>,
    ) -> Detach {
        let _ = binding;
        request.done()
    }

    /// Both sides have detached; release what the binding holds. The value itself is dropped by
    /// the runtime once nothing refers to it any more.
    fn cleanup(&self, binding: &Self::Binding) {
        let _ = binding;
    }
}

/// A provider module's behaviour; see [`Client`].
#[diagnostic::on_unimplemented(
    message = "`{Self}` does not implement `npi_runtime::Provider`",
    label = "no `impl Provider for {Self}`",
    note = "a provider module is a struct with `#[npi_provider(...)]` and \
            `impl npi_runtime::Provider for {Self} {{ type Binding = ...; fn attach(...) }}`"
)]
pub trait Provider: ProviderModule {
    /// This provider's per-binding value, owned by the runtime from attach until cleanup.
    type Binding: Send + Sync + 'static;

    /// As [`Client::PARALLEL_CALLERS`], for calls into the client.
    const PARALLEL_CALLERS: usize = 1;

    /// A client asks to attach: accept with [`ProviderAttachRequest::accept`] or decline.
    fn attach(&self, request: ProviderAttachRequest<'_, Self>) -> Attach;

    /// The binding must end; see [`Client::detach`].
    fn detach(
        &self,
        binding: &ProviderBinding<'_, Self>,
        request: ProviderDetachRequest<'_, Self>,
    ) -> Detach {
        let _ = binding;
        request.done()
    }

    /// Both sides have detached; see [`Client::cleanup`].
    fn cleanup(&self, binding: &Self::Binding) {
        let _ = binding;
    }
}

type ClientNpi<T> = <T as ClientModule>::Npi;
type ProviderNpi<T> = <T as ProviderModule>::Npi;

/// `PARALLEL_CALLERS` clamped to what a record supports.
const fn shards(callers: usize) -> usize {
    if callers == 0 {
        1
    } else if callers > MAX_SHARDS {
        MAX_SHARDS
    } else {
        callers
    }
}

// The two sides: which kind and trait each is, and which of the NPI's types face which way.
// Everything else a `Side` says follows from its kind and its module's declarations.

impl<T: Client> sealed::Sealed for AsClient<T> {}
impl<T: Client> Side for AsClient<T> {
    type Kind = ClientKind;
    type Module = T;
    type Value = T::Binding;
    type PeerDispatch = <ClientNpi<T> as Npi>::ProviderDispatch;
    type OwnDispatch = <ClientNpi<T> as Npi>::ClientDispatch;
    type NpiCharacteristics = <ClientNpi<T> as Npi>::ClientCharacteristics;
    const SHARDS: usize = shards(T::PARALLEL_CALLERS);
    #[inline]
    fn module_detach(binding: &Binding<'_, Self>, request: DetachRequest<'_, Self>) -> Detach {
        Client::detach(binding.module(), binding, request)
    }
    #[inline]
    fn module_cleanup(module: &T, value: &T::Binding) {
        Client::cleanup(module, value);
    }
}

impl<T: Provider> sealed::Sealed for AsProvider<T> {}
impl<T: Provider> Side for AsProvider<T> {
    type Kind = ProviderKind;
    type Module = T;
    type Value = T::Binding;
    type PeerDispatch = <ProviderNpi<T> as Npi>::ClientDispatch;
    type OwnDispatch = <ProviderNpi<T> as Npi>::ProviderDispatch;
    type NpiCharacteristics = <ProviderNpi<T> as Npi>::ProviderCharacteristics;
    const SHARDS: usize = shards(T::PARALLEL_CALLERS);
    #[inline]
    fn module_detach(binding: &Binding<'_, Self>, request: DetachRequest<'_, Self>) -> Detach {
        Provider::detach(binding.module(), binding, request)
    }
    #[inline]
    fn module_cleanup(module: &T, value: &T::Binding) {
        Provider::cleanup(module, value);
    }
}

/// A client's view of one of its bindings.
pub type ClientBinding<'a, T> = Binding<'a, AsClient<T>>;
/// A provider's view of one of its bindings.
pub type ProviderBinding<'a, T> = Binding<'a, AsProvider<T>>;
/// A client's detach request.
pub type ClientDetachRequest<'a, T> = DetachRequest<'a, AsClient<T>>;
/// A provider's detach request.
pub type ProviderDetachRequest<'a, T> = DetachRequest<'a, AsProvider<T>>;
/// A client's binding reference.
pub type ClientBindingRef<T> = crate::binding::BindingRef<AsClient<T>>;
/// A provider's binding reference.
pub type ProviderBindingRef<T> = crate::binding::BindingRef<AsProvider<T>>;
/// A client's pending detach.
pub type ClientPendingDetach<T> = crate::binding::PendingDetach<AsClient<T>>;
/// A provider's pending detach.
pub type ProviderPendingDetach<T> = crate::binding::PendingDetach<AsProvider<T>>;
/// The client dispatch table client `T` offers: its NPI's table, built for `T`
/// (`static TABLE: ClientTable<MyClient> = MyClientDispatch::new::<MyClient>(..);`).
pub type ClientTable<T> = Table<AsClient<T>, <ClientNpi<T> as Npi>::ClientDispatch>;
/// The provider dispatch table provider `T` offers; see [`ClientTable`].
pub type ProviderTable<T> = Table<AsProvider<T>, <ProviderNpi<T> as Npi>::ProviderDispatch>;

/// The answer to an attach request: only [`ClientAttachRequest`] and [`ProviderAttachRequest`] make one.
///
/// The runtime does not take the module's word for it: the attach callback reports success
/// exactly when `accept` succeeded inside it, so a module cannot report success without having
/// attached (OQ-8), nor fail after it did (OQ-7), not even with an `Attach` kept from another
/// callback or after a panic.
#[must_use]
pub struct Attach {
    status: NTSTATUS,
}

/// A successful attach, inside the attach callback: the new binding, and (`.into()`) the
/// callback's answer.
pub struct Accepted<'a, S: Side> {
    record: RecordPtr<'a, S>,
}

impl<'a, S: Side> Accepted<'a, S> {
    /// The new binding, e.g. to keep a [`BindingRef`](crate::generic::BindingRef) for later calls.
    #[must_use]
    pub fn binding(&self) -> Binding<'a, S> {
        Binding::new(self.record)
    }
}

impl<S: Side> fmt::Debug for Accepted<'_, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Accepted").field("binding", &self.binding()).finish()
    }
}

impl<S: Side> From<Accepted<'_, S>> for Attach {
    fn from(_: Accepted<'_, S>) -> Self {
        Attach { status: STATUS_SUCCESS }
    }
}

impl<S: Side, O: AttachRequest> From<Result<Accepted<'_, S>, Refused<O>>> for Attach {
    fn from(r: Result<Accepted<'_, S>, Refused<O>>) -> Self {
        match r {
            Ok(a) => a.into(),
            Err(refused) => refused.into(),
        }
    }
}

/// Answers with the refusal's status: an attach the peer (or the allocator) refused fails with
/// what it said.
impl<O: AttachRequest> From<Refused<O>> for Attach {
    fn from(refused: Refused<O>) -> Self {
        failure(refused.status)
    }
}

impl fmt::Debug for Attach {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Attach").field(&Status::from_raw(self.status)).finish()
    }
}

/// What the peer registered: its module id, `Number`, `Version` and NPI-specific
/// characteristics as the NPI's own type. Valid during the attach callback (OQ-19).
pub struct PeerRegistration<'a, C: NpiData> {
    instance: &'a NPI_REGISTRATION_INSTANCE,
    _c: core::marker::PhantomData<&'a C>,
}

impl<'a, C: NpiData> PeerRegistration<'a, C> {
    /// # Safety
    /// `p` is the peer's registration instance the NMR passed to an attach callback.
    unsafe fn new(p: *const NPI_REGISTRATION_INSTANCE) -> Self {
        // SAFETY: per the caller, valid for the callback.
        Self { instance: unsafe { &*p }, _c: core::marker::PhantomData }
    }

    /// The peer's module id.
    #[must_use]
    pub fn module_id(&self) -> &'a NPI_MODULEID {
        // SAFETY: the NMR validated it non-NULL at registration; valid while registered (R2).
        unsafe { &*self.instance.ModuleId }
    }

    /// The registration instance's `Number`.
    #[must_use]
    pub fn number(&self) -> u32 {
        self.instance.Number
    }

    /// The registration instance's `Version`.
    #[must_use]
    pub fn version(&self) -> u16 {
        self.instance.Version
    }

    /// The peer's NPI-specific characteristics, if it published any.
    #[must_use]
    pub fn characteristics(&self) -> Option<&'a C> {
        // SAFETY: the NPI's definition fixes the type the peer publishes (the `Npi` contract).
        unsafe { data_ref(self.instance.NpiSpecificCharacteristics) }
    }

    /// The raw registration instance, exactly as the NMR passed it.
    #[must_use]
    pub fn raw(&self) -> &'a NPI_REGISTRATION_INSTANCE {
        self.instance
    }
}

impl<C: NpiData> fmt::Debug for PeerRegistration<'_, C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PeerRegistration")
            .field("module_id", self.module_id())
            .field("number", &self.number())
            .field("version", &self.version())
            .finish_non_exhaustive()
    }
}

/// An attach request: [`ClientAttachRequest`] or
/// [`ProviderAttachRequest`]. Sealed.
pub trait AttachRequest: sealed::Sealed {
    /// The module's per-binding value.
    type Value;
    /// Fails the attach with an error status (a success status is turned into
    /// `STATUS_NOINTERFACE`: only `accept` can attach).
    fn fail(self, status: Status) -> Attach;
}

/// An attach that did not happen: the status the peer (or the NMR, or the allocator) answered,
/// the request back for another try (WSK-style version retry, R12) and the binding value.
/// `.into()` answers the attach callback with its status.
pub struct Refused<O: AttachRequest> {
    /// Why: the status `NmrClientAttachProvider` returned, or `STATUS_INSUFFICIENT_RESOURCES`
    /// when the runtime could not allocate the binding record.
    pub status: Status,
    /// The request, for another `accept` or a decline.
    pub request: O,
    /// The binding value that was offered, unless something kept a reference to it (a dispatch
    /// function of this side that the peer called during its attach took a `BindingRef`).
    pub binding: Option<O::Value>,
}

impl<O: AttachRequest> fmt::Debug for Refused<O> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Refused").field("status", &self.status).finish_non_exhaustive()
    }
}

/// Answers `fail`: success statuses become `STATUS_NOINTERFACE`.
fn failure(status: Status) -> Attach {
    Attach { status: if status.is_success() { STATUS_NOINTERFACE } else { status.raw() } }
}

/// A provider proposed to a client (inside `ClientAttachProvider`).
pub struct ClientAttachRequest<'a, T: Client> {
    handle: HANDLE,
    provider: PeerRegistration<'a, <ClientNpi<T> as Npi>::ProviderCharacteristics>,
    module: &'a T,
    /// Set once `accept` attached: the callback's answer is then success, whatever follows.
    accepted: &'a Cell<bool>,
}

impl<T: Client> sealed::Sealed for ClientAttachRequest<'_, T> {}
impl<T: Client> AttachRequest for ClientAttachRequest<'_, T> {
    type Value = T::Binding;
    fn fail(self, status: Status) -> Attach {
        failure(status)
    }
}

impl<T: Client> fmt::Debug for ClientAttachRequest<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientAttachRequest")
            .field("handle", &self.handle)
            .field("provider", &self.provider)
            .finish_non_exhaustive()
    }
}

impl<'a, T: Client> ClientAttachRequest<'a, T> {
    /// The provider's registration.
    #[must_use]
    pub fn provider(
        &self,
    ) -> &PeerRegistration<'a, <ClientNpi<T> as Npi>::ProviderCharacteristics> {
        &self.provider
    }

    /// The binding handle the NMR assigned to this proposal.
    #[must_use]
    pub fn handle(&self) -> HANDLE {
        self.handle
    }

    /// The registration context.
    #[must_use]
    pub fn module(&self) -> &'a T {
        self.module
    }

    /// Attaches (`NmrClientAttachProvider`) with this binding value and client dispatch table
    /// (`&()` if the NPI has none, else a [`ClientTable<T>`] built for this module).
    /// `.into()` turns the result into the callback's [`Attach`] answer.
    ///
    /// # Errors
    /// [`Refused`] with the provider's status (or `STATUS_INSUFFICIENT_RESOURCES` if the
    /// binding record could not be allocated; the NMR is then not called), the offer back, so
    /// the client can try again with another table or decline, and the binding value.
    pub fn accept(
        self,
        binding: T::Binding,
        dispatch: &'static impl OwnTable<AsClient<T>>,
    ) -> Result<Accepted<'a, AsClient<T>>, Refused<Self>> {
        let record = match RecordRef::<AsClient<T>>::try_new(self.module, self.handle, binding) {
            Ok(record) => record,
            Err(binding) => {
                return Err(Refused {
                    status: Status::INSUFFICIENT_RESOURCES,
                    request: self,
                    binding: Some(binding),
                });
            }
        };
        let context = record.into_context();
        let mut provider_context: *mut c_void = ptr::null_mut();
        let mut provider_dispatch: *const c_void = ptr::null();
        // SAFETY: inside this proposal's ClientAttachProvider with its handle; on success the
        // context's reference belongs to the NMR until cleanup; the dispatch table is 'static.
        let status = unsafe {
            sys::NmrClientAttachProvider(
                self.handle,
                context,
                dispatch.as_dispatch(),
                &mut provider_context,
                &mut provider_dispatch,
            )
        };
        if status == STATUS_SUCCESS {
            self.accepted.set(true);
            // SAFETY: the NMR's reference keeps the record alive past this callback: no detach
            // or cleanup of a binding can start before its attach callback returned.
            let record = unsafe { RecordPtr::<AsClient<T>>::from_context(context) };
            Record::attached(record, provider_context, provider_dispatch);
            return Ok(Accepted { record });
        }
        // Not attached: no cleanup will come (R10); the reference is ours again.
        // SAFETY: `context` came from `into_context` above and the NMR does not own it.
        let record = unsafe { RecordRef::<AsClient<T>>::from_context(context) };
        Err(Refused {
            status: Status::from_raw(status),
            request: self,
            binding: record.try_unwrap(),
        })
    }

    /// Declines this provider (`STATUS_NOINTERFACE`).
    pub fn decline(self) -> Attach {
        Attach { status: STATUS_NOINTERFACE }
    }

    /// Fails the attach with an error status (a success status is turned into
    /// `STATUS_NOINTERFACE`: only [`ClientAttachRequest::accept`] can attach).
    pub fn fail(self, status: impl Into<Status>) -> Attach {
        failure(status.into())
    }
}

/// A client asking a provider to attach (inside `ProviderAttachClient`).
pub struct ProviderAttachRequest<'a, T: Provider> {
    handle: HANDLE,
    client: PeerRegistration<'a, <ProviderNpi<T> as Npi>::ClientCharacteristics>,
    client_context: *mut c_void,
    client_dispatch: *const c_void,
    out_context: *mut *mut c_void,
    out_dispatch: *mut *const c_void,
    module: &'a T,
    /// Set once `accept` wrote the out-parameters: the answer is then success.
    accepted: &'a Cell<bool>,
}

impl<T: Provider> sealed::Sealed for ProviderAttachRequest<'_, T> {}
impl<T: Provider> AttachRequest for ProviderAttachRequest<'_, T> {
    type Value = T::Binding;
    fn fail(self, status: Status) -> Attach {
        failure(status)
    }
}

impl<T: Provider> fmt::Debug for ProviderAttachRequest<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProviderAttachRequest")
            .field("handle", &self.handle)
            .field("client", &self.client)
            .finish_non_exhaustive()
    }
}

impl<'a, T: Provider> ProviderAttachRequest<'a, T> {
    /// The client's registration.
    #[must_use]
    pub fn client(&self) -> &PeerRegistration<'a, <ProviderNpi<T> as Npi>::ClientCharacteristics> {
        &self.client
    }

    /// The client's dispatch table, if it offered one.
    #[must_use]
    pub fn client_dispatch(&self) -> Option<&'a <ProviderNpi<T> as Npi>::ClientDispatch> {
        // SAFETY: the NPI fixes the client's table type; valid while bound (R14).
        unsafe { data_ref(self.client_dispatch) }
    }

    /// The binding handle.
    #[must_use]
    pub fn handle(&self) -> HANDLE {
        self.handle
    }

    /// The registration context.
    #[must_use]
    pub fn module(&self) -> &'a T {
        self.module
    }

    /// Accepts the client with this binding value and provider dispatch table (`&()` if the
    /// NPI has none, else a [`ProviderTable<T>`] built for this module). `.into()` turns the
    /// result into the callback's [`Attach`] answer.
    ///
    /// # Errors
    /// [`Refused`] with `STATUS_INSUFFICIENT_RESOURCES` if the binding record could not be
    /// allocated: the value and the offer come back, and answering with the refusal
    /// (`.into()`) fails the client's attach with that status.
    pub fn accept(
        self,
        binding: T::Binding,
        dispatch: &'static impl OwnTable<AsProvider<T>>,
    ) -> Result<Accepted<'a, AsProvider<T>>, Refused<Self>> {
        let record = match RecordRef::<AsProvider<T>>::try_new(self.module, self.handle, binding) {
            Ok(record) => record,
            Err(binding) => {
                return Err(Refused {
                    status: Status::INSUFFICIENT_RESOURCES,
                    request: self,
                    binding: Some(binding),
                });
            }
        };
        Record::attached(record.borrow(), self.client_context, self.client_dispatch);
        let context = record.into_context();
        // SAFETY: the out-pointers were checked non-NULL by the callback shim; from here the
        // callback answers success (`accepted`), so the NMR owns the context until cleanup.
        unsafe { self.out_context.write(context) };
        // SAFETY: as above.
        unsafe { self.out_dispatch.write(dispatch.as_dispatch()) };
        self.accepted.set(true);
        // SAFETY: as in `ClientAttachRequest::accept`: the record outlives this callback.
        Ok(Accepted { record: unsafe { RecordPtr::from_context(context) } })
    }

    /// Declines this client (`STATUS_NOINTERFACE`).
    pub fn decline(self) -> Attach {
        Attach { status: STATUS_NOINTERFACE }
    }

    /// Fails the attach with an error status (success turns into `STATUS_NOINTERFACE`).
    pub fn fail(self, status: impl Into<Status>) -> Attach {
        failure(status.into())
    }
}

// ----- the callbacks ------------------------------------------------------------------------

/// The attach callback's answer: success exactly when `accept` attached in this callback. A
/// panic before that fails the attach; a panic after it leaves the binding attached (the NMR
/// and the peer already hold it) and is recorded, and detach and cleanup come as usual.
fn attach_answer(
    npi: &crate::sys::GUID,
    handle: HANDLE,
    name: &'static str,
    accepted: bool,
    answer: Option<NTSTATUS>,
) -> NTSTATUS {
    if accepted {
        return STATUS_SUCCESS;
    }
    match answer {
        Some(STATUS_SUCCESS) => {
            crate::unwind::success_without_accept(npi, handle, name);
            STATUS_NOINTERFACE
        }
        Some(status) => status,
        None => STATUS_INVALID_PARAMETER,
    }
}

/// `ClientAttachProvider` for every `T: Client`. (The attach protocols differ: the client
/// attaches by calling `NmrClientAttachProvider`, the provider by writing out-parameters; so
/// there are two attach callbacks and two requests.)
pub(crate) unsafe extern "system" fn client_attach<T: Client>(
    handle: HANDLE,
    context: *mut c_void,
    provider: *const NPI_REGISTRATION_INSTANCE,
) -> NTSTATUS {
    const NAME: &str = ClientKind::CALLBACKS[0];
    let npi = &<ClientNpi<T> as Npi>::ID;
    let accepted = Cell::new(false);
    let answer = crate::unwind::guard(npi, handle, NAME, || {
        let module = context.cast_const().cast::<T>();
        // SAFETY: `Registration` registers `&T` as the context, alive until the wait returns.
        let module = unsafe { &*module };
        // SAFETY: the peer's instance is valid for the call.
        let provider = unsafe { PeerRegistration::new(provider) };
        module.attach(ClientAttachRequest { handle, provider, module, accepted: &accepted }).status
    });
    attach_answer(npi, handle, NAME, accepted.get(), answer)
}

/// `ProviderAttachClient` for every `T: Provider`.
pub(crate) unsafe extern "system" fn provider_attach<T: Provider>(
    handle: HANDLE,
    context: *mut c_void,
    client: *const NPI_REGISTRATION_INSTANCE,
    client_context: *mut c_void,
    client_dispatch: *const c_void,
    out_context: *mut *mut c_void,
    out_dispatch: *mut *const c_void,
) -> NTSTATUS {
    const NAME: &str = ProviderKind::CALLBACKS[0];
    if out_context.is_null() || out_dispatch.is_null() {
        return STATUS_INVALID_PARAMETER;
    }
    let npi = &<ProviderNpi<T> as Npi>::ID;
    let accepted = Cell::new(false);
    let answer = crate::unwind::guard(npi, handle, NAME, || {
        // SAFETY: as in `client_attach`.
        let module = unsafe { &*context.cast_const().cast::<T>() };
        // SAFETY: as in `client_attach`.
        let client = unsafe { PeerRegistration::new(client) };
        let request = ProviderAttachRequest {
            handle,
            client,
            client_context,
            client_dispatch,
            out_context,
            out_dispatch,
            module,
            accepted: &accepted,
        };
        module.attach(request).status
    });
    attach_answer(npi, handle, NAME, accepted.get(), answer)
}

/// `ClientDetachProvider` and `ProviderDetachClient`, for every module of either side.
pub(crate) unsafe extern "system" fn detach<S: Side>(context: *mut c_void) -> NTSTATUS {
    // SAFETY: our binding context, alive until cleanup.
    let record = unsafe { RecordPtr::<S>::from_context(context) };
    let handle = record.get().handle();
    Record::begin_detach(record);
    // A panic answers as if the callback had returned: a `PendingDetach` it made was dropped
    // while unwinding, which completed it.
    let _ = crate::unwind::guard(&S::NPI_ID, handle, S::Kind::CALLBACKS[1], || {
        let _ = S::module_detach(&Binding::new(record), DetachRequest::new(record));
    });
    record.get().end_detach_callback()
}

/// `ClientCleanupBindingContext` and `ProviderCleanupBindingContext`, for every module of either
/// side. Runs the module's cleanup, then drops the NMR's reference — each under its own panic
/// guard, so a panicking cleanup and a binding value whose destructor panics are both caught,
/// and the value is never dropped while a panic unwinds (which would abort).
pub(crate) unsafe extern "system" fn cleanup<S: Side>(context: *mut c_void) {
    // SAFETY: our binding context; the NMR's reference ends here (R22).
    let record = unsafe { RecordRef::<S>::from_context(context) };
    let name = S::Kind::CALLBACKS[2];
    let handle = record.borrow().get().handle();
    let _ = crate::unwind::guard(&S::NPI_ID, handle, name, || {
        let r = record.borrow().get();
        S::module_cleanup(r.module(), r.value());
    });
    let _ = crate::unwind::guard(&S::NPI_ID, handle, name, move || drop(record));
}

/// The characteristics of `T`'s registration as a `K`, as constants (the macro puts them in a
/// `static`): the registration instance, written once for both kinds, and the characteristics
/// around it, one per kind (their C structs name the fields differently).
pub struct VTable<K, T>(PhantomData<(K, T)>);

/// The characteristics of `T`'s client registration.
pub type ClientVTable<T> = VTable<ClientKind, T>;
/// The characteristics of `T`'s provider registration.
pub type ProviderVTable<T> = VTable<ProviderKind, T>;

impl<K, T> fmt::Debug for VTable<K, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (kind, module) = (core::any::type_name::<K>(), core::any::type_name::<T>());
        write!(f, "VTable<{kind}, {module}>")
    }
}

impl<K: SideKind, T: ModuleDecl<K>> VTable<K, T> {
    /// The registration instance: `Size` from `size_of`, the rest from `T`'s declarations.
    pub const INSTANCE: NPI_REGISTRATION_INSTANCE = NPI_REGISTRATION_INSTANCE {
        Version: T::REGISTRATION_VERSION,
        Size: len::<NPI_REGISTRATION_INSTANCE>(),
        NpiId: &<T::Npi as Npi>::ID,
        ModuleId: &T::MODULE_ID,
        Number: T::NUMBER,
        NpiSpecificCharacteristics: match T::CHARACTERISTICS {
            Some(c) => ptr::from_ref(c).cast(),
            None => ptr::null(),
        },
    };
}

impl<T: Client> VTable<ClientKind, T> {
    /// The characteristics: `Version` 0, `Length` from `size_of`, the runtime's callbacks for
    /// `T` and [`VTable::INSTANCE`].
    pub const CHARACTERISTICS: NPI_CLIENT_CHARACTERISTICS = NPI_CLIENT_CHARACTERISTICS {
        Version: 0,
        Length: len::<NPI_CLIENT_CHARACTERISTICS>(),
        ClientAttachProvider: Some(client_attach::<T>),
        ClientDetachProvider: Some(detach::<AsClient<T>>),
        ClientCleanupBindingContext: Some(cleanup::<AsClient<T>>),
        ClientRegistrationInstance: Self::INSTANCE,
    };
}

impl<T: Provider> VTable<ProviderKind, T> {
    /// As for a client.
    pub const CHARACTERISTICS: NPI_PROVIDER_CHARACTERISTICS = NPI_PROVIDER_CHARACTERISTICS {
        Version: 0,
        Length: len::<NPI_PROVIDER_CHARACTERISTICS>(),
        ProviderAttachClient: Some(provider_attach::<T>),
        ProviderDetachClient: Some(detach::<AsProvider<T>>),
        ProviderCleanupBindingContext: Some(cleanup::<AsProvider<T>>),
        ProviderRegistrationInstance: Self::INSTANCE,
    };
}

#[allow(clippy::cast_possible_truncation)] // the NMR structs are 72 bytes at most
const fn len<T>() -> u16 {
    size_of::<T>() as u16
}
