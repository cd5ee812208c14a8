// An NPI declaration is a promise about binary layouts that the NMR passes as `void *`: two
// declarations of one id with different characteristics would read one module's data as
// another type. The promise must be made with `unsafe`, by whoever declares the NPI.
use npi_runtime::generic::*;
use npi_runtime::*;

#[repr(C)]
pub struct Numbers {
    pub a: usize,
    pub b: usize,
}
// SAFETY: #[repr(C)] plain data.
unsafe impl NpiData for Numbers {}

#[repr(C)]
pub struct Name {
    pub name: &'static str,
}
// SAFETY: #[repr(C)]; every value a Rust peer can write is valid.
unsafe impl NpiData for Name {}

#[npi(id = "22222222-2222-3333-4444-000000000001", provider_characteristics = Numbers)]
pub struct NpiA;

#[npi(id = "22222222-2222-3333-4444-000000000001", provider_characteristics = Name)]
pub struct NpiB;

fn main() {}
