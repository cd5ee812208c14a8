// The hidden `Static` wrapper the macros put characteristics in was `Sync` for every `T`, which
// let safe code share a `Cell` between threads.
use core::cell::Cell;

static SHARED: npi_runtime::__private::Static<Cell<u32>> =
    npi_runtime::__private::Static(Cell::new(0));

fn main() {
    SHARED.0.set(1);
}
