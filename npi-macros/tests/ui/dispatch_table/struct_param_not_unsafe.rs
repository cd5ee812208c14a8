// A struct passed by value may hold anything, pointers included: a function taking one is safe
// only if declared `unsafe fn(..)`. The error is at the type.
use npi_runtime::dispatch_table;

#[repr(C)]
pub struct Request {
    pub buffer: *mut u8,
    pub length: u32,
}

#[dispatch_table]
pub struct IoDispatch {
    pub version: u16,
    pub submit: fn(request: Request) -> i32,
}

fn main() {}
