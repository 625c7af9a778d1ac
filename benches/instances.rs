//! Two instances on one database: how long a revocation through instance A takes to be
//! enforced by instance B, and how many writes per second login, refresh and logout sustain
//! with both instances writing. Prints one table per backend. Then the write ceiling: refresh
//! with rotation by 16 clients spread over 1, 2 and 4 instances on one database (every writer
//! of every instance shares the one write lock, so more instances cannot write faster).
//!
//! Run: `cargo bench --bench instances [-- SAMPLES]` (default 200 propagation samples).
//! PostgreSQL: `TOKENLEDGER_BENCH_POSTGRES` (default `postgres://postgres@127.0.0.1:5432/postgres`)
//! names a server on which a scratch database is created and dropped; set it to `off` to
//! measure SQLite alone. Built with `--features mysql`, MariaDB too (`TOKENLEDGER_BENCH_MYSQL`,
//! default `mysql://root@127.0.0.1:3306/mysql`).

mod support;

use std::time::{Duration, Instant};

use futures_util::future::join_all;
use serde_json::json;
use support::{
    Instance, ScratchDatabase, USER, login_loop, logout_all, ms, percentile, refresh_loop,
    throughput,
};
use tokenledger::config::{LoginRate, Secret, Settings};
use tokenledger::startup::Application;

/// Concurrent clients per instance in the throughput runs.
const CLIENTS_PER_INSTANCE: usize = 8;
const THROUGHPUT_RUN: Duration = Duration::from_secs(5);

fn start(database_url: &str) -> Instance {
    let settings = Settings {
        database_url: database_url.to_owned(),
        bind: "127.0.0.1:0".into(),
        signing_key: Some(Secret::new("bench-signing-key-of-at-least-32-bytes")),
        bootstrap_admin: Some(Secret::new(format!("{}:{}", USER.0, USER.1))),
        log: "warn".into(),
        // Every client logs in as the one bench user at once: the throttle counts attempts in
        // flight, and would refuse all but five.
        login_throttle: LoginRate::OFF,
        login_throttle_ip: LoginRate::OFF,
        ..Settings::default()
    };
    let app = Application::build(settings).expect("the application builds");
    let base = format!("http://{}", app.address());
    actix_web::rt::spawn(app.run_until_stopped());
    Instance::new(base)
}

/// From the 200 of a logout on A to the first 401 on B for the session's access token.
async fn propagation(a: &Instance, b: &Instance, samples: usize) -> Vec<Duration> {
    let mut delays = Vec::with_capacity(samples);
    for _ in 0..samples {
        let (refresh, access) = a.login().await;
        assert_eq!(b.me_status(&access).await, 200);
        let (status, _) = a
            .post("/api/token/blacklist/", json!({"refresh": refresh}))
            .await;
        assert_eq!(status, 200);
        let answered = Instant::now();
        while b.me_status(&access).await != 401 {
            assert!(
                answered.elapsed() < Duration::from_secs(5),
                "never enforced"
            );
        }
        delays.push(answered.elapsed());
    }
    delays.sort_unstable();
    delays
}

