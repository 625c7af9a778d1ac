//! Sliding tokens: obtain, refresh (same jti and refresh_exp), and revocation that survives
//! flush-expired (the reference revives blacklisted sliding tokens; we must not).

use serde_json::{Value, json};

use crate::helpers::*;

async fn slide(app: &TestApp, token: &str) -> reqwest::Response {
    app.post_json("/api/token/sliding/refresh/", json!({"token": token}))
        .await
}

#[actix_web::test]
async fn sliding_tokens_carry_refresh_exp_in_the_reference_order() {
    let app = spawn_app().await;
    app.create_user(ALICE.0, ALICE.1);
    let token = app.obtain_sliding(ALICE.0, ALICE.1).await;
    let claims = claims_of(&token);
    let keys: Vec<&str> = claims
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        keys,
        [
            "token_type",
            "exp",
            "iat",
            "jti",
            "refresh_exp",
            "user_id",
            "sid"
        ]
    );
    assert_eq!(
        claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(),
        300
    );
    assert_eq!(
        claims["refresh_exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(),
        86_400
    );
}

#[actix_web::test]
async fn refreshing_keeps_jti_and_refresh_exp() {
    let app = spawn_app().await;
    app.create_user(ALICE.0, ALICE.1);
    let token = app.obtain_sliding(ALICE.0, ALICE.1).await;
    let response = slide(&app, &token).await;
    assert_eq!(response.status(), 200);
    let renewed = claims_of(body(response).await["token"].as_str().unwrap());
    let original = claims_of(&token);
    assert_eq!(renewed["jti"], original["jti"]);
    assert_eq!(renewed["refresh_exp"], original["refresh_exp"]);
    assert!(renewed["exp"].as_i64() >= original["exp"].as_i64());
}

#[actix_web::test]
async fn sliding_refresh_errors() {
    let app = spawn_app().await;
    let alice = app.create_user(ALICE.0, ALICE.1);
    let (refresh, _) = app.login(ALICE.0, ALICE.1).await;
    let base = |refresh_exp: Option<i64>| {
        let mut claims = json!({
            "token_type": "sliding", "exp": now() + 60, "iat": now() - 10,
            "jti": tokenledger::tokens::claims::new_id(), "user_id": alice.to_string(),
        });
        if let Some(at) = refresh_exp {
            claims["refresh_exp"] = json!(at);
        }
        sign(claims)
    };
    assert_answer(
        slide(&app, &refresh).await,
        401,
        &token_error("Token has wrong type"),
    )
    .await;
    assert_answer(
        slide(&app, &base(Some(now() - 1))).await,
        401,
        &token_error("Token 'refresh_exp' claim has expired"),
    )
    .await;
    assert_answer(
        slide(&app, &base(None)).await,
        401,
        &token_error("Token has no 'refresh_exp' claim"),
    )
    .await;
}

#[actix_web::test]
async fn a_revoked_sliding_token_stays_revoked_after_its_exp_and_a_flush() {
    let app =
        spawn_app_with(|s| s.sliding_token_lifetime = std::time::Duration::from_secs(1)).await;
    app.create_user(ALICE.0, ALICE.1);
    let token = app.obtain_sliding(ALICE.0, ALICE.1).await;
    let original: Value = claims_of(&token);
    // A password change revokes every token of the user, sliding ones included.
    assert!(
        app.cli(
            &["user", "set-password", ALICE.0, "--password-stdin"],
            Some("new password\n")
        )
        .status
        .success()
    );

    tokio::time::sleep(std::time::Duration::from_millis(2_100)).await;
    let flushed = app.cli(&["flush-expired"], None);
    assert!(flushed.status.success());
    // The first exp has passed; the token's end is its refresh_exp, a day away: not flushed.
    // The access and refresh tokens of no login exist, so nothing else could be flushed.
    assert_eq!(String::from_utf8_lossy(&flushed.stdout).trim(), "0");

    // A copy of the same token refreshed before the revocation (same jti, later exp).
    let mut copy = original.clone();
    copy["exp"] = json!(now() + 60);
    copy["iat"] = json!(now() - 1);
    assert_answer(
        slide(&app, &sign(copy)).await,
        401,
        &token_error("Token is blacklisted"),
    )
    .await;
    app.assert_view_matches_ledger();
}

#[actix_web::test]
async fn sliding_tokens_authenticate_when_configured() {
    let app =
        spawn_app_with(|s| s.auth_token_types = vec!["access".into(), "sliding".into()]).await;
    app.create_user(ALICE.0, ALICE.1);
    let token = app.obtain_sliding(ALICE.0, ALICE.1).await;
    assert_eq!(app.me_with(&token).await.status(), 200);
}
