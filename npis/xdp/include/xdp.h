/* The C side of NPI `xdp`: generated from its Rust declaration by npi. */
/* Include after the WDK headers that define the base types and netioddk.h. */
#ifndef NPI_XDP_H
#define NPI_XDP_H

#include <stddef.h>

/* {E1CADF68-E3DD-4A4A-932D-386A29399F5E} */
static const GUID NPI_XDP_ID = { 0xE1CADF68, 0xE3DD, 0x4A4A, { 0x93, 0x2D, 0x38, 0x6A, 0x29, 0x39, 0x9F, 0x5E } };
#define XDP_BINDING_VERSION_1 1
#define XDP_NPI_CLIENT_REVISION_1 1
#define XDP_CAPABILITIES_EX_REVISION_1 1
#define XDP_SIZEOF_CAPABILITIES_EX_REVISION_1 44
#define XDP_DRIVER_API_MAJOR_VER 0
#define XDP_DRIVER_API_MINOR_VER 10
#define XDP_DRIVER_API_PATCH_VER 0

typedef struct _XDP_OBJECT_HEADER {
    ULONG Revision;
    ULONG Size;
} XDP_OBJECT_HEADER;
_Static_assert(sizeof(XDP_OBJECT_HEADER) == 8, "sizeof(XDP_OBJECT_HEADER)");
_Static_assert(offsetof(XDP_OBJECT_HEADER, Revision) == 0, "offsetof(XDP_OBJECT_HEADER, Revision)");
_Static_assert(offsetof(XDP_OBJECT_HEADER, Size) == 4, "offsetof(XDP_OBJECT_HEADER, Size)");

typedef struct _XDP_VERSION {
    ULONG Major;
    ULONG Minor;
    ULONG Patch;
} XDP_VERSION;
_Static_assert(sizeof(XDP_VERSION) == 12, "sizeof(XDP_VERSION)");
_Static_assert(offsetof(XDP_VERSION, Major) == 0, "offsetof(XDP_VERSION, Major)");
_Static_assert(offsetof(XDP_VERSION, Minor) == 4, "offsetof(XDP_VERSION, Minor)");
_Static_assert(offsetof(XDP_VERSION, Patch) == 8, "offsetof(XDP_VERSION, Patch)");

typedef struct _XDP_CAPABILITIES_EX {
    XDP_OBJECT_HEADER Header;
    ULONG DriverApiVersionsOffset;
    ULONG DriverApiVersionCount;
    XDP_VERSION DdkDriverApiVersion;
    GUID InstanceId;
    BOOLEAN RxChecksumSupported;
    BOOLEAN RxTimestampSupported;
    BOOLEAN TxTimestampSupported;
} XDP_CAPABILITIES_EX;
_Static_assert(sizeof(XDP_CAPABILITIES_EX) == 48, "sizeof(XDP_CAPABILITIES_EX)");
_Static_assert(offsetof(XDP_CAPABILITIES_EX, Header) == 0, "offsetof(XDP_CAPABILITIES_EX, Header)");
_Static_assert(offsetof(XDP_CAPABILITIES_EX, DriverApiVersionsOffset) == 8, "offsetof(XDP_CAPABILITIES_EX, DriverApiVersionsOffset)");
_Static_assert(offsetof(XDP_CAPABILITIES_EX, DriverApiVersionCount) == 12, "offsetof(XDP_CAPABILITIES_EX, DriverApiVersionCount)");
_Static_assert(offsetof(XDP_CAPABILITIES_EX, DdkDriverApiVersion) == 16, "offsetof(XDP_CAPABILITIES_EX, DdkDriverApiVersion)");
_Static_assert(offsetof(XDP_CAPABILITIES_EX, InstanceId) == 28, "offsetof(XDP_CAPABILITIES_EX, InstanceId)");
_Static_assert(offsetof(XDP_CAPABILITIES_EX, RxChecksumSupported) == 44, "offsetof(XDP_CAPABILITIES_EX, RxChecksumSupported)");
_Static_assert(offsetof(XDP_CAPABILITIES_EX, RxTimestampSupported) == 45, "offsetof(XDP_CAPABILITIES_EX, RxTimestampSupported)");
_Static_assert(offsetof(XDP_CAPABILITIES_EX, TxTimestampSupported) == 46, "offsetof(XDP_CAPABILITIES_EX, TxTimestampSupported)");

typedef NTSTATUS (XDP_GET_INTERFACE_DISPATCH)(const XDP_VERSION *Version, PVOID GetInterfaceContext, VOID **InterfaceContext, const VOID **InterfaceDispatch);
typedef struct _XDP_NPI_CLIENT {
    XDP_OBJECT_HEADER Header;
    VOID *GetInterfaceContext;
    XDP_GET_INTERFACE_DISPATCH *GetInterfaceDispatch;
} XDP_NPI_CLIENT;
#define XDP_NPI_CLIENT_END_OF_HEADER (offsetof(XDP_NPI_CLIENT, Header) + sizeof(((XDP_NPI_CLIENT *)0)->Header))
#define XDP_NPI_CLIENT_END_OF_GET_INTERFACE_CONTEXT (offsetof(XDP_NPI_CLIENT, GetInterfaceContext) + sizeof(((XDP_NPI_CLIENT *)0)->GetInterfaceContext))
#define XDP_NPI_CLIENT_END_OF_GET_INTERFACE_DISPATCH (offsetof(XDP_NPI_CLIENT, GetInterfaceDispatch) + sizeof(((XDP_NPI_CLIENT *)0)->GetInterfaceDispatch))
_Static_assert(sizeof(XDP_NPI_CLIENT) == (sizeof(void *) == 8 ? 24 : 16), "sizeof(XDP_NPI_CLIENT)");
_Static_assert(offsetof(XDP_NPI_CLIENT, Header) == 0, "offsetof(XDP_NPI_CLIENT, Header)");
_Static_assert(XDP_NPI_CLIENT_END_OF_HEADER == 8, "XDP_NPI_CLIENT_END_OF_HEADER");
_Static_assert(offsetof(XDP_NPI_CLIENT, GetInterfaceContext) == 8, "offsetof(XDP_NPI_CLIENT, GetInterfaceContext)");
_Static_assert(XDP_NPI_CLIENT_END_OF_GET_INTERFACE_CONTEXT == (sizeof(void *) == 8 ? 16 : 12), "XDP_NPI_CLIENT_END_OF_GET_INTERFACE_CONTEXT");
_Static_assert(offsetof(XDP_NPI_CLIENT, GetInterfaceDispatch) == (sizeof(void *) == 8 ? 16 : 12), "offsetof(XDP_NPI_CLIENT, GetInterfaceDispatch)");
_Static_assert(XDP_NPI_CLIENT_END_OF_GET_INTERFACE_DISPATCH == (sizeof(void *) == 8 ? 24 : 16), "XDP_NPI_CLIENT_END_OF_GET_INTERFACE_DISPATCH");

#endif /* NPI_XDP_H */
