// An OS-gated tail member disappears with everything generated for it: the trait fn, the
// shim, the call method, the constructor's initializer and the END_OF constant.
use npi_runtime::{Attach, ProviderAttachRequest, ProviderTable, dispatch_table, npi, npi_provider};

// An OS-gated tail member, as `#if NTDDI_VERSION >= NTDDI_WIN7` in `wsk.h`.
#[dispatch_table]
pub struct WskProviderDispatch {
    pub version: u16,
    pub reserved: u16,
    pub wsk_control_client: fn(control_code: u32) -> i32,
    #[cfg(any())]
    pub wsk_get_address_info: fn(name_space: u32) -> i32,
}

#[npi(id = "C0F6A7ED-0000-4000-8000-000000000001", provider_dispatch = WskProviderDispatch)]
pub struct GatedNpi;
// SAFETY: the types this declaration gives the NPI are its layouts, and it is the only
// declaration of this id in the program.
unsafe impl ::npi_runtime::NpiLayout for GatedNpi {}

#[npi_provider(npi = GatedNpi, module_id = "C0F6A7ED-0000-4000-8000-000000000002")]
pub struct Provider;

impl npi_runtime::Provider for Provider {
    type Binding = ();
    fn attach(&self, request: ProviderAttachRequest<'_, Self>) -> Attach {
        request.accept((), &TABLE).into()
    }
}

impl WskProviderDispatchImpl for Provider {
    fn wsk_control_client(control_code: u32) -> i32 {
        control_code as i32
    }
}

static TABLE: ProviderTable<Provider> = WskProviderDispatch::new::<Provider>(0x0100, 0);

fn main() {
    // Only the three ungated members are in the table.
    assert_eq!(
        size_of::<WskProviderDispatch>(),
        WskProviderDispatch::END_OF_WSK_CONTROL_CLIENT
    );
    assert_eq!(TABLE.version, 0x0100);
}
