//! Webhooks (contract section 8), against a real receiver on 127.0.0.1 that checks every
//! delivery's Standard Webhooks signature by hand from the specification (base64 of
//! HMAC-SHA256 over "id.timestamp.body"; the server signs through the `standardwebhooks`
//! crate, so the two are independent): every selected event in seq order; a receiver failing
//! for a while gets everything afterwards with stable ids; `kill -9` mid-delivery and a
//! restart lose nothing; two instances deliver each event once.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use base64::Engine;
use hmac::{Hmac, Mac};
use serde_json::{Value, json};

use crate::feed::{admin_access, logouts};
use crate::helpers::*;
use crate::process::ServeProcess;

/// 32 bytes of key, as `whsec_<base64>`.
pub const SECRET: &str = "whsec_dGhpcnR5LXR3byBieXRlcyBvZiB3ZWJob29rIGtleSE=";

#[derive(Debug, Clone)]
pub struct Delivery {
    pub id: String,
    pub body: Value,
    /// What the receiver answered.
    pub status: u16,
}

impl Delivery {
    pub fn seq(&self) -> i64 {
        self.body["data"]["seq"].as_i64().expect("data.seq")
    }
}

struct Shared {
    log: Mutex<Vec<Delivery>>,
    /// Requests still to be answered 500.
    failing: AtomicUsize,
    delay: Duration,
    /// Deliveries whose signature did not verify.
    forged: Mutex<Vec<String>>,
}

/// An HTTP receiver on 127.0.0.1 (its own actix server, one worker).
pub struct Receiver {
    pub url: String,
    shared: Arc<Shared>,
    _server: actix_web::dev::ServerHandle,
}

fn verify(req: &HttpRequest, body: &[u8]) -> Result<String, String> {
    let header = |name: &str| {
        req.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
            .ok_or(format!("no {name}"))
    };
    let id = header("webhook-id")?;
    let timestamp: i64 = header("webhook-timestamp")?
        .parse()
        .map_err(|_| "timestamp not an integer")?;
    if (now() - timestamp).abs() > 300 {
        return Err("timestamp outside five minutes".into());
    }
    let key = base64::engine::general_purpose::STANDARD
        .decode(SECRET.trim_start_matches("whsec_"))
        .map_err(|_| "secret")?;
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(&key).map_err(|_| "key")?;
    mac.update(format!("{id}.{timestamp}.").as_bytes());
    mac.update(body);
    let expected = base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes());
    let signatures = header("webhook-signature")?;
    if signatures
        .split(' ')
        .any(|signature| signature == format!("v1,{expected}"))
    {
        Ok(id)
    } else {
        Err(format!("bad signature {signatures}"))
    }
}

async fn receive(req: HttpRequest, body: web::Bytes, shared: web::Data<Shared>) -> HttpResponse {
    if !shared.delay.is_zero() {
        actix_web::rt::time::sleep(shared.delay).await;
    }
    let id = match verify(&req, &body) {
        Ok(checked) => checked,
        Err(why) => {
            shared.forged.lock().expect("lock").push(why);
            return HttpResponse::BadRequest().finish();
        }
    };
    let status = match shared
        .failing
        .fetch_update(Ordering::AcqRel, Ordering::Acquire, |left| {
            left.checked_sub(1)
        }) {
        Ok(_) => 500,
        Err(_) => 204,
    };
    shared.log.lock().expect("lock").push(Delivery {
        id,
        body: serde_json::from_slice(&body).unwrap_or(Value::Null),
        status,
    });
    HttpResponse::build(actix_web::http::StatusCode::from_u16(status).expect("status")).finish()
}

impl Receiver {
    /// Answers 500 to the first `failing` requests, then 204; each after `delay`.
    pub fn start(failing: usize, delay: Duration) -> Receiver {
        let shared = Arc::new(Shared {
            log: Mutex::new(Vec::new()),
            failing: AtomicUsize::new(failing),
            delay,
            forged: Mutex::new(Vec::new()),
        });
        let data = web::Data::from(shared.clone());
        let server = HttpServer::new(move || {
            App::new()
                .app_data(data.clone())
                .route("/hook", web::post().to(receive))
        })
        .workers(1)
        .bind("127.0.0.1:0")
        .expect("a port on 127.0.0.1");
        let address = server.addrs()[0];
        let server = server.run();
        let handle = server.handle();
        actix_web::rt::spawn(server);
        Receiver {
            url: format!("http://{address}/hook"),
            shared,
            _server: handle,
        }
    }

    pub fn deliveries(&self) -> Vec<Delivery> {
        self.shared.log.lock().expect("lock").clone()
    }

    /// Seqs answered 2xx, in the order they arrived.
    pub fn delivered(&self) -> Vec<i64> {
        self.deliveries()
            .iter()
            .filter(|d| d.status < 300)
            .map(Delivery::seq)
            .collect()
    }

    pub fn assert_all_signed(&self) {
        let forged = self.shared.forged.lock().expect("lock");
        assert!(
            forged.is_empty(),
            "deliveries that did not verify: {forged:?}"
        );
    }

