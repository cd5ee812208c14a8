//! Test, example and benchmark carrier for the npi workspace.
//!
//! [`real`] holds the ports of the real NPIs (WSK, msquic, eBPF for Windows, XDP): the modules
//! the examples in `examples/` and the tests in `tests/` run, on the NPIs declared in `npis/`. The README's code blocks are compiled
//! and run here, so the README stays true.
#![doc = include_str!("../../README.md")]

pub mod real;
