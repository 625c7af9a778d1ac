//! `tokenledger ledger`: the audit query of contract section 6 on the command line, as an
//! aligned table, JSON Lines or CSV.

use std::io::Write;

use chrono::{DateTime, NaiveDateTime};
use clap::{Args, Subcommand, ValueEnum};
use comfy_table::{Table, presets};

use crate::db::DbConn;
use crate::ledger::event::{EventKind, LedgerEvent, Reason};
use crate::ledger::query::{self, EventFilter};
use crate::ledger::{chain, retention};
use crate::time::rfc3339;

const PAGE: i64 = 1_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// Aligned columns, for people.
    Table,
    /// One JSON object per line.
    Json,
    /// A header line, then one row per event.
    Csv,
}

#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct LedgerArgs {
    #[command(subcommand)]
    pub action: Option<LedgerAction>,
    #[command(flatten)]
    pub query: LedgerQuery,
}

#[derive(Debug, Subcommand)]
pub enum LedgerAction {
    /// Check the hash chain; exit 1 naming the first bad seq.
    Verify,
    /// Export events older than --before to a new JSON Lines file, then remove them from the
    /// ledger and record the compaction (events of tokens still in the view stay).
    Compact {
        /// RFC 3339: only events before this instant may go.
        #[arg(long, value_name = "T", value_parser = parse_instant)]
        before: NaiveDateTime,
        /// The JSON Lines file to write (must not exist yet).
        #[arg(long, value_name = "FILE")]
        export: std::path::PathBuf,
    },
}

#[derive(Debug, Args)]
pub struct LedgerQuery {
    #[arg(long, value_name = "ID")]
    user_id: Option<i64>,
    #[arg(long, value_name = "J")]
    jti: Option<String>,
    #[arg(long, value_name = "S")]
    sid: Option<String>,
    /// issued, rotated, blacklisted, expired or reuse_detected.
    #[arg(long, value_name = "E")]
    event: Option<EventKind>,
    /// A blacklisting reason (logout, rotation, logout_all, reuse_detected, ...).
    #[arg(long, value_name = "R")]
    reason: Option<Reason>,
    /// RFC 3339: events at or after it.
    #[arg(long, value_name = "T", value_parser = parse_instant)]
    since: Option<NaiveDateTime>,
    /// RFC 3339: events before it.
    #[arg(long, value_name = "T", value_parser = parse_instant)]
    until: Option<NaiveDateTime>,
    /// Only events with a greater seq.
    #[arg(long, value_name = "SEQ")]
    after: Option<i64>,
    /// At most this many events (default: all of them).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(i64).range(1..))]
    limit: Option<i64>,
    #[arg(long, value_enum, default_value_t = Format::Table)]
    format: Format,
}

fn parse_instant(text: &str) -> Result<NaiveDateTime, String> {
    DateTime::parse_from_rfc3339(text)
        .map(|at| at.naive_utc())
        .map_err(|err| format!("not an RFC 3339 date-time ({err})"))
}

const COLUMNS: [&str; 11] = [
    "seq",
    "at",
    "event",
    "jti",
    "token_type",
    "user_id",
    "sid",
    "parent_jti",
    "reason",
    "actor",
    "expires_at",
];

fn cells(event: &LedgerEvent) -> [String; 11] {
    let optional = |value: Option<String>| value.unwrap_or_default();
    [
        event.seq.to_string(),
        rfc3339::format(&event.at),
        event.event.to_string(),
        event.jti.clone(),
        event.token_type.to_string(),
        event.user_id.to_string(),
        event.sid.clone(),
        optional(event.parent_jti.clone()),
        optional(event.reason.map(|reason| reason.to_string())),
        optional(event.actor.clone()),
        rfc3339::format(&event.expires_at),
    ]
}

