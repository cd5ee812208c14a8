//! Selects the NMR backend: `npi_host` is set when the in-process NMR is compiled in.
fn main() {
    println!("cargo::rustc-check-cfg=cfg(npi_host)");
    println!("cargo::rerun-if-changed=build.rs");
    let windows = std::env::var("CARGO_CFG_WINDOWS").is_ok();
    let host_feature = std::env::var("CARGO_FEATURE_HOST").is_ok();
    if !windows || host_feature {
        println!("cargo::rustc-cfg=npi_host");
    }
}
