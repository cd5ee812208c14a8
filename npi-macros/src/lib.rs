//! Procedural macros for npi. Use them through `npi_runtime`, which re-exports them.
//!
//! Every macro here only *declares*: a trait impl that ties a type to its NPI and role, consts,
//! and `static` read-only characteristics built by `npi_runtime`'s generic code. The
//! `extern "system"` callbacks, the binding contexts and everything `unsafe` about the NMR live
//! in `npi_runtime`, where they are written once and tested.
//!
//! A crate with `#![forbid(unsafe_code)]` can use `#[npi_client]`, `#[npi_provider]` and
//! `#[dispatch_table]`: they emit no `#[allow(unsafe_code)]`, and the `unsafe` blocks and
//! impls they do emit are the macro's own tokens (spanned at the attribute, argued in the
//! generator), which the lint does not report in the user's crate. What such a crate cannot
//! do is what needs a promise of its own: declare an NPI (`#[npi]` goes with
//! `unsafe impl NpiLayout`), or implement or call a table function that is `unsafe fn`.
//! Declare the NPI in a crate of its own, as `npis/exnpi` does; `tests/forbid-unsafe` is such a
//! module crate.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod common;
mod dispatch;
mod module;
mod npi_data;
mod npi_def;

use proc_macro::TokenStream;

/// Declares a Network Programming Interface on a unit struct that names it.
///
/// ```
/// use npi_runtime::{dispatch_table, npi, npi_data};
///
/// /// `WSK_PROVIDER_CHARACTERISTICS`: what a provider publishes about itself.
/// #[npi_data]
/// pub struct VersionRange {
///     pub highest: u16,
///     pub lowest: u16,
/// }
///
/// #[dispatch_table]
/// pub struct EchoDispatch {
///     pub version: u16,
///     pub reserved: u16,
///     pub echo: fn(value: u32) -> u32,
/// }
///
/// #[npi(
///     id = "2227E803-8D8B-11D4-ABAD-009027719E09",
///     provider_characteristics = VersionRange,
///     provider_dispatch = EchoDispatch,
/// )]
/// pub struct Echo;
/// // SAFETY: WSK's provider characteristics and a table shaped like the C definition's; the
/// // only declaration of this id in the program.
/// unsafe impl npi_runtime::NpiLayout for Echo {}
///
/// assert_eq!(<Echo as npi_runtime::Npi>::ID.to_string(), "{2227E803-8D8B-11D4-ABAD-009027719E09}");
/// ```
///
/// Arguments:
/// - `id = "…"` (required): the NPIID, a GUID in registry form without braces. Checked at
///   compile time.
/// - `client_characteristics`, `provider_characteristics`: the NPI-specific characteristics
///   each side publishes in its registration instance; structs declared with
///   [`macro@npi_data`] (or any `NpiData` type with a C spelling).
///   Omitted: that side publishes none (NULL).
/// - `client_dispatch`, `provider_dispatch`: the table each side offers; types declared with
///   [`macro@dispatch_table`]. Omitted: NULL.
/// - `registration_version = N`: the registration instance `Version` the NPI's modules use
///   (0 unless the NPI versions its bindings; XDP uses 1).
/// - `c_name = "…"`, `c_id = "…"`: the NPI's name in its C header's guard (default: the
///   struct's name, lowercase) and the name of its id's constant (default: `NPI_<NAME>_ID`).
///
/// # The C header
/// An NPI declared here also has a C header, for the C modules on the other side of it:
/// `npi_runtime::c_header::header::<TheNpi>(&mut string)` writes its id, its characteristics
/// structs and dispatch tables (with a WDK-style function type per table function and
/// `<TABLE>_END_OF_<MEMBER>` sizes), and a `_Static_assert` of every size and offset on 32- and
/// 64-bit Windows. The same numbers are asserted against the Rust layout at compile time on
/// every target the NPI is built for, so a header that compiles describes the Rust layout. An
/// NPI crate typically commits the file and checks it in a test (`npis/exnpi/tests/c_header.rs`).
/// A characteristics type without a C spelling is a compile error at the type.
///
/// # Errors
/// A compile error at the offending token for a malformed GUID, a missing `id`, an unknown or
/// repeated argument, an item that is not a unit struct, a generic struct, and (from the type
/// checker, at the type you wrote) a characteristics type that is not `NpiData` or a dispatch
/// type that is not a dispatch table.
///
/// # Safety
/// The declaration is a promise the macro cannot check: that the types it names are the NPI's
/// binary layouts (a peer reads them through a `void *`), valid for every value a peer may
/// write, and that no other declaration gives this id other types. You make it with
/// `unsafe impl npi_runtime::NpiLayout for TheNpi {}` next to the struct, with a `// SAFETY:`
/// comment saying where the layout comes from; the declaration does not compile without it.
/// The `unsafe impl NpiData` of each characteristics type is the same kind of promise.
#[proc_macro_attribute]
pub fn npi(args: TokenStream, item: TokenStream) -> TokenStream {
    npi_def::expand(args.into(), item.into()).into()
}

