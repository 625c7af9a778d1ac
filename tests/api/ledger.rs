//! The ledger and its view: consistency after a mixed workload, persistence across restarts,
//! flush-expired, and revocations written by another process reaching a running server.

use std::time::{Duration, Instant};

use diesel::RunQueryDsl;
use serde_json::{Value, json};

use crate::helpers::*;

async fn mixed_workload(app: &TestApp) {
    for round in 0..3 {
        let (refresh, _) = app.login(ALICE.0, ALICE.1).await;
        let rotated: Value = body(app.refresh(&refresh).await).await;
        let current = rotated["refresh"].as_str().unwrap().to_owned();
        match round {
            0 => assert_eq!(
                app.post_json("/api/token/blacklist/", json!({"refresh": current}))
                    .await
                    .status(),
                200
            ),
            1 => assert_eq!(app.refresh(&refresh).await.status(), 401, "reuse"),
            _ => {}
        }
        let sliding = app
            .post_json(
                "/api/token/sliding/",
                json!({"username": ALICE.0, "password": ALICE.1}),
            )
            .await;
        assert_eq!(sliding.status(), 200, "the sliding login of round {round}");
        assert!(body(sliding).await["token"].is_string());
    }
}

#[actix_web::test]
async fn the_view_equals_a_replay_after_a_mixed_workload_and_a_rebuild_keeps_it() {
    let app = spawn_app().await;
    app.create_user(ALICE.0, ALICE.1);
    mixed_workload(&app).await;
    app.assert_view_matches_ledger();
    let rebuilt = app.cli(&["view", "rebuild"], None);
    assert!(rebuilt.status.success());
    assert!(String::from_utf8_lossy(&rebuilt.stdout).starts_with("replayed "));
    app.assert_view_matches_ledger();
}

#[actix_web::test]
async fn view_check_finds_a_tampered_view_and_rebuild_repairs_it() {
    let app = spawn_app().await;
    app.create_user(ALICE.0, ALICE.1);
    let (refresh, _) = app.login(ALICE.0, ALICE.1).await;
    app.post_json("/api/token/blacklist/", json!({"refresh": refresh}))
        .await;

    let pool = tokenledger::db::connect(&app.settings.database_url).unwrap();
    diesel::sql_query(
        "UPDATE token_view SET state = 'outstanding', reason = NULL, blacklisted_at = NULL",
    )
    .execute(&mut pool.get().unwrap())
    .unwrap();
    let check = app.cli(&["view", "check"], None);
    assert_eq!(check.status.code(), Some(1));
    let report = String::from_utf8_lossy(&check.stdout);
    assert!(
        report.contains(claims_of(&refresh)["jti"].as_str().unwrap()),
        "{report}"
    );

    assert!(app.cli(&["view", "rebuild"], None).status.success());
    app.assert_view_matches_ledger();
}

#[actix_web::test]
async fn state_survives_a_restart() {
    let app = spawn_app().await;
    app.create_user(ALICE.0, ALICE.1);
    let (logged_out, revoked_access) = app.login(ALICE.0, ALICE.1).await;
    let (live_refresh, live_access) = app.login(ALICE.0, ALICE.1).await;
    app.post_json("/api/token/blacklist/", json!({"refresh": logged_out}))
        .await;

    let app = app.restart();
    assert_eq!(app.refresh(&logged_out).await.status(), 401);
    assert_eq!(
        app.me_with(&revoked_access).await.status(),
        401,
        "revocations are reloaded"
    );
    assert_eq!(app.me_with(&live_access).await.status(), 200);
    assert_eq!(app.refresh(&live_refresh).await.status(), 200);
    app.login(ADMIN.0, ADMIN.1).await;
}

