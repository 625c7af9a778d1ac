//! The service's performance in one run, as absolute figures and as ratios against its own
//! `GET /healthz` measured in the same run (machines here are noisy; ratios travel).
//!
//! - Hot path: `GET /api/me/` (signature, claims, revocation, user) against `/healthz` with
//!   the ledger at 0, 100,000 and 1,000,000 events, then with 1,000,000 live tokens and 100,000
//!   revoked access tokens (the server's RSS is read there); `POST /api/token/verify/` of an
//!   access token against `/api/me/` at each size.
//! - Writes: refresh with rotation and logout on SQLite and PostgreSQL.
//! - Login (argon2id, OWASP parameters): p50/p99, and `/api/me/` while logins flood in.
//! - Maintenance at that size: `ledger verify`, `view rebuild`, `flush-expired`.
//!
//! Run: `cargo bench --bench performance` (needs wrk: `apt-get install -y wrk`). Environment:
//! `PERF_SECONDS` per wrk run (default 10), `PERF_CONNECTIONS` (default 32), `PERF_EVENTS`
//! (largest ledger, default 1000000), `PERF_PHASES` (any of `hot,maintenance,login,writes`;
//! default all), `TOKENLEDGER_BENCH_POSTGRES` (a server on which a scratch database is made;
//! default `postgres://postgres@127.0.0.1:5432/postgres`, `off` to skip).

mod support;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use chrono::NaiveDateTime;
use support::{Instance, ScratchDatabase, USER, login_loop, logout_all, ms, percentile};
use tokenledger::db;
use tokenledger::ledger::{Decision, Ledger, NewEvent, Reason, TokenRef, TokenType};
use tokenledger::time;
use tokenledger::tokens::claims::new_id;

const SIGNING_KEY: &str = "bench-signing-key-of-at-least-32-bytes";
const CLIENTS: usize = 16;
const WRITE_RUN: Duration = Duration::from_secs(5);
const SESSIONS_PER_WRITE: usize = 500;

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|value| value.replace('_', "").parse().ok())
        .unwrap_or(default)
}

/// `tokenledger serve` as its own process, so its memory is its own.
struct Server {
    child: Child,
    instance: Instance,
}

impl Server {
    fn start(database_url: &str) -> Self {
        let mut child = Command::new(env!("CARGO_BIN_EXE_tokenledger"))
            .arg("serve")
            .env("TOKENLEDGER_DATABASE_URL", database_url)
            .env("TOKENLEDGER_BIND", "127.0.0.1:0")
            .env("TOKENLEDGER_SIGNING_KEY", SIGNING_KEY)
            .env(
                "TOKENLEDGER_BOOTSTRAP_ADMIN",
                format!("{}:{}", USER.0, USER.1),
            )
            .env("TOKENLEDGER_FLUSH_INTERVAL", "0")
            // Every client logs in as the one bench user at once: the throttle counts attempts
            // in flight, and would refuse all but five.
            .env("TOKENLEDGER_LOGIN_THROTTLE", "off")
            .env("TOKENLEDGER_LOGIN_THROTTLE_IP", "off")
            .stderr(Stdio::piped())
            .spawn()
            .expect("tokenledger serve starts");
        let stderr = child.stderr.take().expect("stderr");
        let mut lines = BufReader::new(stderr).lines();
        let base = loop {
            let line = lines
                .next()
                .expect("the server logs `listening on` before exiting")
                .expect("a log line");
            if let Some(at) = line.find("listening on http://") {
                break line[at + "listening on ".len()..].trim().to_owned();
            }
        };
        // Keep draining the log so the server never blocks on a full pipe.
        std::thread::spawn(move || lines.for_each(drop));
        Self {
            child,
            instance: Instance::new(base),
        }
    }

