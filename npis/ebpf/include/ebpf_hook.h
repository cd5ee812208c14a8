/* The C side of NPI `ebpf_hook`: generated from its Rust declaration by npi. */
/* Include after the WDK headers that define the base types and netioddk.h. */
#ifndef NPI_EBPF_HOOK_H
#define NPI_EBPF_HOOK_H

#include <stddef.h>

/* {5D564054-2736-406D-8B22-12BCFFAF0A9F} */
static const GUID EBPF_HOOK_EXTENSION_IID = { 0x5D564054, 0x2736, 0x406D, { 0x8B, 0x22, 0x12, 0xBC, 0xFF, 0xAF, 0x0A, 0x9F } };
#define EBPF_ATTACH_CLIENT_DATA_HEADER_VERSION 1
#define EBPF_ATTACH_PROVIDER_DATA_CURRENT_VERSION 1
#define EBPF_LINK_DISPATCH_TABLE_VERSION_1 1
#define EBPF_LINK_DISPATCH_TABLE_FUNCTION_COUNT_1 4

typedef struct _ebpf_extension_header_t {
    USHORT Version;
    SIZE_T Size;
    SIZE_T TotalSize;
} ebpf_extension_header_t;
_Static_assert(sizeof(ebpf_extension_header_t) == (sizeof(void *) == 8 ? 24 : 12), "sizeof(ebpf_extension_header_t)");
_Static_assert(offsetof(ebpf_extension_header_t, Version) == 0, "offsetof(ebpf_extension_header_t, Version)");
_Static_assert(offsetof(ebpf_extension_header_t, Size) == (sizeof(void *) == 8 ? 8 : 4), "offsetof(ebpf_extension_header_t, Size)");
_Static_assert(offsetof(ebpf_extension_header_t, TotalSize) == (sizeof(void *) == 8 ? 16 : 8), "offsetof(ebpf_extension_header_t, TotalSize)");

typedef struct _ebpf_extension_data_t {
    ebpf_extension_header_t Header;
    const VOID *Data;
    SIZE_T DataSize;
    ULONG64 ProgAttachFlags;
} ebpf_extension_data_t;
_Static_assert(sizeof(ebpf_extension_data_t) == (sizeof(void *) == 8 ? 48 : 32), "sizeof(ebpf_extension_data_t)");
_Static_assert(offsetof(ebpf_extension_data_t, Header) == 0, "offsetof(ebpf_extension_data_t, Header)");
_Static_assert(offsetof(ebpf_extension_data_t, Data) == (sizeof(void *) == 8 ? 24 : 12), "offsetof(ebpf_extension_data_t, Data)");
_Static_assert(offsetof(ebpf_extension_data_t, DataSize) == (sizeof(void *) == 8 ? 32 : 16), "offsetof(ebpf_extension_data_t, DataSize)");
_Static_assert(offsetof(ebpf_extension_data_t, ProgAttachFlags) == (sizeof(void *) == 8 ? 40 : 24), "offsetof(ebpf_extension_data_t, ProgAttachFlags)");

typedef struct _ebpf_attach_provider_data_t {
    ebpf_extension_header_t Header;
    GUID SupportedProgramType;
    ULONG BpfAttachType;
    ULONG LinkType;
} ebpf_attach_provider_data_t;
_Static_assert(sizeof(ebpf_attach_provider_data_t) == (sizeof(void *) == 8 ? 48 : 36), "sizeof(ebpf_attach_provider_data_t)");
_Static_assert(offsetof(ebpf_attach_provider_data_t, Header) == 0, "offsetof(ebpf_attach_provider_data_t, Header)");
_Static_assert(offsetof(ebpf_attach_provider_data_t, SupportedProgramType) == (sizeof(void *) == 8 ? 24 : 12), "offsetof(ebpf_attach_provider_data_t, SupportedProgramType)");
_Static_assert(offsetof(ebpf_attach_provider_data_t, BpfAttachType) == (sizeof(void *) == 8 ? 40 : 28), "offsetof(ebpf_attach_provider_data_t, BpfAttachType)");
_Static_assert(offsetof(ebpf_attach_provider_data_t, LinkType) == (sizeof(void *) == 8 ? 44 : 32), "offsetof(ebpf_attach_provider_data_t, LinkType)");

