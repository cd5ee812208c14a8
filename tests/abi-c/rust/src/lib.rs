//! The sizes, alignments and member offsets of npi-runtime's NMR types, as exported statics named
//! exactly like the constants of `tests/abi-c/layout.c`:
//!
//! ```text
//! npi_abi__<TYPE>__size, npi_abi__<TYPE>__align, npi_abi__<TYPE>__offset__<Member>[__<Member>]
//! ```
//!
//! `cargo xtask abi-check` compiles this for each Windows target and reads the values back from
//! the objects, so both sides are measured by their compilers, not typed in. Member names are
//! the C ones: the Rust union member `Anonymous` of `NPI_MODULEID` is C's anonymous union.
#![no_std]

// Linked for its compile-time layout asserts only (see Cargo.toml).
use exnpi as _;
use npi_ebpf as _;
use npi_msquic as _;
use npi_wsk as _;
use npi_xdp as _;

use core::mem::{align_of, offset_of, size_of};

use npi_runtime::sys::{
    GUID, HANDLE, LUID, NPI, NPI_CLIENT_CHARACTERISTICS, NPI_MODULEID, NPI_MODULEID_TYPE,
    NPI_PROVIDER_CHARACTERISTICS, NPI_REGISTRATION_INSTANCE, NTSTATUS,
    PNPI_CLIENT_ATTACH_PROVIDER_FN, PNPI_PROVIDER_ATTACH_CLIENT_FN,
};

/// One `u32` in the object's read-only data under the symbol `npi_abi__<name>`.
macro_rules! emit {
    ($name:expr, $value:expr) => {
        const _: () = {
            #[used]
            #[unsafe(export_name = concat!("npi_abi__", $name))]
            static VALUE: u32 = {
                let value: usize = $value;
                assert!(value <= u32::MAX as usize);
                #[allow(clippy::cast_possible_truncation)] // checked just above
                let value = value as u32;
                value
            };
        };
    };
}

/// `<TYPE>__size` and `<TYPE>__align`.
macro_rules! size {
    ($ty:ident) => {
        emit!(concat!(stringify!($ty), "__size"), size_of::<$ty>());
        emit!(concat!(stringify!($ty), "__align"), align_of::<$ty>());
    };
}

/// `<TYPE>__offset__<Member>` (and `__<Member>` for a nested one); `as` gives the C name when
/// the Rust path differs.
macro_rules! offset {
    ($ty:ident, $member:ident) => {
        emit!(concat!(stringify!($ty), "__offset__", stringify!($member)), offset_of!($ty, $member));
    };
    ($ty:ident, $member:ident . $nested:ident) => {
        emit!(
            concat!(stringify!($ty), "__offset__", stringify!($member), "__", stringify!($nested)),
            offset_of!($ty, $member.$nested)
        );
    };
    ($ty:ident, $($path:ident).+ as $c_name:ident) => {
        emit!(concat!(stringify!($ty), "__offset__", stringify!($c_name)), offset_of!($ty, $($path).+));
    };
}

size!(NTSTATUS);
size!(HANDLE);
size!(NPI_MODULEID_TYPE);

size!(GUID);
offset!(GUID, data1 as Data1);
offset!(GUID, data2 as Data2);
offset!(GUID, data3 as Data3);
offset!(GUID, data4 as Data4);

size!(LUID);
offset!(LUID, LowPart);
offset!(LUID, HighPart);

size!(NPI_MODULEID);
offset!(NPI_MODULEID, Length);
offset!(NPI_MODULEID, Type);
offset!(NPI_MODULEID, Anonymous.Guid as Guid);
offset!(NPI_MODULEID, Anonymous.IfLuid as IfLuid);

size!(NPI_REGISTRATION_INSTANCE);
offset!(NPI_REGISTRATION_INSTANCE, Version);
offset!(NPI_REGISTRATION_INSTANCE, Size);
offset!(NPI_REGISTRATION_INSTANCE, NpiId);
offset!(NPI_REGISTRATION_INSTANCE, ModuleId);
offset!(NPI_REGISTRATION_INSTANCE, Number);
offset!(NPI_REGISTRATION_INSTANCE, NpiSpecificCharacteristics);

size!(PNPI_CLIENT_ATTACH_PROVIDER_FN);
size!(PNPI_PROVIDER_ATTACH_CLIENT_FN);

size!(NPI_CLIENT_CHARACTERISTICS);
offset!(NPI_CLIENT_CHARACTERISTICS, Version);
offset!(NPI_CLIENT_CHARACTERISTICS, Length);
offset!(NPI_CLIENT_CHARACTERISTICS, ClientAttachProvider);
offset!(NPI_CLIENT_CHARACTERISTICS, ClientDetachProvider);
offset!(NPI_CLIENT_CHARACTERISTICS, ClientCleanupBindingContext);
offset!(NPI_CLIENT_CHARACTERISTICS, ClientRegistrationInstance);
offset!(NPI_CLIENT_CHARACTERISTICS, ClientRegistrationInstance.Size);
offset!(NPI_CLIENT_CHARACTERISTICS, ClientRegistrationInstance.NpiId);
offset!(NPI_CLIENT_CHARACTERISTICS, ClientRegistrationInstance.ModuleId);
offset!(NPI_CLIENT_CHARACTERISTICS, ClientRegistrationInstance.Number);
offset!(NPI_CLIENT_CHARACTERISTICS, ClientRegistrationInstance.NpiSpecificCharacteristics);

size!(NPI_PROVIDER_CHARACTERISTICS);
offset!(NPI_PROVIDER_CHARACTERISTICS, Version);
offset!(NPI_PROVIDER_CHARACTERISTICS, Length);
offset!(NPI_PROVIDER_CHARACTERISTICS, ProviderAttachClient);
offset!(NPI_PROVIDER_CHARACTERISTICS, ProviderDetachClient);
offset!(NPI_PROVIDER_CHARACTERISTICS, ProviderCleanupBindingContext);
offset!(NPI_PROVIDER_CHARACTERISTICS, ProviderRegistrationInstance);
offset!(NPI_PROVIDER_CHARACTERISTICS, ProviderRegistrationInstance.Size);
offset!(NPI_PROVIDER_CHARACTERISTICS, ProviderRegistrationInstance.NpiId);
offset!(NPI_PROVIDER_CHARACTERISTICS, ProviderRegistrationInstance.ModuleId);
offset!(NPI_PROVIDER_CHARACTERISTICS, ProviderRegistrationInstance.Number);
offset!(NPI_PROVIDER_CHARACTERISTICS, ProviderRegistrationInstance.NpiSpecificCharacteristics);

size!(NPI);
offset!(NPI, Handle);
offset!(NPI, Dispatch);
