/*
 * exnpi_driver.c - examples/kernel-driver (the EXNPI provider and client in one driver) written
 * in C, as the reference its image is measured against: `cargo xtask driver` builds both and
 * prints their section sizes side by side.
 *
 * It does what the Rust driver does, the way the NMR documentation's samples do it:
 * - DriverEntry registers the provider, then the client (whose attach runs inside
 *   NmrRegisterClient); if the client cannot register, the provider is deregistered again.
 *   DriverUnload deregisters the client, then the provider, waiting for each.
 * - Characteristics, module ids and the NPI id are const (.rdata); each attach allocates a
 *   binding context from the non-paged pool (STATUS_INSUFFICIENT_RESOURCES if it cannot), which
 *   the cleanup callback frees.
 * - Calls into the peer's dispatch table are counted (the "Programming Considerations" page of
 *   the NMR documentation): none starts once this side's detach began, and a detach that finds
 *   calls in flight returns STATUS_PENDING and is completed by the last call to return.
 * - The same DbgPrint trace lines as the Rust driver's `trace`/`trace_value`.
 *
 * The per-binding call count is one interlocked LONG laid out like EX_RUNDOWN_REF (bit 0: detach
 * began; calls in steps of 2; acquire is a compare-exchange that fails once bit 0 is set), not
 * an EX_RUNDOWN_REF with ExAcquire/ExReleaseRundownProtection: the kernel's rundown reference
 * can only end in ExWaitForRundownProtectionRelease, a blocking wait (IRQL <= APC_LEVEL), while
 * detach callbacks run at IRQL <= DISPATCH_LEVEL and must not wait; its releaser is never told
 * that it was the last one, so nobody could complete a pending detach without a worker thread.
 *
 * Build: `cargo xtask driver` (clang --target=<arch>-pc-windows-msvc -ffreestanding -nostdinc,
 * -O2 for --release and -O0 -g otherwise, import libraries for NETIO.SYS and ntoskrnl.exe made
 * with lld-link /lib /def:, linked with lld-link like the Rust driver).
 */
#include "ddk.h"

/* "Npi " in memory order, the Rust driver's tag. */
#define EXNPI_POOL_TAG 0x2069704EUL

#define TRACE(Message) DbgPrint("exnpi: " Message "\n")
#define TRACE_VALUE(Message, Value) DbgPrint("exnpi: " Message " %u\n", (ULONG)(Value))

/* ---- the NPI ------------------------------------------------------------------------------ */

/* EXNPI's id, tables and function types: the header generated from its one definition,
 * npis/exnpi (`cargo test -p exnpi` keeps it current), as the Rust driver uses the crate. */
#include "../../npis/exnpi/include/exnpi.h"

/* ---- calls into the peer: the per-binding count ------------------------------------------ */

#define BINDING_DETACHING 1
#define BINDING_CALL 2

/* A call into the peer may start: counted, unless this side's detach began. */
static __inline BOOLEAN BindingEnterCall(volatile LONG *Calls)
{
    LONG Value = ReadNoFence(Calls);
    for (;;) {
        LONG Seen;
        if (Value & BINDING_DETACHING) {
            return FALSE;
        }
        Seen = InterlockedCompareExchange(Calls, Value + BINDING_CALL, Value);
        if (Seen == Value) {
            return TRUE;
        }
        Value = Seen;
    }
}

/* The call returned. TRUE if it was the last one of a pending detach, which the caller completes. */
static __inline BOOLEAN BindingLeaveCall(volatile LONG *Calls)
{
    return InterlockedExchangeAdd(Calls, -BINDING_CALL) == (BINDING_DETACHING | BINDING_CALL);
}

/* The detach callback's answer: done now, or when the calls in flight have returned. */
static __inline NTSTATUS BindingDetach(volatile LONG *Calls)
{
    return InterlockedOr(Calls, BINDING_DETACHING) == 0 ? STATUS_SUCCESS : STATUS_PENDING;
}

/* ---- the provider module ------------------------------------------------------------------ */

/* The provider's context for one client. */
typedef struct _EXNPI_PROVIDER_BINDING {
    HANDLE NmrBindingHandle;
    PVOID ClientBindingContext;
    const EXNPI_CLIENT_DISPATCH *ClientDispatch;
    volatile LONG Calls;
    ULONG ClientNumber;
} EXNPI_PROVIDER_BINDING;

