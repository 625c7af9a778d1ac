//! Hardening, round 2 (issue 17): the throttle, the hashers and revocation under concurrent
//! and hostile use. Each test here failed on the code before the fix it names.

use std::time::{Duration, Instant};

use futures_util::future::join_all;
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

async fn login_from(app: &TestApp, address: &str, username: &str, password: &str) -> Response {
    app.client
        .post(app.url("/api/token/"))
        .header("X-Forwarded-For", address)
        .json(&json!({"username": username, "password": password}))
        .send()
        .await
        .expect("request")
}

/// The statuses of a burst, in order.
async fn statuses(responses: Vec<Response>) -> Vec<u16> {
    responses.iter().map(|r| r.status().as_u16()).collect()
}

fn count(statuses: &[u16], status: u16) -> usize {
    statuses.iter().filter(|&&s| s == status).count()
}

fn failures(app: &TestApp) -> Vec<tokenledger::users::throttle::LoginFailure> {
    let pool = tokenledger::db::connect(&app.settings.database_url).expect("db");
    recent_failures(&mut pool.get().expect("connection"), 10_000).expect("failures")
}

/// Item 1: a burst of 29 wrong guesses and the right password, all at once, for one username
/// from one client: at most LOGIN_THROTTLE of them have their password checked.
#[actix_web::test]
async fn a_burst_of_guesses_cannot_outrun_the_per_username_throttle() {
    let app = spawn_app_with(|s| {
        s.login_throttle = rate(5, 600);
        s.login_throttle_ip = LoginRate::OFF;
    })
    .await;
    app.create_user(ALICE.0, ALICE.1);
    let burst = (0..30).map(|i| {
        let password = if i == 17 { ALICE.1 } else { "guess" };
        app.post_json(
            "/api/token/",
            json!({"username": ALICE.0, "password": password}),
        )
    });
    let statuses = statuses(join_all(burst).await).await;
    assert_eq!(
        count(&statuses, 200) + count(&statuses, 401) + count(&statuses, 429),
        30,
        "{statuses:?}"
    );
    let checked = count(&statuses, 200) + count(&statuses, 401);
    assert!(checked <= 5, "{checked} passwords checked: {statuses:?}");
    assert!(count(&statuses, 429) >= 25, "{statuses:?}");
    assert_eq!(failures(&app).len(), count(&statuses, 401));
}

/// Item 1: the per-client limit holds across usernames in a burst too.
#[actix_web::test]
async fn a_burst_of_usernames_cannot_outrun_the_per_client_throttle() {
    let app = spawn_app_with(|s| {
        s.login_throttle = LoginRate::OFF;
        s.login_throttle_ip = rate(4, 600);
    })
    .await;
    let burst = (0..24).map(|i| {
        app.post_json(
            "/api/token/",
            json!({"username": format!("user{i}"), "password": "guess"}),
        )
    });
    let statuses = statuses(join_all(burst).await).await;
    assert_eq!(count(&statuses, 401), 4, "{statuses:?}");
    assert_eq!(count(&statuses, 429), 20, "{statuses:?}");
}

/// Item 1: two instances on one database share the count, attempts in flight included.
#[actix_web::test]
async fn two_instances_share_one_throttle_in_a_burst() {
    let app = spawn_app_with(|s| {
        s.login_throttle = rate(4, 600);
        s.login_throttle_ip = LoginRate::OFF;
    })
    .await;
    let other = app.another_instance();
    app.create_user(ALICE.0, ALICE.1);
    let burst = (0..24).map(|i| {
        let instance = if i % 2 == 0 { &app } else { &other };
        instance.post_json(
            "/api/token/",
            json!({"username": ALICE.0, "password": "guess"}),
        )
    });
    let statuses = statuses(join_all(burst).await).await;
    assert_eq!(count(&statuses, 401), 4, "{statuses:?}");
    assert_eq!(count(&statuses, 429), 20, "{statuses:?}");
}

