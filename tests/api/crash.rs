//! Crash safety: `kill -9` of the server in the middle of concurrent logins, refreshes and
//! logouts loses no acknowledged write, leaves the view equal to the ledger's replay and the
//! hash chain whole, and no token both rotated and live.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use diesel::prelude::*;
use futures_util::future::join_all;
use reqwest::Client;
use serde_json::{Value, json};
use tokenledger::db::schema::token_view;

use crate::helpers::*;
use crate::process::ServeProcess;

/// What the server answered 200 to: each must be in the ledger after the crash.
#[derive(Debug)]
enum Acknowledged {
    Login {
        refresh: String,
        access: String,
    },
    Refresh {
        presented: String,
        refresh: String,
        access: String,
    },
    Logout {
        presented: String,
    },
}

fn jti(token: &str) -> String {
    claims_of(token)["jti"].as_str().expect("a jti").to_owned()
}

async fn post(client: &Client, base: &str, path: &str, body: Value) -> Option<Value> {
    let response = client
        .post(format!("{base}{path}"))
        .json(&body)
        .send()
        .await
        .ok()?;
    if response.status() != 200 {
        return None;
    }
    response.json().await.ok()
}

/// Logs in, refreshes twice, logs out, again and again, until the server is gone.
/// `answered` counts every acknowledged write of every worker, so the test can wait for
/// enough of them however slow the machine.
async fn worker(
    base: String,
    stop: Arc<AtomicBool>,
    answered: Arc<AtomicUsize>,
) -> Vec<Acknowledged> {
    let client = Client::new();
    let mut acknowledged = Vec::new();
    while !stop.load(Ordering::Relaxed) {
        let credentials = json!({"username": ALICE.0, "password": ALICE.1});
        let Some(pair) = post(&client, &base, "/api/token/", credentials).await else {
            break;
        };
        let mut refresh = pair["refresh"].as_str().unwrap_or_default().to_owned();
        answered.fetch_add(1, Ordering::Relaxed);
        acknowledged.push(Acknowledged::Login {
            refresh: jti(&refresh),
            access: jti(pair["access"].as_str().unwrap_or_default()),
        });
        for _ in 0..2 {
            let Some(rotated) = post(
                &client,
                &base,
                "/api/token/refresh/",
                json!({"refresh": refresh}),
            )
            .await
            else {
                return acknowledged;
            };
            let next = rotated["refresh"].as_str().unwrap_or_default().to_owned();
            answered.fetch_add(1, Ordering::Relaxed);
            acknowledged.push(Acknowledged::Refresh {
                presented: jti(&refresh),
                refresh: jti(&next),
                access: jti(rotated["access"].as_str().unwrap_or_default()),
            });
            refresh = next;
        }
        let logout = json!({"refresh": refresh});
        if post(&client, &base, "/api/token/blacklist/", logout)
            .await
            .is_none()
        {
            break;
        }
        answered.fetch_add(1, Ordering::Relaxed);
        acknowledged.push(Acknowledged::Logout {
            presented: jti(&refresh),
        });
    }
    acknowledged
}

#[actix_web::test]
async fn kill_9_under_load_loses_no_acknowledged_write() {
    let app = spawn_app().await;
    app.create_user(ALICE.0, ALICE.1);
    let server = ServeProcess::start(&app, "warn,tokenledger::startup=info");
    let stop = Arc::new(AtomicBool::new(false));
    let answered = Arc::new(AtomicUsize::new(0));
    let workers: Vec<_> = (0..6)
        .map(|_| {
            actix_web::rt::spawn(worker(
                server.address.clone(),
                stop.clone(),
                answered.clone(),
            ))
        })
        .collect();
    // Under load for at least 1.5 s and until enough writes were answered (a loaded machine
    // answers fewer per second): the kill then lands among writes in flight.
    let started = Instant::now();
    let deadline = started + Duration::from_secs(60);
    while started.elapsed() < Duration::from_millis(1_500) || answered.load(Ordering::Relaxed) < 12
    {
        assert!(
            Instant::now() < deadline,
            "the workers never got 12 answers"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    server.kill();
    stop.store(true, Ordering::Relaxed);
    let acknowledged: Vec<Acknowledged> = join_all(workers)
        .await
        .into_iter()
        .flat_map(|done| done.expect("a worker"))
        .collect();
    eprintln!(
        "{} answers acknowledged before the kill",
        acknowledged.len()
    );
    assert!(
        acknowledged.len() >= 12,
        "too little load before the kill to prove anything: {}",
        acknowledged.len()
    );

    // The restarted service opens the same database: its ledger must hold every answer.
    let restarted = ServeProcess::start(&app, "warn,tokenledger::startup=info");
    let events = crate::rotation::ledger_events(&app);
    let mut seen: HashMap<&str, HashSet<String>> = HashMap::new();
    for event in &events {
        seen.entry(event.event.as_str())
            .or_default()
            .insert(event.jti.clone());
    }
    let has = |kind: &str, jti: &str| seen.get(kind).is_some_and(|jtis| jtis.contains(jti));
    for ack in &acknowledged {
        match ack {
            Acknowledged::Login { refresh, access } => {
                assert!(has("issued", refresh) && has("issued", access), "{ack:?}");
            }
            Acknowledged::Refresh {
                presented,
                refresh,
                access,
            } => {
                assert!(has("rotated", presented), "{ack:?}");
                assert!(has("issued", refresh) && has("issued", access), "{ack:?}");
            }
            Acknowledged::Logout { presented } => {
                assert!(has("blacklisted", presented), "{ack:?}");
            }
        }
    }

    let pool = tokenledger::db::connect(&app.settings.database_url).expect("db");
    let rotated_but_live: i64 = token_view::table
        .filter(token_view::rotated_at.is_not_null())
        .filter(token_view::state.eq("outstanding"))
        .count()
        .get_result(&mut pool.get().expect("connection"))
        .expect("count");
    assert_eq!(rotated_but_live, 0, "a rotated token is still live");
    app.assert_view_matches_ledger();
    let verified = app.cli(&["ledger", "verify"], None);
    assert!(
        verified.status.success(),
        "{}",
        String::from_utf8_lossy(&verified.stdout)
    );

    // And the restarted server serves. Not alice: a login the kill cut short stays counted as
    // a failure until it leaves the throttle's window (the throttle errs on the side of
    // refusing), and six workers can leave her five.
    app.create_user("carol", "carol's long password");
    let login = Client::new()
        .post(format!("{}/api/token/", restarted.address))
        .json(&json!({"username": "carol", "password": "carol's long password"}))
        .send()
        .await
        .expect("request");
    assert_eq!(login.status(), 200);
}
