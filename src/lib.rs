//! Test, example and benchmark carrier for the npi workspace; it has no API of its own.
//!
//! The README's code blocks are compiled and run here, so the README stays true.
#![doc = include_str!("../README.md")]
