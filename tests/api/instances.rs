//! Several instances on one database: a revocation through one is refused by the other, two
//! instances refreshing one token let exactly one through, writers on both instances never
//! leave a committed revocation unapplied, and (PostgreSQL) an outage is a 503 that heals
//! by itself. The same tests run on SQLite (two servers on one file) and on PostgreSQL.

use std::sync::mpsc;
use std::time::{Duration, Instant};

use diesel::RunQueryDsl;
use futures_util::future::join_all;
use serde_json::{Value, json};

use crate::helpers::*;

/// The contract's bound for a revocation written elsewhere to be honoured.
/// The contract's one second, plus a margin for a loaded 2-core machine (the measured
/// figures are milliseconds; a failure means a revocation did not propagate at all).
const PROPAGATION_BOUND: Duration = Duration::from_secs(4);

async fn readyz(app: &TestApp) -> (u16, Value) {
    let response = app
        .client
        .get(app.url("/readyz"))
        .send()
        .await
        .expect("request");
    (response.status().as_u16(), body(response).await)
}

/// Waits (bounded) until `app` has applied every event the database holds.
async fn caught_up(app: &TestApp) -> Value {
    let deadline = Instant::now() + PROPAGATION_BOUND;
    loop {
        let (status, ready) = readyz(app).await;
        assert_eq!(status, 200, "{ready}");
        if ready["lag"] == 0 && ready["applied_seq"] == ready["ledger_seq"] {
            return ready;
        }
        assert!(Instant::now() < deadline, "still lagging: {ready}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Waits (bounded by the contract's one second) until `app` refuses `access` as blacklisted.
async fn refused_within_bound(app: &TestApp, access: &str) {
    let deadline = Instant::now() + PROPAGATION_BOUND;
    loop {
        let response = app.me_with(access).await;
        if response.status() == 401 {
            let refusal = body(response).await;
            assert_eq!(refusal["messages"][0]["message"], "Token is blacklisted");
            return;
        }
        assert!(
            Instant::now() < deadline,
            "the other instance still accepts a revoked token after {PROPAGATION_BOUND:?}"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

fn metric(text: &str, name: &str) -> i64 {
    text.lines()
        .find_map(|line| line.strip_prefix(&format!("{name} ")))
        .and_then(|value| value.trim().parse().ok())
        .unwrap_or_else(|| panic!("metric {name} in {text}"))
}

#[actix_web::test]
async fn a_revocation_through_one_instance_is_refused_by_the_other() {
    let a = spawn_app().await;
    let b = a.another_instance();
    a.create_user(ALICE.0, ALICE.1);
    let (refresh, access) = a.login(ALICE.0, ALICE.1).await;
    assert_eq!(
        b.me_with(&access).await.status(),
        200,
        "a token issued by one instance is valid on every instance at once"
    );

    let logout = a
        .post_json("/api/token/blacklist/", json!({"refresh": refresh}))
        .await;
    assert_eq!(logout.status(), 200);
    refused_within_bound(&b, &access).await;
    let ready = caught_up(&b).await;
    assert!(ready["applied_seq"].as_i64() >= Some(4), "{ready}");
    let exposed = metrics(&b).await;
    assert_eq!(metric(&exposed, "tokenledger_ledger_lag"), 0);
    assert_eq!(
        metric(&exposed, "tokenledger_ledger_applied_seq"),
        ready["applied_seq"].as_i64().unwrap_or_default()
    );
}

#[actix_web::test]
async fn two_instances_refreshing_one_token_at_once_let_exactly_one_through() {
    let a = spawn_app().await;
    let b = a.another_instance();
    a.create_user(ALICE.0, ALICE.1);
    for _ in 0..5 {
        let (refresh, _) = a.login(ALICE.0, ALICE.1).await;
        let (first, second) = tokio::join!(a.refresh(&refresh), b.refresh(&refresh));
        let mut statuses = [first.status().as_u16(), second.status().as_u16()];
        let winner = if first.status() == 200 { first } else { second };
        statuses.sort_unstable();
        assert_eq!(
            statuses,
            [200, 401],
            "exactly one refresh may spend the token"
        );

        // The loser presented a rotated token: reuse detection revoked the whole session,
        // the winner's new tokens included, on both instances.
        let pair = body(winner).await;
        let new_access = pair["access"].as_str().expect("an access token");
        refused_within_bound(&a, new_access).await;
        refused_within_bound(&b, new_access).await;
        assert_eq!(
            a.refresh(pair["refresh"].as_str().expect("a refresh token"))
                .await
                .status(),
            401
        );
    }
    a.assert_view_matches_ledger();
}

#[actix_web::test]
async fn concurrent_writers_on_both_instances_leave_no_revocation_unapplied() {
    let a = spawn_app().await;
    let b = a.another_instance();
    a.create_user(ALICE.0, ALICE.1);
    let mut sessions = Vec::new();
    for round in 0..24 {
        let instance = if round % 2 == 0 { &a } else { &b };
        sessions.push(instance.login(ALICE.0, ALICE.1).await);
    }
    // Every logout at once, half through each instance, so their transactions contend.
    let logouts = sessions.iter().enumerate().map(|(index, (refresh, _))| {
        let instance = if index % 2 == 0 { &a } else { &b };
        instance.post_json("/api/token/blacklist/", json!({"refresh": refresh}))
    });
    for response in join_all(logouts).await {
        assert_eq!(response.status(), 200);
    }

    let (ready_a, ready_b) = (caught_up(&a).await, caught_up(&b).await);
    assert_eq!(ready_a["applied_seq"], ready_b["applied_seq"]);
    for (_, access) in &sessions {
        for instance in [&a, &b] {
            assert_eq!(instance.me_with(access).await.status(), 401);
        }
    }
    let revoked = |text: &str| metric(text, "tokenledger_revoked_bearer_tokens");
    assert_eq!(revoked(&metrics(&a).await), sessions.len() as i64);
    assert_eq!(revoked(&metrics(&b).await), sessions.len() as i64);
    a.assert_view_matches_ledger();
}

/// Why followers never skip a committed event: a writer holds the database's write lock from
/// its first statement to its commit, so a writer that starts later cannot commit (or even
/// choose) a seq until the earlier one has committed. Seq order is commit order.
#[actix_web::test]
async fn a_writer_waits_for_an_open_write_transaction_so_seqs_commit_in_order() {
    let a = spawn_app().await;
    let b = a.another_instance();
    a.create_user(ALICE.0, ALICE.1);
    let (refresh, access) = a.login(ALICE.0, ALICE.1).await;

    let url = a.settings.database_url.clone();
    let (inside, entered) = mpsc::channel();
    let holder = std::thread::spawn(move || {
        let pool = tokenledger::db::connect(&url).expect("db");
        let mut conn = pool.get().expect("connection");
        let head = tokenledger::db::write_transaction(&mut conn, |conn| {
            let head = tokenledger::ledger::chain::head_seq(conn)?;
            inside.send(()).expect("the test waits");
            std::thread::sleep(Duration::from_millis(400));
            Ok::<_, tokenledger::db::StoreError>(head)
        })
        .expect("the held transaction commits");
        (head, Instant::now())
    });
    entered.recv().expect("the holder took the lock");

    let logout = b
        .post_json("/api/token/blacklist/", json!({"refresh": refresh}))
        .await;
    let answered = Instant::now();
    assert_eq!(logout.status(), 200);
    let (head_seen_by_holder, committed) = holder.join().expect("holder");
    assert!(
        answered > committed,
        "the logout committed while another write transaction was open"
    );
    refused_within_bound(&a, &access).await;
    let ready = caught_up(&a).await;
    assert!(ready["applied_seq"].as_i64() > Some(head_seen_by_holder));
}

/// Needs PostgreSQL: ignored by a plain `cargo test` (so SQLite never reports it as passed),
/// run on PostgreSQL with `-- --include-ignored` (as `.ci/run` does), and a failure anywhere
/// else.
#[actix_web::test]
#[ignore = "needs PostgreSQL: TOKENLEDGER_TEST_POSTGRES=... cargo test --test api -- --include-ignored"]
async fn a_database_outage_is_503_and_service_resumes_by_itself() {
    assert!(
        on_postgres(),
        "an outage of one test's own database is staged on PostgreSQL: set TOKENLEDGER_TEST_POSTGRES"
    );
    let a = spawn_app().await;
    let b = a.another_instance();
    a.create_user(ALICE.0, ALICE.1);
    let (refresh, access) = a.login(ALICE.0, ALICE.1).await;
    let database = a.database.clone().expect("a PostgreSQL database");

    database.set_reachable(false);
    for instance in [&a, &b] {
        let (status, ready) = readyz(instance).await;
        assert_eq!(status, 503, "{ready}");
        assert!(ready["detail"].is_string(), "{ready}");
    }
    let login = a
        .post_json(
            "/api/token/",
            json!({"username": ALICE.0, "password": ALICE.1}),
        )
        .await;
    assert_eq!(login.status(), 503);
    assert!(body(login).await["detail"].is_string());
    let refresh_during = b.refresh(&refresh).await;
    assert_eq!(refresh_during.status(), 503);
    assert_eq!(
        b.me_with(&access).await.status(),
        503,
        "an instance that cannot follow the ledger does not vouch for a token"
    );

    database.set_reachable(true);
    let deadline = Instant::now() + Duration::from_secs(15);
    while readyz(&a).await.0 != 200 || readyz(&b).await.0 != 200 {
        assert!(Instant::now() < deadline, "the service did not come back");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // The refresh refused during the outage changed nothing: the token still refreshes once.
    let rotated = b.refresh(&refresh).await;
    assert_eq!(rotated.status(), 200);
    let pair = body(rotated).await;
    let logout = a
        .post_json("/api/token/blacklist/", json!({"refresh": pair["refresh"]}))
        .await;
    assert_eq!(logout.status(), 200);
    refused_within_bound(&b, pair["access"].as_str().expect("access")).await;
    a.assert_view_matches_ledger();
}

impl ServerDatabase {
    /// Stages an outage of this database alone: refuse new connections and end the open ones
    /// (what a restart or failover looks like to the service), or let connections in again.
    pub fn set_reachable(&self, reachable: bool) {
        let location = tokenledger::db::DatabaseLocation::parse(&self.admin_url).expect("a URL");
        let mut admin = tokenledger::db::DbConn::establish_at(&location).expect("the admin");
        diesel::sql_query(format!(
            "ALTER DATABASE {} ALLOW_CONNECTIONS {reachable}",
            self.name
        ))
        .execute(&mut admin)
        .expect("alter database");
        if !reachable {
            diesel::sql_query(format!(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{}'",
                self.name
            ))
            .execute(&mut admin)
            .expect("terminate");
        }
    }
}

/// Needs a database server (PostgreSQL or MariaDB): ignored by a plain `cargo test`, run
/// with `-- --include-ignored` where one is configured.
#[test]
#[ignore = "needs a database server: TOKENLEDGER_TEST_POSTGRES=... cargo test --test api -- --include-ignored"]
fn instances_starting_at_once_on_a_new_database_all_migrate_it() {
    let admin_url = server_admin_url().expect(
        "concurrent migrations are a database server's matter: set TOKENLEDGER_TEST_POSTGRES or TOKENLEDGER_TEST_MYSQL",
    );
    let database = ServerDatabase::create(&admin_url);
    let starts: Vec<_> = (0..4)
        .map(|_| {
            std::process::Command::new(env!("CARGO_BIN_EXE_tokenledger"))
                .arg("migrate")
                .env("TOKENLEDGER_DATABASE_URL", &database.url)
                .env("TOKENLEDGER_LOG", "warn")
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .expect("the CLI runs")
        })
        .collect();
    for start in starts {
        let output = start.wait_with_output().expect("the CLI finishes");
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
}