/// Declares a client module: the struct it is put on is the registration context (what C
/// passes as `ClientContext`).
///
/// Generates the module id, the `NPI_CLIENT_CHARACTERISTICS` with its registration instance
/// as a `static` in read-only data with no run-time initialisation, and the impl of
/// `npi_runtime::generic::ClientModule` that ties the struct to its NPI. You write `impl Client` with
/// the callbacks: `attach` (`ClientAttachProvider`), optionally `detach` and `cleanup`.
///
/// ```
/// use npi_runtime::{npi, npi_client, Attach, Client, ClientRegistration, ClientAttachRequest};
///
/// #[npi(id = "0F5C2A7E-1B3D-4C8A-9E61-27D4B0A351C9")]
/// pub struct Example;
/// // SAFETY: the types this declaration gives the NPI are its layouts, and it is the only
/// // declaration of this id in the program.
/// unsafe impl ::npi_runtime::NpiLayout for Example {}
///
/// #[npi_client(npi = Example, module_id = "8B2E6C41-0D9F-4A73-B5E2-0C6A91F43D28")]
/// struct MyClient;
///
/// impl Client for MyClient {
///     type Binding = ();
///     fn attach(&self, request: ClientAttachRequest<'_, Self>) -> Attach {
///         request.accept((), &()).into()
///     }
/// }
///
/// static CLIENT: MyClient = MyClient;
/// // DriverEntry: register. Unload: drop (deregisters and waits).
/// let registration = ClientRegistration::register(&CLIENT).unwrap();
/// drop(registration);
/// ```
///
/// Arguments:
/// - `npi = Path` (required): the NPI, declared with [`macro@npi`].
/// - `module_id = "…"`: the module id (a `MIT_GUID` `NPI_MODULEID`), or `dynamic_module_id`
///   when it is only known at run time and given per registration
///   (`ClientRegistration::builder(m).module_guid(id)`); one of the two is required.
/// - `number = N`: the registration instance `Number` (default 0; also settable per
///   registration).
/// - `version = N`: the registration instance `Version` (default: the NPI's).
/// - `characteristics = STATIC`: a `static` of the NPI's client characteristics type, published
///   by default (also settable per registration: another `static`, or characteristics the
///   registration owns in an `Arc`).
///
/// One struct may carry `#[npi_client]` and `#[npi_provider]` both (a module with both roles,
/// such as a filter between two NPIs), each once. A struct with one role implements a table
/// without naming a side (`impl MyTableImpl for MyClient`); one with both names the side in its
/// table impls and constructors (see [`macro@dispatch_table`]).
///
/// # Errors
/// A compile error at the offending token for: the attribute on anything but a struct; a
/// generic struct; a struct with a lifetime (the context must be `'static`); a malformed GUID;
/// a missing `npi` or module id; both `module_id` and `dynamic_module_id`; unknown or repeated
/// arguments; the attribute twice on one struct (at the second). The type checker reports, at your tokens: an `npi` that is not an NPI,
/// `characteristics` of the wrong type (a provider's, say), a context that is not `Sync`, and a
/// missing `impl Client`.
///
/// # Safety
/// Nothing to uphold: the generated impl is `unsafe` only because it promises that the
/// characteristics are the runtime's own, which the macro guarantees.
#[proc_macro_attribute]
pub fn npi_client(args: TokenStream, item: TokenStream) -> TokenStream {
    module::expand(module::Role::Client, args.into(), item.into()).into()
}

