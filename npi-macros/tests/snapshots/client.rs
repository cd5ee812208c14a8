// Expansion snapshot: `cargo test -p npi-macros --lib` compares it; UPDATE_SNAPSHOTS=1 rewrites it.
struct ExClient {
    providers: Mutex<Vec<ClientBindingRef<ExClient>>>,
}
#[automatically_derived]
unsafe impl ::npi_runtime::__private::ClientModule for ExClient {
    type Npi = Exnpi;
    const MODULE_ID: ::npi_runtime::__private::NPI_MODULEID = ::npi_runtime::__private::NPI_MODULEID::from_guid(
        ::npi_runtime::__private::GUID::from_u128(0x1B0E58E1_0A8F_4E2A_8B6A_0D3577B4C9E0),
    );
    const DYNAMIC_MODULE_ID: ::npi_runtime::__private::bool = false;
    const NUMBER: ::npi_runtime::__private::u32 = 1u32;
    const REGISTRATION_VERSION: ::npi_runtime::__private::u16 = <Exnpi as ::npi_runtime::__private::Npi>::REGISTRATION_VERSION;
    const CHARACTERISTICS: ::npi_runtime::__private::Option<
        &'static ::npi_runtime::__private::NpiCharacteristics<
            ::npi_runtime::__private::ClientKind,
            Exnpi,
        >,
    > = ::npi_runtime::__private::None;
    fn characteristics() -> &'static ::npi_runtime::__private::Characteristics<
        ::npi_runtime::__private::ClientKind,
    > {
        static CHARACTERISTICS: ::npi_runtime::__private::Static<
            ::npi_runtime::__private::Characteristics<
                ::npi_runtime::__private::ClientKind,
            >,
        > = ::npi_runtime::__private::Static(
            <ExClient as ::npi_runtime::__private::ClientVTableCharacteristics>::CHARACTERISTICS,
        );
        &CHARACTERISTICS.0
    }
}
#[automatically_derived]
impl ::npi_runtime::__private::SoleRole for ExClient {
    type Side = ::npi_runtime::__private::AsClient<ExClient>;
}
