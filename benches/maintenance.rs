//! Maintenance at a million tokens, each command as users run it (the CLI, its own process):
//! seeds a ledger with TOKENS ended tokens (one `issued` event each), then times `ledger
//! verify`, `view check` and `view rebuild` with their peak RSS (`/usr/bin/time`), then
//! `flush-expired` of all of them while wrk loads `GET /api/me/` on a server on the same
//! database, against `/api/me/` alone in the same run; then `ledger verify` and `view check`
//! again over the doubled ledger. On SQLite it also flushes two copies of the seeded file with
//! nothing else running: one with `tokenledger flush-expired`, one with the same writes as
//! plain SQL (`engine_flush`: the engine alone, no Rust in between), the flush's floor.
//!
//! Run: `cargo bench --bench maintenance [-- TOKENS]` (default 1,000,000; needs wrk and
//! /usr/bin/time: `apt-get install -y wrk time`). `MAINT_BACKENDS` (default `sqlite,postgres`),
//! `TOKENLEDGER_BENCH_POSTGRES` (default `postgres://postgres@127.0.0.1:5432/postgres`),
//! `PERF_SECONDS` per wrk run (default 5).

mod support;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Instant;

use chrono::Duration;
use support::{Instance, ScratchDatabase, USER};
use tokenledger::db;
use tokenledger::ledger::{Decision, Ledger, NewEvent, TokenRef, TokenType};
use tokenledger::time;
use tokenledger::tokens::claims::new_id;

const PER_WRITE: usize = 5_000;

struct Server(Child, Instance);

