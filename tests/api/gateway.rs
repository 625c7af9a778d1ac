//! Forward auth, `/api/auth/check` (contract section 8): what nginx `auth_request`, Traefik
//! `forwardAuth`, Caddy `forward_auth` and Envoy `ext_authz` see. Every answer of section 5,
//! the `X-Auth-*` headers, any method and path below it, and a revocation refused at once.

use reqwest::{Method, Response};
use serde_json::json;

use crate::helpers::{ADMIN, ALICE, TestApp, body, crafted_claims, db_queries, sign, spawn_app};

const CHECK: &str = "/api/auth/check";
const NOT_PROVIDED: &str = r#"{"detail":"Authentication credentials were not provided."}"#;
const BAD_HEADER: &str = r#"{"detail":"Authorization header must contain two space-delimited values","code":"bad_authorization_header"}"#;

fn not_valid(message: &str) -> String {
    format!(
        r#"{{"detail":"Given token not valid for any token type","code":"token_not_valid","messages":[{{"token_class":"AccessToken","token_type":"access","message":"{message}"}}]}}"#
    )
}

async fn check(app: &TestApp, method: Method, path: &str, authorization: Option<&str>) -> Response {
    let mut request = app.client.request(method, app.url(path));
    if let Some(value) = authorization {
        request = request.header("Authorization", value);
    }
    request.send().await.expect("request")
}

async fn check_bearer(app: &TestApp, access: &str) -> Response {
    check(app, Method::GET, CHECK, Some(&format!("Bearer {access}"))).await
}

fn header<'a>(response: &'a Response, name: &str) -> Option<&'a str> {
    response.headers().get(name).and_then(|v| v.to_str().ok())
}