#[actix_web::test]
async fn flush_expired_drops_ended_tokens_and_records_why() {
    let app = spawn_app_with(|s| s.access_token_lifetime = Duration::from_secs(1)).await;
    app.create_user(ALICE.0, ALICE.1);
    let (refresh, _) = app.login(ALICE.0, ALICE.1).await;
    tokio::time::sleep(Duration::from_millis(2_100)).await;

    let flushed = app.cli(&["flush-expired"], None);
    assert!(flushed.status.success());
    assert_eq!(
        String::from_utf8_lossy(&flushed.stdout).trim(),
        "1",
        "the access token ended"
    );
    assert_eq!(app.cli(&["flush-expired"], None).stdout, b"0\n");
    assert_eq!(
        app.refresh(&refresh).await.status(),
        200,
        "the refresh token lives on"
    );

    let events = crate::rotation::ledger_events(&app);
    assert!(
        events
            .iter()
            .any(|e| e.event.as_str() == "expired" && e.token_type.as_str() == "access")
    );
    app.assert_view_matches_ledger();
}

#[actix_web::test]
async fn a_revocation_by_the_cli_reaches_the_running_server_within_a_second() {
    let app = spawn_app().await;
    app.create_user(ALICE.0, ALICE.1);
    let (_, access) = app.login(ALICE.0, ALICE.1).await;
    assert_eq!(app.me_with(&access).await.status(), 200);

    let output = app.cli(
        &["user", "set-password", ALICE.0, "--password-stdin"],
        Some("a new password\n"),
    );
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let revoked_at = Instant::now();
    loop {
        let response = app.me_with(&access).await;
        if response.status() == 401 {
            assert_eq!(
                body(response).await["messages"][0]["message"],
                "Token is blacklisted"
            );
            break;
        }
        assert!(
            revoked_at.elapsed() < Duration::from_secs(1),
            "not honoured within 1 s"
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    let ready = body(app.client.get(app.url("/readyz")).send().await.unwrap()).await;
    assert_eq!(ready["applied_seq"], ready["ledger_seq"]);
}

#[actix_web::test]
async fn every_token_is_recorded_when_issued() {
    let app = spawn_app().await;
    let alice = app.create_user(ALICE.0, ALICE.1);
    let (refresh, access) = app.login(ALICE.0, ALICE.1).await;
    let events = crate::rotation::ledger_events(&app);
    let refresh_jti = claims_of(&refresh)["jti"].as_str().unwrap().to_owned();
    let access_jti = claims_of(&access)["jti"].as_str().unwrap().to_owned();
    let access_event = events
        .iter()
        .find(|e| e.jti == access_jti)
        .expect("the access token is in the ledger");
    assert_eq!(access_event.event.as_str(), "issued");
    assert_eq!(access_event.user_id, alice);
    assert_eq!(
        access_event.parent_jti.as_deref(),
        Some(refresh_jti.as_str())
    );
    assert_eq!(
        tokenledger::time::to_unix(access_event.expires_at),
        claims_of(&access)["exp"].as_i64().unwrap()
    );
}

#[actix_web::test]
async fn flush_keeps_tokens_still_accepted_within_the_leeway() {
    let app = spawn_app_with(|s| {
        s.access_token_lifetime = Duration::from_secs(1);
        s.leeway = Duration::from_secs(60);
    })
    .await;
    app.create_user(ALICE.0, ALICE.1);
    let (refresh, access) = app.login(ALICE.0, ALICE.1).await;
    app.post_json("/api/token/blacklist/", json!({"refresh": refresh}))
        .await;
    tokio::time::sleep(Duration::from_millis(2_100)).await;

    let output = std::process::Command::new(env!("CARGO_BIN_EXE_tokenledger"))
        .arg("flush-expired")
        .env("TOKENLEDGER_DATABASE_URL", &app.settings.database_url)
        .env("TOKENLEDGER_SIGNING_KEY", SIGNING_KEY)
        .env("TOKENLEDGER_LEEWAY", "60s")
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&output.stdout).trim(), "0");
    assert_verify_refuses_as_blacklisted(&app, &access).await;
}
