//! `include/xdp.h` is the C header generated from this crate's declaration of XDP: what a
//! C provider or client compiles against. This test fails when the declaration changed and the
//! file was not regenerated (`NPI_WRITE_HEADERS=1 cargo test -p npi-xdp`), so the file in the
//! repository is always the header of the NPI as declared.

#[test]
fn the_committed_header_is_the_generated_one() {
    let mut generated = String::new();
    let defines = [
        ("XDP_BINDING_VERSION_1", i128::from(npi_xdp::XDP_BINDING_VERSION_1)),
        ("XDP_NPI_CLIENT_REVISION_1", i128::from(npi_xdp::XDP_NPI_CLIENT_REVISION_1)),
        ("XDP_CAPABILITIES_EX_REVISION_1", i128::from(npi_xdp::XDP_CAPABILITIES_EX_REVISION_1)),
        (
            "XDP_SIZEOF_CAPABILITIES_EX_REVISION_1",
            i128::try_from(npi_xdp::XDP_SIZEOF_CAPABILITIES_EX_REVISION_1).expect("44"),
        ),
        ("XDP_DRIVER_API_MAJOR_VER", i128::from(npi_xdp::XDP_DRIVER_API_VERSION.major)),
        ("XDP_DRIVER_API_MINOR_VER", i128::from(npi_xdp::XDP_DRIVER_API_VERSION.minor)),
        ("XDP_DRIVER_API_PATCH_VER", i128::from(npi_xdp::XDP_DRIVER_API_VERSION.patch)),
    ];
    npi_runtime::c_header::header_with::<npi_xdp::Xdp>(&mut generated, &defines).expect("header");
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/include/xdp.h");
    if std::env::var_os("NPI_WRITE_HEADERS").is_some() {
        std::fs::write(path, &generated).expect("write the header");
    }
    let committed = std::fs::read_to_string(path).unwrap_or_default();
    assert!(
        committed == generated,
        "{path} is not the header generated from the declaration; regenerate it with \
         NPI_WRITE_HEADERS=1 cargo test -p npi-xdp\n--- generated ---\n{generated}"
    );
}
