// A safe call passes only plain values; a type alias spelled like an integer but standing for a
// pointer must not make a pointer argument look plain.
#![allow(non_camel_case_types)]
use core::ffi::c_void;
use npi_runtime::*;

type u64 = *const [u8; 64];

#[dispatch_table]
pub struct ReadDispatch {
    pub version: u16,
    pub read: fn(#[context] binding: *mut c_void, buffer: u64) -> i32,
}

fn main() {}
