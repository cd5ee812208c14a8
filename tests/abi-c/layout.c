/*
 * layout.c - the sizes, alignments and member offsets of npi_abi.h as data.
 *
 * Compiled (not linked) by `cargo xtask abi-check` with clang for each *-pc-windows-msvc target;
 * every value is a `const ULONG` with external linkage, so it lands in the object's .rdata under
 * a symbol that names it:
 *
 *     npi_abi__<TYPE>__size, npi_abi__<TYPE>__align, npi_abi__<TYPE>__offset__<Member>[__<Member>]
 *
 * tests/abi-c/rust emits the same symbols from npi-runtime's Rust types, and the xtask reads both
 * objects and compares them. A value present on one side only is a failure too.
 */
#include "npi_abi.h"

#define NPI_ABI_SIZE(T)                                                                        \
    const ULONG npi_abi__##T##__size = sizeof(T);                                              \
    const ULONG npi_abi__##T##__align = _Alignof(T);
#define NPI_ABI_OFFSET(T, M) const ULONG npi_abi__##T##__offset__##M = __builtin_offsetof(T, M);
#define NPI_ABI_OFFSET2(T, M, N)                                                               \
    const ULONG npi_abi__##T##__offset__##M##__##N = __builtin_offsetof(T, M.N);

NPI_ABI_SIZE(NTSTATUS)
NPI_ABI_SIZE(HANDLE)
NPI_ABI_SIZE(NPI_MODULEID_TYPE)

NPI_ABI_SIZE(GUID)
NPI_ABI_OFFSET(GUID, Data1)
NPI_ABI_OFFSET(GUID, Data2)
NPI_ABI_OFFSET(GUID, Data3)
NPI_ABI_OFFSET(GUID, Data4)

NPI_ABI_SIZE(LUID)
NPI_ABI_OFFSET(LUID, LowPart)
NPI_ABI_OFFSET(LUID, HighPart)

NPI_ABI_SIZE(NPI_MODULEID)
NPI_ABI_OFFSET(NPI_MODULEID, Length)
NPI_ABI_OFFSET(NPI_MODULEID, Type)
NPI_ABI_OFFSET(NPI_MODULEID, Guid)
NPI_ABI_OFFSET(NPI_MODULEID, IfLuid)

NPI_ABI_SIZE(NPI_REGISTRATION_INSTANCE)
NPI_ABI_OFFSET(NPI_REGISTRATION_INSTANCE, Version)
NPI_ABI_OFFSET(NPI_REGISTRATION_INSTANCE, Size)
NPI_ABI_OFFSET(NPI_REGISTRATION_INSTANCE, NpiId)
NPI_ABI_OFFSET(NPI_REGISTRATION_INSTANCE, ModuleId)
NPI_ABI_OFFSET(NPI_REGISTRATION_INSTANCE, Number)
NPI_ABI_OFFSET(NPI_REGISTRATION_INSTANCE, NpiSpecificCharacteristics)

NPI_ABI_SIZE(PNPI_CLIENT_ATTACH_PROVIDER_FN)
NPI_ABI_SIZE(PNPI_PROVIDER_ATTACH_CLIENT_FN)

NPI_ABI_SIZE(NPI_CLIENT_CHARACTERISTICS)
NPI_ABI_OFFSET(NPI_CLIENT_CHARACTERISTICS, Version)
NPI_ABI_OFFSET(NPI_CLIENT_CHARACTERISTICS, Length)
NPI_ABI_OFFSET(NPI_CLIENT_CHARACTERISTICS, ClientAttachProvider)
NPI_ABI_OFFSET(NPI_CLIENT_CHARACTERISTICS, ClientDetachProvider)
NPI_ABI_OFFSET(NPI_CLIENT_CHARACTERISTICS, ClientCleanupBindingContext)
NPI_ABI_OFFSET(NPI_CLIENT_CHARACTERISTICS, ClientRegistrationInstance)
NPI_ABI_OFFSET2(NPI_CLIENT_CHARACTERISTICS, ClientRegistrationInstance, Size)
NPI_ABI_OFFSET2(NPI_CLIENT_CHARACTERISTICS, ClientRegistrationInstance, NpiId)
NPI_ABI_OFFSET2(NPI_CLIENT_CHARACTERISTICS, ClientRegistrationInstance, ModuleId)
NPI_ABI_OFFSET2(NPI_CLIENT_CHARACTERISTICS, ClientRegistrationInstance, Number)
NPI_ABI_OFFSET2(NPI_CLIENT_CHARACTERISTICS, ClientRegistrationInstance, NpiSpecificCharacteristics)

NPI_ABI_SIZE(NPI_PROVIDER_CHARACTERISTICS)
NPI_ABI_OFFSET(NPI_PROVIDER_CHARACTERISTICS, Version)
NPI_ABI_OFFSET(NPI_PROVIDER_CHARACTERISTICS, Length)
NPI_ABI_OFFSET(NPI_PROVIDER_CHARACTERISTICS, ProviderAttachClient)
NPI_ABI_OFFSET(NPI_PROVIDER_CHARACTERISTICS, ProviderDetachClient)
NPI_ABI_OFFSET(NPI_PROVIDER_CHARACTERISTICS, ProviderCleanupBindingContext)
NPI_ABI_OFFSET(NPI_PROVIDER_CHARACTERISTICS, ProviderRegistrationInstance)
NPI_ABI_OFFSET2(NPI_PROVIDER_CHARACTERISTICS, ProviderRegistrationInstance, Size)
NPI_ABI_OFFSET2(NPI_PROVIDER_CHARACTERISTICS, ProviderRegistrationInstance, NpiId)
NPI_ABI_OFFSET2(NPI_PROVIDER_CHARACTERISTICS, ProviderRegistrationInstance, ModuleId)
NPI_ABI_OFFSET2(NPI_PROVIDER_CHARACTERISTICS, ProviderRegistrationInstance, Number)
NPI_ABI_OFFSET2(NPI_PROVIDER_CHARACTERISTICS, ProviderRegistrationInstance, NpiSpecificCharacteristics)

NPI_ABI_SIZE(NPI)
NPI_ABI_OFFSET(NPI, Handle)
NPI_ABI_OFFSET(NPI, Dispatch)
