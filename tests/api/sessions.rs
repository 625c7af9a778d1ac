//! Contract section 5 beyond /api/me/: sessions, logout-all, password change, and the
//! revocation check of the hot path that never asks the database.

use std::time::Duration;

use serde_json::{Value, json};

use crate::helpers::*;

async fn sessions(app: &TestApp, access: &str) -> Vec<Value> {
    let response = app
        .client
        .get(app.url("/api/me/sessions/"))
        .bearer_auth(access)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    body(response).await.as_array().unwrap().clone()
}

fn sid(token: &str) -> String {
    claims_of(token)["sid"].as_str().unwrap().to_owned()
}

#[actix_web::test]
async fn the_session_list_shows_each_live_login_once() {
    let app = spawn_app().await;
    app.create_user(ALICE.0, ALICE.1);
    let (first_refresh, first_access) = app.login(ALICE.0, ALICE.1).await;
    let (second_refresh, _) = app.login(ALICE.0, ALICE.1).await;
    assert_eq!(app.refresh(&first_refresh).await.status(), 200);

    let listed = sessions(&app, &first_access).await;
    let sids: Vec<&str> = listed.iter().map(|s| s["sid"].as_str().unwrap()).collect();
    assert_eq!(sids, [sid(&first_refresh), sid(&second_refresh)]);
    let first = &listed[0];
    assert_eq!(
        first.as_object().unwrap().keys().collect::<Vec<_>>(),
        ["sid", "created_at", "last_used_at", "expires_at"]
    );
    assert!(first["created_at"].as_str().unwrap().ends_with('Z'));
    assert!(first["last_used_at"].as_str() >= first["created_at"].as_str());

    // A logged-out session is no longer live.
    app.post_json("/api/token/blacklist/", json!({"refresh": second_refresh}))
        .await;
    assert_eq!(sessions(&app, &first_access).await.len(), 1);
}

#[actix_web::test]
async fn revoking_one_session_ends_its_tokens_only() {
    let app = spawn_app().await;
    app.create_user(ALICE.0, ALICE.1);
    let (doomed_refresh, doomed_access) = app.login(ALICE.0, ALICE.1).await;
    let (_, access) = app.login(ALICE.0, ALICE.1).await;
    let url = app.url(&format!("/api/me/sessions/{}/", sid(&doomed_refresh)));

    let response = app
        .client
        .delete(&url)
        .bearer_auth(&access)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 204);
    assert_eq!(app.refresh(&doomed_refresh).await.status(), 401);
    assert_eq!(app.me_with(&doomed_access).await.status(), 401);
    assert_eq!(app.me_with(&access).await.status(), 200);

    // Gone now, and another user's session is not found either.
    let again = app
        .client
        .delete(&url)
        .bearer_auth(&access)
        .send()
        .await
        .unwrap();
    assert_answer(again, 404, r#"{"detail":"Not found."}"#).await;
    app.create_user("bob", "bob-password");
    let (_, bob) = app.login("bob", "bob-password").await;
    let (alice_refresh, _) = app.login(ALICE.0, ALICE.1).await;
    let foreign = app.url(&format!("/api/me/sessions/{}/", sid(&alice_refresh)));
    let response = app
        .client
        .delete(&foreign)
        .bearer_auth(&bob)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 404);
    assert_eq!(
        app.refresh(&alice_refresh).await.status(),
        200,
        "bob cannot end alice's session"
    );
    app.assert_view_matches_ledger();
}

