// Expansion snapshot: `cargo test -p npi-macros --lib` compares it; UPDATE_SNAPSHOTS=1 rewrites it.
struct ExProvider;
#[automatically_derived]
unsafe impl ::npi_runtime::__private::ProviderModule for ExProvider {
    type Npi = Exnpi;
    const MODULE_ID: ::npi_runtime::__private::NPI_MODULEID = ::npi_runtime::__private::NPI_MODULEID::from_guid(
        ::npi_runtime::__private::GUID::from_u128(0x6D6C7F54_80C6_4A52_B0C8_4C9A1D0E3F21),
    );
    const DYNAMIC_MODULE_ID: ::npi_runtime::__private::bool = false;
    const NUMBER: ::npi_runtime::__private::u32 = 0u32;
    const REGISTRATION_VERSION: ::npi_runtime::__private::u16 = <Exnpi as ::npi_runtime::__private::Npi>::REGISTRATION_VERSION;
    const CHARACTERISTICS: ::npi_runtime::__private::Option<
        &'static ::npi_runtime::__private::NpiCharacteristics<
            ::npi_runtime::__private::ProviderKind,
            Exnpi,
        >,
    > = ::npi_runtime::__private::Some({
        let characteristics: &'static ::npi_runtime::__private::NpiCharacteristics<
            ::npi_runtime::__private::ProviderKind,
            Exnpi,
        > = &PROVIDER_CHARACTERISTICS;
        characteristics
    });
    fn characteristics() -> &'static ::npi_runtime::__private::Characteristics<
        ::npi_runtime::__private::ProviderKind,
    > {
        static CHARACTERISTICS: ::npi_runtime::__private::Static<
            ::npi_runtime::__private::Characteristics<
                ::npi_runtime::__private::ProviderKind,
            >,
        > = ::npi_runtime::__private::Static(
            <ExProvider as ::npi_runtime::__private::ProviderVTableCharacteristics>::CHARACTERISTICS,
        );
        &CHARACTERISTICS.0
    }
}
#[automatically_derived]
impl ::npi_runtime::__private::SoleRole for ExProvider {
    type Side = ::npi_runtime::__private::AsProvider<ExProvider>;
}
