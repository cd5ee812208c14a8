// The runtime trusts what a `Side` says about a binding context: only its own roles implement it.
use npi_runtime::sys::GUID;

struct MySide;

impl npi_runtime::generic::Side for MySide {
    type Module = ();
    type Value = u32;
    type PeerDispatch = ();
    type OwnDispatch = ();
    const NPI_ID: GUID = GUID::from_u128(1);
    const SHARDS: usize = 1;
}

fn main() {}
