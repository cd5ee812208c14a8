//! The raw NMR ABI: `netiodef.h`/`netioddk.h` in Rust, C names verbatim.
//!
//! Types, constants and the nine `Nmr*` functions with their C signatures. On a Windows kernel
//! build the functions are imports from `NETIO.SYS`; everywhere else (and on Windows with the
//! `host` feature) they are the in-process NMR of [`crate::host`]. Code written against this
//! module runs unchanged on both.
//!
//! Everything here is as unsafe as the C it mirrors: pointers must be valid for as long as the
//! contract says (`NmrRegister*` keeps the characteristics, the registration context and all they
//! point to until `NmrWaitFor*DeregisterComplete` returns).
//!
//! Two halves, both re-exported here: [`base`], the Windows types and statuses every binding of
//! the Windows headers also defines, and [`nmr`], the NMR's own names.
//!
//! # Next to windows-drivers-rs
//! `wdk_sys` defines the base names too, so glob-import `wdk_sys::*` with
//! `npi_runtime::sys::nmr::*`, not with `sys::*`: `nmr` and the default `wdk_sys` have no name
//! in common, and the aliases they share in spirit are the same types (`NTSTATUS` is `i32`,
//! `HANDLE` is `*mut c_void` in both). `GUID` and `LUID` are structs in each crate, equal in
//! layout, converted field by field. One exception: `wdk_sys`'s `network` feature binds
//! `wsk.h`, which includes `netioddk.h`, so with it `wdk_sys` has its own `NPI_*` types and
//! `wdk_sys::network::Nmr*` functions. Then import `nmr`'s items by name (or through the safe
//! layer, which needs none of them); the layouts are the same (`cargo xtask abi-check` compares
//! this crate's with the header's), but they are distinct Rust types.

pub mod base;
pub mod nmr;

pub use base::*;
pub use nmr::*;
