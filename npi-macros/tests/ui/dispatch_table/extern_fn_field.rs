use npi_runtime::dispatch_table;

#[dispatch_table]
pub struct MsQuicNmrDispatch {
    pub version: u16,
    pub reserved: u16,
    pub open_version: extern "system" fn(version: u32, api: *mut *const u8) -> i32,
}

fn main() {}
