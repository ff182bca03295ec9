//! Rebuild when a migration changes: `sql/` is embedded into the binary with `include_dir!`.
fn main() {
    println!("cargo:rerun-if-changed=../../sql");
}
