/*
 * exnpi_provider.c - the EXNPI provider in C, a driver of its own: the peer of the Rust client
 * (examples/drivers/exnpi-client) in `cargo xtask emulate`.
 *
 * Like the Rust provider, its detach pends and a system work item completes it. The binding
 * context comes from the non-paged pool at attach and is freed in the cleanup callback.
 *
 * EXNPI_BROKEN_* macros build deliberately broken variants, the emulator's self-test (never set
 * in a driver that ships):
 *   EXNPI_BROKEN_FREE_IN_DETACH   frees the binding context in detach, not in cleanup
 *   EXNPI_BROKEN_COMPLETE_TWICE   the work item completes the detach twice
 *   EXNPI_BROKEN_BIG_STACK        attach uses 3,000 bytes of stack
 *   EXNPI_BROKEN_CLOBBER_EBX      (x86) detach returns with ebx changed
 *   EXNPI_BROKEN_DECLINE          attach declines every client
 */
#include "kernel.h"
/* The header generated from the Rust declaration of EXNPI (npis/exnpi), the same one the
 * Rust drivers use: regenerated and checked by `cargo test -p exnpi`. */
#include "../../../npis/exnpi/include/exnpi.h"

/* "Npi " in memory order, as the other C drivers. */
#define EXNPI_POOL_TAG 0x2069704EUL

typedef struct _EXNPI_PROVIDER_BINDING {
    HANDLE NmrBindingHandle;
    PVOID ClientBindingContext;
    const EXNPI_CLIENT_DISPATCH *ClientDispatch;
    volatile LONG Detaching;
    ULONG ClientNumber;
} EXNPI_PROVIDER_BINDING;

static EXNPI_PROVIDER_FUNCTION ProviderFunction;
static NPI_PROVIDER_ATTACH_CLIENT_FN ProviderAttachClient;
static NPI_PROVIDER_DETACH_CLIENT_FN ProviderDetachClient;
static NPI_PROVIDER_CLEANUP_BINDING_CONTEXT_FN ProviderCleanupBindingContext;
static WORKER_THREAD_ROUTINE CompletePendingDetach;

static const EXNPI_PROVIDER_DISPATCH ProviderDispatch = {
    EXNPI_VERSION, sizeof(EXNPI_PROVIDER_DISPATCH), ProviderFunction};

/* {6D6C7F54-80C6-4A52-B0C8-4C9A1D0E3F21}, the Rust provider's module id. */
static const NPI_MODULEID ProviderModuleId = {
    sizeof(NPI_MODULEID),
    MIT_GUID,
    {{0x6D6C7F54, 0x80C6, 0x4A52, {0xB0, 0xC8, 0x4C, 0x9A, 0x1D, 0x0E, 0x3F, 0x21}}}};

static const NPI_PROVIDER_CHARACTERISTICS ProviderCharacteristics = {
    0,
    sizeof(NPI_PROVIDER_CHARACTERISTICS),
    ProviderAttachClient,
    ProviderDetachClient,
    ProviderCleanupBindingContext,
    {0, sizeof(NPI_REGISTRATION_INSTANCE), &NPI_EXNPI_ID, &ProviderModuleId, 0, NULL}};

/* The work item that completes a pending detach: one binding at a time uses it. */
static WORK_QUEUE_ITEM DetachWorkItem;
static volatile LONG DetachWorkItemBusy;

static NTSTATUS NTAPI ProviderAttachClient(
    HANDLE NmrBindingHandle, PVOID ProviderContext,
    const NPI_REGISTRATION_INSTANCE *ClientRegistrationInstance, PVOID ClientBindingContext,
    const VOID *ClientDispatch, PVOID *ProviderBindingContext, const VOID **ProviderDispatchOut)
{
    EXNPI_PROVIDER_BINDING *Binding;

    UNREFERENCED_PARAMETER(ProviderContext);
#if defined(EXNPI_BROKEN_BIG_STACK)
    {
        UCHAR Scratch[3000];
        volatile UCHAR *Bytes = Scratch;
        for (ULONG i = 0; i < sizeof(Scratch); i++) {
            Bytes[i] = (UCHAR)i;
        }
        DbgPrint("provider: 3,000 bytes of scratch at %p\n", Scratch);
    }
#endif
#if defined(EXNPI_BROKEN_DECLINE)
    UNREFERENCED_PARAMETER(NmrBindingHandle);
    UNREFERENCED_PARAMETER(ClientRegistrationInstance);
    UNREFERENCED_PARAMETER(ClientBindingContext);
    UNREFERENCED_PARAMETER(ClientDispatch);
    UNREFERENCED_PARAMETER(ProviderBindingContext);
    UNREFERENCED_PARAMETER(ProviderDispatchOut);
    TRACE("provider: attach declined");
    return STATUS_NOINTERFACE;
#else
    if (ProviderBindingContext == NULL || ProviderDispatchOut == NULL) {
        return STATUS_INVALID_PARAMETER;
    }
    TRACE_VALUE("provider: attach from client #", ClientRegistrationInstance->Number);
    Binding = ExAllocatePool2(POOL_FLAG_NON_PAGED, sizeof(*Binding), EXNPI_POOL_TAG);
    if (Binding == NULL) {
        return STATUS_INSUFFICIENT_RESOURCES;
    }
    Binding->NmrBindingHandle = NmrBindingHandle;
    Binding->ClientBindingContext = ClientBindingContext;
    Binding->ClientDispatch = ClientDispatch;
    Binding->Detaching = 0;
    Binding->ClientNumber = ClientRegistrationInstance->Number;
    *ProviderBindingContext = Binding;
    *ProviderDispatchOut = &ProviderDispatch;
    return STATUS_SUCCESS;
#endif
}

