//! Generates the prost types, the tonic service and the serde (proto3 JSON mapping) impls from
//! `gosight/*.proto` with the vendored protoc, so no system protoc is needed.

use std::path::PathBuf;

const PROTOS: &[&str] = &[
    "gosight/common.proto",
    "gosight/events.proto",
    "gosight/ingest.proto",
    "gosight/envelope.proto",
];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let out_dir = PathBuf::from(std::env::var("OUT_DIR")?);
    let descriptor_path = out_dir.join("gosight_descriptor.bin");
    for proto in PROTOS {
        println!("cargo:rerun-if-changed={proto}");
    }

    let mut config = tonic_prost_build::Config::new();
    config.protoc_executable(protoc_bin_vendored::protoc_bin_path()?);
    tonic_prost_build::configure()
        .file_descriptor_set_path(&descriptor_path)
        .compile_with_config(config, PROTOS, &["."])?;

    let descriptors = std::fs::read(&descriptor_path)?;
    pbjson_build::Builder::new()
        .register_descriptors(&descriptors)?
        // Like the binary encoding: fields from a newer SDK are skipped, not an error.
        .ignore_unknown_fields()
        .build(&[".gosight"])?;

    // Numbers are read by `crate::json::NumberDeserialize`, which accepts the same values as
    // pbjson's without building an error value for every number (see `src/json.rs`).
    let serde_path = out_dir.join("gosight.serde.rs");
    let generated = std::fs::read_to_string(&serde_path)?;
    let replaced = generated.replace(
        "::pbjson::private::NumberDeserialize",
        "crate::json::NumberDeserialize",
    );
    if replaced == generated {
        return Err("pbjson-build no longer emits ::pbjson::private::NumberDeserialize".into());
    }
    std::fs::write(&serde_path, replaced)?;
    Ok(())
}
