//! What each subcommand does; `main.rs` only parses and reports.

mod demo;
mod migrate;
mod serve;
mod standalone;
mod user;

use std::collections::HashMap;
use std::process::ExitCode;

use anyhow::Context;

use crate::cli::{Cli, Command, ConfigCommand};
use crate::config::Config;

pub async fn run(cli: Cli, env: HashMap<String, String>) -> anyhow::Result<ExitCode> {
    let config = Config::load(cli.config.as_deref(), &env)?;
    config.log.init()?;
    match cli.command {
        Command::Config { command } => {
            match command {
                ConfigCommand::Print => {
                    let yaml = config.to_redacted_yaml().context("rendering config")?;
                    #[allow(clippy::print_stdout)]
                    {
                        print!("{yaml}");
                    }
                }
                ConfigCommand::Check => eprintln!("config is valid"),
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Migrate { only, dir } => migrate::run(&config, only, dir.as_deref()).await,
        Command::User { command } => user::run(&config, command).await,
        Command::Project { command } => user::project(&config, command).await,
        Command::Ingest => serve::ingest(config).await,
        Command::Processor => serve::processor(config).await,
        Command::Api => serve::api(config).await,
        Command::Alerts => serve::alerts(config).await,
        Command::Standalone {
            data_dir,
            listen,
            demo,
        } => standalone::run(config, &data_dir, &listen, demo).await,
    }
}
