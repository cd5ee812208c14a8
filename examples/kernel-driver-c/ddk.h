/*
 * ddk.h - the little of wdm.h and netioddk.h that exnpi_driver.c needs, spelled as the WDK
 * spells it, so the driver builds without a WDK (clang --target=*-pc-windows-msvc,
 * -ffreestanding -nostdinc). The NMR layouts are the ones `cargo xtask abi-check` compares
 * against npi-runtime (tests/abi-c/npi_abi.h); the DRIVER_OBJECT offsets are asserted below.
 *
 * Every import is __declspec(dllimport), as wdm.h's NTKERNELAPI makes the ntoskrnl ones: calls
 * go through the import address table directly (`call [__imp_X]`), with no import thunk, which
 * is also how rustc calls npi-runtime's raw-dylib imports. (netioddk.h declares the Nmr*
 * functions without dllimport, which would add one 6-byte thunk per NMR function.)
 */
#ifndef EXNPI_DDK_H
#define EXNPI_DDK_H

/* ---- basic types: the NMR's own (UCHAR … NTSTATUS, GUID) come from npi_abi.h ---------------- */

#include "../../tests/abi-c/npi_abi.h"

typedef unsigned long long ULONG64;
typedef unsigned char BOOLEAN;
typedef char CHAR;
typedef short CSHORT;
typedef void VOID;
typedef HANDLE *PHANDLE;
typedef __SIZE_TYPE__ SIZE_T;
typedef ULONG64 POOL_FLAGS;

#define NULL ((void *)0)
#define TRUE 1
#define FALSE 0
#define CONST const

/* NTAPI is __stdcall on x86 and means nothing elsewhere; DbgPrint alone is __cdecl. */
#if defined(_M_IX86)
#define NTAPI __stdcall
#else
#define NTAPI
#endif
#define NTKERNELAPI __declspec(dllimport)
#define NETIOAPI __declspec(dllimport)

#define NT_SUCCESS(Status) (((NTSTATUS)(Status)) >= 0)
#define STATUS_SUCCESS ((NTSTATUS)0x00000000L)
#define STATUS_PENDING ((NTSTATUS)0x00000103L)
#define STATUS_INVALID_PARAMETER ((NTSTATUS)0xC000000DL)
#define STATUS_INSUFFICIENT_RESOURCES ((NTSTATUS)0xC000009AL)
#define STATUS_NOINTERFACE ((NTSTATUS)0xC00002B9L)

#define UNREFERENCED_PARAMETER(P) ((void)(P))


/* ---- wdm.h: the pool, the debugger, interlocked operations, DRIVER_OBJECT ----------------- */

#define POOL_FLAG_UNINITIALIZED 0x0000000000000002ULL
#define POOL_FLAG_NON_PAGED 0x0000000000000040ULL

NTKERNELAPI PVOID NTAPI ExAllocatePool2(POOL_FLAGS Flags, SIZE_T NumberOfBytes, ULONG Tag);
NTKERNELAPI VOID NTAPI ExFreePoolWithTag(PVOID P, ULONG Tag);
NTKERNELAPI ULONG __cdecl DbgPrint(const CHAR *Format, ...);

/*
 * InterlockedXxx on a LONG: full barriers, as the WDK's intrinsics are (lock-prefixed on x86
 * and x64, a barrier-wrapped exclusive pair or LSE atomic on arm64).
 */
static __inline LONG InterlockedCompareExchange(volatile LONG *Destination, LONG Exchange,
                                                LONG Comperand)
{
    __atomic_compare_exchange_n(Destination, &Comperand, Exchange, 0, __ATOMIC_SEQ_CST,
                                __ATOMIC_SEQ_CST);
    return Comperand;
}

static __inline LONG InterlockedExchangeAdd(volatile LONG *Addend, LONG Value)
{
    return __atomic_fetch_add(Addend, Value, __ATOMIC_SEQ_CST);
}

