//! The command line (contract section 1). Usage errors exit 2 (clap); failures exit 1 with
//! one sentence on stderr.

mod import;
mod ledger;
mod progress;

use std::io::{BufRead, IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::config::Settings;
use crate::db;
use crate::ledger::chain::head_seq;
use crate::ledger::{flush, replay};
use crate::startup::{self, Application};
use crate::tokens::accounts;
use crate::users::{self, NewUser, UserKey};
use crate::{openapi, telemetry, time};

#[derive(Debug, Parser)]
#[command(
    name = "tokenledger",
    version,
    about = "A SimpleJWT-compatible JWT service on an event ledger"
)]
pub struct Cli {
    /// A TOML file with the same keys as the TOKENLEDGER_* variables (lower case, no prefix).
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Migrate the database if needed, then serve HTTP until SIGINT/SIGTERM.
    Serve,
    /// Apply pending migrations and exit.
    Migrate,
    /// Manage users.
    User {
        #[command(subcommand)]
        action: UserCommand,
    },
    /// Record `expired` for every token whose lifetime has ended; prints how many.
    FlushExpired,
    /// Audit query on the ledger, oldest first.
    Ledger(ledger::LedgerArgs),
    /// Check or rebuild the view folded from the ledger.
    View {
        #[command(subcommand)]
        action: ViewCommand,
    },
    /// Import users and tokens from another service, without logging anyone out.
    Import {
        #[command(subcommand)]
        source: import::ImportCommand,
    },
    /// Print the OpenAPI document.
    Openapi,
}

#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Create a user; prints the new id.
    Create {
        username: String,
        #[arg(long)]
        staff: bool,
        #[arg(long, value_name = "E")]
        email: Option<String>,
        /// Read the password from stdin (one trailing newline stripped) instead of prompting.
        #[arg(long)]
        password_stdin: bool,
    },
    /// Change a password; revokes every token of the user.
    SetPassword {
        username: String,
        #[arg(long)]
        password_stdin: bool,
    },
    /// Deactivate a user; revokes every token of the user.
    Deactivate { username: String },
    /// Activate a user.
    Activate { username: String },
}

#[derive(Debug, Subcommand)]
pub enum ViewCommand {
    /// Replay the whole ledger and compare with the view; exit 1 with the differences.
    Check,
    /// Replay the whole ledger into a fresh view.
    Rebuild,
}

pub fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    if let Command::Openapi = cli.command {
        println!("{}", openapi::document_json());
        return Ok(ExitCode::SUCCESS);
    }
    let settings = Settings::load(cli.config.as_deref())?;
    telemetry::init(&settings.log, settings.log_format);
    match cli.command {
        Command::Serve => serve(settings),
        Command::Migrate => {
            let pool = db::connect(&settings.database_url)?;
            let applied = db::run_migrations(&mut *pool.get()?)?;
            eprintln!("database is up to date");
            tracing::debug!(applied, "migrations");
            Ok(ExitCode::SUCCESS)
        }
        Command::User { action } => user(settings, action),
        Command::FlushExpired => {
            let ledger = startup::open_ledger(&settings)?;
            let cutoff = flush::cutoff(time::now(), settings.leeway);
            let ended = {
                let mut conn = ledger.pool().get()?;
                crate::ledger::view::count_ended_before(&mut conn, cutoff)?
            };
            let bar = progress::bar(ended, "tokens");
            let flushed = flush::flush_expired(&ledger, cutoff, flush::DEFAULT_BATCH, |done| {
                bar.set_position(done)
            })?;
            bar.finish_and_clear();
            println!("{flushed}");
            Ok(ExitCode::SUCCESS)
        }
        Command::View { action } => view(settings, action),
        Command::Import { source } => import::run(&settings, source),
        Command::Ledger(args) => {
            let pool = db::connect(&settings.database_url)?;
            let mut conn = pool.get()?;
            match args.action {
                Some(ledger::LedgerAction::Verify) => ledger::verify(&mut conn),
                Some(ledger::LedgerAction::Compact { before, export }) => {
                    ledger::compact(&mut conn, before, &export)
                }
                None => {
                    let mut out = std::io::stdout().lock();
                    ledger::run(&mut conn, args.query, &mut out)?;
                    out.flush()?;
                    Ok(ExitCode::SUCCESS)
                }
            }
        }
        Command::Openapi => Ok(ExitCode::SUCCESS),
    }
}

