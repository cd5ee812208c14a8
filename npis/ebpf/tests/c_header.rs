//! `include/ebpf_native.h` and `include/ebpf_hook.h` are the C headers generated from this
//! crate's declarations of the native-module and hook NPIs: what a C provider or client
//! compiles against. These tests fail when a declaration changed and its file was not
//! regenerated (`NPI_WRITE_HEADERS=1 cargo test -p npi-ebpf`), so the files in the repository
//! are always the headers of the NPIs as declared.

use npi_ebpf::{hook, native};
use npi_runtime::Npi;

/// Compares `include/<file>` with the header generated for `N` (or writes it, when asked).
fn check<N: Npi>(file: &str, defines: &[(&str, i128)]) {
    let mut generated = String::new();
    npi_runtime::c_header::header_with::<N>(&mut generated, defines).expect("header");
    let path = format!("{}/include/{file}", env!("CARGO_MANIFEST_DIR"));
    if std::env::var_os("NPI_WRITE_HEADERS").is_some() {
        std::fs::write(&path, &generated).expect("write the header");
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == generated,
        "{path} is not the header generated from the declaration; regenerate it with \
         NPI_WRITE_HEADERS=1 cargo test -p npi-ebpf\n--- generated ---\n{generated}"
    );
}

#[test]
fn the_committed_native_module_header_is_the_generated_one() {
    check::<native::EbpfNative>(
        "ebpf_native.h",
        &[(
            "EBPF_NATIVE_METADATA_TABLE_CURRENT_VERSION",
            i128::from(native::EBPF_NATIVE_METADATA_TABLE_CURRENT_VERSION),
        )],
    );
}

#[test]
fn the_committed_hook_header_is_the_generated_one() {
    check::<hook::EbpfHook>(
        "ebpf_hook.h",
        &[
            (
                "EBPF_ATTACH_CLIENT_DATA_HEADER_VERSION",
                i128::from(hook::EBPF_ATTACH_CLIENT_DATA_HEADER_VERSION),
            ),
            (
                "EBPF_ATTACH_PROVIDER_DATA_CURRENT_VERSION",
                i128::from(hook::EBPF_ATTACH_PROVIDER_DATA_CURRENT_VERSION),
            ),
            (
                "EBPF_LINK_DISPATCH_TABLE_VERSION_1",
                i128::from(hook::EBPF_LINK_DISPATCH_TABLE_VERSION_1),
            ),
            (
                "EBPF_LINK_DISPATCH_TABLE_FUNCTION_COUNT_1",
                i128::from(hook::EBPF_LINK_DISPATCH_TABLE_FUNCTION_COUNT_1),
            ),
        ],
    );
}
