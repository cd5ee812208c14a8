/* The C side of NPI `exnpi`: generated from its Rust declaration by npi. */
/* Include after the WDK headers that define the base types and netioddk.h. */
#ifndef NPI_EXNPI_H
#define NPI_EXNPI_H

#include <stddef.h>

/* {F0B35B9A-3E1C-4C55-9E0B-52A64D5E71C2} */
static const GUID NPI_EXNPI_ID = { 0xF0B35B9A, 0x3E1C, 0x4C55, { 0x9E, 0x0B, 0x52, 0xA6, 0x4D, 0x5E, 0x71, 0xC2 } };
#define EXNPI_VERSION 1

typedef VOID (NTAPI EXNPI_CLIENT_NOTIFY)(PVOID Binding, ULONG Value);
typedef struct _EXNPI_CLIENT_DISPATCH {
    USHORT Version;
    USHORT Length;
    EXNPI_CLIENT_NOTIFY *ClientNotify;
} EXNPI_CLIENT_DISPATCH;
#define EXNPI_CLIENT_DISPATCH_END_OF_VERSION (offsetof(EXNPI_CLIENT_DISPATCH, Version) + sizeof(((EXNPI_CLIENT_DISPATCH *)0)->Version))
#define EXNPI_CLIENT_DISPATCH_END_OF_LENGTH (offsetof(EXNPI_CLIENT_DISPATCH, Length) + sizeof(((EXNPI_CLIENT_DISPATCH *)0)->Length))
#define EXNPI_CLIENT_DISPATCH_END_OF_CLIENT_NOTIFY (offsetof(EXNPI_CLIENT_DISPATCH, ClientNotify) + sizeof(((EXNPI_CLIENT_DISPATCH *)0)->ClientNotify))
_Static_assert(sizeof(EXNPI_CLIENT_DISPATCH) == (sizeof(void *) == 8 ? 16 : 8), "sizeof(EXNPI_CLIENT_DISPATCH)");
_Static_assert(offsetof(EXNPI_CLIENT_DISPATCH, Version) == 0, "offsetof(EXNPI_CLIENT_DISPATCH, Version)");
_Static_assert(EXNPI_CLIENT_DISPATCH_END_OF_VERSION == 2, "EXNPI_CLIENT_DISPATCH_END_OF_VERSION");
_Static_assert(offsetof(EXNPI_CLIENT_DISPATCH, Length) == 2, "offsetof(EXNPI_CLIENT_DISPATCH, Length)");
_Static_assert(EXNPI_CLIENT_DISPATCH_END_OF_LENGTH == 4, "EXNPI_CLIENT_DISPATCH_END_OF_LENGTH");
_Static_assert(offsetof(EXNPI_CLIENT_DISPATCH, ClientNotify) == (sizeof(void *) == 8 ? 8 : 4), "offsetof(EXNPI_CLIENT_DISPATCH, ClientNotify)");
_Static_assert(EXNPI_CLIENT_DISPATCH_END_OF_CLIENT_NOTIFY == (sizeof(void *) == 8 ? 16 : 8), "EXNPI_CLIENT_DISPATCH_END_OF_CLIENT_NOTIFY");

typedef ULONG (NTAPI EXNPI_PROVIDER_FUNCTION)(PVOID Binding, ULONG Value);
typedef struct _EXNPI_PROVIDER_DISPATCH {
    USHORT Version;
    USHORT Length;
    EXNPI_PROVIDER_FUNCTION *ProviderFunction;
} EXNPI_PROVIDER_DISPATCH;
#define EXNPI_PROVIDER_DISPATCH_END_OF_VERSION (offsetof(EXNPI_PROVIDER_DISPATCH, Version) + sizeof(((EXNPI_PROVIDER_DISPATCH *)0)->Version))
#define EXNPI_PROVIDER_DISPATCH_END_OF_LENGTH (offsetof(EXNPI_PROVIDER_DISPATCH, Length) + sizeof(((EXNPI_PROVIDER_DISPATCH *)0)->Length))
#define EXNPI_PROVIDER_DISPATCH_END_OF_PROVIDER_FUNCTION (offsetof(EXNPI_PROVIDER_DISPATCH, ProviderFunction) + sizeof(((EXNPI_PROVIDER_DISPATCH *)0)->ProviderFunction))
_Static_assert(sizeof(EXNPI_PROVIDER_DISPATCH) == (sizeof(void *) == 8 ? 16 : 8), "sizeof(EXNPI_PROVIDER_DISPATCH)");
_Static_assert(offsetof(EXNPI_PROVIDER_DISPATCH, Version) == 0, "offsetof(EXNPI_PROVIDER_DISPATCH, Version)");
_Static_assert(EXNPI_PROVIDER_DISPATCH_END_OF_VERSION == 2, "EXNPI_PROVIDER_DISPATCH_END_OF_VERSION");
_Static_assert(offsetof(EXNPI_PROVIDER_DISPATCH, Length) == 2, "offsetof(EXNPI_PROVIDER_DISPATCH, Length)");
_Static_assert(EXNPI_PROVIDER_DISPATCH_END_OF_LENGTH == 4, "EXNPI_PROVIDER_DISPATCH_END_OF_LENGTH");
_Static_assert(offsetof(EXNPI_PROVIDER_DISPATCH, ProviderFunction) == (sizeof(void *) == 8 ? 8 : 4), "offsetof(EXNPI_PROVIDER_DISPATCH, ProviderFunction)");
_Static_assert(EXNPI_PROVIDER_DISPATCH_END_OF_PROVIDER_FUNCTION == (sizeof(void *) == 8 ? 16 : 8), "EXNPI_PROVIDER_DISPATCH_END_OF_PROVIDER_FUNCTION");

#endif /* NPI_EXNPI_H */
