// An OS-gated tail member disappears with everything generated for it: the trait fn, the
// shim, the call method, the constructor's initializer and the END_OF constant.
use npi_runtime::dispatch_table;

// An OS-gated tail member, as `#if NTDDI_VERSION >= NTDDI_WIN7` in `wsk.h`.
#[dispatch_table]
pub struct WskProviderDispatch {
    pub version: u16,
    pub reserved: u16,
    pub wsk_control_client: fn(control_code: u32) -> i32,
    #[cfg(any())]
    pub wsk_get_address_info: fn(name_space: u32) -> i32,
}

pub struct Provider;

impl WskProviderDispatchImpl for Provider {
    fn wsk_control_client(control_code: u32) -> i32 {
        control_code as i32
    }
}

static TABLE: WskProviderDispatch = WskProviderDispatch::new::<Provider>(0x0100, 0);

fn main() {
    // Only the three ungated members are in the table.
    assert_eq!(
        size_of::<WskProviderDispatch>(),
        WskProviderDispatch::END_OF_WSK_CONTROL_CLIENT
    );
    assert_eq!(TABLE.version, 0x0100);
}
