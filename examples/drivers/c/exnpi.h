/*
 * exnpi.h - EXNPI for C modules: its id and both dispatch tables, written to match the one Rust
 * definition, npis/exnpi/src/lib.rs (`#[npi]`, `#[dispatch_table]`), field for field.
 *
 * Hand-written for now; a later change generates this header from the Rust definition, and
 * this file is the one to replace. The _Static_asserts pin the layouts the Rust side has on
 * the same target (both tables: Version @0, Length @2, the function @pointer size).
 */
#ifndef EXNPI_H
#define EXNPI_H

/* {F0B35B9A-3E1C-4C55-9E0B-52A64D5E71C2}: `#[npi(id = ...)] pub struct Exnpi`. */
static const NPIID NPI_EXNPI_ID = {
    0xF0B35B9A, 0x3E1C, 0x4C55, {0x9E, 0x0B, 0x52, 0xA6, 0x4D, 0x5E, 0x71, 0xC2}};

/* `exnpi::VERSION`: the version both tables carry. */
#define EXNPI_VERSION 1

/* `provider_function(#[context] binding, value: u32) -> u32`: doubles Value, telling the
 * calling client about it first. */
typedef ULONG(NTAPI EXNPI_PROVIDER_FUNCTION)(PVOID ProviderBindingContext, ULONG Value);
/* `client_notify(#[context] binding, value: u32)`: the provider has news for this client. */
typedef VOID(NTAPI EXNPI_CLIENT_NOTIFY)(PVOID ClientBindingContext, ULONG Value);

/* `exnpi::ExProviderDispatch`: what the provider offers its clients. */
typedef struct _EXNPI_PROVIDER_DISPATCH {
    USHORT Version;
    USHORT Length;
    EXNPI_PROVIDER_FUNCTION *ProviderFunction;
} EXNPI_PROVIDER_DISPATCH;

/* `exnpi::ExClientDispatch`: what a client offers its provider. */
typedef struct _EXNPI_CLIENT_DISPATCH {
    USHORT Version;
    USHORT Length;
    EXNPI_CLIENT_NOTIFY *ClientNotify;
} EXNPI_CLIENT_DISPATCH;

_Static_assert(sizeof(NPIID) == 16, "EXNPI id");
_Static_assert(__builtin_offsetof(EXNPI_PROVIDER_DISPATCH, Version) == 0, "ExProviderDispatch");
_Static_assert(__builtin_offsetof(EXNPI_PROVIDER_DISPATCH, Length) == 2, "ExProviderDispatch");
_Static_assert(__builtin_offsetof(EXNPI_CLIENT_DISPATCH, Version) == 0, "ExClientDispatch");
_Static_assert(__builtin_offsetof(EXNPI_CLIENT_DISPATCH, Length) == 2, "ExClientDispatch");
#if defined(_WIN64)
_Static_assert(__builtin_offsetof(EXNPI_PROVIDER_DISPATCH, ProviderFunction) == 8, "ExProviderDispatch");
_Static_assert(sizeof(EXNPI_PROVIDER_DISPATCH) == 16, "ExProviderDispatch");
_Static_assert(__builtin_offsetof(EXNPI_CLIENT_DISPATCH, ClientNotify) == 8, "ExClientDispatch");
_Static_assert(sizeof(EXNPI_CLIENT_DISPATCH) == 16, "ExClientDispatch");
#else
_Static_assert(__builtin_offsetof(EXNPI_PROVIDER_DISPATCH, ProviderFunction) == 4, "ExProviderDispatch");
_Static_assert(sizeof(EXNPI_PROVIDER_DISPATCH) == 8, "ExProviderDispatch");
_Static_assert(__builtin_offsetof(EXNPI_CLIENT_DISPATCH, ClientNotify) == 4, "ExClientDispatch");
_Static_assert(sizeof(EXNPI_CLIENT_DISPATCH) == 8, "ExClientDispatch");
#endif

#endif /* EXNPI_H */
