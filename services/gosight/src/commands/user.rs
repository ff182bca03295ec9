//! `gosight user create` and `gosight project create`.

use std::io::BufRead;
use std::process::ExitCode;

use anyhow::Context;
use gosight_api::accounts::{UserRole, create_project, create_user};
use gosight_common::backend::PostgresMetadata;

use crate::cli::{ProjectCommand, Role, UserCommand};
use crate::config::Config;

pub async fn run(config: &Config, command: UserCommand) -> anyhow::Result<ExitCode> {
    match command {
        UserCommand::Create {
            email,
            password,
            password_stdin,
            name,
            role,
        } => {
            let password = match (password, password_stdin) {
                (Some(p), _) => p,
                (None, true) => {
                    let mut line = String::new();
                    std::io::stdin()
                        .lock()
                        .read_line(&mut line)
                        .context("reading the password from stdin")?;
                    line.trim_end_matches(['\r', '\n']).to_string()
                }
                (None, false) => anyhow::bail!("give --password or --password-stdin"),
            };
            let role = match role {
                Role::Admin => UserRole::Admin,
                Role::User => UserRole::User,
            };
            let meta = PostgresMetadata::new(config.postgres.pool()?);
            let id = create_user(&meta, &email, &name, &password, role).await?;
            #[allow(clippy::print_stdout)]
            {
                println!("{id}");
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

pub async fn project(config: &Config, command: ProjectCommand) -> anyhow::Result<ExitCode> {
    match command {
        ProjectCommand::Create { name, owner } => {
            let meta = PostgresMetadata::new(config.postgres.pool()?);
            let created = create_project(&meta, &name, &owner).await?;
            #[allow(clippy::print_stdout)]
            {
                println!("project_id: {}", created.project_id);
                println!("slug: {}", created.slug);
                println!("write_key: {}", created.write_key);
            }
            eprintln!("the write key is shown only now; store it safely");
            Ok(ExitCode::SUCCESS)
        }
    }
}
