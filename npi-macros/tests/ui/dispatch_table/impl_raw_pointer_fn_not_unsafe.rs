use npi_runtime::dispatch_table;

#[dispatch_table]
pub struct MsQuicNmrDispatch {
    pub version: u16,
    pub reserved: u16,
    pub open_version: fn(version: u32, api: *mut *const u8) -> i32,
}

pub struct MsQuic;

impl MsQuicNmrDispatchImpl for MsQuic {
    // A function that receives raw pointers from the peer is an `unsafe fn`: the peer vouches
    // for them, and the body must say why each use is sound.
    fn open_version(version: u32, api: *mut *const u8) -> i32 {
        let _ = (version, api);
        0
    }
}

fn main() {}
