// An NPI declaration is a promise about binary layouts that the NMR passes as `void *`: two
// declarations of one id with different characteristics would read one module's data as
// another type. The promise must be made with `unsafe`, by whoever declares the NPI.
use npi_runtime::*;

#[npi_runtime::npi_data]
pub struct Numbers {
    pub a: usize,
    pub b: usize,
}

#[npi_runtime::npi_data]
pub struct Name {
    pub name: [u8; 16],
}

#[npi(id = "22222222-2222-3333-4444-000000000001", provider_characteristics = Numbers)]
pub struct NpiA;

#[npi(id = "22222222-2222-3333-4444-000000000001", provider_characteristics = Name)]
pub struct NpiB;

fn main() {}
