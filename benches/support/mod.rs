//! What the HTTP benchmarks share: a client of one instance, the load loops, percentiles and
//! scratch databases on a server.
#![allow(dead_code)] // each bench uses its own part

use std::time::{Duration, Instant};

use diesel::RunQueryDsl;
use reqwest::Client;
use serde_json::{Value, json};
use tokenledger::db::{DatabaseLocation, DbConn};

pub const USER: (&str, &str) = ("bench", "bench-password");

pub struct Instance {
    pub base: String,
    pub client: Client,
}

impl Instance {
    pub fn new(base: String) -> Self {
        Self {
            base,
            client: Client::builder()
                .pool_max_idle_per_host(64)
                .build()
                .expect("an HTTP client"),
        }
    }

    pub async fn post(&self, path: &str, body: Value) -> (u16, Value) {
        let response = self
            .client
            .post(format!("{}{path}", self.base))
            .json(&body)
            .send()
            .await
            .expect("request");
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    pub async fn login(&self) -> (String, String) {
        let (status, pair) = self
            .post(
                "/api/token/",
                json!({"username": USER.0, "password": USER.1}),
            )
            .await;
        assert_eq!(status, 200, "login: {pair}");
        (
            pair["refresh"].as_str().expect("refresh").to_owned(),
            pair["access"].as_str().expect("access").to_owned(),
        )
    }

    pub async fn me_status(&self, access: &str) -> u16 {
        self.client
            .get(format!("{}/api/me/", self.base))
            .bearer_auth(access)
            .send()
            .await
            .expect("request")
            .status()
            .as_u16()
    }
}

pub fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index.min(sorted.len() - 1)]
}

pub fn ms(duration: Duration) -> String {
    format!("{:.2} ms", duration.as_secs_f64() * 1e3)
}

/// What one client measured: each operation's latency, and the window they filled (a
/// client's set-up, such as its argon2 login, is outside it).
pub struct Run {
    pub latencies: Vec<Duration>,
    pub window: Duration,
}

/// Operations per second of `runs` (one per client) run at once: each client's operations
/// over its own window, summed; and every latency, sorted.
pub async fn throughput(
    runs: impl IntoIterator<Item = impl Future<Output = Run>>,
) -> (f64, Vec<Duration>) {
    let runs = futures_util::future::join_all(runs).await;
    let per_second = runs
        .iter()
        .map(|run| run.latencies.len() as f64 / run.window.as_secs_f64().max(1e-9))
        .sum();
    let mut latencies: Vec<Duration> = runs.into_iter().flat_map(|run| run.latencies).collect();
    latencies.sort_unstable();
    (per_second, latencies)
}

pub async fn login_loop(instance: &Instance, run: Duration) -> Run {
    let mut latencies = Vec::new();
    let started = Instant::now();
    while started.elapsed() < run {
        let sent = Instant::now();
        instance.login().await;
        latencies.push(sent.elapsed());
    }
    Run {
        latencies,
        window: started.elapsed(),
    }
}

/// One session refreshed with rotation again and again; the window starts after its login.
pub async fn refresh_loop(instance: &Instance, run: Duration) -> Run {
    let (mut refresh, _) = instance.login().await;
    let mut latencies = Vec::new();
    let started = Instant::now();
    while started.elapsed() < run {
        let sent = Instant::now();
        let (status, pair) = instance
            .post("/api/token/refresh/", json!({"refresh": refresh}))
            .await;
        latencies.push(sent.elapsed());
        assert_eq!(status, 200, "{pair}");
        refresh = pair["refresh"].as_str().expect("rotated").to_owned();
    }
    Run {
        latencies,
        window: started.elapsed(),
    }
}

/// Logs out sessions made beforehand (logins are argon2-bound and not what is measured).
pub async fn logout_all(instance: &Instance, sessions: Vec<String>) -> Run {
    let started = Instant::now();
    let mut latencies = Vec::new();
    for refresh in sessions {
        let sent = Instant::now();
        let (status, _) = instance
            .post("/api/token/blacklist/", json!({"refresh": refresh}))
            .await;
        latencies.push(sent.elapsed());
        assert_eq!(status, 200);
    }
    Run {
        latencies,
        window: started.elapsed(),
    }
}

/// A database of its own on the server `admin_url` names; dropped with this value.
pub struct ScratchDatabase {
    admin: DbConn,
    name: String,
    force: &'static str,
    pub url: String,
}

impl ScratchDatabase {
    pub fn create(admin_url: &str) -> Self {
        let location = DatabaseLocation::parse(admin_url).expect("a database URL");
        let mut admin = DbConn::establish_at(&location).expect("the database server");
        static MADE: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let made = MADE.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let name = format!("tokenledger_bench_{}_{made}", std::process::id());
        diesel::sql_query(format!("CREATE DATABASE {name}"))
            .execute(&mut admin)
            .expect("a scratch database");
        let (server, _) = admin_url.rsplit_once('/').expect("URL ending in /DATABASE");
        let force = if admin_url.starts_with("postgres") {
            " WITH (FORCE)"
        } else {
            ""
        };
        Self {
            admin,
            url: format!("{server}/{name}"),
            name,
            force,
        }
    }
}

impl Drop for ScratchDatabase {
    fn drop(&mut self) {
        let drop = format!("DROP DATABASE {}{}", self.name, self.force);
        let _ = diesel::sql_query(drop).execute(&mut self.admin);
    }
}
