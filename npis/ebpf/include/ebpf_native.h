/* The C side of NPI `ebpf_native`: generated from its Rust declaration by npi. */
/* Include after the WDK headers that define the base types and netioddk.h. */
#ifndef NPI_EBPF_NATIVE_H
#define NPI_EBPF_NATIVE_H

#include <stddef.h>

/* {C847AAC8-A6F2-4B53-AEA3-F4A94B9A80CB} */
static const GUID _ebpf_native_npi_id = { 0xC847AAC8, 0xA6F2, 0x4B53, { 0xAE, 0xA3, 0xF4, 0xA9, 0x4B, 0x9A, 0x80, 0xCB } };
#define EBPF_NATIVE_METADATA_TABLE_CURRENT_VERSION 1

typedef struct _program_entry_t program_entry_t;

typedef VOID (METADATA_TABLE_PROGRAMS)(program_entry_t **Programs, SIZE_T *Count);
typedef struct _map_entry_t map_entry_t;

typedef VOID (METADATA_TABLE_MAPS)(map_entry_t **Maps, SIZE_T *Count);
typedef VOID (METADATA_TABLE_HASH)(const UCHAR **Hash, SIZE_T *Size);
typedef struct _bpf2c_version_t {
    ULONG Major;
    ULONG Minor;
    ULONG Revision;
} bpf2c_version_t;
_Static_assert(sizeof(bpf2c_version_t) == 12, "sizeof(bpf2c_version_t)");
_Static_assert(offsetof(bpf2c_version_t, Major) == 0, "offsetof(bpf2c_version_t, Major)");
_Static_assert(offsetof(bpf2c_version_t, Minor) == 4, "offsetof(bpf2c_version_t, Minor)");
_Static_assert(offsetof(bpf2c_version_t, Revision) == 8, "offsetof(bpf2c_version_t, Revision)");

typedef VOID (METADATA_TABLE_VERSION)(bpf2c_version_t *Version);
typedef struct _map_initial_values_t map_initial_values_t;

typedef VOID (METADATA_TABLE_MAP_INITIAL_VALUES)(map_initial_values_t **MapInitialValues, SIZE_T *Count);
typedef struct _global_variable_section_info_t global_variable_section_info_t;

typedef VOID (METADATA_TABLE_GLOBAL_VARIABLE_SECTIONS)(global_variable_section_info_t **GlobalVariableSections, SIZE_T *Count);
typedef struct _metadata_table_t {
    SIZE_T Size;
    METADATA_TABLE_PROGRAMS *Programs;
    METADATA_TABLE_MAPS *Maps;
    METADATA_TABLE_HASH *Hash;
    METADATA_TABLE_VERSION *Version;
    METADATA_TABLE_MAP_INITIAL_VALUES *MapInitialValues;
    METADATA_TABLE_GLOBAL_VARIABLE_SECTIONS *GlobalVariableSections;
} metadata_table_t;
#define metadata_table_t_END_OF_SIZE (offsetof(metadata_table_t, Size) + sizeof(((metadata_table_t *)0)->Size))
#define metadata_table_t_END_OF_PROGRAMS (offsetof(metadata_table_t, Programs) + sizeof(((metadata_table_t *)0)->Programs))
#define metadata_table_t_END_OF_MAPS (offsetof(metadata_table_t, Maps) + sizeof(((metadata_table_t *)0)->Maps))
#define metadata_table_t_END_OF_HASH (offsetof(metadata_table_t, Hash) + sizeof(((metadata_table_t *)0)->Hash))
#define metadata_table_t_END_OF_VERSION (offsetof(metadata_table_t, Version) + sizeof(((metadata_table_t *)0)->Version))
#define metadata_table_t_END_OF_MAP_INITIAL_VALUES (offsetof(metadata_table_t, MapInitialValues) + sizeof(((metadata_table_t *)0)->MapInitialValues))
#define metadata_table_t_END_OF_GLOBAL_VARIABLE_SECTIONS (offsetof(metadata_table_t, GlobalVariableSections) + sizeof(((metadata_table_t *)0)->GlobalVariableSections))
_Static_assert(sizeof(metadata_table_t) == (sizeof(void *) == 8 ? 56 : 28), "sizeof(metadata_table_t)");
_Static_assert(offsetof(metadata_table_t, Size) == 0, "offsetof(metadata_table_t, Size)");
_Static_assert(metadata_table_t_END_OF_SIZE == (sizeof(void *) == 8 ? 8 : 4), "metadata_table_t_END_OF_SIZE");
_Static_assert(offsetof(metadata_table_t, Programs) == (sizeof(void *) == 8 ? 8 : 4), "offsetof(metadata_table_t, Programs)");
_Static_assert(metadata_table_t_END_OF_PROGRAMS == (sizeof(void *) == 8 ? 16 : 8), "metadata_table_t_END_OF_PROGRAMS");
_Static_assert(offsetof(metadata_table_t, Maps) == (sizeof(void *) == 8 ? 16 : 8), "offsetof(metadata_table_t, Maps)");
_Static_assert(metadata_table_t_END_OF_MAPS == (sizeof(void *) == 8 ? 24 : 12), "metadata_table_t_END_OF_MAPS");
_Static_assert(offsetof(metadata_table_t, Hash) == (sizeof(void *) == 8 ? 24 : 12), "offsetof(metadata_table_t, Hash)");
_Static_assert(metadata_table_t_END_OF_HASH == (sizeof(void *) == 8 ? 32 : 16), "metadata_table_t_END_OF_HASH");
_Static_assert(offsetof(metadata_table_t, Version) == (sizeof(void *) == 8 ? 32 : 16), "offsetof(metadata_table_t, Version)");
_Static_assert(metadata_table_t_END_OF_VERSION == (sizeof(void *) == 8 ? 40 : 20), "metadata_table_t_END_OF_VERSION");
_Static_assert(offsetof(metadata_table_t, MapInitialValues) == (sizeof(void *) == 8 ? 40 : 20), "offsetof(metadata_table_t, MapInitialValues)");
_Static_assert(metadata_table_t_END_OF_MAP_INITIAL_VALUES == (sizeof(void *) == 8 ? 48 : 24), "metadata_table_t_END_OF_MAP_INITIAL_VALUES");
_Static_assert(offsetof(metadata_table_t, GlobalVariableSections) == (sizeof(void *) == 8 ? 48 : 24), "offsetof(metadata_table_t, GlobalVariableSections)");
_Static_assert(metadata_table_t_END_OF_GLOBAL_VARIABLE_SECTIONS == (sizeof(void *) == 8 ? 56 : 28), "metadata_table_t_END_OF_GLOBAL_VARIABLE_SECTIONS");

#endif /* NPI_EBPF_NATIVE_H */
