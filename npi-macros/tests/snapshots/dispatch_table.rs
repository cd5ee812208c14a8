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
/**The functions of [`ExProviderDispatch`], implemented in safe Rust by the module that offers the table.

`Side` is the module role whose binding the `#[context]` functions receive. A module with one role (a client or a provider) leaves it out: `impl ExProviderDispatchImpl for MyProvider`. A module with both names it: `impl ExProviderDispatchImpl<AsProvider<MyModule>> for MyModule`, and builds the table with `ExProviderDispatch::new_for::<AsProvider<MyModule>>(..)`.*/
#[allow(clippy::too_many_arguments)]
pub trait ExProviderDispatchImpl<
    Side: ::npi_runtime::__private::Side
        = <Self as ::npi_runtime::__private::SoleRole>::Side,
>: 'static {
    /// Doubles `value`.
    fn provider_function(
        binding: &::npi_runtime::__private::Binding<'_, Side>,
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
    ///A table whose functions call `T`'s `ExProviderDispatchImpl`, for `T`'s one role (client or provider) to offer; the data members (header) in declaration order. A module with both roles uses [`new_for`](Self::new_for).
    #[must_use]
    pub const fn new<T>(
        version: u16,
        length: u16,
    ) -> ::npi_runtime::__private::Table<
        <T as ::npi_runtime::__private::SoleRole>::Side,
        Self,
    >
    where
        T: ::npi_runtime::__private::SoleRole
            + ExProviderDispatchImpl<<T as ::npi_runtime::__private::SoleRole>::Side>,
        <T as ::npi_runtime::__private::SoleRole>::Side: ::npi_runtime::__private::Side,
    {
        unsafe {
            ::npi_runtime::__private::Table::new_unchecked(Self {
                version,
                length,
                provider_function: Self::__npi_provider_function::<
                    <T as ::npi_runtime::__private::SoleRole>::Side,
                    T,
                >,
                raw_function: Self::__npi_raw_function::<
                    <T as ::npi_runtime::__private::SoleRole>::Side,
                    T,
                >,
            })
        }
    }
    ///A table for the side `S` to offer (`AsProvider<M>` or `AsClient<M>`), whose functions call `M`'s `ExProviderDispatchImpl<S>`: for a module with both roles; the data members (header) in declaration order.
    #[must_use]
    pub const fn new_for<S>(
        version: u16,
        length: u16,
    ) -> ::npi_runtime::__private::Table<S, Self>
    where
        S: ::npi_runtime::__private::Side,
        <S as ::npi_runtime::__private::Side>::Module: ExProviderDispatchImpl<S>,
    {
        unsafe {
            ::npi_runtime::__private::Table::new_unchecked(Self {
                version,
                length,
                provider_function: Self::__npi_provider_function::<
                    S,
                    <S as ::npi_runtime::__private::Side>::Module,
                >,
                raw_function: Self::__npi_raw_function::<
                    S,
                    <S as ::npi_runtime::__private::Side>::Module,
                >,
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
    /// Called only through a table built for the side `S`, by the peer of a binding of
    /// `S`, with that binding's context (where the function takes one) and arguments as
    /// the NPI says.
    unsafe extern "system" fn __npi_provider_function<
        S: ::npi_runtime::__private::Side,
        T: ExProviderDispatchImpl<S>,
    >(binding: *mut c_void, value: u32) -> u32 {
        let __npi_call = |__npi_binding: &::npi_runtime::__private::Binding<'_, S>| <T as ExProviderDispatchImpl<
            S,
        >>::provider_function(__npi_binding, value);
        unsafe {
            ::npi_runtime::__private::dispatch_with_binding::<
                S,
                _,
            >("ExProviderDispatch::provider_function", binding, __npi_call)
        }
    }
    #[doc(hidden)]
    /// # Safety
    /// Called only through a table built for the side `S`, by the peer of a binding of
    /// `S`, with that binding's context (where the function takes one) and arguments as
    /// the NPI says.
    unsafe extern "system" fn __npi_raw_function<
        S: ::npi_runtime::__private::Side,
        T: ExProviderDispatchImpl<S>,
    >(buffer: *const u8, length: usize) -> i32 {
        ::npi_runtime::__private::dispatch_guard(
            "ExProviderDispatch::raw_function",
            || unsafe { <T as ExProviderDispatchImpl<S>>::raw_function(buffer, length) },
        )
    }
}
///The peer's [`ExProviderDispatch`], as [`PeerCall`](::npi_runtime::generic::PeerCall) dereferences to it.
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
impl ExProviderDispatch {
    #[doc(hidden)]
    pub const __C_STRUCT: ::npi_runtime::__private::CStruct = ::npi_runtime::__private::CStruct {
        name: "EX_PROVIDER_DISPATCH",
        members: &{
            let mut m: [::npi_runtime::__private::Option<
                ::npi_runtime::__private::CMember,
            >; 4] = [::npi_runtime::__private::None; 4];
            {
                m[0] = ::npi_runtime::__private::Some(::npi_runtime::__private::CMember {
                    name: "Version",
                    ty: ::npi_runtime::__private::CTypeRef::of::<u16>(""),
                    function: ::npi_runtime::__private::None,
                    end_of: ::npi_runtime::__private::Some(
                        "EX_PROVIDER_DISPATCH_END_OF_VERSION",
                    ),
                });
            }
            {
                m[1] = ::npi_runtime::__private::Some(::npi_runtime::__private::CMember {
                    name: "Length",
                    ty: ::npi_runtime::__private::CTypeRef::of::<u16>(""),
                    function: ::npi_runtime::__private::None,
                    end_of: ::npi_runtime::__private::Some(
                        "EX_PROVIDER_DISPATCH_END_OF_LENGTH",
                    ),
                });
            }
            {
                m[2] = ::npi_runtime::__private::Some(::npi_runtime::__private::CMember {
                    name: "ProviderFunction",
                    ty: ::npi_runtime::__private::CTypeRef::FUNCTION,
                    function: ::npi_runtime::__private::Some(::npi_runtime::__private::CFunction {
                        typedef: "EX_PROVIDER_PROVIDER_FUNCTION",
                        system: true,
                        ret: ::npi_runtime::__private::Some(
                            ::npi_runtime::__private::CTypeRef::of::<u32>(""),
                        ),
                        params: &[
                            (
                                "Binding",
                                ::npi_runtime::__private::CTypeRef::of::<
                                    *mut c_void,
                                >("PVOID"),
                            ),
                            ("Value", ::npi_runtime::__private::CTypeRef::of::<u32>("")),
                        ],
                    }),
                    end_of: ::npi_runtime::__private::Some(
                        "EX_PROVIDER_DISPATCH_END_OF_PROVIDER_FUNCTION",
                    ),
                });
            }
            {
                m[3] = ::npi_runtime::__private::Some(::npi_runtime::__private::CMember {
                    name: "RawFunction",
                    ty: ::npi_runtime::__private::CTypeRef::FUNCTION,
                    function: ::npi_runtime::__private::Some(::npi_runtime::__private::CFunction {
                        typedef: "EX_PROVIDER_RAW_FUNCTION",
                        system: true,
                        ret: ::npi_runtime::__private::Some(
                            ::npi_runtime::__private::CTypeRef::of::<i32>(""),
                        ),
                        params: &[
                            (
                                "Buffer",
                                ::npi_runtime::__private::CTypeRef::of::<*const u8>(""),
                            ),
                            (
                                "Length",
                                ::npi_runtime::__private::CTypeRef::of::<usize>(""),
                            ),
                        ],
                    }),
                    end_of: ::npi_runtime::__private::Some(
                        "EX_PROVIDER_DISPATCH_END_OF_RAW_FUNCTION",
                    ),
                });
            }
            m
        },
    };
}
#[automatically_derived]
unsafe impl ::npi_runtime::__private::CType for ExProviderDispatch {
    const LAYOUT: ::npi_runtime::__private::CLayout = Self::__C_STRUCT.layout();
    fn declare(
        out: &mut dyn ::npi_runtime::__private::Write,
        qualifier: &::npi_runtime::__private::str,
        declarator: &dyn ::npi_runtime::__private::Display,
    ) -> ::npi_runtime::__private::FmtResult {
        Self::__C_STRUCT.declare(out, qualifier, declarator)
    }
    fn define(
        header: &mut ::npi_runtime::__private::Header<'_>,
    ) -> ::npi_runtime::__private::FmtResult {
        Self::__C_STRUCT.define(header)
    }
}
const _: () = {
    ::npi_runtime::__private::assert!(
        < ExProviderDispatch as ::npi_runtime::__private::CType >::LAYOUT.is_layout_of::<
        ExProviderDispatch > (),
        "the C layout of `ExProviderDispatch` is not its Rust layout"
    );
    {
        ::npi_runtime::__private::assert!(
            ExProviderDispatch::__C_STRUCT.member_at(0,
            ::npi_runtime::__private::offset_of!(ExProviderDispatch, version)),
            "`ExProviderDispatch::version` is not at the offset the C header states"
        );
    }
    {
        ::npi_runtime::__private::assert!(
            ExProviderDispatch::__C_STRUCT.member_at(1,
            ::npi_runtime::__private::offset_of!(ExProviderDispatch, length)),
            "`ExProviderDispatch::length` is not at the offset the C header states"
        );
    }
    {
        ::npi_runtime::__private::assert!(
            ExProviderDispatch::__C_STRUCT.member_at(2,
            ::npi_runtime::__private::offset_of!(ExProviderDispatch, provider_function)),
            "`ExProviderDispatch::provider_function` is not at the offset the C header states"
        );
    }
    {
        ::npi_runtime::__private::assert!(
            ExProviderDispatch::__C_STRUCT.member_at(3,
            ::npi_runtime::__private::offset_of!(ExProviderDispatch, raw_function)),
            "`ExProviderDispatch::raw_function` is not at the offset the C header states"
        );
    }
};
