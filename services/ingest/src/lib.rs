//! The ingest service: takes what SDKs send over HTTP and gRPC and puts it on the bus.
//!
//! - [`config`]: the `ingest` config section.

pub mod config;

pub use config::IngestConfig;
