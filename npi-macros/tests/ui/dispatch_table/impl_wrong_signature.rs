use npi_runtime::dispatch_table;

#[dispatch_table]
pub struct MsQuicNmrDispatch {
    pub version: u16,
    pub reserved: u16,
    pub open_version: fn(version: u32, api: *mut *const u8) -> i32,
}

pub struct MsQuic;

impl MsQuicNmrDispatchImpl for MsQuic {
    // The table's function returns an NTSTATUS (`i32`).
    unsafe fn open_version(version: u32, api: *mut *const u8) -> u32 {
        let _ = (version, api);
        0
    }
}

fn main() {}
