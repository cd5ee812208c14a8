//! `include/wsk.h` is the C header generated from this crate's declaration of WSK: what a
//! C provider or client compiles against. This test fails when the declaration changed and the
//! file was not regenerated (`NPI_WRITE_HEADERS=1 cargo test -p npi-wsk`), so the file in the
//! repository is always the header of the NPI as declared.

#[test]
fn the_committed_header_is_the_generated_one() {
    let mut generated = String::new();
    let defines = [("WSK_CLIENT_VERSION_1_0", i128::from(npi_wsk::WSK_CLIENT_VERSION_1_0))];
    npi_runtime::c_header::header_with::<npi_wsk::Wsk>(&mut generated, &defines).expect("header");
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/include/wsk.h");
    if std::env::var_os("NPI_WRITE_HEADERS").is_some() {
        std::fs::write(path, &generated).expect("write the header");
    }
    let committed = std::fs::read_to_string(path).unwrap_or_default();
    assert!(
        committed == generated,
        "{path} is not the header generated from the declaration; regenerate it with \
         NPI_WRITE_HEADERS=1 cargo test -p npi-wsk\n--- generated ---\n{generated}"
    );
}