/// A refusal: 401, the exact body of `/api/me/`, the challenge, and never cached.
async fn expect_refused(response: Response, expected: &str, context: &str) {
    assert_eq!(
        header(&response, "www-authenticate"),
        Some(r#"Bearer realm="api""#),
        "{context}: WWW-Authenticate"
    );
    assert_eq!(
        header(&response, "cache-control"),
        Some("no-store"),
        "{context}"
    );
    assert_eq!(header(&response, "x-auth-user-id"), None, "{context}");
    let status = response.status().as_u16();
    let text = response.text().await.expect("body");
    assert_eq!((status, text.as_str()), (401, expected), "{context}");
}

#[actix_web::test]
async fn a_good_token_is_answered_with_the_identity_headers() {
    let app = spawn_app().await;
    let alice = app.create_user(ALICE.0, ALICE.1);
    let (refresh, access) = app.login(ALICE.0, ALICE.1).await;
    let claims = crate::helpers::claims_of(&access);

    let response = check_bearer(&app, &access).await;
    assert_eq!(response.status(), 200);
    let expected = [
        ("x-auth-user-id", alice.to_string()),
        ("x-auth-username", "alice".to_owned()),
        ("x-auth-is-staff", "false".to_owned()),
        ("x-auth-sid", claims["sid"].as_str().unwrap().to_owned()),
        ("x-auth-jti", claims["jti"].as_str().unwrap().to_owned()),
        ("x-auth-token-type", "access".to_owned()),
        ("cache-control", "no-store".to_owned()),
    ];
    for (name, value) in &expected {
        assert_eq!(header(&response, name), Some(value.as_str()), "{name}");
    }
    assert_eq!(response.text().await.unwrap(), "{}");

    // A refresh token is no bearer token, here as on /api/me/.
    let response = check_bearer(&app, &refresh).await;
    expect_refused(
        response,
        &not_valid("Token has wrong type"),
        "refresh token",
    )
    .await;

    let (_, staff) = app.login(ADMIN.0, ADMIN.1).await;
    let response = check_bearer(&app, &staff).await;
    assert_eq!(header(&response, "x-auth-is-staff"), Some("true"));
    assert_eq!(header(&response, "x-auth-username"), Some("admin"));
}

#[actix_web::test]
async fn any_method_and_any_path_below_the_check_answer_the_same() {
    let app = spawn_app().await;
    let alice = app.create_user(ALICE.0, ALICE.1);
    let (_, access) = app.login(ALICE.0, ALICE.1).await;
    let bearer = format!("Bearer {access}");
    let paths = [
        CHECK,
        "/api/auth/check/",
        "/api/auth/check/orders/42",
        "/api/auth/check/orders/42?expand=lines&x=%2F..%2F",
    ];
    let methods = [
        Method::GET,
        Method::HEAD,
        Method::POST,
        Method::PUT,
        Method::PATCH,
        Method::DELETE,
        Method::OPTIONS,
    ];
    for path in paths {
        for method in &methods {
            let context = format!("{method} {path}");
            let response = check(&app, method.clone(), path, Some(&bearer)).await;
            assert_eq!(response.status(), 200, "{context}");
            assert_eq!(
                header(&response, "x-auth-user-id"),
                Some(alice.to_string().as_str()),
                "{context}"
            );
            let response = check(&app, method.clone(), path, None).await;
            assert_eq!(response.status(), 401, "{context} without a token");
        }
    }
    // Not a prefix match on the string: a sibling path is not the check.
    let response = check(&app, Method::GET, "/api/auth/checkout", Some(&bearer)).await;
    assert_eq!(response.status(), 404);
}

#[actix_web::test]
async fn every_refusal_is_the_one_of_the_protected_endpoints() {
    let app = spawn_app().await;
    let alice = app.create_user(ALICE.0, ALICE.1);
    let (_, access) = app.login(ALICE.0, ALICE.1).await;

    expect_refused(
        check(&app, Method::GET, CHECK, None).await,
        NOT_PROVIDED,
        "none",
    )
    .await;
    let basic = check(&app, Method::GET, CHECK, Some("Basic YWxpY2U6cHc=")).await;
    expect_refused(basic, NOT_PROVIDED, "another scheme").await;
    let two = check(&app, Method::GET, CHECK, Some("Bearer a b")).await;
    expect_refused(two, BAD_HEADER, "two values").await;
    let bare = check(&app, Method::GET, CHECK, Some("Bearer")).await;
    expect_refused(bare, BAD_HEADER, "no value").await;
    let garbage = check_bearer(&app, "not.a.jwt").await;
    expect_refused(garbage, &not_valid("Token is invalid"), "garbage").await;
    let tampered = format!("{access}x");
    let tampered = check_bearer(&app, &tampered).await;
    expect_refused(tampered, &not_valid("Token is invalid"), "tampered").await;
    let mut expired = crafted_claims("access", alice);
    expired["exp"] = json!(crate::helpers::now() - 10);
    let expired = check_bearer(&app, &sign(expired)).await;
    expect_refused(expired, &not_valid("Token is expired"), "expired").await;

    let output = app.cli(&["user", "deactivate", "alice"], None);
    assert!(output.status.success(), "deactivate");
    // A valid token nobody revoked, of the now inactive user (the CLI is another process:
    // honoured within a second).
    let fresh = sign(crafted_claims("access", alice));
    let inactive = r#"{"detail":"User is inactive","code":"user_inactive"}"#;
    let deadline = std::time::Instant::now() + std::time::Duration::from_millis(1500);
    loop {
        let response = check_bearer(&app, &fresh).await;
        if response.status() == 401 || std::time::Instant::now() > deadline {
            expect_refused(response, inactive, "inactive user").await;
            break;
        }
        actix_web::rt::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

#[actix_web::test]
async fn a_logout_is_refused_at_the_check_at_once() {
    let app = spawn_app().await;
    app.create_user(ALICE.0, ALICE.1);
    let (refresh, access) = app.login(ALICE.0, ALICE.1).await;
    assert_eq!(check_bearer(&app, &access).await.status(), 200);

    let response = app
        .post_json("/api/token/blacklist/", json!({"refresh": refresh}))
        .await;
    assert_eq!(response.status(), 200);
    // No waiting: the very next check refuses it.
    expect_refused(
        check_bearer(&app, &access).await,
        &not_valid("Token is blacklisted"),
        "after logout",
    )
    .await;
}

#[actix_web::test]
async fn logout_all_and_reuse_detection_are_refused_at_the_check_at_once() {
    let app = spawn_app().await;
    app.create_user(ALICE.0, ALICE.1);
    let (_, first) = app.login(ALICE.0, ALICE.1).await;
    let (refresh, second) = app.login(ALICE.0, ALICE.1).await;

    // Reuse: the rotated refresh token comes back, and its session's tokens are revoked.
    let rotated = body(app.refresh(&refresh).await).await;
    let successor = rotated["access"].as_str().unwrap().to_owned();
    assert_eq!(check_bearer(&app, &successor).await.status(), 200);
    assert_eq!(app.refresh(&refresh).await.status(), 401);
    for token in [&second, &successor] {
        expect_refused(
            check_bearer(&app, token).await,
            &not_valid("Token is blacklisted"),
            "after reuse detection",
        )
        .await;
    }
    // The other session lives on, until logout-all.
    assert_eq!(check_bearer(&app, &first).await.status(), 200);
    let response = app
        .client
        .post(app.url("/api/logout/all/"))
        .bearer_auth(&first)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    expect_refused(
        check_bearer(&app, &first).await,
        &not_valid("Token is blacklisted"),
        "after logout-all",
    )
    .await;
}

#[actix_web::test]
async fn the_check_of_a_known_user_reads_no_database() {
    let app = spawn_app().await;
    app.create_user(ALICE.0, ALICE.1);
    let (_, access) = app.login(ALICE.0, ALICE.1).await;
    let first = db_queries(&app).await;
    let before = db_queries(&app).await;
    let per_scrape = before - first;

    // The first check reads the user (so the counter can move)...
    assert_eq!(check_bearer(&app, &access).await.status(), 200);
    let after_first = db_queries(&app).await;
    assert!(
        after_first - before > per_scrape,
        "{before} -> {after_first}"
    );
    // ...the next ones, while the user is fresh in memory, do not (a slow machine may
    // cross the one-second freshness once).
    for _ in 0..50 {
        assert_eq!(check_bearer(&app, &access).await.status(), 200);
    }
    let after = db_queries(&app).await;
    assert!(
        after - after_first <= per_scrape + 1,
        "50 checks read the database {} times",
        after - after_first - per_scrape
    );
}

#[actix_web::test]
async fn a_crowd_of_checks_with_revocations_in_between_never_lets_a_revoked_token_through() {
    let app = spawn_app().await;
    app.create_user(ALICE.0, ALICE.1);
    let mut sessions = Vec::new();
    for _ in 0..4 {
        sessions.push(app.login(ALICE.0, ALICE.1).await);
    }
    let (refresh, doomed) = sessions[0].clone();
    let live = sessions[1].1.clone();
    assert_eq!(
        app.post_json("/api/token/blacklist/", json!({"refresh": refresh}))
            .await
            .status(),
        200
    );
    // 200 concurrent checks, half of them with the revoked token.
    let mut tasks = Vec::new();
    for i in 0..200 {
        let client = app.client.clone();
        let url = app.url(&format!("{CHECK}/burst/{i}"));
        let token = if i % 2 == 0 {
            doomed.clone()
        } else {
            live.clone()
        };
        tasks.push(actix_web::rt::spawn(async move {
            let status = client
                .post(url)
                .bearer_auth(&token)
                .send()
                .await
                .map(|r| r.status().as_u16());
            (i % 2 == 0, status)
        }));
    }
    for task in tasks {
        let (revoked, status) = task.await.unwrap();
        let status = status.expect("an answer");
        assert_eq!(status, if revoked { 401 } else { 200 });
    }
}
