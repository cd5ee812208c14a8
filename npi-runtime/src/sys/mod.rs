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
#![allow(non_snake_case)]

mod types;

pub use types::*;

#[cfg(npi_host)]
pub use crate::backend::host::abi::{
    NmrClientAttachProvider, NmrClientDetachProviderComplete, NmrDeregisterClient,
    NmrDeregisterProvider, NmrProviderDetachClientComplete, NmrRegisterClient, NmrRegisterProvider,
    NmrWaitForClientDeregisterComplete, NmrWaitForProviderDeregisterComplete,
};
#[cfg(not(npi_host))]
pub use crate::backend::netio::{
    NmrClientAttachProvider, NmrClientDetachProviderComplete, NmrDeregisterClient,
    NmrDeregisterProvider, NmrProviderDetachClientComplete, NmrRegisterClient, NmrRegisterProvider,
    NmrWaitForClientDeregisterComplete, NmrWaitForProviderDeregisterComplete,
};
