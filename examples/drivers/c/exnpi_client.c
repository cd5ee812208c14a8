/*
 * exnpi_client.c - the EXNPI client in C, a driver of its own: the peer of the Rust provider
 * (examples/drivers/exnpi-provider) in `cargo xtask emulate`.
 *
 * On attach it calls the provider through its table (ProviderFunction(21)); the provider calls
 * back through ClientNotify. Its binding context comes from the non-paged pool at attach and is
 * freed in the cleanup callback. Calls into the provider are counted as in
 * examples/kernel-driver-c: none starts once detach began, and a detach that finds one in
 * flight pends until the last returns (none is, here: the detach is done at once).
 *
 * EXNPI_BROKEN_* macros build deliberately broken variants, the emulator's self-test (never set
 * in a driver that ships):
 *   EXNPI_BROKEN_ATTACH_SKIPS_NMR      attach returns STATUS_SUCCESS without NmrClientAttachProvider
 *   EXNPI_BROKEN_LEAK                  cleanup does not free the binding context
 *   EXNPI_BROKEN_CDECL_CALLBACK        (x86) detach is __cdecl: it does not pop its argument
 *   EXNPI_BROKEN_WILD_READ             attach reads through a NULL structure pointer
 *   EXNPI_BROKEN_UNSUPPORTED_IMPORT    DriverEntry calls IoGetCurrentProcess
 */
#include "kernel.h"
/* The header generated from the Rust declaration of EXNPI (npis/exnpi), the same one the
 * Rust drivers use: regenerated and checked by `cargo test -p exnpi`. */
#include "../../../npis/exnpi/include/exnpi.h"

#define EXNPI_POOL_TAG 0x2069704EUL

typedef struct _EXNPI_CLIENT_BINDING {
    HANDLE NmrBindingHandle;
    PVOID ProviderBindingContext;
    const EXNPI_PROVIDER_DISPATCH *ProviderDispatch;
    /* Bit 0: detach began; calls into the provider in steps of 2. */
    volatile LONG Calls;
} EXNPI_CLIENT_BINDING;

/* A call into the provider may start: counted, unless this side's detach began. */
static BOOLEAN EnterCall(EXNPI_CLIENT_BINDING *Binding)
{
    LONG Value = ReadNoFence(&Binding->Calls);
    for (;;) {
        LONG Seen;
        if (Value & 1) {
            return FALSE;
        }
        Seen = InterlockedCompareExchange(&Binding->Calls, Value + 2, Value);
        if (Seen == Value) {
            return TRUE;
        }
        Value = Seen;
    }
}

/* The call returned; the last one of a pending detach completes it. */
static VOID LeaveCall(EXNPI_CLIENT_BINDING *Binding)
{
    if (InterlockedExchangeAdd(&Binding->Calls, -2) == 3) {
        NmrClientDetachProviderComplete(Binding->NmrBindingHandle);
    }
}

static EXNPI_CLIENT_NOTIFY ClientNotify;
static NPI_CLIENT_ATTACH_PROVIDER_FN ClientAttachProvider;
static NPI_CLIENT_CLEANUP_BINDING_CONTEXT_FN ClientCleanupBindingContext;

#if defined(EXNPI_BROKEN_CDECL_CALLBACK)
static NTSTATUS __cdecl ClientDetachProviderCdecl(PVOID ClientBindingContext);
#define CLIENT_DETACH ((NPI_CLIENT_DETACH_PROVIDER_FN *)ClientDetachProviderCdecl)
#else
static NPI_CLIENT_DETACH_PROVIDER_FN ClientDetachProvider;
#define CLIENT_DETACH ClientDetachProvider
#endif

static const EXNPI_CLIENT_DISPATCH ClientDispatch = {
    EXNPI_VERSION, sizeof(EXNPI_CLIENT_DISPATCH), ClientNotify};

/* {1B0E58E1-0A8F-4E2A-8B6A-0D3577B4C9E0}, the Rust client's module id. */
static const NPI_MODULEID ClientModuleId = {
    sizeof(NPI_MODULEID),
    MIT_GUID,
    {{0x1B0E58E1, 0x0A8F, 0x4E2A, {0x8B, 0x6A, 0x0D, 0x35, 0x77, 0xB4, 0xC9, 0xE0}}}};

static const NPI_CLIENT_CHARACTERISTICS ClientCharacteristics = {
    0,
    sizeof(NPI_CLIENT_CHARACTERISTICS),
    ClientAttachProvider,
    CLIENT_DETACH,
    ClientCleanupBindingContext,
    {0, sizeof(NPI_REGISTRATION_INSTANCE), &NPI_EXNPI_ID, &ClientModuleId, 1, NULL}};

