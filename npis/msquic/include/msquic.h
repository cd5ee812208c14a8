/* The C side of NPI `msquic`: generated from its Rust declaration by npi. */
/* Include after the WDK headers that define the base types and netioddk.h. */
#ifndef NPI_MSQUIC_H
#define NPI_MSQUIC_H

#include <stddef.h>

/* {C43138E3-CD13-4CB1-9CAE-E005C8557ABA} */
static const GUID MSQUIC_NPI_ID = { 0xC43138E3, 0xCD13, 0x4CB1, { 0x9C, 0xAE, 0xE0, 0x05, 0xC8, 0x55, 0x7A, 0xBA } };
#define QUIC_API_VERSION_2 2

typedef NTSTATUS (NTAPI MSQUIC_NMR_OPEN_VERSION)(ULONG Version, const VOID **QuicApi);
typedef VOID (NTAPI MSQUIC_NMR_CLOSE)(const VOID *QuicApi);
typedef struct _MSQUIC_NMR_DISPATCH {
    USHORT Version;
    USHORT Reserved;
    MSQUIC_NMR_OPEN_VERSION *OpenVersion;
    MSQUIC_NMR_CLOSE *Close;
} MSQUIC_NMR_DISPATCH;
#define MSQUIC_NMR_DISPATCH_END_OF_VERSION (offsetof(MSQUIC_NMR_DISPATCH, Version) + sizeof(((MSQUIC_NMR_DISPATCH *)0)->Version))
#define MSQUIC_NMR_DISPATCH_END_OF_RESERVED (offsetof(MSQUIC_NMR_DISPATCH, Reserved) + sizeof(((MSQUIC_NMR_DISPATCH *)0)->Reserved))
#define MSQUIC_NMR_DISPATCH_END_OF_OPEN_VERSION (offsetof(MSQUIC_NMR_DISPATCH, OpenVersion) + sizeof(((MSQUIC_NMR_DISPATCH *)0)->OpenVersion))
#define MSQUIC_NMR_DISPATCH_END_OF_CLOSE (offsetof(MSQUIC_NMR_DISPATCH, Close) + sizeof(((MSQUIC_NMR_DISPATCH *)0)->Close))
_Static_assert(sizeof(MSQUIC_NMR_DISPATCH) == (sizeof(void *) == 8 ? 24 : 12), "sizeof(MSQUIC_NMR_DISPATCH)");
_Static_assert(offsetof(MSQUIC_NMR_DISPATCH, Version) == 0, "offsetof(MSQUIC_NMR_DISPATCH, Version)");
_Static_assert(MSQUIC_NMR_DISPATCH_END_OF_VERSION == 2, "MSQUIC_NMR_DISPATCH_END_OF_VERSION");
_Static_assert(offsetof(MSQUIC_NMR_DISPATCH, Reserved) == 2, "offsetof(MSQUIC_NMR_DISPATCH, Reserved)");
_Static_assert(MSQUIC_NMR_DISPATCH_END_OF_RESERVED == 4, "MSQUIC_NMR_DISPATCH_END_OF_RESERVED");
_Static_assert(offsetof(MSQUIC_NMR_DISPATCH, OpenVersion) == (sizeof(void *) == 8 ? 8 : 4), "offsetof(MSQUIC_NMR_DISPATCH, OpenVersion)");
_Static_assert(MSQUIC_NMR_DISPATCH_END_OF_OPEN_VERSION == (sizeof(void *) == 8 ? 16 : 8), "MSQUIC_NMR_DISPATCH_END_OF_OPEN_VERSION");
_Static_assert(offsetof(MSQUIC_NMR_DISPATCH, Close) == (sizeof(void *) == 8 ? 16 : 8), "offsetof(MSQUIC_NMR_DISPATCH, Close)");
_Static_assert(MSQUIC_NMR_DISPATCH_END_OF_CLOSE == (sizeof(void *) == 8 ? 24 : 12), "MSQUIC_NMR_DISPATCH_END_OF_CLOSE");

#endif /* NPI_MSQUIC_H */
