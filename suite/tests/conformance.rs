//! Conformance suite for the host NMR of `npi-runtime`.
//!
//! Every rule R1–R35 and scenario T1–T12 of `docs/nmr-contract.md`, the answers it gives to
//! the open questions (OQ-1..OQ-20) and the host extras (violations, strict mode, listings, bounded waits,
//! simulated IRQL), exercised through the raw `netioddk.h` ABI exactly as a C driver uses it:
//! leaked characteristics, `unsafe extern "system"` callbacks, contexts as raw pointers.
//!
//! The NMR is process-wide and the tests run in parallel, so each test registers for its own
//! fresh NPI id and looks only at that NPI's violations, registrations and bindings. Test names
//! carry the rule (`r18_…`), scenario (`t07_…`) or open question (`oq07_…`) they check.
#![allow(
    clippy::multiple_unsafe_ops_per_block,
    reason = "the conformance suite drives the raw ABI in C-shaped sequences, each block under one SAFETY argument; the library itself keeps one operation per block"
)]

// The crate root is `suite/tests/conformance.rs`, so its modules live in `suite/tests/conformance/`.
#[path = "conformance/support.rs"]
mod support;

#[path = "conformance/matrix.rs"]
mod matrix;

#[path = "conformance/registration.rs"]
mod registration;

#[path = "conformance/attachment.rs"]
mod attachment;

#[path = "conformance/detachment.rs"]
mod detachment;

#[path = "conformance/deregistration.rs"]
mod deregistration;

#[path = "conformance/reentrancy.rs"]
mod reentrancy;

#[path = "conformance/concurrency.rs"]
mod concurrency;

#[path = "conformance/bad_input.rs"]
mod bad_input;

#[path = "conformance/strict.rs"]
mod strict;

#[path = "conformance/diagnostics.rs"]
mod diagnostics;