async fn measure(backend: &str, database_url: &str, samples: usize) {
    let a = start(database_url);
    let b = start(database_url);
    let delays = propagation(&a, &b, samples).await;
    let clients = || {
        [&a, &b]
            .into_iter()
            .flat_map(|instance| std::iter::repeat_n(instance, CLIENTS_PER_INSTANCE))
    };
    let (logins, login_latencies) =
        throughput(clients().map(|i| login_loop(i, THROUGHPUT_RUN))).await;
    let login_p99 = percentile(&login_latencies, 0.99);
    let (refreshes, refresh_latencies) =
        throughput(clients().map(|i| refresh_loop(i, THROUGHPUT_RUN))).await;
    let refresh_p99 = percentile(&refresh_latencies, 0.99);

    let per_client = 40;
    let mut sessions = Vec::new();
    for _ in 0..2 * CLIENTS_PER_INSTANCE {
        let mut batch = Vec::new();
        for _ in 0..per_client {
            batch.push(a.login().await.0);
        }
        sessions.push(batch);
    }
    let started = Instant::now();
    let logouts = sessions.into_iter().enumerate().map(|(n, batch)| {
        let instance = if n % 2 == 0 { &a } else { &b };
        logout_all(instance, batch)
    });
    let mut latencies: Vec<Duration> = join_all(logouts)
        .await
        .into_iter()
        .flat_map(|run| run.latencies)
        .collect();
    let logouts_per_second = latencies.len() as f64 / started.elapsed().as_secs_f64();
    latencies.sort_unstable();

    println!("\n{backend}: two instances, one database, {CLIENTS_PER_INSTANCE} clients each");
    println!("| measure | figure |");
    println!("|---|---|");
    println!(
        "| revoke on A -> enforced on B, p50 / p99 / max ({} samples) | {} / {} / {} |",
        delays.len(),
        ms(percentile(&delays, 0.5)),
        ms(percentile(&delays, 0.99)),
        ms(delays[delays.len() - 1])
    );
    println!(
        "| login (argon2id) | {logins:.0} /s, p99 {} |",
        ms(login_p99)
    );
    println!(
        "| refresh with rotation (4 events) | {refreshes:.0} /s, p99 {} |",
        ms(refresh_p99)
    );
    println!(
        "| logout (refresh + access blacklisted) | {logouts_per_second:.0} /s, p99 {} |",
        ms(percentile(&latencies, 0.99))
    );
}

fn main() {
    let samples = std::env::args()
        .skip(1)
        .find_map(|arg| arg.parse().ok())
        .unwrap_or(200);
    let admin_url = std::env::var("TOKENLEDGER_BENCH_POSTGRES")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
    let scratch = tempfile::tempdir().expect("a scratch directory");
    let sqlite_url = format!("sqlite://{}", scratch.path().join("bench.db").display());

    actix_web::rt::System::new().block_on(async {
        measure("SQLite", &sqlite_url, samples).await;
        if admin_url != "off" {
            on_scratch_database("PostgreSQL", &admin_url, samples).await;
        }
        if cfg!(feature = "mysql") {
            let admin_url = std::env::var("TOKENLEDGER_BENCH_MYSQL")
                .unwrap_or_else(|_| "mysql://root@127.0.0.1:3306/mysql".into());
            on_scratch_database("MariaDB", &admin_url, samples).await;
        }
    });
}

/// Creates a database on the server `admin_url` names, measures on it, drops it.
async fn on_scratch_database(backend: &str, admin_url: &str, samples: usize) {
    let scratch = ScratchDatabase::create(admin_url);
    measure(backend, &scratch.url, samples).await;
    let fresh = ScratchDatabase::create(admin_url);
    ceiling(backend, &fresh.url).await;
}

/// Clients in the ceiling runs, spread evenly over the instances.
const CEILING_CLIENTS: usize = 16;

/// Refreshes per second by the same clients through 1, 2 and 4 instances of one database.
async fn ceiling(backend: &str, database_url: &str) {
    let instances: Vec<Instance> = (0..4).map(|_| start(database_url)).collect();
    println!("\n{backend}: the write ceiling, {CEILING_CLIENTS} clients refreshing with rotation");
    println!("| instances | refresh /s | p50 | p99 |");
    println!("|---|---|---|---|");
    for n in [1, 2, 4] {
        let clients = (0..CEILING_CLIENTS).map(|c| refresh_loop(&instances[c % n], THROUGHPUT_RUN));
        let (per_second, latencies) = throughput(clients).await;
        println!(
            "| {n} | {per_second:.0} | {} | {} |",
            ms(percentile(&latencies, 0.5)),
            ms(percentile(&latencies, 0.99))
        );
    }
}
