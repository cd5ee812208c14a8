/*
 * npi_abi.h - the NMR structures of netiodef.h / netioddk.h, for the layout comparison run by
 * `cargo xtask abi-check`.
 *
 * Written from the field lists and rules in spec/nmr-contract.md, section 3 (GUID, NPIID,
 * NPI_MODULEID, NPI_REGISTRATION_INSTANCE, NPI_CLIENT_CHARACTERISTICS,
 * NPI_PROVIDER_CHARACTERISTICS, NPI), not copied from a Windows header. Only what decides the
 * layout matters here: member order, member types and their sizes on the Windows ABIs.
 *
 * Freestanding on purpose: no SDK is needed, so every type below is spelled out.
 */
#ifndef NPI_ABI_H
#define NPI_ABI_H

/* Windows integer types: LLP64, so `long` is 32 bits on every Windows target. */
typedef unsigned char UCHAR;
typedef unsigned short USHORT;
typedef unsigned long ULONG;
typedef long LONG;
typedef LONG NTSTATUS;
typedef void *PVOID;
typedef PVOID HANDLE;

/* guiddef.h: 16 bytes, aligned to its ULONG. */
typedef struct _GUID {
    ULONG Data1;
    USHORT Data2;
    USHORT Data3;
    UCHAR Data4[8];
} GUID;

/* An NPI is named by a GUID; modules compare them by value. */
typedef GUID NPIID;
typedef const NPIID *PNPIID;

/* An interface LUID: two 32-bit halves, so only 4-byte aligned. */
typedef struct _LUID {
    ULONG LowPart;
    LONG HighPart;
} LUID;

/* A C enum: int-sized under MSVC rules. */
typedef enum _NPI_MODULEID_TYPE {
    MIT_GUID = 1,
    MIT_IF_LUID = 2
} NPI_MODULEID_TYPE;

/* Identifies a module: Length = sizeof, Type selects the union member. No pointers, so the
 * same 24 bytes on every target. */
typedef struct _NPI_MODULEID {
    USHORT Length;
    NPI_MODULEID_TYPE Type;
    union {
        GUID Guid;
        LUID IfLuid;
    };
} NPI_MODULEID;
typedef const NPI_MODULEID *PNPI_MODULEID;

/* What a module tells its peers about itself. */
typedef struct _NPI_REGISTRATION_INSTANCE {
    USHORT Version;
    USHORT Size;
    PNPIID NpiId;
    PNPI_MODULEID ModuleId;
    ULONG Number;
    const void *NpiSpecificCharacteristics;
} NPI_REGISTRATION_INSTANCE;
typedef const NPI_REGISTRATION_INSTANCE *PNPI_REGISTRATION_INSTANCE;

/* The callbacks are __stdcall on x86 (NTAPI); the other targets have one convention. The
 * convention does not change a pointer's size, but it is part of the type being described. */
#if defined(_M_IX86)
#define NPI_CALLBACK __stdcall
#else
#define NPI_CALLBACK
#endif

/* The callback types as the WDK spells them: the function type (for declarations) and the
 * pointer the characteristics hold. */
typedef NTSTATUS(NPI_CALLBACK NPI_CLIENT_ATTACH_PROVIDER_FN)(
    HANDLE NmrBindingHandle, PVOID ClientContext,
    PNPI_REGISTRATION_INSTANCE ProviderRegistrationInstance);
typedef NTSTATUS(NPI_CALLBACK NPI_CLIENT_DETACH_PROVIDER_FN)(PVOID ClientBindingContext);
typedef void(NPI_CALLBACK NPI_CLIENT_CLEANUP_BINDING_CONTEXT_FN)(PVOID ClientBindingContext);
typedef NPI_CLIENT_ATTACH_PROVIDER_FN *PNPI_CLIENT_ATTACH_PROVIDER_FN;
typedef NPI_CLIENT_DETACH_PROVIDER_FN *PNPI_CLIENT_DETACH_PROVIDER_FN;
typedef NPI_CLIENT_CLEANUP_BINDING_CONTEXT_FN *PNPI_CLIENT_CLEANUP_BINDING_CONTEXT_FN;

typedef NTSTATUS(NPI_CALLBACK NPI_PROVIDER_ATTACH_CLIENT_FN)(
    HANDLE NmrBindingHandle, PVOID ProviderContext,
    PNPI_REGISTRATION_INSTANCE ClientRegistrationInstance, PVOID ClientBindingContext,
    const void *ClientDispatch, PVOID *ProviderBindingContext, const void **ProviderDispatch);
typedef NTSTATUS(NPI_CALLBACK NPI_PROVIDER_DETACH_CLIENT_FN)(PVOID ProviderBindingContext);
typedef void(NPI_CALLBACK NPI_PROVIDER_CLEANUP_BINDING_CONTEXT_FN)(PVOID ProviderBindingContext);
typedef NPI_PROVIDER_ATTACH_CLIENT_FN *PNPI_PROVIDER_ATTACH_CLIENT_FN;
typedef NPI_PROVIDER_DETACH_CLIENT_FN *PNPI_PROVIDER_DETACH_CLIENT_FN;
typedef NPI_PROVIDER_CLEANUP_BINDING_CONTEXT_FN *PNPI_PROVIDER_CLEANUP_BINDING_CONTEXT_FN;

/* Given to NmrRegisterClient; the registration instance is embedded, not pointed to. */
typedef struct _NPI_CLIENT_CHARACTERISTICS {
    USHORT Version;
    USHORT Length;
    PNPI_CLIENT_ATTACH_PROVIDER_FN ClientAttachProvider;
    PNPI_CLIENT_DETACH_PROVIDER_FN ClientDetachProvider;
    PNPI_CLIENT_CLEANUP_BINDING_CONTEXT_FN ClientCleanupBindingContext;
    NPI_REGISTRATION_INSTANCE ClientRegistrationInstance;
} NPI_CLIENT_CHARACTERISTICS;

/* The provider's counterpart: the same shape with the provider's callbacks. */
typedef struct _NPI_PROVIDER_CHARACTERISTICS {
    USHORT Version;
    USHORT Length;
    PNPI_PROVIDER_ATTACH_CLIENT_FN ProviderAttachClient;
    PNPI_PROVIDER_DETACH_CLIENT_FN ProviderDetachClient;
    PNPI_PROVIDER_CLEANUP_BINDING_CONTEXT_FN ProviderCleanupBindingContext;
    NPI_REGISTRATION_INSTANCE ProviderRegistrationInstance;
} NPI_PROVIDER_CHARACTERISTICS;

/* A handle and a dispatch table; no NMR function takes it. */
typedef struct _NPI {
    HANDLE Handle;
    const void *Dispatch;
} NPI;

#endif /* NPI_ABI_H */