/// Item 1: the console's sign-in takes its attempts from the same throttle.
#[actix_web::test]
async fn a_burst_of_console_sign_ins_is_throttled_the_same() {
    let app = spawn_app_with(|s| {
        s.login_throttle = rate(3, 600);
        s.login_throttle_ip = LoginRate::OFF;
    })
    .await;
    let burst = (0..16).map(|_| {
        app.client
            .post(app.url("/admin/signin/"))
            .header("Origin", app.address.clone())
            .form(&[("username", ADMIN.0), ("password", "guess")])
            .send()
    });
    let responses: Vec<Response> = join_all(burst)
        .await
        .into_iter()
        .map(|r| r.expect("request"))
        .collect();
    for response in &responses {
        if response.status() == 429 {
            assert!(response.headers().get("Retry-After").is_some());
        }
    }
    let statuses = statuses(responses).await;
    assert_eq!(count(&statuses, 401), 3, "{statuses:?}");
    assert_eq!(count(&statuses, 429), 13, "{statuses:?}");
    // The API counts the same attempts: the admin is locked out there too.
    let api = app
        .post_json(
            "/api/token/",
            json!({"username": ADMIN.0, "password": ADMIN.1}),
        )
        .await;
    assert_eq!(api.status(), 429);
}

/// Item 2: logins waiting for a hasher are capped; beyond the cap, 429 with Retry-After in
/// the contract's shape, for unknown usernames as for known ones (the dummy check waits in
/// the same queue).
#[actix_web::test]
async fn logins_beyond_the_hashing_queue_are_refused_with_429() {
    let app = spawn_app_with(|s| {
        s.login_throttle = LoginRate::OFF;
        s.login_throttle_ip = LoginRate::OFF;
        s.password_hash_queue = 2;
    })
    .await;
    app.create_user(ALICE.0, ALICE.1);
    for username in ["nobody-here", ALICE.0] {
        let burst = (0..24).map(|_| {
            app.post_json(
                "/api/token/",
                json!({"username": username, "password": "guess"}),
            )
        });
        let responses = join_all(burst).await;
        let mut busy = 0;
        for response in responses {
            match response.status().as_u16() {
                401 => {}
                429 => {
                    busy += 1;
                    assert_eq!(
                        response
                            .headers()
                            .get("Retry-After")
                            .and_then(|v| v.to_str().ok()),
                        Some("1")
                    );
                    assert_eq!(
                        body(response).await,
                        json!({"detail": "Request was throttled. Expected available in 1 second."})
                    );
                }
                other => panic!("{username}: status {other}"),
            }
        }
        assert!(busy > 0, "{username}: the queue never filled");
    }
    // Refused for want of a hasher, not for a wrong password: nothing was recorded for them.
    let recorded = failures(&app).len();
    assert!(recorded < 48, "{recorded}");
    // And once the burst is over, a login goes through.
    app.login(ALICE.0, ALICE.1).await;
}

/// Item 3: a sliding token renewed past its first `refresh_exp`, then revoked, stays refused
/// after the flush that removes tokens which ended; before, the view row ended at
/// `refresh_exp` and the flush forgot the revocation.
#[actix_web::test]
async fn a_revoked_renewed_sliding_token_is_refused_after_a_flush() {
    let app = spawn_app_with(|s| {
        s.sliding_token_lifetime = Duration::from_secs(20);
        s.sliding_token_refresh_lifetime = Duration::from_secs(8);
        s.auth_token_types = vec!["access".into(), "sliding".into()];
        s.flush_interval = Duration::ZERO;
    })
    .await;
    app.create_user(ALICE.0, ALICE.1);
    let (_, staff) = app.login(ADMIN.0, ADMIN.1).await;
    let started = Instant::now();
    let sliding = app.obtain_sliding(ALICE.0, ALICE.1).await;
    // Renewed at 4 s (refresh_exp is at 7-8 s): exp at 23-24 s, past the first exp (at most
    // 20 s and a little) that the view's row used to end with.
    tokio::time::sleep(Duration::from_secs(4)).await;
    let renewed = app
        .post_json("/api/token/sliding/refresh/", json!({"token": sliding}))
        .await;
    assert_eq!(renewed.status(), 200);
    let renewed = body(renewed).await["token"]
        .as_str()
        .expect("a token")
        .to_owned();
    let revoked = app
        .client
        .post(app.url("/api/logout/all/"))
        .bearer_auth(&renewed)
        .send()
        .await
        .expect("request");
    assert_eq!(revoked.status(), 200);
    // After the first exp, two seconds before the renewed one.
    let flush_at = Duration::from_secs(21);
    tokio::time::sleep(flush_at.saturating_sub(started.elapsed())).await;
    let flushed = app
        .client
        .post(app.url("/api/admin/maintenance/flush-expired/"))
        .bearer_auth(&staff)
        .send()
        .await
        .expect("request");
    assert_eq!(flushed.status(), 200);
    let me = app.me_with(&renewed).await;
    let verify = app
        .post_json("/api/token/verify/", json!({"token": renewed}))
        .await;
    let checked_at = started.elapsed();
    if checked_at >= Duration::from_secs(23) {
        // Too slow a machine to tell: the renewed token has expired by itself.
        eprintln!("skipped: checked {checked_at:?} after login, the token had expired");
        return;
    }
    assert_eq!(me.status(), 401);
    let refused = body(me).await;
    assert_eq!(
        refused["messages"][1],
        json!({"token_class": "SlidingToken", "token_type": "sliding", "message": "Token is blacklisted"}),
        "{refused}"
    );
    assert_eq!(verify.status(), 400);
    assert_eq!(
        body(verify).await,
        json!({"non_field_errors": ["Token is blacklisted"]})
    );
    app.assert_view_matches_ledger();
}

