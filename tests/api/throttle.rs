//! Brute force: failed logins are recorded and throttled per username (from one client) and
//! per client, with DRF's 429 and `Retry-After`; the lock is on the client, never the account,
//! ends with its window, and (when configured) a lockout revokes the user's sessions.

use std::time::Duration;

use reqwest::Response;
use serde_json::json;
use tokenledger::config::LoginRate;
use tokenledger::users::throttle::recent_failures;

use crate::helpers::*;

const PROXY: &str = "127.0.0.1";

fn rate(failures: u32, seconds: u64) -> LoginRate {
    LoginRate {
        failures,
        window: Duration::from_secs(seconds),
    }
}

/// A login as the client `address` (behind the test's trusted proxy, 127.0.0.1).
async fn login_from(app: &TestApp, address: &str, username: &str, password: &str) -> Response {
    app.client
        .post(app.url("/api/token/"))
        .header("X-Forwarded-For", address)
        .json(&json!({"username": username, "password": password}))
        .send()
        .await
        .expect("request")
}

async fn assert_throttled(response: Response, window: u64) {
    assert_eq!(response.status(), 429);
    let retry_after: u64 = response
        .headers()
        .get("Retry-After")
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse().ok())
        .expect("a Retry-After in seconds");
    assert!((1..=window).contains(&retry_after), "{retry_after}");
    let unit = if retry_after == 1 {
        "second"
    } else {
        "seconds"
    };
    assert_eq!(
        body(response).await,
        json!({"detail": format!("Request was throttled. Expected available in {retry_after} {unit}.")})
    );
}

#[actix_web::test]
async fn failed_logins_are_throttled_per_username_and_recorded() {
    let app = spawn_app_with(|s| s.login_throttle = rate(3, 60)).await;
    let alice = app.create_user(ALICE.0, ALICE.1);
    app.create_user("bob", "bob-password");
    for _ in 0..3 {
        let refused = app
            .post_json(
                "/api/token/",
                json!({"username": ALICE.0, "password": "guess"}),
            )
            .await;
        assert_eq!(refused.status(), 401);
    }
    // Locked: even the right password is not looked at.
    let locked = app
        .post_json(
            "/api/token/",
            json!({"username": ALICE.0, "password": ALICE.1}),
        )
        .await;
    assert_throttled(locked, 60).await;
    let sliding = app
        .post_json(
            "/api/token/sliding/",
            json!({"username": ALICE.0, "password": ALICE.1}),
        )
        .await;
    assert_throttled(sliding, 60).await;
    app.login("bob", "bob-password").await;

    let pool = tokenledger::db::connect(&app.settings.database_url).expect("db");
    let failures = recent_failures(&mut pool.get().expect("connection"), 10).expect("failures");
    assert_eq!(failures.len(), 3, "throttled attempts are not recorded");
    for failure in failures {
        assert_eq!(
            (failure.username.as_str(), failure.client.as_str()),
            (ALICE.0, PROXY)
        );
        assert_eq!(failure.user_id, Some(alice));
        assert_eq!(failure.outcome, "bad_credentials");
    }
}

#[actix_web::test]
async fn an_attacker_elsewhere_cannot_lock_the_user_out() {
    let app = spawn_app_with(|s| {
        s.login_throttle = rate(3, 60);
        s.trusted_proxies = vec![PROXY.into()];
    })
    .await;
    app.create_user(ALICE.0, ALICE.1);
    for _ in 0..3 {
        let refused = login_from(&app, "198.51.100.66", ALICE.0, "guess").await;
        assert_eq!(refused.status(), 401);
    }
    assert_throttled(
        login_from(&app, "198.51.100.66", ALICE.0, ALICE.1).await,
        60,
    )
    .await;
    let from_home = login_from(&app, "203.0.113.7", ALICE.0, ALICE.1).await;
    assert_eq!(from_home.status(), 200);
}

#[actix_web::test]
async fn one_address_is_throttled_across_usernames() {
    let app = spawn_app_with(|s| {
        s.login_throttle = LoginRate::OFF;
        s.login_throttle_ip = rate(3, 60);
        s.trusted_proxies = vec![PROXY.into()];
    })
    .await;
    app.create_user(ALICE.0, ALICE.1);
    for username in ["root", "admin", "test"] {
        let refused = login_from(&app, "198.51.100.66", username, "guess").await;
        assert_eq!(refused.status(), 401);
    }
    assert_throttled(
        login_from(&app, "198.51.100.66", ALICE.0, ALICE.1).await,
        60,
    )
    .await;
    assert_eq!(
        login_from(&app, "198.51.100.67", ALICE.0, ALICE.1)
            .await
            .status(),
        200
    );
}

#[actix_web::test]
async fn the_lock_ends_with_its_window() {
    let app = spawn_app_with(|s| s.login_throttle = rate(2, 2)).await;
    app.create_user(ALICE.0, ALICE.1);
    for _ in 0..2 {
        app.post_json(
            "/api/token/",
            json!({"username": ALICE.0, "password": "guess"}),
        )
        .await;
    }
    let locked = app
        .post_json(
            "/api/token/",
            json!({"username": ALICE.0, "password": ALICE.1}),
        )
        .await;
    assert_throttled(locked, 2).await;
    tokio::time::sleep(Duration::from_millis(2_100)).await;
    app.login(ALICE.0, ALICE.1).await;
}

#[actix_web::test]
async fn a_lockout_revokes_the_users_sessions_only_when_configured() {
    for revokes in [false, true] {
        let app = spawn_app_with(|s| {
            s.login_throttle = rate(2, 60);
            s.lockout_revokes_sessions = revokes;
            s.trusted_proxies = vec![PROXY.into()];
        })
        .await;
        app.create_user(ALICE.0, ALICE.1);
        let (_, access) = app.login(ALICE.0, ALICE.1).await;
        for _ in 0..2 {
            login_from(&app, "198.51.100.66", ALICE.0, "guess").await;
        }
        let me = app.me_with(&access).await;
        let lockouts = crate::rotation::ledger_events(&app)
            .into_iter()
            .filter(|event| event.reason.is_some_and(|r| r.as_str() == "lockout"))
            .count();
        if revokes {
            assert_eq!(me.status(), 401);
            assert_eq!(
                body(me).await["messages"][0]["message"],
                "Token is blacklisted"
            );
            assert_eq!(lockouts, 2, "the refresh and the access token");
        } else {
            assert_eq!(me.status(), 200);
            assert_eq!(lockouts, 0);
        }
        app.assert_view_matches_ledger();
    }
}