static EXNPI_PROVIDER_FUNCTION ProviderFunction;
static NPI_PROVIDER_ATTACH_CLIENT_FN ProviderAttachClient;
static NPI_PROVIDER_DETACH_CLIENT_FN ProviderDetachClient;
static NPI_PROVIDER_CLEANUP_BINDING_CONTEXT_FN ProviderCleanupBindingContext;

static const EXNPI_PROVIDER_DISPATCH ProviderDispatch = {
    EXNPI_VERSION, sizeof(EXNPI_PROVIDER_DISPATCH), ProviderFunction};

/* {6D6C7F54-80C6-4A52-B0C8-4C9A1D0E3F21} */
static const NPI_MODULEID ProviderModuleId = {
    sizeof(NPI_MODULEID),
    MIT_GUID,
    {{0x6D6C7F54, 0x80C6, 0x4A52, {0xB0, 0xC8, 0x4C, 0x9A, 0x1D, 0x0E, 0x3F, 0x21}}}};

/* ProviderCharacteristics and ClientCharacteristics: `cargo xtask driver` finds them by these
 * names in the link map and checks that they, and the ids they point to, are read-only. */
static const NPI_PROVIDER_CHARACTERISTICS ProviderCharacteristics = {
    0,
    sizeof(NPI_PROVIDER_CHARACTERISTICS),
    ProviderAttachClient,
    ProviderDetachClient,
    ProviderCleanupBindingContext,
    {0, sizeof(NPI_REGISTRATION_INSTANCE), &NPI_EXNPI_ID, &ProviderModuleId, 0, NULL}};

static NTSTATUS NTAPI ProviderAttachClient(
    HANDLE NmrBindingHandle, PVOID ProviderContext,
    const NPI_REGISTRATION_INSTANCE *ClientRegistrationInstance, PVOID ClientBindingContext,
    const VOID *ClientDispatch, PVOID *ProviderBindingContext, const VOID **ProviderDispatchOut)
{
    EXNPI_PROVIDER_BINDING *Binding;
    ULONG ClientNumber;

    UNREFERENCED_PARAMETER(ProviderContext);
    if (ProviderBindingContext == NULL || ProviderDispatchOut == NULL) {
        return STATUS_INVALID_PARAMETER;
    }
    ClientNumber = ClientRegistrationInstance->Number;
    TRACE_VALUE("provider: attach from client #", ClientNumber);

    Binding = ExAllocatePool2(POOL_FLAG_NON_PAGED, sizeof(*Binding), EXNPI_POOL_TAG);
    if (Binding == NULL) {
        return STATUS_INSUFFICIENT_RESOURCES;
    }
    Binding->NmrBindingHandle = NmrBindingHandle;
    Binding->ClientBindingContext = ClientBindingContext;
    Binding->ClientDispatch = ClientDispatch;
    Binding->Calls = 0;
    Binding->ClientNumber = ClientNumber;

    *ProviderBindingContext = Binding;
    *ProviderDispatchOut = &ProviderDispatch;
    return STATUS_SUCCESS;
}

static NTSTATUS NTAPI ProviderDetachClient(PVOID ProviderBindingContext)
{
    EXNPI_PROVIDER_BINDING *Binding = ProviderBindingContext;

    TRACE_VALUE("provider: detach client #", Binding->ClientNumber);
    return BindingDetach(&Binding->Calls);
}

static VOID NTAPI ProviderCleanupBindingContext(PVOID ProviderBindingContext)
{
    EXNPI_PROVIDER_BINDING *Binding = ProviderBindingContext;

    TRACE_VALUE("provider: cleanup binding of client #", Binding->ClientNumber);
    ExFreePoolWithTag(Binding, EXNPI_POOL_TAG);
}

/* Doubles Value, telling the calling client about it first. */
static ULONG NTAPI ProviderFunction(PVOID ProviderBindingContext, ULONG Value)
{
    EXNPI_PROVIDER_BINDING *Binding = ProviderBindingContext;

    TRACE_VALUE("provider: provider_function from client #", Binding->ClientNumber);
    if (Binding->ClientDispatch != NULL && BindingEnterCall(&Binding->Calls)) {
        Binding->ClientDispatch->ClientNotify(Binding->ClientBindingContext, Value * 2);
        if (BindingLeaveCall(&Binding->Calls)) {
            NmrProviderDetachClientComplete(Binding->NmrBindingHandle);
        }
    }
    return Value * 2;
}

/* ---- the client module -------------------------------------------------------------------- */

