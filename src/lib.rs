//! Test, example and benchmark carrier for the npi workspace.
//!
//! [`real`] holds the real NPIs (WSK, msquic, eBPF for Windows, XDP) defined with npi, shared by
//! the ports in `examples/` and their tests in `tests/`. The README's code blocks are compiled
//! and run here, so the README stays true.
#![doc = include_str!("../README.md")]

pub mod real;
