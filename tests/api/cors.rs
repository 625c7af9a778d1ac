//! `TOKENLEDGER_CORS_ORIGINS`: browsers on the listed origins may call the API; others get
//! answers without CORS headers (their browser withholds them); unset, no CORS headers at all.

use reqwest::Method;
use serde_json::json;

use crate::helpers::*;

const APP: &str = "https://app.example";

async fn preflight(app: &TestApp, origin: &str) -> reqwest::Response {
    app.client
        .request(Method::OPTIONS, app.url("/api/token/"))
        .header("Origin", origin)
        .header("Access-Control-Request-Method", "POST")
        .header("Access-Control-Request-Headers", "content-type")
        .send()
        .await
        .unwrap()
}

async fn login_from(app: &TestApp, origin: &str) -> reqwest::Response {
    app.client
        .post(app.url("/api/token/"))
        .header("Origin", origin)
        .json(&json!({"username": ALICE.0, "password": ALICE.1}))
        .send()
        .await
        .unwrap()
}

fn allowed_origin(response: &reqwest::Response) -> Option<String> {
    response
        .headers()
        .get("access-control-allow-origin")
        .map(|value| value.to_str().unwrap().to_owned())
}

#[actix_web::test]
async fn listed_origins_may_call_the_api_from_a_browser() {
    let app = spawn_app_with(|s| s.cors_origins = vec![APP.into()]).await;
    app.create_user(ALICE.0, ALICE.1);

    let response = preflight(&app, APP).await;
    assert!(response.status().is_success(), "{}", response.status());
    assert_eq!(allowed_origin(&response).as_deref(), Some(APP));
    let methods = response.headers()["access-control-allow-methods"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(methods.contains("POST"), "{methods}");

    let response = login_from(&app, APP).await;
    assert_eq!(response.status(), 200);
    assert_eq!(allowed_origin(&response).as_deref(), Some(APP));
    let exposed = response.headers()["access-control-expose-headers"]
        .to_str()
        .unwrap()
        .to_ascii_lowercase();
    assert!(exposed.contains("x-request-id"), "{exposed}");

    // Another origin is served as if CORS did not exist: no header, the contract's answer.
    let response = login_from(&app, "https://evil.example").await;
    assert_eq!(response.status(), 200);
    assert_eq!(allowed_origin(&response), None);
    let response = preflight(&app, "https://evil.example").await;
    assert_eq!(allowed_origin(&response), None);
}

#[actix_web::test]
async fn a_star_allows_any_origin() {
    let app = spawn_app_with(|s| s.cors_origins = vec!["*".into()]).await;
    app.create_user(ALICE.0, ALICE.1);
    let response = login_from(&app, "https://anywhere.example").await;
    assert_eq!(response.status(), 200);
    assert_eq!(allowed_origin(&response).as_deref(), Some("*"));
}

#[actix_web::test]
async fn without_the_setting_no_cors_headers_are_sent() {
    let app = spawn_app().await;
    app.create_user(ALICE.0, ALICE.1);
    let response = login_from(&app, APP).await;
    assert_eq!(response.status(), 200);
    assert_eq!(allowed_origin(&response), None);
    // OPTIONS is still the reference's metadata answer.
    let response = preflight(&app, APP).await;
    assert_eq!(response.status(), 200);
    assert_eq!(allowed_origin(&response), None);
    assert_eq!(body(response).await["name"], "Token Obtain Pair");
}

#[actix_web::test]
async fn an_origin_that_is_not_one_is_a_configuration_error() {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_tokenledger"))
        .arg("migrate")
        .env("TOKENLEDGER_DATABASE_URL", "sqlite::memory:")
        .env(
            "TOKENLEDGER_CORS_ORIGINS",
            "https://ok.example,app.example/path",
        )
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1), "{output:?}");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("cors_origins"), "{stderr}");
}
