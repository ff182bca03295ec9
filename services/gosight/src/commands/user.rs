//! `gosight user create`.

use std::io::BufRead;
use std::process::ExitCode;

use anyhow::Context;
use gosight_api::accounts::{UserRole, create_user};

use crate::cli::{Role, UserCommand};
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
            let pool = config.postgres.pool()?;
            let id = create_user(&pool, &email, &name, &password, role).await?;
            #[allow(clippy::print_stdout)]
            {
                println!("{id}");
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}