/* The client's context for its provider. */
typedef struct _EXNPI_CLIENT_BINDING {
    HANDLE NmrBindingHandle;
    PVOID ProviderBindingContext;
    const EXNPI_PROVIDER_DISPATCH *ProviderDispatch;
    volatile LONG Calls;
} EXNPI_CLIENT_BINDING;

static EXNPI_CLIENT_NOTIFY ClientNotify;
static NPI_CLIENT_ATTACH_PROVIDER_FN ClientAttachProvider;
static NPI_CLIENT_DETACH_PROVIDER_FN ClientDetachProvider;
static NPI_CLIENT_CLEANUP_BINDING_CONTEXT_FN ClientCleanupBindingContext;

static const EXNPI_CLIENT_DISPATCH ClientDispatch = {
    EXNPI_VERSION, sizeof(EXNPI_CLIENT_DISPATCH), ClientNotify};

/* {1B0E58E1-0A8F-4E2A-8B6A-0D3577B4C9E0} */
static const NPI_MODULEID ClientModuleId = {
    sizeof(NPI_MODULEID),
    MIT_GUID,
    {{0x1B0E58E1, 0x0A8F, 0x4E2A, {0x8B, 0x6A, 0x0D, 0x35, 0x77, 0xB4, 0xC9, 0xE0}}}};

static const NPI_CLIENT_CHARACTERISTICS ClientCharacteristics = {
    0,
    sizeof(NPI_CLIENT_CHARACTERISTICS),
    ClientAttachProvider,
    ClientDetachProvider,
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

    /* Call the provider through its table right away: with no threads to hand the binding to,
     * this is where the driver exercises both tables. */
    if (Binding->ProviderDispatch != NULL && BindingEnterCall(&Binding->Calls)) {
        ULONG Doubled =
            Binding->ProviderDispatch->ProviderFunction(Binding->ProviderBindingContext, 21);
        TRACE_VALUE("client: provider_function(21) returned", Doubled);
        if (BindingLeaveCall(&Binding->Calls)) {
            NmrClientDetachProviderComplete(Binding->NmrBindingHandle);
        }
    }
    return STATUS_SUCCESS;
}

static NTSTATUS NTAPI ClientDetachProvider(PVOID ClientBindingContext)
{
    EXNPI_CLIENT_BINDING *Binding = ClientBindingContext;

    TRACE("client: detach -> done (nothing in flight)");
    return BindingDetach(&Binding->Calls);
}

static VOID NTAPI ClientCleanupBindingContext(PVOID ClientBindingContext)
{
    TRACE("client: cleanup");
    ExFreePoolWithTag(ClientBindingContext, EXNPI_POOL_TAG);
}

static VOID NTAPI ClientNotify(PVOID ClientBindingContext, ULONG Value)
{
    UNREFERENCED_PARAMETER(ClientBindingContext);
    TRACE_VALUE("client: notified of", Value);
}

/* ---- the driver --------------------------------------------------------------------------- */

/* The registrations, from a successful DriverEntry to DriverUnload. */
static HANDLE ProviderHandle;
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
    TRACE("DriverEntry: register the provider (no client yet, so no callbacks)");
    Status = NmrRegisterProvider(&ProviderCharacteristics, NULL, &ProviderHandle);
    if (!NT_SUCCESS(Status)) {
        return Status;
    }
    TRACE("DriverEntry: register the client (attach runs inside the call)");
    Status = NmrRegisterClient(&ClientCharacteristics, NULL, &ClientHandle);
    if (!NT_SUCCESS(Status)) {
        /* The provider goes before the driver does. */
        NmrDeregisterProvider(ProviderHandle);
        NmrWaitForProviderDeregisterComplete(ProviderHandle);
        return Status;
    }
    DriverObject->DriverUnload = DriverUnload;
    return STATUS_SUCCESS;
}

/* Deregisters the client and the provider and waits for both, so no NMR callback can run in
 * this image once the I/O manager unmaps it. */
static VOID NTAPI DriverUnload(PDRIVER_OBJECT DriverObject)
{
    UNREFERENCED_PARAMETER(DriverObject);
    TRACE("DriverUnload: deregister (each deregistration waits for its bindings)");
    NmrDeregisterClient(ClientHandle);
    NmrWaitForClientDeregisterComplete(ClientHandle);
    NmrDeregisterProvider(ProviderHandle);
    NmrWaitForProviderDeregisterComplete(ProviderHandle);
    TRACE("DriverUnload: done");
}
