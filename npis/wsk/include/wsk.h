/* The C side of NPI `wsk`: generated from its Rust declaration by npi. */
/* Include after the WDK headers that define the base types and netioddk.h. */
#ifndef NPI_WSK_H
#define NPI_WSK_H

#include <stddef.h>

/* {2227E803-8D8B-11D4-ABAD-009027719E09} */
static const GUID NPI_WSK_INTERFACE_ID = { 0x2227E803, 0x8D8B, 0x11D4, { 0xAB, 0xAD, 0x00, 0x90, 0x27, 0x71, 0x9E, 0x09 } };
#define WSK_CLIENT_VERSION_1_0 256

typedef struct _WSK_PROVIDER_CHARACTERISTICS {
    USHORT HighestVersion;
    USHORT LowestVersion;
} WSK_PROVIDER_CHARACTERISTICS;
_Static_assert(sizeof(WSK_PROVIDER_CHARACTERISTICS) == 4, "sizeof(WSK_PROVIDER_CHARACTERISTICS)");
_Static_assert(offsetof(WSK_PROVIDER_CHARACTERISTICS, HighestVersion) == 0, "offsetof(WSK_PROVIDER_CHARACTERISTICS, HighestVersion)");
_Static_assert(offsetof(WSK_PROVIDER_CHARACTERISTICS, LowestVersion) == 2, "offsetof(WSK_PROVIDER_CHARACTERISTICS, LowestVersion)");

typedef NTSTATUS (NTAPI FN_WSK_CLIENT_EVENT)(PVOID ClientContext, ULONG EventType, PVOID Information, SIZE_T InformationLength);
typedef struct _WSK_CLIENT_DISPATCH {
    USHORT Version;
    USHORT Reserved;
    FN_WSK_CLIENT_EVENT *WskClientEvent;
} WSK_CLIENT_DISPATCH;
#define WSK_CLIENT_DISPATCH_END_OF_VERSION (offsetof(WSK_CLIENT_DISPATCH, Version) + sizeof(((WSK_CLIENT_DISPATCH *)0)->Version))
#define WSK_CLIENT_DISPATCH_END_OF_RESERVED (offsetof(WSK_CLIENT_DISPATCH, Reserved) + sizeof(((WSK_CLIENT_DISPATCH *)0)->Reserved))
#define WSK_CLIENT_DISPATCH_END_OF_WSK_CLIENT_EVENT (offsetof(WSK_CLIENT_DISPATCH, WskClientEvent) + sizeof(((WSK_CLIENT_DISPATCH *)0)->WskClientEvent))
_Static_assert(sizeof(WSK_CLIENT_DISPATCH) == (sizeof(void *) == 8 ? 16 : 8), "sizeof(WSK_CLIENT_DISPATCH)");
_Static_assert(offsetof(WSK_CLIENT_DISPATCH, Version) == 0, "offsetof(WSK_CLIENT_DISPATCH, Version)");
_Static_assert(WSK_CLIENT_DISPATCH_END_OF_VERSION == 2, "WSK_CLIENT_DISPATCH_END_OF_VERSION");
_Static_assert(offsetof(WSK_CLIENT_DISPATCH, Reserved) == 2, "offsetof(WSK_CLIENT_DISPATCH, Reserved)");
_Static_assert(WSK_CLIENT_DISPATCH_END_OF_RESERVED == 4, "WSK_CLIENT_DISPATCH_END_OF_RESERVED");
_Static_assert(offsetof(WSK_CLIENT_DISPATCH, WskClientEvent) == (sizeof(void *) == 8 ? 8 : 4), "offsetof(WSK_CLIENT_DISPATCH, WskClientEvent)");
_Static_assert(WSK_CLIENT_DISPATCH_END_OF_WSK_CLIENT_EVENT == (sizeof(void *) == 8 ? 16 : 8), "WSK_CLIENT_DISPATCH_END_OF_WSK_CLIENT_EVENT");