    fn rss_mib(&self) -> f64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .unwrap_or_default();
        status
            .lines()
            .find_map(|line| line.strip_prefix("VmRSS:"))
            .and_then(|kb| kb.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
            .map_or(f64::NAN, |kb| kb / 1024.0)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[derive(Debug, Clone, Copy)]
struct Wrk {
    rps: f64,
    p50: f64,
    p99: f64,
}

/// `wrk --latency`'s "Requests/sec" and percentile lines (units us, ms or s), in ms.
fn wrk(url: &str, bearer: Option<&str>, seconds: u64, connections: usize) -> Wrk {
    let header = bearer.map(|token| format!("Authorization: Bearer {token}"));
    let extra: Vec<&str> = header.iter().flat_map(|h| ["-H", h.as_str()]).collect();
    wrk_with(url, &extra, seconds, connections)
}

/// wrk POSTing a JSON body (through a script: wrk has no flag for a body).
fn wrk_post(url: &str, body: &serde_json::Value, seconds: u64, connections: usize) -> Wrk {
    let script = tempfile::Builder::new()
        .suffix(".lua")
        .tempfile()
        .expect("a script file");
    let lua = format!(
        "wrk.method = \"POST\"\nwrk.headers[\"Content-Type\"] = \"application/json\"\nwrk.body = [[{body}]]\n"
    );
    std::fs::write(script.path(), lua).expect("the script");
    let path = script.path().display().to_string();
    wrk_with(url, &["-s", &path], seconds, connections)
}

fn wrk_with(url: &str, extra: &[&str], seconds: u64, connections: usize) -> Wrk {
    let mut command = Command::new("wrk");
    command.args([
        "-t2",
        &format!("-c{connections}"),
        &format!("-d{seconds}s"),
        "--latency",
    ]);
    command.args(extra);
    let output = command
        .arg(url)
        .output()
        .expect("wrk runs (apt-get install -y wrk)");
    let text = String::from_utf8_lossy(&output.stdout);
    let to_ms = |value: &str| {
        let split = value
            .find(|c: char| c.is_ascii_alphabetic())
            .unwrap_or(value.len());
        let number: f64 = value[..split].parse().unwrap_or(f64::NAN);
        number
            * match &value[split..] {
                "us" => 0.001,
                "s" => 1000.0,
                _ => 1.0,
            }
    };
    let field = |prefix: &str| {
        text.lines()
            .map(str::trim)
            .find_map(|line| line.strip_prefix(prefix))
            .map(str::trim)
            .unwrap_or("NaN")
            .to_owned()
    };
    let non_2xx = field("Non-2xx or 3xx responses:");
    assert!(non_2xx == "NaN", "{url} answered errors: {non_2xx}\n{text}");
    Wrk {
        rps: field("Requests/sec:").parse().unwrap_or(f64::NAN),
        p50: to_ms(&field("50%")),
        p99: to_ms(&field("99%")),
    }
}

/// Grows a SQLite ledger with realistic sessions, through the same append and fold as the
/// service.
struct Seeder {
    ledger: Ledger,
    now: NaiveDateTime,
    sessions: usize,
}

impl Seeder {
    fn token(&self, token_type: TokenType, sid: &str, expires_at: NaiveDateTime) -> TokenRef {
        TokenRef {
            jti: new_id(),
            token_type,
            user_id: (self.sessions % 10_000) as i64 + 2,
            sid: sid.to_owned(),
            expires_at,
        }
    }

    /// One login (refresh + access); half the access tokens have already ended (work for
    /// flush-expired); with `revoke_access`, an admin then revoked the access token.
    fn session(&mut self, revoke_access: bool) -> Vec<NewEvent> {
        self.sessions += 1;
        let sid = new_id();
        let access_end = if self.sessions.is_multiple_of(2) {
            self.now - chrono::Duration::minutes(1)
        } else {
            self.now + chrono::Duration::hours(2)
        };
        let refresh = self.token(
            TokenType::Refresh,
            &sid,
            self.now + chrono::Duration::days(1),
        );
        let access = self.token(TokenType::Access, &sid, access_end);
        let mut events = vec![
            NewEvent::issued(refresh.clone(), None, self.now),
            NewEvent::issued(access.clone(), Some(refresh.jti), self.now),
        ];
        if revoke_access {
            events.push(NewEvent::blacklisted(access, Reason::Admin, self.now));
        }
        events
    }

    fn add(&mut self, sessions: usize, revoke_access: bool) {
        for first in (0..sessions).step_by(SESSIONS_PER_WRITE) {
            let events: Vec<NewEvent> = (first..(first + SESSIONS_PER_WRITE).min(sessions))
                .flat_map(|_| self.session(revoke_access))
                .collect();
            self.ledger
                .write(|_| Ok::<_, db::StoreError>(Decision::new(events, ())))
                .expect("seeding writes");
        }
    }

    fn events(&self) -> i64 {
        let mut conn = self.ledger.pool().get().expect("a connection");
        tokenledger::ledger::chain::head_seq(&mut conn).expect("the head")
    }
}

struct Table {
    rows: Vec<[String; 3]>,
}

impl Table {
    fn row(&mut self, measure: impl Into<String>, figure: impl Into<String>, ratio: String) {
        self.rows.push([measure.into(), figure.into(), ratio]);
        let last = self.rows.last().expect("a row");
        eprintln!("  {} | {} | {}", last[0], last[1], last[2]);
    }

    fn print(&self) {
        println!("\n| measure | figure | against /healthz (same run) |");
        println!("|---|---|---|");
        for [measure, figure, ratio] in &self.rows {
            println!("| {measure} | {figure} | {ratio} |");
        }
    }
}

fn wrk_figure(w: Wrk) -> String {
    format!(
        "{:.0} req/s, p50 {:.2} ms, p99 {:.2} ms",
        w.rps, w.p50, w.p99
    )
}

fn ratio(me: Wrk, health: Wrk) -> String {
    format!(
        "throughput {:.2}x, p99 {:.2}x",
        me.rps / health.rps,
        me.p99 / health.p99
    )
}

fn main() {
    let seconds: u64 = env_or("PERF_SECONDS", 10);
    let connections: usize = env_or("PERF_CONNECTIONS", 32);
    let largest: usize = env_or("PERF_EVENTS", 1_000_000);
    let postgres = std::env::var("TOKENLEDGER_BENCH_POSTGRES")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
    let scratch = tempfile::tempdir().expect("a scratch directory");
    let sqlite_url = format!("sqlite://{}", scratch.path().join("bench.db").display());
    let phases =
        std::env::var("PERF_PHASES").unwrap_or_else(|_| "hot,maintenance,login,writes".into());
    let phase = |name: &str| phases.split(',').any(|p| p.trim() == name);
    let runtime = actix_web::rt::System::new();
    let mut table = Table { rows: Vec::new() };

    let mut seeder = Seeder {
        ledger: Ledger::open(db::connect(&sqlite_url).expect("the database")).expect("a ledger"),
        now: time::now(),
        sessions: 0,
    };
    let mut me_figures = Vec::new();
    let mut health_alone = None;
    let mut me_alone = None;
    // Sessions of 2 events; the last stage adds sessions whose access token was revoked (3
    // events): 1M outstanding tokens and 100k revoked ones at the default size.
    let stages = [
        (0, 0),
        (largest / 10 / 2, 0),
        (largest / 2, 0),
        (0, largest / 10),
    ];
    let mut revoked = 0;
    for (live_sessions, revoked_sessions) in stages.into_iter().filter(|_| phase("hot")) {
        let started = Instant::now();
        seeder.add(live_sessions.saturating_sub(seeder.sessions), false);
        seeder.add(revoked_sessions, true);
        revoked += revoked_sessions;
        let events = seeder.events();
        let label = if revoked_sessions > 0 {
            format!(
                "{events} events: {} outstanding tokens, {revoked} revoked",
                2 * seeder.sessions - revoked
            )
        } else {
            format!("{events} events")
        };
        eprintln!(
            "{label}: {events} events seeded ({:.0} s)",
            started.elapsed().as_secs_f64()
        );
        let started = Instant::now();
        let server = Server::start(&sqlite_url);
        let startup = started.elapsed();
        let (_, access) = runtime.block_on(server.instance.login());
        let base = &server.instance.base;
        let health = wrk(&format!("{base}/healthz"), None, seconds, connections);
        let me = wrk(
            &format!("{base}/api/me/"),
            Some(&access),
            seconds,
            connections,
        );
        table.row(
            format!("GET /healthz, ledger {label}"),
            wrk_figure(health),
            "1.00x".into(),
        );
        table.row(
            format!("GET /api/me/, ledger {label}"),
            wrk_figure(me),
            ratio(me, health),
        );
        // Verify decides from memory as /api/me/ does: compared with /api/me/ of this run.
        let verify = wrk_post(
            &format!("{base}/api/token/verify/"),
            &serde_json::json!({"token": access}),
            seconds,
            connections,
        );
        table.row(
            format!("POST /api/token/verify/ (access token), ledger {label}"),
            wrk_figure(verify),
            format!(
                "throughput {:.2}x of /api/me/, {:.2}x of /healthz",
                verify.rps / me.rps,
                verify.rps / health.rps
            ),
        );
        if revoked_sessions > 0 {
            table.row(
                format!("server RSS after load, {label}"),
                format!(
                    "{:.0} MiB (startup {:.1} s)",
                    server.rss_mib(),
                    startup.as_secs_f64()
                ),
                String::new(),
            );
        } else if live_sessions == 0 {
            table.row(
                "server RSS after load, empty ledger",
                format!("{:.0} MiB", server.rss_mib()),
                String::new(),
            );
            health_alone = Some(health);
            me_alone = Some(me);
        }
        me_figures.push(me.rps / health.rps);
    }
    if !me_figures.is_empty() {
        let (low, high) = me_figures
            .iter()
            .fold((f64::MAX, f64::MIN), |(lo, hi), r| (lo.min(*r), hi.max(*r)));
        table.row(
            "GET /api/me/ across ledger sizes",
            format!("ratio to /healthz between {low:.2}x and {high:.2}x"),
            format!("spread {:.0}%", (high - low) / high * 100.0),
        );
    }

    let maintenance = if phase("maintenance") { 3 } else { 0 };
    for (name, args) in [
        ("ledger verify", &["ledger", "verify"][..]),
        ("view rebuild", &["view", "rebuild"][..]),
        ("flush-expired", &["flush-expired"][..]),
    ]
    .into_iter()
    .take(maintenance)
    {
        let started = Instant::now();
        let output = Command::new(env!("CARGO_BIN_EXE_tokenledger"))
            .args(args)
            .env("TOKENLEDGER_DATABASE_URL", &sqlite_url)
            .env("TOKENLEDGER_LOG", "warn")
            .output()
            .expect("the CLI runs");
        assert!(output.status.success(), "{name}: {output:?}");
        let said = String::from_utf8_lossy(&output.stdout);
        table.row(
            format!("tokenledger {name}, {} events", seeder.events()),
            format!("{:.1} s", started.elapsed().as_secs_f64()),
            said.lines().last().unwrap_or_default().trim().to_owned(),
        );
    }
    drop(seeder);

    // Login, and what a flood of logins leaves to protected requests.
    let fresh = scratch.path().join("writes.db");
    let fresh_url = format!("sqlite://{}", fresh.display());
    if phase("login") {
        let server = Server::start(&fresh_url);
        let instance = &server.instance;
        let (_, access) = runtime.block_on(instance.login());
        let base = instance.base.clone();
        let me_url = format!("{base}/api/me/");
        let flood_seconds = WRITE_RUN.as_secs();
        let me_during = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(500));
            wrk(&me_url, Some(&access), flood_seconds - 1, connections)
        });
        let (logins, latencies) = runtime.block_on(support::throughput(
            (0..CLIENTS).map(|_| login_loop(instance, WRITE_RUN)),
        ));
        let me_during = me_during.join().expect("wrk during the logins");
        table.row(
            format!("POST /api/token/ (argon2id 19 MiB, t=2), {CLIENTS} clients"),
            format!(
                "{logins:.0} /s, p50 {}, p99 {}",
                ms(percentile(&latencies, 0.5)),
                ms(percentile(&latencies, 0.99))
            ),
            String::new(),
        );
        if let (Some(health), Some(me)) = (health_alone, me_alone) {
            table.row(
                "GET /api/me/ during that login flood",
                wrk_figure(me_during),
                format!(
                    "{} (alone: {:.2}x)",
                    ratio(me_during, health),
                    me.rps / health.rps
                ),
            );
        }
    }

    let mut backends = vec![("SQLite", fresh_url, None)];
    if !phase("writes") {
        backends.clear();
    } else if postgres != "off" {
        let database = ScratchDatabase::create(&postgres);
        backends.push(("PostgreSQL", database.url.clone(), Some(database)));
    }
    for (backend, url, _database) in &backends {
        let server = Server::start(url);
        let instance = &server.instance;
        let (refreshes, latencies) = runtime.block_on(support::throughput(
            (0..CLIENTS).map(|_| support::refresh_loop(instance, WRITE_RUN)),
        ));
        table.row(
            format!("POST /api/token/refresh/ (rotation), {backend}, {CLIENTS} clients"),
            format!(
                "{refreshes:.0} /s, p50 {}, p99 {}",
                ms(percentile(&latencies, 0.5)),
                ms(percentile(&latencies, 0.99))
            ),
            String::new(),
        );
        let sessions: Vec<Vec<String>> = (0..CLIENTS)
            .map(|_| {
                (0..40)
                    .map(|_| runtime.block_on(instance.login()).0)
                    .collect()
            })
            .collect();
        let (logouts, latencies) = runtime.block_on(support::throughput(
            sessions
                .into_iter()
                .map(|sessions| logout_all(instance, sessions)),
        ));
        table.row(
            format!("POST /api/token/blacklist/ (logout), {backend}, {CLIENTS} clients"),
            format!(
                "{logouts:.0} /s, p50 {}, p99 {}",
                ms(percentile(&latencies, 0.5)),
                ms(percentile(&latencies, 0.99))
            ),
            String::new(),
        );
    }

    println!(
        "\ntokenledger performance: {} cores, wrk -t2 -c{connections} -d{seconds}s on loopback",
        std::thread::available_parallelism().map_or(0, usize::from)
    );
    table.print();
}
