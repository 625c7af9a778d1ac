//! `tokenledger import simplejwt --from URL [--dry-run]`: the Django project's users and
//! SimpleJWT's tokens into this ledger (the work is `crate::import`'s).

use std::process::ExitCode;

use clap::{Args, Subcommand};

use super::progress;
use crate::config::Settings;
use crate::db::{self, DatabaseLocation, DbConn, StoreError};
use crate::import::{self, Options, Progress};
use crate::startup;

#[derive(Debug, Subcommand)]
pub enum ImportCommand {
    /// Users, outstanding and blacklisted tokens of a Django + SimpleJWT deployment.
    Simplejwt(SimplejwtArgs),
}

#[derive(Debug, Args)]
pub struct SimplejwtArgs {
    /// The Django project's database: sqlite://PATH, postgres://... or mysql://...
    #[arg(long, value_name = "URL")]
    pub from: String,
    /// Print what would be imported; write nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Django's user table (a custom user model's, with auth_user's columns).
    #[arg(long, value_name = "TABLE", default_value = "auth_user")]
    pub user_table: String,
}

pub fn run(settings: &Settings, command: ImportCommand) -> anyhow::Result<ExitCode> {
    let ImportCommand::Simplejwt(args) = command;
    let location = DatabaseLocation::parse(&args.from)?;
    // SQLite would create a missing file: the source is only ever read.
    if let DatabaseLocation::SqliteFile(path) = &location
        && !std::path::Path::new(path).is_file()
    {
        anyhow::bail!("there is no Django database at {path}");
    }
    if location.is_postgres() {
        db::prepare_postgres_client();
    }
    let mut source = DbConn::establish_at(&location).map_err(|err| {
        anyhow::anyhow!(
            "cannot open the Django database {}: {}",
            db::redact(&args.from),
            one_line(&StoreError::from(err).to_string())
        )
    })?;
    let ledger = startup::open_ledger(settings)?;
    let bar = progress::bar(0, "tokens");
    let summary = import::run(
        &ledger,
        &mut source,
        &Options {
            user_table: args.user_table,
            dry_run: args.dry_run,
        },
        |step| match step {
            Progress::Total(total) => bar.set_length(total),
            Progress::Done(done) => bar.set_position(done),
        },
    )
    .map_err(|err| anyhow::anyhow!(one_line(&err.to_string())))?;
    bar.finish_and_clear();
    println!("{summary}");
    Ok(ExitCode::SUCCESS)
}

/// libpq's messages span lines; the contract's failure is one sentence on one line.
fn one_line(message: &str) -> String {
    message.split_whitespace().collect::<Vec<_>>().join(" ")
}