impl Server {
    fn start(url: &str) -> Self {
        let mut child = Command::new(env!("CARGO_BIN_EXE_tokenledger"))
            .arg("serve")
            .env("TOKENLEDGER_DATABASE_URL", url)
            .env("TOKENLEDGER_BIND", "127.0.0.1:0")
            .env(
                "TOKENLEDGER_SIGNING_KEY",
                "maintenance-bench-signing-key-0123456789abcdef",
            )
            .env(
                "TOKENLEDGER_BOOTSTRAP_ADMIN",
                format!("{}:{}", USER.0, USER.1),
            )
            .env("TOKENLEDGER_FLUSH_INTERVAL", "0")
            .stderr(Stdio::piped())
            .spawn()
            .expect("tokenledger serve starts");
        let mut lines = BufReader::new(child.stderr.take().expect("stderr")).lines();
        let base = loop {
            let line = lines.next().expect("`listening on`").expect("a log line");
            if let Some(at) = line.find("listening on http://") {
                break line[at + "listening on ".len()..].trim().to_owned();
            }
        };
        std::thread::spawn(move || lines.for_each(drop));
        Self(child, Instance::new(base))
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A CLI command's wall time (s), peak RSS (MiB) and last line of output.
fn cli(url: &str, args: &[&str]) -> (f64, f64, String) {
    let output = Command::new("/usr/bin/time")
        .args(["-f", "%e %M"])
        .arg(env!("CARGO_BIN_EXE_tokenledger"))
        .args(args)
        .env("TOKENLEDGER_DATABASE_URL", url)
        .env("TOKENLEDGER_LOG", "warn")
        .output()
        .expect("/usr/bin/time runs (apt-get install -y time)");
    assert!(output.status.success(), "{args:?}: {output:?}");
    let stderr = String::from_utf8_lossy(&output.stderr);
    let mut last = stderr.lines().last().unwrap_or_default().split_whitespace();
    let seconds = last.next().and_then(|s| s.parse().ok()).unwrap_or(f64::NAN);
    let kib: f64 = last.next().and_then(|s| s.parse().ok()).unwrap_or(f64::NAN);
    let said = String::from_utf8_lossy(&output.stdout);
    let said = said.lines().last().unwrap_or_default();
    let said = said
        .split(" hash ")
        .next()
        .unwrap_or_default()
        .trim()
        .to_owned();
    (seconds, kib / 1024.0, said)
}

/// wrk's Requests/sec and p99 (ms) for `GET /api/me/`.
fn wrk_me(base: &str, access: &str, seconds: u64) -> (f64, f64) {
    let output = Command::new("wrk")
        .args(["-t2", "-c32", &format!("-d{seconds}s"), "--latency", "-H"])
        .arg(format!("Authorization: Bearer {access}"))
        .arg(format!("{base}/api/me/"))
        .output()
        .expect("wrk runs (apt-get install -y wrk)");
    let text = String::from_utf8_lossy(&output.stdout);
    let field = |prefix: &str| {
        text.lines()
            .map(str::trim)
            .find_map(|line| line.strip_prefix(prefix))
            .map(str::trim)
            .unwrap_or("NaN")
            .to_owned()
    };
    let p99 = field("99%");
    let split = p99
        .find(|c: char| c.is_ascii_alphabetic())
        .unwrap_or(p99.len());
    let unit = match &p99[split..] {
        "us" => 0.001,
        "s" => 1000.0,
        _ => 1.0,
    };
    let p99 = p99[..split].parse::<f64>().unwrap_or(f64::NAN) * unit;
    (field("Requests/sec:").parse().unwrap_or(f64::NAN), p99)
}

/// The flush's writes with nothing but SQLite doing them, on the file at `path`: per batch of
/// 1,000 ended tokens (in `expires_at` order, as the flush reads them) one write transaction
/// that appends an `expired` event for each (a random hash in place of the chain's) and
/// deletes their view rows, all in set-based statements. Returns (seconds, tokens).
fn engine_flush(path: &std::path::Path) -> (f64, u64) {
    use diesel::connection::SimpleConnection;
    use diesel::{Connection, RunQueryDsl, SqliteConnection};
    #[derive(diesel::QueryableByName)]
    struct Count {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }
    let mut conn = SqliteConnection::establish(&path.display().to_string()).expect("the copy");
    conn.batch_execute(
        "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; \
         CREATE TEMP TABLE batch AS SELECT rowid AS r, * FROM token_view LIMIT 0;",
    )
    .expect("set up");
    let started = Instant::now();
    let mut total = 0u64;
    loop {
        conn.batch_execute(
            "BEGIN IMMEDIATE; DELETE FROM temp.batch; \
             INSERT INTO temp.batch SELECT rowid, * FROM token_view \
               WHERE expires_at <= '9999-12-31 23:59:59' ORDER BY expires_at LIMIT 1000; \
             INSERT INTO token_ledger (seq, at, event, jti, token_type, user_id, sid, parent_jti, \
                                       reason, actor, expires_at, hash) \
               SELECT (SELECT max(seq) FROM token_ledger) + row_number() OVER (ORDER BY r), \
                      strftime('%Y-%m-%d %H:%M:%f', 'now'), 'expired', jti, token_type, user_id, \
                      sid, NULL, NULL, NULL, expires_at, lower(hex(randomblob(32))) \
               FROM temp.batch; \
             DELETE FROM token_view WHERE rowid IN (SELECT r FROM temp.batch); \
             COMMIT;",
        )
        .expect("a batch");
        let batch = diesel::sql_query("SELECT count(*) AS n FROM temp.batch")
            .get_result::<Count>(&mut conn)
            .expect("the batch's size")
            .n as u64;
        total += batch;
        if batch < 1000 {
            return (started.elapsed().as_secs_f64(), total);
        }
    }
}

/// Copies an SQLite database (with its WAL) to `to`.
fn copy_sqlite(from: &std::path::Path, to: &std::path::Path) {
    for suffix in ["", "-wal"] {
        let source = format!("{}{suffix}", from.display());
        if std::path::Path::new(&source).exists() {
            std::fs::copy(&source, format!("{}{suffix}", to.display())).expect("copied");
        }
    }
}

fn seed(url: &str, tokens: usize) -> f64 {
    let ledger = Ledger::open(db::connect(url).expect("the database")).expect("a ledger");
    let now = time::now();
    let started = Instant::now();
    for first in (0..tokens).step_by(PER_WRITE) {
        let events: Vec<NewEvent> = (first..(first + PER_WRITE).min(tokens))
            .map(|n| {
                let at = now - Duration::hours(2) + Duration::milliseconds(n as i64 % 3_600_000);
                let token = TokenRef {
                    jti: new_id(),
                    token_type: if n % 2 == 0 {
                        TokenType::Access
                    } else {
                        TokenType::Refresh
                    },
                    user_id: 1,
                    sid: new_id(),
                    expires_at: at + Duration::minutes(5),
                };
                NewEvent::issued(token, None, at)
            })
            .collect();
        ledger
            .write(|_| Ok::<_, db::StoreError>(Decision::new(events, ())))
            .expect("seeded");
    }
    started.elapsed().as_secs_f64()
}

fn main() {
    let tokens: usize = std::env::args()
        .skip(1)
        .find_map(|arg| arg.replace('_', "").parse().ok())
        .unwrap_or(1_000_000);
    let seconds: u64 = std::env::var("PERF_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(5);
    let backends = std::env::var("MAINT_BACKENDS").unwrap_or_else(|_| "sqlite,postgres".into());
    let postgres = std::env::var("TOKENLEDGER_BENCH_POSTGRES")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
    let scratch = tempfile::tempdir().expect("a scratch directory");
    let runtime = actix_web::rt::System::new();
    let mut rows: Vec<(String, String, String)> = Vec::new();
    for backend in backends.split(',').map(str::trim) {
        let (url, _database) = match backend {
            "sqlite" => (
                format!("sqlite://{}", scratch.path().join("maint.db").display()),
                None,
            ),
            "postgres" => {
                let database = ScratchDatabase::create(&postgres);
                (database.url.clone(), Some(database))
            }
            other => panic!("unknown backend {other}"),
        };
        let seeded = seed(&url, tokens);
        eprintln!("{backend}: seeded {tokens} ended tokens in {seeded:.1} s");
        let command = |name: &str, args: &[&str], rows: &mut Vec<(String, String, String)>| {
            let (seconds, rss, said) = cli(&url, args);
            rows.push((
                format!("{backend}: tokenledger {name}"),
                format!("{seconds:.1} s, peak RSS {rss:.0} MiB"),
                said,
            ));
        };
        command("ledger verify", &["ledger", "verify"], &mut rows);
        command("view check", &["view", "check"], &mut rows);
        command("view rebuild", &["view", "rebuild"], &mut rows);
        if backend == "sqlite" {
            let file = scratch.path().join("maint.db");
            let (ours, engine) = (
                scratch.path().join("ours.db"),
                scratch.path().join("engine.db"),
            );
            copy_sqlite(&file, &ours);
            copy_sqlite(&file, &engine);
            let (seconds, rss, said) =
                cli(&format!("sqlite://{}", ours.display()), &["flush-expired"]);
            let (floor, flushed) = engine_flush(&engine);
            rows.push((
                "sqlite: tokenledger flush-expired, alone (a copy)".into(),
                format!("{seconds:.1} s, peak RSS {rss:.0} MiB"),
                format!("{said} ({:.0} tokens/s)", tokens as f64 / seconds),
            ));
            rows.push((
                "sqlite: the same writes as plain SQL, alone (a copy; the engine's floor)".into(),
                format!("{floor:.1} s"),
                format!(
                    "{flushed}; tokenledger's flush takes {:.2}x of it",
                    seconds / floor
                ),
            ));
        }

        let server = Server::start(&url);
        let (_, access) = runtime.block_on(server.1.login());
        let base = server.1.base.clone();
        let (alone_rps, alone_p99) = wrk_me(&base, &access, seconds);
        let during = {
            let (base, access) = (base.clone(), access.clone());
            std::thread::spawn(move || wrk_me(&base, &access, seconds))
        };
        command("flush-expired", &["flush-expired"], &mut rows);
        // The target is a rate (a million in 10 s), so the row says it.
        if let Some(row) = rows.last_mut() {
            let seconds: f64 = row
                .1
                .split(' ')
                .next()
                .and_then(|s| s.parse().ok())
                .unwrap_or(f64::NAN);
            row.2 = format!("{} ({:.0} tokens/s)", row.2, tokens as f64 / seconds);
        }
        let (during_rps, during_p99) = during.join().expect("wrk during the flush");
        rows.push((
            format!("{backend}: GET /api/me/ alone"),
            format!("{alone_rps:.0} req/s, p99 {alone_p99:.2} ms"),
            String::new(),
        ));
        rows.push((
            format!("{backend}: GET /api/me/ during flush-expired"),
            format!("{during_rps:.0} req/s, p99 {during_p99:.2} ms"),
            format!("p99 {:.2}x of alone", during_p99 / alone_p99),
        ));
        drop(server);
        command(
            "ledger verify (after the flush)",
            &["ledger", "verify"],
            &mut rows,
        );
        command(
            "view check (after the flush)",
            &["view", "check"],
            &mut rows,
        );
    }
    println!("\ntokenledger maintenance, {tokens} ended tokens, wrk -t2 -c32 -d{seconds}s");
    println!("| measure | figure | result |\n|---|---|---|");
    for (measure, figure, result) in rows {
        println!("| {measure} | {figure} | {result} |");
    }
}
