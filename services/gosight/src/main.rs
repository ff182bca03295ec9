//! `gosight`: one binary for every GoSight component and its tools.

mod cli;
mod commands;
mod config;

use std::collections::HashMap;
use std::process::ExitCode;

use clap::Parser;

/// Sessions, rows and batches are many small allocations; mimalloc serves them several times
/// faster than the system allocator (see the processor benchmark in docs/benchmarks.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    // The only place the process environment is read; everything below gets this map.
    let env: HashMap<String, String> = std::env::vars().collect();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(commands::run(cli, env)) {
        Ok(code) => code,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}