static NTSTATUS NTAPI ClientAttachProvider(
    HANDLE NmrBindingHandle, PVOID ClientContext,
    const NPI_REGISTRATION_INSTANCE *ProviderRegistrationInstance)
{
    EXNPI_CLIENT_BINDING *Binding;
    NTSTATUS Status;

    UNREFERENCED_PARAMETER(ClientContext);
    UNREFERENCED_PARAMETER(ProviderRegistrationInstance);
    TRACE("client: attach to provider -> accept");
#if defined(EXNPI_BROKEN_WILD_READ)
    {
        const NPI_REGISTRATION_INSTANCE *volatile Nothing = NULL;
        TRACE_VALUE("client: number", Nothing->Number);
    }
#endif
#if defined(EXNPI_BROKEN_ATTACH_SKIPS_NMR)
    UNREFERENCED_PARAMETER(NmrBindingHandle);
    UNREFERENCED_PARAMETER(Binding);
    UNREFERENCED_PARAMETER(Status);
    return STATUS_SUCCESS;
#else
    Binding = ExAllocatePool2(POOL_FLAG_NON_PAGED, sizeof(*Binding), EXNPI_POOL_TAG);
    if (Binding == NULL) {
        return STATUS_INSUFFICIENT_RESOURCES;
    }
    Binding->NmrBindingHandle = NmrBindingHandle;
    Binding->Calls = 0;
    Status = NmrClientAttachProvider(NmrBindingHandle, Binding, &ClientDispatch,
                                     &Binding->ProviderBindingContext,
                                     (const VOID **)&Binding->ProviderDispatch);
    if (Status != STATUS_SUCCESS) {
        /* Not attached: no cleanup callback will come for this context. */
        ExFreePoolWithTag(Binding, EXNPI_POOL_TAG);
        return NT_SUCCESS(Status) ? STATUS_NOINTERFACE : Status;
    }
    if (Binding->ProviderDispatch != NULL && EnterCall(Binding)) {
        ULONG Doubled =
            Binding->ProviderDispatch->ProviderFunction(Binding->ProviderBindingContext, 21);
        TRACE_VALUE("client: provider_function(21) returned", Doubled);
        LeaveCall(Binding);
    }
    return STATUS_SUCCESS;
#endif
}

#if defined(EXNPI_BROKEN_CDECL_CALLBACK)
static NTSTATUS __cdecl ClientDetachProviderCdecl(PVOID ClientBindingContext)
#else
static NTSTATUS NTAPI ClientDetachProvider(PVOID ClientBindingContext)
#endif
{
    EXNPI_CLIENT_BINDING *Binding = ClientBindingContext;

    TRACE("client: detach -> done (nothing in flight)");
    return InterlockedOr(&Binding->Calls, 1) == 0 ? STATUS_SUCCESS : STATUS_PENDING;
}

static VOID NTAPI ClientCleanupBindingContext(PVOID ClientBindingContext)
{
    TRACE("client: cleanup");
#if defined(EXNPI_BROKEN_LEAK)
    UNREFERENCED_PARAMETER(ClientBindingContext);
#else
    ExFreePoolWithTag(ClientBindingContext, EXNPI_POOL_TAG);
#endif
}

static VOID NTAPI ClientNotify(PVOID ClientBindingContext, ULONG Value)
{
    UNREFERENCED_PARAMETER(ClientBindingContext);
    TRACE_VALUE("client: notified of", Value);
}

/* ---- the driver ---------------------------------------------------------------------------- */

static HANDLE ClientHandle;

DRIVER_INITIALIZE DriverEntry;
static DRIVER_UNLOAD DriverUnload;

NTSTATUS NTAPI DriverEntry(PDRIVER_OBJECT DriverObject, PUNICODE_STRING RegistryPath)
{
    NTSTATUS Status;

    UNREFERENCED_PARAMETER(RegistryPath);
    if (DriverObject == NULL) {
        return STATUS_INVALID_PARAMETER;
    }
#if defined(EXNPI_BROKEN_UNSUPPORTED_IMPORT)
    TRACE_VALUE("DriverEntry: current process", (SIZE_T)IoGetCurrentProcess() != 0);
#endif
    TRACE("DriverEntry: register the client");
    Status = NmrRegisterClient(&ClientCharacteristics, NULL, &ClientHandle);
    if (!NT_SUCCESS(Status)) {
        return Status;
    }
    DriverObject->DriverUnload = DriverUnload;
    return STATUS_SUCCESS;
}

static VOID NTAPI DriverUnload(PDRIVER_OBJECT DriverObject)
{
    UNREFERENCED_PARAMETER(DriverObject);
    TRACE("DriverUnload: deregister the client (waits for its bindings)");
    NmrDeregisterClient(ClientHandle);
    NmrWaitForClientDeregisterComplete(ClientHandle);
    TRACE("DriverUnload: done");
}