static __inline LONG InterlockedOr(volatile LONG *Destination, LONG Value)
{
    return __atomic_fetch_or(Destination, Value, __ATOMIC_SEQ_CST);
}

static __inline LONG ReadNoFence(const volatile LONG *Source)
{
    return __atomic_load_n(Source, __ATOMIC_RELAXED);
}

/* `UNICODE_STRING`, for the DRIVER_OBJECT layout. */
typedef struct _UNICODE_STRING {
    USHORT Length;
    USHORT MaximumLength;
    PVOID Buffer;
} UNICODE_STRING, *PUNICODE_STRING;

struct _DRIVER_OBJECT;
typedef VOID(NTAPI DRIVER_UNLOAD)(struct _DRIVER_OBJECT *DriverObject);
typedef DRIVER_UNLOAD *PDRIVER_UNLOAD;

/* The front of DRIVER_OBJECT, up to the member a driver sets in DriverEntry. */
typedef struct _DRIVER_OBJECT {
    CSHORT Type;
    CSHORT Size;
    PVOID DeviceObject;
    ULONG Flags;
    PVOID DriverStart;
    ULONG DriverSize;
    PVOID DriverSection;
    PVOID DriverExtension;
    UNICODE_STRING DriverName;
    PUNICODE_STRING HardwareDatabase;
    PVOID FastIoDispatch;
    PVOID DriverInit;
    PVOID DriverStartIo;
    PDRIVER_UNLOAD DriverUnload;
    /* MajorFunction[] follows; never touched here. */
} DRIVER_OBJECT, *PDRIVER_OBJECT;

#if defined(_WIN64)
_Static_assert(__builtin_offsetof(DRIVER_OBJECT, DriverUnload) == 0x68, "DRIVER_OBJECT layout");
#else
_Static_assert(__builtin_offsetof(DRIVER_OBJECT, DriverUnload) == 0x34, "DRIVER_OBJECT layout");
#endif

typedef NTSTATUS(NTAPI DRIVER_INITIALIZE)(PDRIVER_OBJECT DriverObject,
                                          PUNICODE_STRING RegistryPath);

/* ---- netioddk.h: the Network Module Registrar ---------------------------------------------- */

/* The NMR's types are npi_abi.h's: the very header `cargo xtask abi-check` compares against
 * npi-runtime's layouts. */

NETIOAPI NTSTATUS NTAPI NmrRegisterClient(const NPI_CLIENT_CHARACTERISTICS *ClientCharacteristics,
                                          PVOID ClientContext, PHANDLE NmrClientHandle);
NETIOAPI NTSTATUS NTAPI NmrDeregisterClient(HANDLE NmrClientHandle);
NETIOAPI NTSTATUS NTAPI NmrWaitForClientDeregisterComplete(HANDLE NmrClientHandle);
NETIOAPI NTSTATUS NTAPI NmrClientAttachProvider(HANDLE NmrBindingHandle,
                                                PVOID ClientBindingContext,
                                                const VOID *ClientDispatch,
                                                PVOID *ProviderBindingContext,
                                                const VOID **ProviderDispatch);
NETIOAPI VOID NTAPI NmrClientDetachProviderComplete(HANDLE NmrBindingHandle);

NETIOAPI NTSTATUS NTAPI NmrRegisterProvider(
    const NPI_PROVIDER_CHARACTERISTICS *ProviderCharacteristics, PVOID ProviderContext,
    PHANDLE NmrProviderHandle);
NETIOAPI NTSTATUS NTAPI NmrDeregisterProvider(HANDLE NmrProviderHandle);
NETIOAPI NTSTATUS NTAPI NmrWaitForProviderDeregisterComplete(HANDLE NmrProviderHandle);
NETIOAPI VOID NTAPI NmrProviderDetachClientComplete(HANDLE NmrBindingHandle);

#endif /* EXNPI_DDK_H */
