//! `TOKENLEDGER_TOKEN_CLAIMS` (contract section 8): chosen user fields in every access and
//! sliding token, at issue and at refresh, read fresh each time; refresh tokens carry none.

use diesel::RunQueryDsl;
use serde_json::{Value, json};

use crate::helpers::*;

fn rename(app: &TestApp, id: i64, username: &str, email: &str, is_staff: bool) {
    // There is no rename endpoint: a directory sync or an admin edits the table directly.
    let pool = tokenledger::db::connect(&app.settings.database_url).expect("db");
    let mut conn = pool.get().expect("connection");
    diesel::sql_query(format!(
        "UPDATE users SET username = '{username}', email = '{email}', is_staff = {is_staff} \
         WHERE id = {id}"
    ))
    .execute(&mut conn)
    .expect("renamed");
}

fn user_claims(token: &str) -> (Value, Value, Value) {
    let claims = claims_of(token);
    (
        claims["username"].clone(),
        claims["email"].clone(),
        claims["is_staff"].clone(),
    )
}

#[actix_web::test]
async fn the_chosen_fields_are_in_access_tokens_and_follow_the_user_on_refresh() {
    let app = spawn_app_with(|s| {
        s.token_claims = vec!["username".into(), "email".into(), "is_staff".into()];
    })
    .await;
    let alice = app.create_user(ALICE.0, ALICE.1);
    let (refresh, access) = app.login(ALICE.0, ALICE.1).await;
    assert_eq!(
        user_claims(&access),
        (json!("alice"), json!(""), json!(false))
    );
    // The refresh token names the user by id only.
    let claims = claims_of(&refresh);
    for name in ["username", "email", "is_staff"] {
        assert!(claims.get(name).is_none(), "{name} in {claims}");
    }

    rename(&app, alice, "alice2", "alice@example.com", true);
    let refreshed = body(app.refresh(&refresh).await).await;
    let access = refreshed["access"].as_str().unwrap();
    assert_eq!(
        user_claims(access),
        (json!("alice2"), json!("alice@example.com"), json!(true))
    );
    assert!(
        claims_of(refreshed["refresh"].as_str().unwrap())
            .get("username")
            .is_none()
    );

    // Deactivated: the next refresh carries the change, as a refusal.
    let output = app.cli(&["user", "deactivate", "alice2"], None);
    assert!(output.status.success());
    let response = app.refresh(refreshed["refresh"].as_str().unwrap()).await;
    assert_eq!(response.status(), 401);
}

#[actix_web::test]
async fn only_the_chosen_fields_and_none_without_the_setting() {
    let app = spawn_app_with(|s| s.token_claims = vec!["is_staff".into()]).await;
    let (_, access) = app.login(ADMIN.0, ADMIN.1).await;
    assert_eq!(
        user_claims(&access),
        (Value::Null, Value::Null, json!(true))
    );

    let plain = spawn_app().await;
    let (_, access) = plain.login(ADMIN.0, ADMIN.1).await;
    assert_eq!(
        user_claims(&access),
        (Value::Null, Value::Null, Value::Null)
    );
}

#[actix_web::test]
async fn sliding_tokens_carry_them_and_a_renewal_reads_them_again() {
    let app = spawn_app_with(|s| {
        s.token_claims = vec!["username".into()];
        s.auth_token_types = vec!["sliding".into()];
    })
    .await;
    let alice = app.create_user(ALICE.0, ALICE.1);
    let sliding = app.obtain_sliding(ALICE.0, ALICE.1).await;
    assert_eq!(claims_of(&sliding)["username"], "alice");

    rename(&app, alice, "alice-renamed", "", false);
    let response = app
        .post_json("/api/token/sliding/refresh/", json!({"token": sliding}))
        .await;
    assert_eq!(response.status(), 200);
    let renewed = body(response).await["token"].as_str().unwrap().to_owned();
    assert_eq!(claims_of(&renewed)["username"], "alice-renamed");
    assert_eq!(claims_of(&renewed)["jti"], claims_of(&sliding)["jti"]);

    let output = app.cli(&["user", "deactivate", "alice-renamed"], None);
    assert!(output.status.success());
    let response = app
        .post_json("/api/token/sliding/refresh/", json!({"token": renewed}))
        .await;
    assert_eq!(response.status(), 401);
}

#[actix_web::test]
async fn an_unknown_claim_is_a_start_up_error() {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_tokenledger"))
        .arg("migrate")
        .env("TOKENLEDGER_DATABASE_URL", "sqlite::memory:")
        .env("TOKENLEDGER_TOKEN_CLAIMS", "username,password_hash")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1), "{output:?}");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("token_claims") && stderr.contains("password_hash"),
        "{stderr}"
    );
}

#[actix_web::test]
async fn within_the_reuse_grace_the_second_tab_gets_the_same_tokens_with_their_claims() {
    let app = spawn_app_with(|s| {
        s.token_claims = vec!["username".into()];
        s.reuse_grace = std::time::Duration::from_secs(30);
    })
    .await;
    app.create_user(ALICE.0, ALICE.1);
    let (refresh, _) = app.login(ALICE.0, ALICE.1).await;
    let first = body(app.refresh(&refresh).await).await;
    let second = body(app.refresh(&refresh).await).await;
    assert_eq!(first, second, "the same pair, claims included");
    assert_eq!(
        claims_of(first["access"].as_str().unwrap())["username"],
        "alice"
    );
}
