//! Contract section 4: obtain, refresh, verify and blacklist, success and every error.

use serde_json::json;

use crate::helpers::*;

const NO_ACCOUNT: &str = r#"{"detail":"No active account found with the given credentials"}"#;

#[actix_web::test]
async fn login_returns_a_pair_of_one_session_with_the_reference_claims() {
    let app = spawn_app().await;
    let alice = app.create_user(ALICE.0, ALICE.1);
    let response = app
        .post_json(
            "/api/token/",
            json!({"username": ALICE.0, "password": ALICE.1}),
        )
        .await;
    assert_eq!(response.status(), 200);
    let text = response.text().await.unwrap();
    assert!(
        text.starts_with(r#"{"refresh":""#),
        "refresh comes first: {text}"
    );
    let pair: serde_json::Value = serde_json::from_str(&text).unwrap();
    let refresh = claims_of(pair["refresh"].as_str().unwrap());
    let access = claims_of(pair["access"].as_str().unwrap());

    assert_eq!(refresh["token_type"], "refresh");
    assert_eq!(access["token_type"], "access");
    assert_eq!(
        access["user_id"],
        alice.to_string(),
        "user_id is the id as a string"
    );
    assert_eq!(access["sid"], refresh["sid"], "one login is one session");
    assert_eq!(
        access["exp"].as_i64().unwrap() - access["iat"].as_i64().unwrap(),
        300
    );
    assert_eq!(
        refresh["exp"].as_i64().unwrap() - refresh["iat"].as_i64().unwrap(),
        86_400
    );
    for jti in [&access["jti"], &refresh["jti"]] {
        let jti = jti.as_str().unwrap();
        assert!(
            jti.len() == 32
                && jti
                    .chars()
                    .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
        );
    }
    let header = pair["access"].as_str().unwrap().split('.').next().unwrap();
    assert_eq!(
        header, "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9",
        r#"{{"alg":"HS256","typ":"JWT"}}"#
    );
}

#[actix_web::test]
async fn bad_credentials_unknown_and_inactive_users_get_the_same_401() {
    let app = spawn_app().await;
    app.create_user(ALICE.0, ALICE.1);
    app.create_user("dave", "dave-password");
    assert!(
        app.cli(&["user", "deactivate", "dave"], None)
            .status
            .success()
    );
    for (username, password) in [
        (ALICE.0, "wrong"),
        ("nobody", "x"),
        ("dave", "dave-password"),
        ("Alice", ALICE.1),
    ] {
        let response = app
            .post_json(
                "/api/token/",
                json!({"username": username, "password": password}),
            )
            .await;
        assert_eq!(
            response.headers()["www-authenticate"],
            r#"Bearer realm="api""#
        );
        assert_answer(response, 401, NO_ACCOUNT).await;
    }
}

#[actix_web::test]
async fn refresh_rotates_and_answers_access_then_refresh() {
    let app = spawn_app().await;
    app.create_user(ALICE.0, ALICE.1);
    let (refresh, _) = app.login(ALICE.0, ALICE.1).await;
    let response = app.refresh(&refresh).await;
    assert_eq!(response.status(), 200);
    let text = response.text().await.unwrap();
    assert!(text.starts_with(r#"{"access":""#), "{text}");
    let body: serde_json::Value = serde_json::from_str(&text).unwrap();
    let rotated = claims_of(body["refresh"].as_str().unwrap());
    let old = claims_of(&refresh);
    assert_ne!(rotated["jti"], old["jti"]);
    assert_eq!(rotated["sid"], old["sid"], "rotation stays in the session");
    assert_eq!(
        claims_of(body["access"].as_str().unwrap())["sid"],
        old["sid"]
    );
    assert_eq!(
        app.me_with(body["access"].as_str().unwrap()).await.status(),
        200
    );
}

#[actix_web::test]
async fn without_rotation_refresh_answers_only_an_access_token() {
    let app = spawn_app_with(|s| s.rotate_refresh_tokens = false).await;
    app.create_user(ALICE.0, ALICE.1);
    let (refresh, _) = app.login(ALICE.0, ALICE.1).await;
    for _ in 0..2 {
        let body = body(app.refresh(&refresh).await).await;
        assert_eq!(
            body.as_object().unwrap().keys().collect::<Vec<_>>(),
            ["access"]
        );
    }
}

#[actix_web::test]
async fn refresh_refuses_every_kind_of_bad_token_with_the_reference_message() {
    let app = spawn_app().await;
    let alice = app.create_user(ALICE.0, ALICE.1);
    let (_, access) = app.login(ALICE.0, ALICE.1).await;
    let no_type = without(crafted_claims("refresh", alice), "token_type");
    let no_exp = without(crafted_claims("refresh", alice), "exp");
    let no_jti = without(crafted_claims("refresh", alice), "jti");
    let mut expired = crafted_claims("refresh", alice);
    expired["exp"] = json!(now() - 10);
    let mut future_nbf = crafted_claims("refresh", alice);
    future_nbf["nbf"] = json!(now() + 600);
    let other_key = jsonwebtoken::encode(
        &jsonwebtoken::Header::default(),
        &crafted_claims("refresh", alice),
        &jsonwebtoken::EncodingKey::from_secret(b"another key"),
    )
    .unwrap();
    let cases = [
        ("abc".to_owned(), "Token is invalid"),
        ("a.b.c".to_owned(), "Token is invalid"),
        (other_key, "Token is invalid"),
        (sign(future_nbf), "Token is invalid"),
        (sign(expired), "Token is expired"),
        (access, "Token has wrong type"),
        (
            sign(crafted_claims("sliding", alice)),
            "Token has wrong type",
        ),
        (sign(no_type), "Token has no type"),
        (sign(no_exp), "Token has no 'exp' claim"),
        (sign(no_jti), "Token has no id"),
    ];
    for (token, message) in cases {
        let response = app.refresh(&token).await;
        assert_eq!(
            response.headers()["www-authenticate"],
            r#"Bearer realm="api""#
        );
        assert_answer(response, 401, &token_error(message)).await;
    }
}

#[actix_web::test]
async fn refresh_for_a_missing_user_has_no_active_account() {
    let app = spawn_app().await;
    let response = app.refresh(&sign(crafted_claims("refresh", 999))).await;
    assert_answer(
        response,
        401,
        r#"{"detail":"No active account found for the given token."}"#,
    )
    .await;
}

#[actix_web::test]
async fn verify_accepts_any_live_type_and_refuses_blacklisted_with_400() {
    let app = spawn_app().await;
    app.create_user(ALICE.0, ALICE.1);
    let (refresh, access) = app.login(ALICE.0, ALICE.1).await;
    let sliding = body(
        app.post_json(
            "/api/token/sliding/",
            json!({"username": ALICE.0, "password": ALICE.1}),
        )
        .await,
    )
    .await;
    for token in [&refresh, &access, sliding["token"].as_str().unwrap()] {
        assert_answer(
            app.post_json("/api/token/verify/", json!({"token": token}))
                .await,
            200,
            "{}",
        )
        .await;
    }
    assert_answer(
        app.post_json("/api/token/verify/", json!({"token": "abc"}))
            .await,
        401,
        &token_error("Token is invalid"),
    )
    .await;

    assert_eq!(
        app.post_json("/api/token/blacklist/", json!({"refresh": refresh}))
            .await
            .status(),
        200
    );
    for token in [&refresh, &access] {
        assert_verify_refuses_as_blacklisted(&app, token).await;
    }
}

#[actix_web::test]
async fn blacklist_is_logout_once_and_refresh_tokens_only() {
    let app = spawn_app().await;
    app.create_user(ALICE.0, ALICE.1);
    let (refresh, access) = app.login(ALICE.0, ALICE.1).await;
    let sliding = body(
        app.post_json(
            "/api/token/sliding/",
            json!({"username": ALICE.0, "password": ALICE.1}),
        )
        .await,
    )
    .await;

    let wrong_type = token_error("Token has wrong type");
    assert_answer(
        app.post_json("/api/token/blacklist/", json!({"refresh": access}))
            .await,
        401,
        &wrong_type,
    )
    .await;
    assert_answer(
        app.post_json(
            "/api/token/blacklist/",
            json!({"refresh": sliding["token"]}),
        )
        .await,
        401,
        &wrong_type,
    )
    .await;

    assert_answer(
        app.post_json("/api/token/blacklist/", json!({"refresh": refresh}))
            .await,
        200,
        "{}",
    )
    .await;
    let blacklisted = token_error("Token is blacklisted");
    assert_answer(
        app.post_json("/api/token/blacklist/", json!({"refresh": refresh}))
            .await,
        401,
        &blacklisted,
    )
    .await;
    assert_answer(app.refresh(&refresh).await, 401, &blacklisted).await;
    app.assert_view_matches_ledger();
}

#[actix_web::test]
async fn logout_revokes_the_sessions_access_tokens_but_not_other_sessions() {
    let app = spawn_app().await;
    app.create_user(ALICE.0, ALICE.1);
    let (refresh, access) = app.login(ALICE.0, ALICE.1).await;
    let (_, other_session_access) = app.login(ALICE.0, ALICE.1).await;
    let logout = app
        .post_json("/api/token/blacklist/", json!({"refresh": refresh}))
        .await;
    assert_eq!(logout.status(), 200);
    assert_eq!(app.me_with(&access).await.status(), 401);
    assert_eq!(app.me_with(&other_session_access).await.status(), 200);
}

#[actix_web::test]
async fn with_revoke_access_on_logout_off_the_access_token_lives_on() {
    let app = spawn_app_with(|s| s.revoke_access_on_logout = false).await;
    app.create_user(ALICE.0, ALICE.1);
    let (refresh, access) = app.login(ALICE.0, ALICE.1).await;
    let logout = app
        .post_json("/api/token/blacklist/", json!({"refresh": refresh}))
        .await;
    assert_eq!(logout.status(), 200);
    // The logout happened: the refresh token is refused, its access token is not.
    assert_eq!(app.refresh(&refresh).await.status(), 401);
    assert_eq!(app.me_with(&access).await.status(), 200);
}

#[actix_web::test]
async fn login_by_email_when_configured() {
    let app =
        spawn_app_with(|s| s.username_field = tokenledger::config::UsernameField::Email).await;
    let created = app.cli(
        &[
            "user",
            "create",
            "carol",
            "--email",
            "carol@example.com",
            "--password-stdin",
        ],
        Some("pw-carol\n"),
    );
    assert!(created.status.success());
    let response = app
        .post_json(
            "/api/token/",
            json!({"email": "carol@example.com", "password": "pw-carol"}),
        )
        .await;
    assert_eq!(response.status(), 200);
    let missing = app
        .post_json(
            "/api/token/",
            json!({"username": "carol", "password": "pw-carol"}),
        )
        .await;
    assert_answer(missing, 400, r#"{"email":["This field is required."]}"#).await;
}
