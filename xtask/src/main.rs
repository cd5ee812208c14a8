//! Project tooling; see `cargo xtask --help`.
fn main() {
    eprintln!("usage: cargo xtask <command>");
}
