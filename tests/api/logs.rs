//! What the log must never hold: passwords, the signing key, tokens. The server runs as a
//! process with every log level on, goes through every flow that carries a secret, and its
//! whole stderr is searched for each secret.

use reqwest::Client;
use serde_json::{Value, json};

use crate::helpers::*;
use crate::process::ServeProcess;

/// Posts JSON and checks the flow did what it claims: a secret the log was searched for must
/// really have gone through (a refused request may never reach the code that could log it).
async fn post(
    client: &Client,
    base: &str,
    path: &str,
    body: Value,
    bearer: Option<&str>,
    expected: u16,
) -> Value {
    let mut request = client.post(format!("{base}{path}")).json(&body);
    if let Some(token) = bearer {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.expect("request");
    let status = response.status().as_u16();
    let answer = response.json().await.unwrap_or(Value::Null);
    assert_eq!(status, expected, "POST {path}: {answer}");
    answer
}

#[actix_web::test]
async fn no_secret_reaches_the_log_even_at_trace_level() {
    let app = spawn_app().await;
    app.create_user(ALICE.0, ALICE.1);
    let server = ServeProcess::start(&app, "trace");
    let base = server.address.clone();
    let client = Client::new();
    let wrong_password = "wrong-password-that-must-not-be-logged";
    let new_password = "new-password-that-must-not-be-logged";
    let created_password = "created-password-that-must-not-be-logged";

    post(
        &client,
        &base,
        "/api/token/",
        json!({"username": ALICE.0, "password": wrong_password}),
        None,
        401,
    )
    .await;
    let pair = post(
        &client,
        &base,
        "/api/token/",
        json!({"username": ALICE.0, "password": ALICE.1}),
        None,
        200,
    )
    .await;
    let refresh = pair["refresh"].as_str().expect("refresh").to_owned();
    let access = pair["access"].as_str().expect("access").to_owned();
    let rotated = post(
        &client,
        &base,
        "/api/token/refresh/",
        json!({"refresh": refresh}),
        None,
        200,
    )
    .await;
    let new_refresh = rotated["refresh"].as_str().expect("refresh").to_owned();
    let new_access = rotated["access"].as_str().expect("access").to_owned();
    post(
        &client,
        &base,
        "/api/token/verify/",
        json!({"token": new_access}),
        None,
        200,
    )
    .await;
    let me = client
        .get(format!("{base}/api/me/"))
        .bearer_auth(&new_access)
        .send()
        .await
        .expect("request");
    assert_eq!(me.status(), 200);
    post(
        &client,
        &base,
        "/api/me/password/",
        json!({"old_password": ALICE.1, "new_password": new_password}),
        Some(&new_access),
        200,
    )
    .await;
    // The new password logs in; that session's refresh token is revoked through RFC 7009.
    let second = post(
        &client,
        &base,
        "/api/token/",
        json!({"username": ALICE.0, "password": new_password}),
        None,
        200,
    )
    .await;
    let second_refresh = second["refresh"].as_str().expect("refresh").to_owned();
    let second_access = second["access"].as_str().expect("access").to_owned();
    let admin = post(
        &client,
        &base,
        "/api/token/",
        json!({"username": ADMIN.0, "password": ADMIN.1}),
        None,
        200,
    )
    .await;
    let admin_access = admin["access"].as_str().expect("access").to_owned();
    post(
        &client,
        &base,
        "/api/admin/users/",
        json!({"username": "carol", "password": created_password}),
        Some(&admin_access),
        201,
    )
    .await;
    let revoked = client
        .post(format!("{base}/oauth/revoke"))
        .form(&[("token", second_refresh.as_str())])
        .send()
        .await
        .expect("request");
    assert_eq!(revoked.status(), 200);
    // RFC 7009 answers 200 for anything: the token must really be revoked now.
    post(
        &client,
        &base,
        "/api/token/refresh/",
        json!({"refresh": second_refresh}),
        None,
        401,
    )
    .await;
    // The session that changed the password was kept: its refresh token logs out.
    post(
        &client,
        &base,
        "/api/token/blacklist/",
        json!({"refresh": new_refresh}),
        None,
        200,
    )
    .await;

    let log = server.log_text();
    eprintln!("{} log lines searched", log.lines().count());
    assert!(
        log.contains("/api/token/"),
        "the log has requests at all: {log}"
    );
    let secrets = [
        ("alice's password", ALICE.1),
        ("a wrong password", wrong_password),
        ("a new password", new_password),
        ("an admin-set password", created_password),
        ("the admin's password", ADMIN.1),
        ("the signing key", SIGNING_KEY),
        ("a refresh token", refresh.as_str()),
        ("an access token", access.as_str()),
        ("a rotated refresh token", new_refresh.as_str()),
        ("a rotated access token", new_access.as_str()),
        ("a staff access token", admin_access.as_str()),
        (
            "a refresh token revoked through RFC 7009",
            second_refresh.as_str(),
        ),
        (
            "the access token of the new password",
            second_access.as_str(),
        ),
    ];
    for (what, secret) in secrets {
        assert!(!log.contains(secret), "{what} is in the log");
        // A token's signature alone is as good as a token to nobody, but is still a secret
        // half: it must not appear either.
        if let Some((_, signature)) = secret.rsplit_once('.') {
            assert!(
                !log.contains(signature),
                "the signature of {what} is in the log"
            );
        }
    }
}
