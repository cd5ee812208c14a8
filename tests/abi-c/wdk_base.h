/*
 * wdk_base.h - the WDK base types a generated NPI header (npis/<npi>/include/<npi>.h) expects
 * from its includer, for `cargo xtask abi-check`, which compiles every such header for x64 and
 * x86 with nothing else. A driver gets them from the WDK (ntdef.h, netioddk.h); here they are
 * spelled out from the Windows ABIs (LLP64), with the NMR's own types from npi_abi.h.
 *
 * Every name in npi-runtime's c_header::WDK_TYPEDEFS and every name its CType impls spell is
 * here: a header that uses one of them compiles against this file as it would against the WDK.
 */
#ifndef WDK_BASE_H
#define WDK_BASE_H

#include "npi_abi.h"

#if defined(_M_IX86)
#define NTAPI __stdcall
#else
#define NTAPI
#endif

#define VOID void
typedef char CHAR;
typedef short SHORT;
typedef unsigned char BOOLEAN;
typedef signed char INT8;
typedef unsigned char UINT8;
typedef short INT16;
typedef unsigned short UINT16;
typedef int INT32;
typedef unsigned int UINT32;
typedef long long INT64;
typedef unsigned long long UINT64;
typedef long long LONG64;
typedef unsigned long long ULONG64;
typedef long long LONGLONG;
typedef unsigned long long ULONGLONG;
#if defined(_WIN64)
typedef unsigned long long ULONG_PTR;
typedef long long LONG_PTR;
#else
typedef unsigned long ULONG_PTR;
typedef long LONG_PTR;
#endif
typedef ULONG_PTR SIZE_T;
typedef LONG_PTR SSIZE_T;

#endif /* WDK_BASE_H */