static NTSTATUS NTAPI ProviderDetachClient(PVOID ProviderBindingContext)
{
    EXNPI_PROVIDER_BINDING *Binding = ProviderBindingContext;

    TRACE_VALUE("provider: detach client # (pending, a work item completes it)",
                Binding->ClientNumber);
    InterlockedOr(&Binding->Detaching, 1);
#if defined(EXNPI_BROKEN_CLOBBER_EBX) && defined(_M_IX86)
    __asm__ volatile("movl $0x0BADF00D, %%ebx" ::: "memory");
#endif
#if defined(EXNPI_BROKEN_FREE_IN_DETACH)
    ExFreePoolWithTag(Binding, EXNPI_POOL_TAG);
    return STATUS_SUCCESS;
#else
    if (InterlockedCompareExchange(&DetachWorkItemBusy, 1, 0) != 0) {
        TRACE("provider: work item busy: detach done at once");
        return STATUS_SUCCESS;
    }
    ExInitializeWorkItem(&DetachWorkItem, CompletePendingDetach, Binding);
    ExQueueWorkItem(&DetachWorkItem, DelayedWorkQueue);
    return STATUS_PENDING;
#endif
}

static VOID NTAPI CompletePendingDetach(PVOID Parameter)
{
    EXNPI_PROVIDER_BINDING *Binding = Parameter;
    HANDLE Handle = Binding->NmrBindingHandle;

    TRACE("provider: work item completes the pending detach");
    InterlockedExchangeAdd(&DetachWorkItemBusy, -1);
    /* The binding may be cleaned up inside the completion: read what is needed first. */
    NmrProviderDetachClientComplete(Handle);
#if defined(EXNPI_BROKEN_COMPLETE_TWICE)
    NmrProviderDetachClientComplete(Handle);
#endif
}

static VOID NTAPI ProviderCleanupBindingContext(PVOID ProviderBindingContext)
{
    EXNPI_PROVIDER_BINDING *Binding = ProviderBindingContext;

    TRACE_VALUE("provider: cleanup binding of client #", Binding->ClientNumber);
#if !defined(EXNPI_BROKEN_FREE_IN_DETACH)
    ExFreePoolWithTag(Binding, EXNPI_POOL_TAG);
#endif
}

/* Doubles Value, telling the calling client about it first (unless its detach began). */
static ULONG NTAPI ProviderFunction(PVOID ProviderBindingContext, ULONG Value)
{
    EXNPI_PROVIDER_BINDING *Binding = ProviderBindingContext;

    TRACE_VALUE("provider: provider_function from client #", Binding->ClientNumber);
    if (Binding->ClientDispatch != NULL && ReadNoFence(&Binding->Detaching) == 0) {
        Binding->ClientDispatch->ClientNotify(Binding->ClientBindingContext, Value * 2);
    }
    return Value * 2;
}

/* ---- the driver ---------------------------------------------------------------------------- */

static HANDLE ProviderHandle;

DRIVER_INITIALIZE DriverEntry;
static DRIVER_UNLOAD DriverUnload;

NTSTATUS NTAPI DriverEntry(PDRIVER_OBJECT DriverObject, PUNICODE_STRING RegistryPath)
{
    NTSTATUS Status;

    UNREFERENCED_PARAMETER(RegistryPath);
    if (DriverObject == NULL) {
        return STATUS_INVALID_PARAMETER;
    }
    TRACE("DriverEntry: register the provider");
    Status = NmrRegisterProvider(&ProviderCharacteristics, NULL, &ProviderHandle);
    if (!NT_SUCCESS(Status)) {
        return Status;
    }
    DriverObject->DriverUnload = DriverUnload;
    return STATUS_SUCCESS;
}

static VOID NTAPI DriverUnload(PDRIVER_OBJECT DriverObject)
{
    UNREFERENCED_PARAMETER(DriverObject);
    TRACE("DriverUnload: deregister the provider (waits for its bindings)");
    NmrDeregisterProvider(ProviderHandle);
    NmrWaitForProviderDeregisterComplete(ProviderHandle);
    TRACE("DriverUnload: done");
}