/// Item 4: a made-up method is one `other` label, not a new series per method.
#[actix_web::test]
async fn made_up_methods_do_not_grow_metrics() {
    let app = spawn_app().await;
    for i in 0..60 {
        let method =
            reqwest::Method::from_bytes(format!("XMETHOD{i}").as_bytes()).expect("a token");
        app.client
            .request(method, app.url("/api/me/"))
            .send()
            .await
            .expect("request");
    }
    let metrics = metrics(&app).await;
    assert!(!metrics.contains("XMETHOD"), "a made-up method is a label");
    assert!(metrics.contains(r#"method="other""#));
}

async fn change_password(app: &TestApp, access: &str, old: &str, new: &str) -> Response {
    app.client
        .post(app.url("/api/me/password/"))
        .bearer_auth(access)
        .json(&json!({"old_password": old, "new_password": new}))
        .send()
        .await
        .expect("request")
}

/// Item 5: a stolen access token cannot guess the password at the password change: wrong
/// old passwords count against the login throttle (and the login's count against them).
#[actix_web::test]
async fn wrong_old_passwords_are_throttled_like_failed_logins() {
    let app = spawn_app_with(|s| s.login_throttle = rate(3, 600)).await;
    let alice = app.create_user(ALICE.0, ALICE.1);
    let (_, access) = app.login(ALICE.0, ALICE.1).await;
    let mut seen = Vec::new();
    for _ in 0..5 {
        seen.push(
            change_password(&app, &access, "guess", "new password")
                .await
                .status()
                .as_u16(),
        );
    }
    assert_eq!(seen, [400, 400, 400, 429, 429]);
    // Even the right old password waits out the window, and so does the login.
    let right = change_password(&app, &access, ALICE.1, "new password").await;
    assert_eq!(right.status(), 429);
    assert!(right.headers().get("Retry-After").is_some());
    let login = app
        .post_json(
            "/api/token/",
            json!({"username": ALICE.0, "password": ALICE.1}),
        )
        .await;
    assert_eq!(login.status(), 429);
    let recorded = failures(&app);
    assert_eq!(recorded.len(), 3);
    assert!(recorded.iter().all(|f| f.user_id == Some(alice)));
}

/// Item 5: a burst of wrong password changes does not take the pool from other requests:
/// every `/readyz` during it answers 200, every change 400.
#[actix_web::test]
async fn a_burst_of_wrong_password_changes_leaves_the_pool_to_others() {
    let app = spawn_app_with(|s| {
        s.login_throttle = LoginRate::OFF;
        s.login_throttle_ip = LoginRate::OFF;
    })
    .await;
    app.create_user(ALICE.0, ALICE.1);
    let (_, access) = app.login(ALICE.0, ALICE.1).await;
    let changes = join_all((0..24).map(|_| change_password(&app, &access, "guess", "new")));
    let probes = async {
        let mut seen = Vec::new();
        for _ in 0..10 {
            let ready = app
                .client
                .get(app.url("/readyz"))
                .send()
                .await
                .expect("request");
            seen.push(ready.status().as_u16());
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        seen
    };
    let (changes, probes) = futures_util::future::join(changes, probes).await;
    assert!(changes.iter().all(|r| r.status() == 400));
    assert!(probes.iter().all(|&s| s == 200), "{probes:?}");
}

/// Item 6: a lockout revokes the user's tokens once per window, not once per attacker
/// address.
#[actix_web::test]
async fn lockouts_from_many_addresses_revoke_once_per_window() {
    let app = spawn_app_with(|s| {
        s.login_throttle = rate(2, 600);
        s.lockout_revokes_sessions = true;
        s.trusted_proxies = vec![PROXY.into()];
    })
    .await;
    app.create_user(ALICE.0, ALICE.1);
    let (_, first) = app.login(ALICE.0, ALICE.1).await;
    for _ in 0..2 {
        login_from(&app, "198.51.100.1", ALICE.0, "guess").await;
    }
    assert_eq!(
        app.me_with(&first).await.status(),
        401,
        "the first lockout revokes"
    );
    let (_, second) = app.login(ALICE.0, ALICE.1).await;
    for address in ["198.51.100.2", "198.51.100.3", "198.51.100.4"] {
        for _ in 0..2 {
            assert_eq!(
                login_from(&app, address, ALICE.0, "guess").await.status(),
                401
            );
        }
    }
    assert_eq!(
        app.me_with(&second).await.status(),
        200,
        "later lockouts in the window do not log the user out again"
    );
    let lockouts = crate::rotation::ledger_events(&app)
        .into_iter()
        .filter(|event| event.reason.is_some_and(|r| r.as_str() == "lockout"))
        .count();
    assert_eq!(lockouts, 2, "the first session's refresh and access token");
}

/// Item 7: a failed username is kept to 150 characters (and counted by them), and rows older
/// than the longest window are deleted with the scheduled flush.
#[actix_web::test]
async fn login_failures_are_bounded_in_size_and_age() {
    let app = spawn_app_with(|s| {
        s.login_throttle = rate(2, 1);
        s.login_throttle_ip = rate(50, 2);
        s.flush_interval = Duration::from_millis(300);
    })
    .await;
    let long = "x".repeat(60_000);
    let refused = app
        .post_json(
            "/api/token/",
            json!({"username": long, "password": "guess"}),
        )
        .await;
    assert_eq!(refused.status(), 401);
    // A different long name with the same first 150 characters is the same key.
    let other = format!("{}y", "x".repeat(59_999));
    let refused = app
        .post_json(
            "/api/token/",
            json!({"username": other, "password": "guess"}),
        )
        .await;
    assert_eq!(refused.status(), 401);
    let throttled = app
        .post_json(
            "/api/token/",
            json!({"username": long, "password": "guess"}),
        )
        .await;
    assert_eq!(throttled.status(), 429);
    let recorded = failures(&app);
    assert_eq!(recorded.len(), 2);
    assert!(recorded.iter().all(|f| f.username == "x".repeat(150)));
    // Past the longest window (2 s), the next scheduled flush deletes them.
    let deadline = Instant::now() + Duration::from_secs(20);
    while !failures(&app).is_empty() {
        assert!(
            Instant::now() < deadline,
            "old login failures are never deleted"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Item 8: behind a trusted proxy, `X-Forwarded-For` entries with a port are the address
/// they name (before, they were skipped, and the client's own forged entry counted instead),
/// and a chain with an entry that does not parse is the proxy's.
#[actix_web::test]
async fn forwarded_addresses_with_ports_are_the_client() {
    let app = spawn_app_with(|s| {
        s.trusted_proxies = vec![PROXY.into()];
    })
    .await;
    for (forwarded, client) in [
        ("1.2.3.4, 198.51.100.7:5555", "198.51.100.7"),
        ("1.2.3.4, [2001:db8::7]:443", "2001:db8::7"),
        ("1.2.3.4, not-an-address", PROXY),
    ] {
        let refused = login_from(&app, forwarded, "nobody", "guess").await;
        assert_eq!(refused.status(), 401);
        let newest = failures(&app).into_iter().next().expect("a failure");
        assert_eq!(newest.client, client, "{forwarded}");
    }
}
