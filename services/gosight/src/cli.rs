//! Command-line interface.

use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};

#[derive(Debug, Parser)]
#[command(
    name = "gosight",
    version,
    about = "Self-hosted user-behaviour analytics and session replay"
)]
pub struct Cli {
    /// YAML config file (default: ./gosight.yaml if it exists). Environment variables override it.
    #[arg(long, short, global = true)]
    pub config: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the ingest service (SDK endpoints over HTTP and gRPC).
    Ingest,
    /// Run a processor shard (session actors, insights, writers).
    Processor,
    /// Run the API service and dashboard.
    Api,
    /// Run the alerting service.
    Alerts,
    /// Run all of GoSight in one process with embedded storage.
    Standalone {
        /// Where everything is stored.
        #[arg(long, default_value = "./gosight-data")]
        data_dir: PathBuf,
        /// Address serving the SDK endpoints, the API and the dashboard.
        #[arg(long, default_value = "127.0.0.1:8080")]
        listen: String,
        /// Generate realistic demo traffic.
        #[arg(long)]
        demo: bool,
    },
    /// Create the Kafka topics and apply the ClickHouse and PostgreSQL migrations.
    Migrate {
        /// Only this target.
        #[arg(long, value_enum)]
        only: Option<MigrateTarget>,
        /// Read migrations from DIR/clickhouse and DIR/postgres instead of the embedded ones.
        #[arg(long)]
        dir: Option<PathBuf>,
    },
    /// Manage users.
    User {
        #[command(subcommand)]
        command: UserCommand,
    },
    /// Manage projects.
    Project {
        #[command(subcommand)]
        command: ProjectCommand,
    },
    /// Inspect the configuration.
    Config {
        #[command(subcommand)]
        command: ConfigCommand,
    },
}

#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum MigrateTarget {
    Kafka,
    Clickhouse,
    Postgres,
}

#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Create a user.
    Create {
        #[arg(long)]
        email: String,
        /// The password; prefer --password-stdin so it does not show in the process list.
        #[arg(long, conflicts_with = "password_stdin")]
        password: Option<String>,
        /// Read the password from the first line of standard input.
        #[arg(long)]
        password_stdin: bool,
        #[arg(long, default_value = "")]
        name: String,
        #[arg(long, value_enum, default_value = "user")]
        role: Role,
    },
}

#[derive(Debug, Subcommand)]
pub enum ProjectCommand {
    /// Create a project owned by an existing user; prints the project id and a new write key.
    Create {
        #[arg(long)]
        name: String,
        /// Email of the owning user.
        #[arg(long)]
        owner: String,
    },
}

#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum Role {
    Admin,
    User,
}

#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Print the effective configuration as YAML, secrets redacted.
    Print,
    /// Check the configuration; exits non-zero naming the bad key.
    Check,
}