typedef NTSTATUS (NTAPI FN_WSK_SOCKET)(PVOID Client, USHORT AddressFamily, USHORT SocketType, ULONG Protocol, ULONG Flags, PVOID SocketContext, const VOID *Dispatch, PVOID OwningProcess, PVOID OwningThread, PVOID SecurityDescriptor, PVOID Irp);
typedef NTSTATUS (NTAPI FN_WSK_SOCKET_CONNECT)(PVOID Client, USHORT SocketType, ULONG Protocol, PVOID LocalAddress, PVOID RemoteAddress, ULONG Flags, PVOID SocketContext, const VOID *Dispatch, PVOID OwningProcess, PVOID OwningThread, PVOID SecurityDescriptor, PVOID Irp);
typedef NTSTATUS (NTAPI FN_WSK_CONTROL_CLIENT)(PVOID Client, ULONG ControlCode, SIZE_T InputSize, PVOID InputBuffer, SIZE_T OutputSize, PVOID OutputBuffer, SIZE_T *OutputSizeReturned, PVOID Irp);
typedef NTSTATUS (NTAPI FN_WSK_GET_ADDRESS_INFO)(PVOID Client, PVOID NodeName, PVOID ServiceName, ULONG NameSpace, GUID *Provider, PVOID Hints, VOID **Result, PVOID OwningProcess, PVOID OwningThread, PVOID Irp);
typedef VOID (NTAPI FN_WSK_FREE_ADDRESS_INFO)(PVOID Client, PVOID AddrInfo);
typedef NTSTATUS (NTAPI FN_WSK_GET_NAME_INFO)(PVOID Client, PVOID SockAddr, ULONG SockAddrLength, PVOID NodeName, PVOID ServiceName, ULONG Flags, PVOID OwningProcess, PVOID OwningThread, PVOID Irp);
typedef struct _WSK_PROVIDER_DISPATCH {
    USHORT Version;
    USHORT Reserved;
    FN_WSK_SOCKET *WskSocket;
    FN_WSK_SOCKET_CONNECT *WskSocketConnect;
    FN_WSK_CONTROL_CLIENT *WskControlClient;
    FN_WSK_GET_ADDRESS_INFO *WskGetAddressInfo;
    FN_WSK_FREE_ADDRESS_INFO *WskFreeAddressInfo;
    FN_WSK_GET_NAME_INFO *WskGetNameInfo;
} WSK_PROVIDER_DISPATCH;
#define WSK_PROVIDER_DISPATCH_END_OF_VERSION (offsetof(WSK_PROVIDER_DISPATCH, Version) + sizeof(((WSK_PROVIDER_DISPATCH *)0)->Version))
#define WSK_PROVIDER_DISPATCH_END_OF_RESERVED (offsetof(WSK_PROVIDER_DISPATCH, Reserved) + sizeof(((WSK_PROVIDER_DISPATCH *)0)->Reserved))
#define WSK_PROVIDER_DISPATCH_END_OF_WSK_SOCKET (offsetof(WSK_PROVIDER_DISPATCH, WskSocket) + sizeof(((WSK_PROVIDER_DISPATCH *)0)->WskSocket))
#define WSK_PROVIDER_DISPATCH_END_OF_WSK_SOCKET_CONNECT (offsetof(WSK_PROVIDER_DISPATCH, WskSocketConnect) + sizeof(((WSK_PROVIDER_DISPATCH *)0)->WskSocketConnect))
#define WSK_PROVIDER_DISPATCH_END_OF_WSK_CONTROL_CLIENT (offsetof(WSK_PROVIDER_DISPATCH, WskControlClient) + sizeof(((WSK_PROVIDER_DISPATCH *)0)->WskControlClient))
#define WSK_PROVIDER_DISPATCH_END_OF_WSK_GET_ADDRESS_INFO (offsetof(WSK_PROVIDER_DISPATCH, WskGetAddressInfo) + sizeof(((WSK_PROVIDER_DISPATCH *)0)->WskGetAddressInfo))
#define WSK_PROVIDER_DISPATCH_END_OF_WSK_FREE_ADDRESS_INFO (offsetof(WSK_PROVIDER_DISPATCH, WskFreeAddressInfo) + sizeof(((WSK_PROVIDER_DISPATCH *)0)->WskFreeAddressInfo))
#define WSK_PROVIDER_DISPATCH_END_OF_WSK_GET_NAME_INFO (offsetof(WSK_PROVIDER_DISPATCH, WskGetNameInfo) + sizeof(((WSK_PROVIDER_DISPATCH *)0)->WskGetNameInfo))
_Static_assert(sizeof(WSK_PROVIDER_DISPATCH) == (sizeof(void *) == 8 ? 56 : 28), "sizeof(WSK_PROVIDER_DISPATCH)");
_Static_assert(offsetof(WSK_PROVIDER_DISPATCH, Version) == 0, "offsetof(WSK_PROVIDER_DISPATCH, Version)");
_Static_assert(WSK_PROVIDER_DISPATCH_END_OF_VERSION == 2, "WSK_PROVIDER_DISPATCH_END_OF_VERSION");
_Static_assert(offsetof(WSK_PROVIDER_DISPATCH, Reserved) == 2, "offsetof(WSK_PROVIDER_DISPATCH, Reserved)");
_Static_assert(WSK_PROVIDER_DISPATCH_END_OF_RESERVED == 4, "WSK_PROVIDER_DISPATCH_END_OF_RESERVED");
_Static_assert(offsetof(WSK_PROVIDER_DISPATCH, WskSocket) == (sizeof(void *) == 8 ? 8 : 4), "offsetof(WSK_PROVIDER_DISPATCH, WskSocket)");
_Static_assert(WSK_PROVIDER_DISPATCH_END_OF_WSK_SOCKET == (sizeof(void *) == 8 ? 16 : 8), "WSK_PROVIDER_DISPATCH_END_OF_WSK_SOCKET");
_Static_assert(offsetof(WSK_PROVIDER_DISPATCH, WskSocketConnect) == (sizeof(void *) == 8 ? 16 : 8), "offsetof(WSK_PROVIDER_DISPATCH, WskSocketConnect)");
_Static_assert(WSK_PROVIDER_DISPATCH_END_OF_WSK_SOCKET_CONNECT == (sizeof(void *) == 8 ? 24 : 12), "WSK_PROVIDER_DISPATCH_END_OF_WSK_SOCKET_CONNECT");
_Static_assert(offsetof(WSK_PROVIDER_DISPATCH, WskControlClient) == (sizeof(void *) == 8 ? 24 : 12), "offsetof(WSK_PROVIDER_DISPATCH, WskControlClient)");
_Static_assert(WSK_PROVIDER_DISPATCH_END_OF_WSK_CONTROL_CLIENT == (sizeof(void *) == 8 ? 32 : 16), "WSK_PROVIDER_DISPATCH_END_OF_WSK_CONTROL_CLIENT");
_Static_assert(offsetof(WSK_PROVIDER_DISPATCH, WskGetAddressInfo) == (sizeof(void *) == 8 ? 32 : 16), "offsetof(WSK_PROVIDER_DISPATCH, WskGetAddressInfo)");
_Static_assert(WSK_PROVIDER_DISPATCH_END_OF_WSK_GET_ADDRESS_INFO == (sizeof(void *) == 8 ? 40 : 20), "WSK_PROVIDER_DISPATCH_END_OF_WSK_GET_ADDRESS_INFO");
_Static_assert(offsetof(WSK_PROVIDER_DISPATCH, WskFreeAddressInfo) == (sizeof(void *) == 8 ? 40 : 20), "offsetof(WSK_PROVIDER_DISPATCH, WskFreeAddressInfo)");
_Static_assert(WSK_PROVIDER_DISPATCH_END_OF_WSK_FREE_ADDRESS_INFO == (sizeof(void *) == 8 ? 48 : 24), "WSK_PROVIDER_DISPATCH_END_OF_WSK_FREE_ADDRESS_INFO");
_Static_assert(offsetof(WSK_PROVIDER_DISPATCH, WskGetNameInfo) == (sizeof(void *) == 8 ? 48 : 24), "offsetof(WSK_PROVIDER_DISPATCH, WskGetNameInfo)");
_Static_assert(WSK_PROVIDER_DISPATCH_END_OF_WSK_GET_NAME_INFO == (sizeof(void *) == 8 ? 56 : 28), "WSK_PROVIDER_DISPATCH_END_OF_WSK_GET_NAME_INFO");

#endif /* NPI_WSK_H */