/// Declares a provider module: the struct it is put on is the registration context (what C
/// passes as `ProviderContext`). The arguments are those of [`macro@npi_client`], for the
/// provider side; you write `impl Provider`.
///
/// ```
/// use npi_runtime::{npi, npi_provider, Attach, ProviderAttachRequest, Provider, ProviderRegistration};
///
/// #[npi(id = "6A1F93C0-55E2-4B7D-8C04-E1B927A6D350")]
/// pub struct Example;
/// // SAFETY: the types this declaration gives the NPI are its layouts, and it is the only
/// // declaration of this id in the program.
/// unsafe impl ::npi_runtime::NpiLayout for Example {}
///
/// #[npi_provider(npi = Example, module_id = "5D0B7F3A-2C84-4E19-A6F0-93B1E8C2D475")]
/// struct MyProvider;
///
/// impl Provider for MyProvider {
///     type Binding = u32;
///     fn attach(&self, request: ProviderAttachRequest<'_, Self>) -> Attach {
///         let number = request.client().number();
///         request.accept(number, &()).into()
///     }
/// }
///
/// static PROVIDER: MyProvider = MyProvider;
/// let registration = ProviderRegistration::register(&PROVIDER).unwrap();
/// registration.deregister().unwrap();
/// ```
///
/// # Errors
/// As [`macro@npi_client`].
///
/// # Safety
/// As [`macro@npi_client`].
#[proc_macro_attribute]
pub fn npi_provider(args: TokenStream, item: TokenStream) -> TokenStream {
    module::expand(module::Role::Provider, args.into(), item.into()).into()
}

/// Declares a dispatch table: a struct whose `fn(...)` fields are the table's functions and
/// whose other fields are its data members (a header such as `{Version, Reserved}`).
///
/// For `#[dispatch_table] pub struct Name { ... }` it generates:
/// - `Name` itself as the `#[repr(C)]` table a C peer sees, each `fn(...)` field an
///   `unsafe extern "system" fn` (or `extern "C"` with `abi = "C"`);
/// - `NameImpl`, the trait the module that offers the table implements, and
///   `Name::new::<T>(data members…)`, a `const fn` that fills the table with shims calling
///   `T`'s functions (shims that never unwind) and returns it as a `Table` for `T`'s role: a
///   table only that module may offer in `accept`. A struct with one role (`#[npi_client]` or
///   `#[npi_provider]`) writes `impl NameImpl for MyProvider` and `Name::new::<MyProvider>(..)`:
///   the side (whose binding the `#[context]` functions receive) is its one role. A struct
///   with both roles names the side in both places: `impl NameImpl<AsProvider<M>> for M` and
///   `Name::new_for::<AsProvider<M>>(..)` (leaving it out is a compile error saying so).
///   Name the table in a `static` with `ProviderTable<MyProvider>` or
///   `ClientTable<MyClient>`; it dereferences to `Name`. A table without functions has
///   `Name::new(data members…)`, for the side its `static` names;
/// - `Name::without_<member>(table)` for each `#[optional]` member: the same table with that
///   function NULL;
/// - `NameCalls<'a>`, what the other side calls through: a `PeerCall` dereferences to it, and
///   it passes the peer's binding context to functions whose first parameter is `#[context]`.
///   It is neither `Copy` nor `Clone`, and `as_table()` and `peer_context()` lend only for as
///   long as the `PeerCall` is held;
/// - `Name::END_OF_<FIELD>`: the size through each member, for tables that grow by appending
///   (`RTL_SIZEOF_THROUGH_FIELD`).
///
/// ```
/// use core::ffi::c_void;
/// use npi_runtime::{dispatch_table, ProviderBinding, ProviderTable};
/// # use npi_runtime::{npi, npi_provider, Attach, ProviderAttachRequest, Provider};
///
/// #[dispatch_table]
/// pub struct CounterDispatch {
///     pub version: u16,
///     pub reserved: u16,
///     /// Adds `n` to the binding's counter and returns the new value.
///     pub add: fn(#[context] binding: *mut c_void, n: u32) -> u32,
/// }
/// # #[npi(id = "3C1D0F7A-5B2E-4D09-8A61-7E4F2B90C3D5", provider_dispatch = CounterDispatch)]
/// # pub struct Counter;
/// # // SAFETY: the types this declaration gives the NPI are its layouts, and it is the only
/// # // declaration of this id in the program.
/// # unsafe impl ::npi_runtime::NpiLayout for Counter {}
/// # #[npi_provider(npi = Counter, module_id = "3C1D0F7A-5B2E-4D09-8A61-7E4F2B90C3D6")]
/// # struct CounterProvider;
/// # impl Provider for CounterProvider {
/// #     type Binding = std::sync::atomic::AtomicU32;
/// #     fn attach(&self, request: ProviderAttachRequest<'_, Self>) -> Attach {
/// #         request.accept(Default::default(), &TABLE).into()
/// #     }
/// # }
///
/// // CounterProvider's one role is the provider: the side is left out.
/// impl CounterDispatchImpl for CounterProvider {
///     fn add(binding: &ProviderBinding<'_, CounterProvider>, n: u32) -> u32 {
///         binding.fetch_add(n, std::sync::atomic::Ordering::Relaxed) + n
///     }
/// }
///
/// static TABLE: ProviderTable<CounterProvider> = CounterDispatch::new::<CounterProvider>(1, 0);
///
/// #[cfg(target_pointer_width = "64")]
/// assert_eq!((size_of::<CounterDispatch>(), CounterDispatch::END_OF_RESERVED), (16, 4));
/// ```
///
/// # Which functions are `unsafe`
/// A function of the table is an `unsafe fn` — its `NameImpl` method, which the implementing
/// side writes, and its `NameCalls` method, which the other side calls — exactly when:
/// - it is declared `unsafe fn(..)` in the table (the NPI asks more of the arguments than
///   their types say: a handle the peer looks up, a length that must match a buffer), or
/// - its signature spells a raw pointer (`*const T`, `*mut T`) or a function pointer
///   (`fn(..)`), anywhere in a parameter or the return type: behind a reference, in an array
///   or a generic argument (`Option<*mut T>`). The `#[context]` parameter does not count: the
///   runtime turns it into the typed binding.
///
/// The peer's promise that it passes what the NPI specifies is then the `# Safety` contract
/// of both methods. Every other function is safe, and each of its parameter and return types
/// must be a *plain value*: an integer, a float, `bool`, `char`, `()`, or an array of, a
/// reference to or an `Option` of a reference to plain values. This is checked by the type
/// system, not from the spelling, so type aliases of these (`NTSTATUS`, `ULONG`, `c_int`) are
/// plain, while a struct, or an alias that hides a pointer (`HANDLE`, `PVOID`), is a compile
/// error at the type asking you to declare the function `unsafe fn(..)` or to use a plain type.
///
/// # Errors
/// A compile error at the offending token for: the attribute on anything but a struct with
/// named fields; an empty or generic struct; `extern "…"`, `for<'a>` or `...` on a
/// function member; `#[context]` anywhere but the first parameter or on a type other than
/// `*mut c_void`; any other parameter attribute; an `abi` other than `"system"` or `"C"`; a
/// parameter or return type of a safe function that is not a plain value (see above).
///
/// # Safety
/// Calling a safe method of `NameCalls` needs no promise: it passes only plain values. An
/// `unsafe` one (see *Which functions are `unsafe`*) asks for the arguments the NPI specifies.
#[proc_macro_attribute]
pub fn dispatch_table(args: TokenStream, item: TokenStream) -> TokenStream {
    dispatch::expand(args.into(), item.into()).into()
}