/// Writes the matching events, oldest first, in the chosen format; returns how many. JSON
/// and CSV stream page by page and carry each event's hash; the table, for people, leaves the
/// hash out and needs every width, so it is printed at the end.
pub fn run(conn: &mut DbConn, args: LedgerQuery, out: &mut impl Write) -> anyhow::Result<u64> {
    let format = args.format;
    let limit = args.limit;
    let filter = EventFilter {
        user_id: args.user_id,
        jti: args.jti,
        sid: args.sid,
        event: args.event,
        reason: args.reason,
        since: args.since,
        until: args.until,
        after: args.after,
    };
    match format {
        Format::Json => each_page(conn, filter, limit, |page| {
            for event in page {
                writeln!(out, "{}", serde_json::to_string(event)?)?;
            }
            Ok(())
        }),
        Format::Csv => {
            let mut csv = csv::Writer::from_writer(out);
            csv.write_record(COLUMNS.iter().chain(&["hash"]))?;
            let written = each_page(conn, filter, limit, |page| {
                page.iter().try_for_each(|event| {
                    csv.write_record(cells(event).iter().chain([&event.hash]))
                })?;
                Ok(csv.flush()?)
            })?;
            Ok(written)
        }
        Format::Table => {
            let mut table = Table::new();
            table.load_style(presets::NOTHING).set_header(COLUMNS);
            let written = each_page(conn, filter, limit, |page| {
                table.add_rows(page.iter().map(cells));
                Ok(())
            })?;
            writeln!(out, "{table}")?;
            Ok(written)
        }
    }
}

/// Hands the matching events to `write` a page at a time, up to `limit` in all.
fn each_page(
    conn: &mut DbConn,
    mut filter: EventFilter,
    limit: Option<i64>,
    mut write: impl FnMut(&[LedgerEvent]) -> anyhow::Result<()>,
) -> anyhow::Result<u64> {
    let mut remaining = limit.unwrap_or(i64::MAX);
    let mut written = 0u64;
    while remaining > 0 {
        let want = remaining.min(PAGE);
        let page = query::events(conn, &filter, want)?;
        let Some(last) = page.last() else { break };
        filter.after = Some(last.seq);
        remaining -= page.len() as i64;
        written += page.len() as u64;
        write(&page)?;
        if (page.len() as i64) < want {
            break;
        }
    }
    Ok(written)
}

/// `ledger verify`: exit 0 with the head to record elsewhere, or 1 naming the first bad seq.
pub fn verify(conn: &mut DbConn) -> anyhow::Result<std::process::ExitCode> {
    let bar = super::progress::bar(crate::ledger::chain::head_seq(conn)? as u64, "events");
    let verification = chain::verify(conn, |done| bar.set_position(done))?;
    bar.finish_and_clear();
    match verification.first_bad {
        None => {
            println!(
                "ledger verified: {} events; head seq {} hash {}",
                verification.events, verification.head_seq, verification.head_hash
            );
            Ok(std::process::ExitCode::SUCCESS)
        }
        Some(bad) => {
            println!("first bad seq: {} ({})", bad.seq, bad.problem);
            eprintln!("the ledger fails verification at seq {}", bad.seq);
            Ok(std::process::ExitCode::from(1))
        }
    }
}

/// `ledger compact`: the export is written and synced before anything is removed.
pub fn compact(
    conn: &mut DbConn,
    before: NaiveDateTime,
    export: &std::path::Path,
) -> anyhow::Result<std::process::ExitCode> {
    let file = std::fs::File::create_new(export).map_err(|err| {
        anyhow::anyhow!("cannot create the export file {}: {err}", export.display())
    })?;
    let mut writer = std::io::BufWriter::new(file);
    let done = retention::compact(conn, before, &mut writer)?;
    if done.removed == 0 {
        println!("nothing to compact: no event before that instant is free to go");
    } else {
        println!(
            "exported and removed {} events (seq {}..={}) to {}; sha256 {}; the chain now starts after seq {} (hash {})",
            done.removed,
            done.first_seq,
            done.up_to_seq,
            export.display(),
            done.export_sha256,
            done.up_to_seq,
            done.up_to_hash
        );
    }
    Ok(std::process::ExitCode::SUCCESS)
}