typedef LONG (FN_EBPF_PROGRAM_INVOKE_FUNCTION)(PVOID ClientBindingContext, PVOID ProgramContext, ULONG *Result);
typedef LONG (FN_EBPF_PROGRAM_BATCH_BEGIN_INVOKE_FUNCTION)(SIZE_T StateSize, PVOID State);
typedef LONG (FN_EBPF_PROGRAM_BATCH_INVOKE_FUNCTION)(PVOID ClientBindingContext, PVOID ProgramContext, ULONG *Result, const VOID *State);
typedef LONG (FN_EBPF_PROGRAM_BATCH_END_INVOKE_FUNCTION)(PVOID State);
typedef struct _ebpf_extension_program_dispatch_table_t {
    USHORT Version;
    USHORT Count;
    FN_EBPF_PROGRAM_INVOKE_FUNCTION *EbpfProgramInvokeFunction;
    FN_EBPF_PROGRAM_BATCH_BEGIN_INVOKE_FUNCTION *EbpfProgramBatchBeginInvokeFunction;
    FN_EBPF_PROGRAM_BATCH_INVOKE_FUNCTION *EbpfProgramBatchInvokeFunction;
    FN_EBPF_PROGRAM_BATCH_END_INVOKE_FUNCTION *EbpfProgramBatchEndInvokeFunction;
} ebpf_extension_program_dispatch_table_t;
#define ebpf_extension_program_dispatch_table_t_END_OF_VERSION (offsetof(ebpf_extension_program_dispatch_table_t, Version) + sizeof(((ebpf_extension_program_dispatch_table_t *)0)->Version))
#define ebpf_extension_program_dispatch_table_t_END_OF_COUNT (offsetof(ebpf_extension_program_dispatch_table_t, Count) + sizeof(((ebpf_extension_program_dispatch_table_t *)0)->Count))
#define ebpf_extension_program_dispatch_table_t_END_OF_EBPF_PROGRAM_INVOKE_FUNCTION (offsetof(ebpf_extension_program_dispatch_table_t, EbpfProgramInvokeFunction) + sizeof(((ebpf_extension_program_dispatch_table_t *)0)->EbpfProgramInvokeFunction))
#define ebpf_extension_program_dispatch_table_t_END_OF_EBPF_PROGRAM_BATCH_BEGIN_INVOKE_FUNCTION (offsetof(ebpf_extension_program_dispatch_table_t, EbpfProgramBatchBeginInvokeFunction) + sizeof(((ebpf_extension_program_dispatch_table_t *)0)->EbpfProgramBatchBeginInvokeFunction))
#define ebpf_extension_program_dispatch_table_t_END_OF_EBPF_PROGRAM_BATCH_INVOKE_FUNCTION (offsetof(ebpf_extension_program_dispatch_table_t, EbpfProgramBatchInvokeFunction) + sizeof(((ebpf_extension_program_dispatch_table_t *)0)->EbpfProgramBatchInvokeFunction))
#define ebpf_extension_program_dispatch_table_t_END_OF_EBPF_PROGRAM_BATCH_END_INVOKE_FUNCTION (offsetof(ebpf_extension_program_dispatch_table_t, EbpfProgramBatchEndInvokeFunction) + sizeof(((ebpf_extension_program_dispatch_table_t *)0)->EbpfProgramBatchEndInvokeFunction))
_Static_assert(sizeof(ebpf_extension_program_dispatch_table_t) == (sizeof(void *) == 8 ? 40 : 20), "sizeof(ebpf_extension_program_dispatch_table_t)");
_Static_assert(offsetof(ebpf_extension_program_dispatch_table_t, Version) == 0, "offsetof(ebpf_extension_program_dispatch_table_t, Version)");
_Static_assert(ebpf_extension_program_dispatch_table_t_END_OF_VERSION == 2, "ebpf_extension_program_dispatch_table_t_END_OF_VERSION");
_Static_assert(offsetof(ebpf_extension_program_dispatch_table_t, Count) == 2, "offsetof(ebpf_extension_program_dispatch_table_t, Count)");
_Static_assert(ebpf_extension_program_dispatch_table_t_END_OF_COUNT == 4, "ebpf_extension_program_dispatch_table_t_END_OF_COUNT");
_Static_assert(offsetof(ebpf_extension_program_dispatch_table_t, EbpfProgramInvokeFunction) == (sizeof(void *) == 8 ? 8 : 4), "offsetof(ebpf_extension_program_dispatch_table_t, EbpfProgramInvokeFunction)");
_Static_assert(ebpf_extension_program_dispatch_table_t_END_OF_EBPF_PROGRAM_INVOKE_FUNCTION == (sizeof(void *) == 8 ? 16 : 8), "ebpf_extension_program_dispatch_table_t_END_OF_EBPF_PROGRAM_INVOKE_FUNCTION");
_Static_assert(offsetof(ebpf_extension_program_dispatch_table_t, EbpfProgramBatchBeginInvokeFunction) == (sizeof(void *) == 8 ? 16 : 8), "offsetof(ebpf_extension_program_dispatch_table_t, EbpfProgramBatchBeginInvokeFunction)");
_Static_assert(ebpf_extension_program_dispatch_table_t_END_OF_EBPF_PROGRAM_BATCH_BEGIN_INVOKE_FUNCTION == (sizeof(void *) == 8 ? 24 : 12), "ebpf_extension_program_dispatch_table_t_END_OF_EBPF_PROGRAM_BATCH_BEGIN_INVOKE_FUNCTION");
_Static_assert(offsetof(ebpf_extension_program_dispatch_table_t, EbpfProgramBatchInvokeFunction) == (sizeof(void *) == 8 ? 24 : 12), "offsetof(ebpf_extension_program_dispatch_table_t, EbpfProgramBatchInvokeFunction)");
_Static_assert(ebpf_extension_program_dispatch_table_t_END_OF_EBPF_PROGRAM_BATCH_INVOKE_FUNCTION == (sizeof(void *) == 8 ? 32 : 16), "ebpf_extension_program_dispatch_table_t_END_OF_EBPF_PROGRAM_BATCH_INVOKE_FUNCTION");
_Static_assert(offsetof(ebpf_extension_program_dispatch_table_t, EbpfProgramBatchEndInvokeFunction) == (sizeof(void *) == 8 ? 32 : 16), "offsetof(ebpf_extension_program_dispatch_table_t, EbpfProgramBatchEndInvokeFunction)");
_Static_assert(ebpf_extension_program_dispatch_table_t_END_OF_EBPF_PROGRAM_BATCH_END_INVOKE_FUNCTION == (sizeof(void *) == 8 ? 40 : 20), "ebpf_extension_program_dispatch_table_t_END_OF_EBPF_PROGRAM_BATCH_END_INVOKE_FUNCTION");

#endif /* NPI_EBPF_HOOK_H */