fn serve(settings: Settings) -> anyhow::Result<ExitCode> {
    actix_web::rt::System::new().block_on(async move {
        let app = Application::build(settings)?;
        app.run_until_stopped().await?;
        tracing::info!("stopped");
        Ok(ExitCode::SUCCESS)
    })
}

fn user(settings: Settings, action: UserCommand) -> anyhow::Result<ExitCode> {
    let ledger = &startup::open_ledger(&settings)?;
    match action {
        UserCommand::Create {
            username,
            staff,
            email,
            password_stdin,
        } => {
            let password = read_password(password_stdin)?;
            let mut conn = ledger.pool().get()?;
            let user = users::create(
                &mut conn,
                NewUser {
                    username: &username,
                    email: email.as_deref(),
                    password: &password,
                    is_staff: staff,
                },
            )?;
            println!("{}", user.id);
        }
        UserCommand::SetPassword {
            username,
            password_stdin,
        } => {
            let password = read_password(password_stdin)?;
            let revoked = accounts::set_password(
                ledger,
                UserKey::Name(username.clone()),
                &password,
                None,
                Some("cli"),
            )?;
            eprintln!("password changed; {revoked} tokens revoked");
        }
        UserCommand::Deactivate { username } => {
            let (_, revoked) =
                accounts::set_active(ledger, UserKey::Name(username.clone()), false, Some("cli"))?;
            eprintln!("{username} deactivated; {revoked} tokens revoked");
        }
        UserCommand::Activate { username } => {
            accounts::set_active(ledger, UserKey::Name(username.clone()), true, Some("cli"))?;
            eprintln!("{username} activated");
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn view(settings: Settings, action: ViewCommand) -> anyhow::Result<ExitCode> {
    let pool = db::connect(&settings.database_url)?;
    let mut conn = pool.get()?;
    match action {
        ViewCommand::Check => {
            let bar = progress::bar(head_seq(&mut conn)? as u64, "events");
            let differences = replay::check(&mut conn, |done| bar.set_position(done))?;
            bar.finish_and_clear();
            if differences.is_empty() {
                println!("view matches the ledger");
                return Ok(ExitCode::SUCCESS);
            }
            for difference in &differences {
                println!("{difference}");
            }
            eprintln!(
                "the view differs from a replay of the ledger in {} tokens",
                differences.len()
            );
            Ok(ExitCode::from(1))
        }
        ViewCommand::Rebuild => {
            let bar = progress::bar(head_seq(&mut conn)? as u64, "events");
            let report = replay::rebuild(&mut conn, |done| bar.set_position(done))?;
            bar.finish_and_clear();
            println!(
                "replayed {} events into {} tokens",
                report.events, report.rows
            );
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn read_password(from_stdin: bool) -> anyhow::Result<String> {
    let password = if from_stdin {
        let mut line = String::new();
        std::io::stdin().lock().read_line(&mut line)?;
        let line = line.strip_suffix('\n').unwrap_or(&line);
        line.strip_suffix('\r').unwrap_or(line).to_owned()
    } else if std::io::stdin().is_terminal() {
        let first = rpassword::prompt_password("Password: ")?;
        let again = rpassword::prompt_password("Password (again): ")?;
        anyhow::ensure!(first == again, "the passwords do not match");
        first
    } else {
        anyhow::bail!("no terminal to prompt for a password: use --password-stdin");
    };
    anyhow::ensure!(!password.is_empty(), "the password may not be empty");
    std::io::stderr().flush().ok();
    Ok(password)
}
