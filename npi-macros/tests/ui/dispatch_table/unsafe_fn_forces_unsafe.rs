// `unsafe fn(..)` in the table makes the function unsafe even though every type is plain: the
// NPI asks more of its callers than the types say (here: a handle the peer looks up).
use npi_runtime::dispatch_table;

#[dispatch_table]
pub struct CloseDispatch {
    pub version: u16,
    pub close: unsafe fn(handle: u64),
}

fn close(peer: &CloseDispatchCalls<'_>) {
    peer.close(7);
}

fn main() {}
