//! What operators watch: `/metrics` in Prometheus' text format (requests per route with
//! latency histograms, ledger events committed, the view's size) and log lines that carry the
//! id each response names in `X-Request-Id`.

use std::collections::HashSet;

use reqwest::Client;
use serde_json::{Value, json};

use crate::helpers::*;
use crate::process::ServeProcess;

async fn scrape(app: &TestApp) -> String {
    let response = app.client.get(app.url("/metrics")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain; version=0.0.4")
    );
    response.text().await.unwrap()
}

/// The value of the series `name{labels}` exactly as written (labels in the exposition's
/// order), if present.
fn series(text: &str, name_and_labels: &str) -> Option<f64> {
    text.lines()
        .find_map(|line| line.strip_prefix(name_and_labels)?.strip_prefix(' '))
        .and_then(|value| value.trim().parse().ok())
}

#[actix_web::test]
async fn metrics_count_requests_per_route_and_the_ledger_events() {
    let app = spawn_app().await;
    let alice = app.create_user(ALICE.0, ALICE.1);
    let (refresh, access) = app.login(ALICE.0, ALICE.1).await;
    for _ in 0..3 {
        assert_eq!(app.me_with(&access).await.status(), 200);
    }
    let rotated = body(app.refresh(&refresh).await).await;
    let response = app
        .post_json(
            "/api/token/blacklist/",
            json!({"refresh": rotated["refresh"]}),
        )
        .await;
    assert_eq!(response.status(), 200);
    let response = app
        .post_json(
            "/api/token/",
            json!({"username": "alice", "password": "wrong"}),
        )
        .await;
    assert_eq!(response.status(), 401);
    for path in ["/nope/1", "/nope/2", &format!("/api/admin/users/{alice}x/")] {
        assert_eq!(
            app.client.get(app.url(path)).send().await.unwrap().status(),
            404
        );
    }

    let text = scrape(&app).await;
    let requests = |method: &str, route: &str, status: u16| {
        series(
            &text,
            &format!(
                "tokenledger_http_requests_total{{method=\"{method}\",route=\"{route}\",status=\"{status}\"}}"
            ),
        )
    };
    assert_eq!(requests("POST", "/api/token/", 200), Some(1.0), "{text}");
    assert_eq!(requests("POST", "/api/token/", 401), Some(1.0));
    assert_eq!(requests("GET", "/api/me/", 200), Some(3.0));
    assert_eq!(requests("POST", "/api/token/refresh/", 200), Some(1.0));
    assert_eq!(requests("POST", "/api/token/blacklist/", 200), Some(1.0));
    // Unknown paths are one series, not one per path a client made up.
    assert_eq!(requests("GET", "unmatched", 404), Some(3.0));
    assert!(!text.contains("/nope/"));
    assert_eq!(
        series(
            &text,
            "tokenledger_http_request_duration_seconds_count{method=\"GET\",route=\"/api/me/\"}"
        ),
        Some(3.0)
    );
    assert_eq!(
        series(
            &text,
            "tokenledger_http_request_duration_seconds_bucket{method=\"GET\",route=\"/api/me/\",le=\"+Inf\"}"
        ),
        Some(3.0)
    );

    // Login: refresh + access issued; refresh: rotated + blacklisted, refresh + access issued;
    // logout: the new refresh and both access tokens of the session blacklisted.
    let events = |event: &str, token_type: &str| {
        series(
            &text,
            &format!(
                "tokenledger_ledger_events_total{{event=\"{event}\",token_type=\"{token_type}\"}}"
            ),
        )
        .unwrap_or(0.0)
    };
    assert_eq!(events("issued", "refresh"), 2.0, "{text}");
    assert_eq!(events("issued", "access"), 2.0);
    assert_eq!(events("rotated", "refresh"), 1.0);
    assert_eq!(events("blacklisted", "refresh"), 2.0);
    assert_eq!(events("blacklisted", "access"), 2.0);

    // The view: the session's 4 tokens, all blacklisted now.
    assert_eq!(
        series(&text, "tokenledger_view_tokens{state=\"outstanding\"}"),
        Some(0.0)
    );
    assert_eq!(
        series(&text, "tokenledger_view_tokens{state=\"blacklisted\"}"),
        Some(4.0)
    );
    assert_eq!(series(&text, "tokenledger_ledger_seq"), Some(9.0));
    assert_eq!(
        series(&text, "tokenledger_revoked_bearer_tokens"),
        Some(2.0)
    );
}

#[actix_web::test]
async fn json_log_lines_carry_the_request_id_the_response_names() {
    let app = spawn_app().await;
    app.create_user(ALICE.0, ALICE.1);
    let server = ServeProcess::start_with(
        &app,
        "info,tokenledger::startup=info",
        &[("TOKENLEDGER_LOG_FORMAT", "json")],
    );
    let client = Client::new();
    let mut ids = HashSet::new();
    for _ in 0..2 {
        let response = client
            .post(format!("{}/api/token/", server.address))
            .json(&json!({"username": ALICE.0, "password": "wrong"}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 401);
        let id = response.headers()["x-request-id"]
            .to_str()
            .unwrap()
            .to_owned();
        ids.insert(id);
    }
    assert_eq!(ids.len(), 2, "each request has an id of its own");

    // The failed login is logged by the domain, on a blocking thread: still in the request's
    // span.
    let log = server.log_text();
    let failures: Vec<Value> = log
        .lines()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .filter(|line| line["fields"]["message"] == "login failed")
        .collect();
    assert_eq!(failures.len(), 2, "{log}");
    let logged: HashSet<String> = failures
        .iter()
        .map(|line| {
            line["span"]["request_id"]
                .as_str()
                .unwrap_or_else(|| panic!("no request id in {line}"))
                .to_owned()
        })
        .collect();
    assert_eq!(logged, ids);
}
