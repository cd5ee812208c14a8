// Expansion snapshot: `cargo test -p npi-macros --lib` compares it; UPDATE_SNAPSHOTS=1 rewrites it.
/// What the provider offers its clients.
#[repr(C)]
#[derive(::npi_runtime::__private::Clone, ::npi_runtime::__private::Copy)]
pub struct ExProviderDispatch {
    pub version: u16,
    pub length: u16,
    /// Doubles `value`.
    pub provider_function: unsafe extern "system" fn(
        binding: *mut c_void,
        value: u32,
    ) -> u32,
    pub raw_function: unsafe extern "system" fn(buffer: *const u8, length: usize) -> i32,
}
#[automatically_derived]
unsafe impl ::npi_runtime::__private::NpiData for ExProviderDispatch {}
#[automatically_derived]
unsafe impl ::npi_runtime::__private::DispatchTable for ExProviderDispatch {
    type Calls<'a> = ExProviderDispatchCalls<'a>;
    fn calls(
        peer: ::npi_runtime::__private::Peer<'_, Self>,
    ) -> ::npi_runtime::__private::Option<ExProviderDispatchCalls<'_>> {
        match peer.into_table() {
            ::npi_runtime::__private::Some(table) => {
                ::npi_runtime::__private::Some(ExProviderDispatchCalls(table))
            }
            ::npi_runtime::__private::None => ::npi_runtime::__private::None,
        }
    }
}
///The functions of [`ExProviderDispatch`], implemented in safe Rust.
#[allow(clippy::too_many_arguments)]
pub trait ExProviderDispatchImpl: 'static {
    /// The module role that offers this table and whose binding context the `#[context]`
    /// functions receive, e.g. `AsProvider<MyProvider>`.
    type Side: ::npi_runtime::__private::Side;
    /// Doubles `value`.
    fn provider_function(
        binding: &::npi_runtime::__private::Binding<'_, Self::Side>,
        value: u32,
    ) -> u32;
    ///
    /// # Safety
    /// The peer passes the arguments as the NPI specifies: pointers are valid
    /// for the use the NPI describes, for the duration of the call.
    unsafe fn raw_function(buffer: *const u8, length: usize) -> i32;
}
#[allow(clippy::too_many_arguments)]
impl ExProviderDispatch {
    ///A table whose functions call `T`'s, for `T::Side` to offer; the data members (header) in declaration order.
    #[must_use]
    pub const fn new<T: ExProviderDispatchImpl>(
        version: u16,
        length: u16,
    ) -> ::npi_runtime::__private::Table<<T as ExProviderDispatchImpl>::Side, Self> {
        unsafe {
            ::npi_runtime::__private::Table::new_unchecked(Self {
                version,
                length,
                provider_function: Self::__npi_provider_function::<T>,
                raw_function: Self::__npi_raw_function::<T>,
            })
        }
    }
    ///Bytes up to and including `version` (`RTL_SIZEOF_THROUGH_FIELD`): the size of the table as it was when `version` was its last member.
    pub const END_OF_VERSION: ::npi_runtime::__private::usize = ::npi_runtime::__private::offset_of!(
        Self, version
    ) + ::npi_runtime::__private::size_of::<u16>();
    ///Bytes up to and including `length` (`RTL_SIZEOF_THROUGH_FIELD`): the size of the table as it was when `length` was its last member.
    pub const END_OF_LENGTH: ::npi_runtime::__private::usize = ::npi_runtime::__private::offset_of!(
        Self, length
    ) + ::npi_runtime::__private::size_of::<u16>();
    ///Bytes up to and including `provider_function` (`RTL_SIZEOF_THROUGH_FIELD`): the size of the table as it was when `provider_function` was its last member.
    pub const END_OF_PROVIDER_FUNCTION: ::npi_runtime::__private::usize = ::npi_runtime::__private::offset_of!(
        Self, provider_function
    )
        + ::npi_runtime::__private::size_of::<
            unsafe extern "system" fn(binding: *mut c_void, value: u32) -> u32,
        >();
    ///Bytes up to and including `raw_function` (`RTL_SIZEOF_THROUGH_FIELD`): the size of the table as it was when `raw_function` was its last member.
    pub const END_OF_RAW_FUNCTION: ::npi_runtime::__private::usize = ::npi_runtime::__private::offset_of!(
        Self, raw_function
    )
        + ::npi_runtime::__private::size_of::<
            unsafe extern "system" fn(buffer: *const u8, length: usize) -> i32,
        >();
    #[doc(hidden)]
    /// # Safety
    /// Called only through the table, by the peer of a binding of `T::Side`, with that
    /// binding's context (where the function takes one) and arguments as the NPI says.
    unsafe extern "system" fn __npi_provider_function<T: ExProviderDispatchImpl>(
        binding: *mut c_void,
        value: u32,
    ) -> u32 {
        ::npi_runtime::__private::dispatch_guard(
            "ExProviderDispatch::provider_function",
            || {
                let __npi_binding = unsafe {
                    ::npi_runtime::__private::Binding::<T::Side>::from_context(binding)
                };
                <T as ExProviderDispatchImpl>::provider_function(&__npi_binding, value)
            },
        )
    }
    #[doc(hidden)]
    /// # Safety
    /// Called only through the table, by the peer of a binding of `T::Side`, with that
    /// binding's context (where the function takes one) and arguments as the NPI says.
    unsafe extern "system" fn __npi_raw_function<T: ExProviderDispatchImpl>(
        buffer: *const u8,
        length: usize,
    ) -> i32 {
        ::npi_runtime::__private::dispatch_guard(
            "ExProviderDispatch::raw_function",
            || { unsafe { <T as ExProviderDispatchImpl>::raw_function(buffer, length) } },
        )
    }
}
///The peer's [`ExProviderDispatch`], as [`PeerCall`](::npi_runtime::PeerCall) dereferences to it.
///
/// Neither `Copy` nor `Clone`: it is only lent by a `PeerCall`, which keeps this side's
/// detach pending, and what it lends is borrowed from it.
pub struct ExProviderDispatchCalls<'a>(
    ::npi_runtime::__private::PeerTable<'a, ExProviderDispatch>,
);
#[allow(clippy::too_many_arguments)]
impl<'a> ExProviderDispatchCalls<'a> {
    /// The peer's table itself (its data members, for a version check).
    #[must_use]
    pub fn as_table(&self) -> &ExProviderDispatch {
        self.0.table()
    }
    /// The peer's binding context, as the table's functions receive it.
    #[must_use]
    pub fn peer_context(&self) -> *mut ::npi_runtime::__private::c_void {
        self.0.context()
    }
    /// Doubles `value`.
    #[must_use]
    #[inline]
    pub fn provider_function(&self, value: u32) -> u32 {
        ::npi_runtime::__private::assert_plain::<u32>();
        ::npi_runtime::__private::assert_plain::<u32>();
        unsafe { (self.0.table().provider_function)(self.0.context(), value) }
    }
    ///
    /// # Safety
    /// The arguments must be what the NPI specifies for this function (pointers
    /// valid for the peer's use of them).
    #[must_use]
    #[inline]
    pub unsafe fn raw_function(&self, buffer: *const u8, length: usize) -> i32 {
        unsafe { (self.0.table().raw_function)(buffer, length) }
    }
}
