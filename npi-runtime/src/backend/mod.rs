//! NMR backends. Exactly one supplies the nine `Nmr*` functions that [`crate::sys`] exports;
//! both depend only on the ABI types.

#[cfg(npi_host)]
pub(crate) mod host;
#[cfg(not(npi_host))]
pub(crate) mod netio;