/// Declares a struct an NPI shares by pointer: NPI-specific characteristics, or a struct its
/// table functions pass. It becomes `#[repr(C)]` NPI data and gets a C spelling for the NPI's
/// C header, with compile-time asserts that the C layout stated there is the Rust one.
///
/// ```
/// use npi_runtime::{npi, npi_data};
///
/// /// What a provider publishes about itself (`VERSION_RANGE` in C).
/// #[npi_data]
/// pub struct VersionRange {
///     pub highest: u16,
///     pub lowest: u16,
/// }
///
/// #[npi(id = "2227E803-8D8B-11D4-ABAD-009027719E09", provider_characteristics = VersionRange)]
/// pub struct Echo;
/// // SAFETY: the only declaration of this id in the program; its one type is above.
/// unsafe impl npi_runtime::NpiLayout for Echo {}
///
/// let mut header = String::new();
/// npi_runtime::c_header::header::<Echo>(&mut header).unwrap();
/// assert!(header.contains("typedef struct _VERSION_RANGE {"));
/// assert!(header.contains("    USHORT Highest;"));
/// ```
///
/// Arguments: `c_name = "…"`, the struct's name in C (default: its Rust name in
/// SCREAMING_CASE). Members are named in C as the WDK names them: `lowest_version` is
/// `LowestVersion`.
///
/// Every member must have a C spelling (`npi_runtime::c_header::CType`): integers, floats,
/// pointers, references, arrays, `GUID`, `LUID`, `NPI_MODULEID`, other `#[npi_data]` structs
/// and dispatch tables. Anything else is a compile error at the member's type. A struct
/// holding raw pointers is not `Sync`: say why sharing it is sound with an
/// `unsafe impl Sync`, as for any static holding pointers.
///
/// # Errors
/// A compile error for an item that is not a struct with named fields, a generic struct, a
/// `repr` other than `C`, or an unknown argument.
#[proc_macro_attribute]
pub fn npi_data(args: TokenStream, item: TokenStream) -> TokenStream {
    npi_data::expand(args.into(), item.into()).into()
}

#[cfg(test)]
mod tests;
