// Expansion snapshot: `cargo test -p npi-macros --lib` compares it; UPDATE_SNAPSHOTS=1 rewrites it.
pub struct Exnpi;
#[automatically_derived]
unsafe impl ::npi_runtime::__private::Npi for Exnpi {
    const ID: ::npi_runtime::__private::GUID = ::npi_runtime::__private::GUID::from_u128(
        0xF0B35B9A_3E1C_4C55_9E0B_52A64D5E71C2,
    );
    const NAME: &'static ::npi_runtime::__private::str = "Exnpi";
    const C_NAME: &'static ::npi_runtime::__private::str = "exnpi";
    const C_ID: &'static ::npi_runtime::__private::str = "NPI_EXNPI_ID";
    type ClientCharacteristics = ();
    type ProviderCharacteristics = ExProviderCharacteristics;
    type ClientDispatch = ExClientDispatch;
    type ProviderDispatch = ExProviderDispatch;
}