    /// Waits (at most `within`) until every seq of `expected` was delivered.
    pub async fn wait_for(&self, expected: &[i64], within: Duration) {
        let deadline = Instant::now() + within;
        loop {
            let delivered = self.delivered();
            if expected.iter().all(|seq| delivered.contains(seq)) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "delivered {delivered:?}, expected {expected:?}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

/// The seqs of the events the default selection sends, from the audit API.
async fn selected_seqs(app: &TestApp) -> Vec<i64> {
    let admin = admin_access(app).await;
    let mut seqs = Vec::new();
    for kind in ["blacklisted", "reuse_detected"] {
        let page = body(
            app.client
                .get(app.url(&format!("/api/admin/ledger/?event={kind}&limit=1000")))
                .bearer_auth(&admin)
                .send()
                .await
                .expect("request"),
        )
        .await;
        seqs.extend(
            page["events"]
                .as_array()
                .expect("events")
                .iter()
                .map(|event| event["seq"].as_i64().expect("seq")),
        );
    }
    seqs.sort_unstable();
    seqs
}

fn with_webhook(url: &str) -> impl FnOnce(&mut tokenledger::config::Settings) + '_ {
    move |settings| {
        settings.webhook_urls = Some(tokenledger::config::Secret::new(url));
        settings.webhook_secret = Some(tokenledger::config::Secret::new(SECRET));
        settings.webhook_retry = Duration::from_millis(50);
        settings.webhook_lease = Duration::from_secs(2);
    }
}

/// `seqs` with repeats removed (keeping the first), so a redelivery does not count twice.
fn first_occurrences(seqs: &[i64]) -> Vec<i64> {
    let mut seen = std::collections::BTreeSet::new();
    seqs.iter()
        .copied()
        .filter(|seq| seen.insert(*seq))
        .collect()
}

#[actix_web::test]
async fn every_selected_event_arrives_signed_in_seq_order_as_the_ledger_shows_it() {
    let receiver = Receiver::start(0, Duration::ZERO);
    let app = spawn_app_with(with_webhook(&receiver.url)).await;
    app.create_user(ALICE.0, ALICE.1);
    logouts(&app, 3).await;
    // A reuse: the rotated token presented again revokes the session.
    let (refresh, _) = app.login(ALICE.0, ALICE.1).await;
    assert_eq!(app.refresh(&refresh).await.status(), 200);
    assert_eq!(app.refresh(&refresh).await.status(), 401);
    let expected = selected_seqs(&app).await;
    assert!(expected.len() >= 9, "{expected:?}");
    receiver.wait_for(&expected, Duration::from_secs(10)).await;
    receiver.assert_all_signed();
    assert_eq!(receiver.delivered(), expected, "each once, in seq order");

    let admin = admin_access(&app).await;
    let ledger = body(
        app.client
            .get(app.url("/api/admin/ledger/?limit=1000"))
            .bearer_auth(&admin)
            .send()
            .await
            .expect("request"),
    )
    .await;
    let events = ledger["events"].as_array().expect("events");
    for delivery in receiver.deliveries() {
        let event = events
            .iter()
            .find(|event| event["seq"].as_i64() == Some(delivery.seq()))
            .expect("a ledger event");
        assert_eq!(delivery.body["data"], *event, "data is the ledger event");
        assert_eq!(
            delivery.body["type"],
            format!("token.{}", event["event"].as_str().expect("event")).as_str()
        );
        assert_eq!(delivery.body["timestamp"], event["at"]);
        assert!(
            delivery.id.starts_with("msg_")
                && delivery.id.ends_with(&format!("_{}", delivery.seq())),
            "{}",
            delivery.id
        );
    }
    let types: std::collections::BTreeSet<String> = receiver
        .deliveries()
        .iter()
        .map(|d| d.body["type"].as_str().unwrap_or_default().to_owned())
        .collect();
    assert_eq!(
        types.into_iter().collect::<Vec<_>>(),
        ["token.blacklisted", "token.reuse_detected"]
    );
}

#[actix_web::test]
async fn a_receiver_failing_for_a_while_gets_every_event_afterwards_in_order_with_stable_ids() {
    let receiver = Receiver::start(4, Duration::ZERO);
    // Credentials and a query in the URL must show nowhere: not in metrics, not in the log.
    let url = receiver.url.replace("http://", "http://hookuser:hookpass@") + "?token=querysecret";
    let app = spawn_app_with(with_webhook(&url)).await;
    app.create_user(ALICE.0, ALICE.1);
    logouts(&app, 3).await;
    let expected = selected_seqs(&app).await;
    receiver.wait_for(&expected, Duration::from_secs(20)).await;
    receiver.assert_all_signed();
    let deliveries = receiver.deliveries();
    let failed: Vec<&Delivery> = deliveries.iter().filter(|d| d.status == 500).collect();
    assert_eq!(failed.len(), 4);
    // The first event was tried five times, under one id; nothing overtook it.
    assert!(failed.iter().all(|d| d.seq() == expected[0]));
    assert!(failed.iter().all(|d| d.id == deliveries[4].id));
    assert_eq!(deliveries[4].seq(), expected[0]);
    assert_eq!(receiver.delivered(), expected);

    let label = receiver.url.clone();
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let metrics = metrics(&app).await;
        assert!(!metrics.contains("hookpass") && !metrics.contains("querysecret"));
        let lag = format!("tokenledger_webhook_lag_events{{url=\"{label}\"}} 0");
        let failures =
            format!("tokenledger_webhook_attempts_total{{outcome=\"failed\",url=\"{label}\"}} 4");
        if metrics.contains(&lag) && metrics.contains(&failures) {
            break;
        }
        assert!(Instant::now() < deadline, "{metrics}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[actix_web::test]
async fn kill_9_mid_delivery_and_a_restart_lose_no_event() {
    // Slow enough that the kill lands mid-stream.
    let receiver = Receiver::start(0, Duration::from_millis(60));
    let app = spawn_app().await;
    app.create_user(ALICE.0, ALICE.1);
    let env = [
        ("TOKENLEDGER_WEBHOOK_URLS", receiver.url.as_str()),
        ("TOKENLEDGER_WEBHOOK_SECRET", SECRET),
        ("TOKENLEDGER_WEBHOOK_LEASE", "1s"),
        ("TOKENLEDGER_WEBHOOK_RETRY", "100ms"),
    ];
    let first = ServeProcess::start_with(&app, "info", &env);
    logouts(&app, 12).await;
    let deadline = Instant::now() + Duration::from_secs(20);
    while receiver.delivered().len() < 4 {
        assert!(Instant::now() < deadline, "no delivery started");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    first.kill();
    let expected = selected_seqs(&app).await;
    assert!(
        receiver.delivered().len() < expected.len(),
        "the kill came after every delivery: the test proves nothing"
    );
    // The restart waits out the dead holder's lease, then resumes from the stored position.
    let _second = ServeProcess::start_with(&app, "info", &env);
    receiver.wait_for(&expected, Duration::from_secs(30)).await;
    receiver.assert_all_signed();
    let delivered = receiver.delivered();
    assert_eq!(first_occurrences(&delivered), expected, "no gap, in order");
    let repeats = delivered.len() - expected.len();
    assert!(
        repeats <= 1,
        "at most the one in flight repeats: {delivered:?}"
    );
}

#[actix_web::test]
async fn two_instances_on_one_database_deliver_each_event_once() {
    let receiver = Receiver::start(0, Duration::ZERO);
    let a = spawn_app_with(with_webhook(&receiver.url)).await;
    let b = a.another_instance();
    a.create_user(ALICE.0, ALICE.1);
    for round in 0..6 {
        let via = if round % 2 == 0 { &a } else { &b };
        let (refresh, _) = via.login(ALICE.0, ALICE.1).await;
        let response = via
            .post_json("/api/token/blacklist/", json!({"refresh": refresh}))
            .await;
        assert_eq!(response.status(), 200);
    }
    let expected = selected_seqs(&a).await;
    receiver.wait_for(&expected, Duration::from_secs(10)).await;
    // Give a second deliverer, if there were one, time to repeat something.
    tokio::time::sleep(Duration::from_millis(500)).await;
    receiver.assert_all_signed();
    assert_eq!(receiver.delivered(), expected, "each event once, in order");
}

#[actix_web::test]
async fn bad_feed_and_webhook_settings_stop_serve_at_start_with_one_clear_sentence() {
    let app = spawn_app().await;
    let cases: [(&[(&str, &str)], &str); 3] = [
        (
            &[("TOKENLEDGER_WEBHOOK_URLS", "http://127.0.0.1:9/hook")],
            "webhook_secret is required",
        ),
        (
            &[
                (
                    "TOKENLEDGER_WEBHOOK_URLS",
                    "http://u:hidden-pass@127.0.0.1:9/hook",
                ),
                ("TOKENLEDGER_WEBHOOK_SECRET", "not-a-whsec-secret"),
            ],
            "webhook_secret must be whsec_",
        ),
        (
            &[("TOKENLEDGER_FEED_KEYS", "too-short")],
            "at least 32 characters",
        ),
    ];
    for (env, message) in cases {
        let output = std::process::Command::new(env!("CARGO_BIN_EXE_tokenledger"))
            .arg("serve")
            .envs(env.iter().copied())
            .env("TOKENLEDGER_DATABASE_URL", &app.settings.database_url)
            .env("TOKENLEDGER_SIGNING_KEY", SIGNING_KEY)
            .env("TOKENLEDGER_BIND", "127.0.0.1:0")
            .output()
            .expect("serve runs");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(1), "{stderr}");
        assert!(stderr.contains(message), "{stderr}");
        assert!(
            !stderr.contains("hidden-pass") && !stderr.contains("too-short"),
            "{stderr}"
        );
    }
}
