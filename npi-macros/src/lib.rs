//! Procedural macros for npi. Use them through `npi_runtime`, which re-exports them.
//!
//! The NPI-definition, client and provider macros land with the safe layer; this crate exists
//! now so that the workspace layout, the exact-version pin from `npi-runtime` and the build of a
//! proc-macro crate next to a `no_std` kernel crate are exercised from the start.
#![forbid(unsafe_code)]