#[actix_web::test]
async fn logout_all_revokes_every_token_and_counts_them() {
    let app = spawn_app().await;
    app.create_user(ALICE.0, ALICE.1);
    let (refresh, _) = app.login(ALICE.0, ALICE.1).await;
    let (_, access) = app.login(ALICE.0, ALICE.1).await;
    let sliding = app.obtain_sliding(ALICE.0, ALICE.1).await;

    let response = app
        .client
        .post(app.url("/api/logout/all/"))
        .bearer_auth(&access)
        .send()
        .await
        .unwrap();
    assert_answer(response, 200, r#"{"revoked":5}"#).await;
    assert_eq!(app.refresh(&refresh).await.status(), 401);
    assert_eq!(app.me_with(&access).await.status(), 401);
    let verify = app
        .post_json("/api/token/verify/", json!({"token": sliding}))
        .await;
    assert_eq!(verify.status(), 400);
    let events = crate::rotation::ledger_events(&app);
    assert!(
        events
            .iter()
            .filter(|e| e.event.as_str() == "blacklisted")
            .all(|e| e.reason.map(|r| r.as_str()) == Some("logout_all"))
    );
}

#[actix_web::test]
async fn a_password_change_keeps_this_session_and_ends_the_others() {
    let app = spawn_app().await;
    app.create_user(ALICE.0, ALICE.1);
    let (other_refresh, other_access) = app.login(ALICE.0, ALICE.1).await;
    let (this_refresh, this_access) = app.login(ALICE.0, ALICE.1).await;
    let change = |old: &str, new: &str| {
        app.client
            .post(app.url("/api/me/password/"))
            .bearer_auth(&this_access)
            .json(&json!({"old_password": old, "new_password": new}))
            .send()
    };

    assert_answer(
        change("wrong", "x").await.unwrap(),
        400,
        r#"{"old_password":["Wrong password."]}"#,
    )
    .await;
    let missing = app
        .client
        .post(app.url("/api/me/password/"))
        .bearer_auth(&this_access)
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_answer(
        missing,
        400,
        r#"{"old_password":["This field is required."],"new_password":["This field is required."]}"#,
    )
    .await;

    assert_answer(
        change(ALICE.1, "a brand new password").await.unwrap(),
        200,
        "{}",
    )
    .await;
    assert_eq!(app.me_with(&other_access).await.status(), 401);
    assert_eq!(app.refresh(&other_refresh).await.status(), 401);
    assert_eq!(app.me_with(&this_access).await.status(), 200);
    assert_eq!(app.refresh(&this_refresh).await.status(), 200);
    app.login(ALICE.0, "a brand new password").await;
}

#[actix_web::test]
async fn protected_endpoints_authenticate_before_anything_else() {
    let app = spawn_app().await;
    for (method, path) in [
        (reqwest::Method::GET, "/api/me/sessions/"),
        (reqwest::Method::POST, "/api/logout/all/"),
        (reqwest::Method::POST, "/api/me/password/"),
        (reqwest::Method::DELETE, "/api/me/sessions/abc/"),
        (reqwest::Method::PUT, "/api/logout/all/"),
    ] {
        let response = app
            .client
            .request(method, app.url(path))
            .send()
            .await
            .unwrap();
        assert_eq!(
            response.headers()["www-authenticate"],
            r#"Bearer realm="api""#
        );
        assert_answer(
            response,
            401,
            r#"{"detail":"Authentication credentials were not provided."}"#,
        )
        .await;
    }
    app.create_user(ALICE.0, ALICE.1);
    let (_, access) = app.login(ALICE.0, ALICE.1).await;
    let response = app
        .client
        .get(app.url("/api/logout/all/"))
        .bearer_auth(&access)
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["allow"], "POST");
    assert_answer(response, 405, r#"{"detail":"Method \"GET\" not allowed."}"#).await;
}

#[actix_web::test]
async fn protected_requests_are_answered_without_a_database_query() {
    let app = spawn_app().await;
    app.create_user(ALICE.0, ALICE.1);
    let (refresh, revoked) = app.login(ALICE.0, ALICE.1).await;
    let (_, live) = app.login(ALICE.0, ALICE.1).await;
    app.post_json("/api/token/blacklist/", json!({"refresh": refresh}))
        .await;

    // `/metrics` reads the view's size: what one scrape costs is measured, not assumed.
    let first = db_queries(&app).await;
    let before = db_queries(&app).await;
    let per_scrape = before - first;

    // The counter moves when a request does use the database (so this test can fail)...
    assert_eq!(app.me_with(&live).await.status(), 200);
    let after_live = db_queries(&app).await;
    assert!(
        after_live - before > per_scrape,
        "the first request of a live token reads its user: {before} -> {after_live}"
    );

    // ...and stays put for revoked tokens: the refusal comes from memory...
    for _ in 0..20 {
        let response = app.me_with(&revoked).await;
        assert_eq!(
            body(response).await["messages"][0]["message"],
            "Token is blacklisted"
        );
    }
    let after_revoked = db_queries(&app).await;
    assert_eq!(after_revoked - after_live, per_scrape);

    // ...and for a live token's next requests, while its user is fresh in memory (a second at
    // most: a slow machine may cross that once).
    for _ in 0..20 {
        assert_eq!(app.me_with(&live).await.status(), 200);
    }
    let after_repeats = db_queries(&app).await;
    assert!(
        after_repeats - after_revoked <= per_scrape + 1,
        "20 requests of a known user read the database {} times",
        after_repeats - after_revoked - per_scrape
    );
}

#[actix_web::test]
async fn within_the_reuse_grace_a_second_tab_gets_the_same_pair() {
    let app = spawn_app_with(|s| s.reuse_grace = Duration::from_secs(30)).await;
    app.create_user(ALICE.0, ALICE.1);
    let (refresh, _) = app.login(ALICE.0, ALICE.1).await;
    let first: Value = body(app.refresh(&refresh).await).await;
    let second: Value = body(app.refresh(&refresh).await).await;
    assert_eq!(first, second, "the same new pair, byte for byte");
    assert_eq!(
        app.me_with(first["access"].as_str().unwrap())
            .await
            .status(),
        200
    );
    assert_eq!(
        app.refresh(first["refresh"].as_str().unwrap())
            .await
            .status(),
        200,
        "the session lives"
    );
    let events = crate::rotation::ledger_events(&app);
    assert!(!events.iter().any(|e| e.event.as_str() == "reuse_detected"));
    app.assert_view_matches_ledger();
}

#[actix_web::test]
async fn after_the_reuse_grace_a_replay_is_reuse() {
    let app = spawn_app_with(|s| s.reuse_grace = Duration::from_secs(1)).await;
    app.create_user(ALICE.0, ALICE.1);
    let (refresh, _) = app.login(ALICE.0, ALICE.1).await;
    let first: Value = body(app.refresh(&refresh).await).await;
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    assert_eq!(app.refresh(&refresh).await.status(), 401);
    assert_eq!(
        app.refresh(first["refresh"].as_str().unwrap())
            .await
            .status(),
        401,
        "session revoked"
    );
}
