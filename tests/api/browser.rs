//! The refresh token in a cookie (contract section 8): `REFRESH_COOKIE`, `REFRESH_COOKIE_ONLY`,
//! `COOKIE_SECURE`, the double-submit CSRF header, the cookie logout and CORS credentials.
//! Cookies are sent by hand, as a browser would, so every attribute and refusal is visible.

use reqwest::{Method, Response};
use serde_json::{Value, json};

use crate::helpers::*;

const COOKIE: &str = "tl_refresh";
const CSRF: &str = "tl_refresh_csrf";
const CSRF_FAILED: &str = r#"{"detail":"CSRF Failed: CSRF token missing or incorrect."}"#;
const SPA: &str = "http://127.0.0.1:5173";

async fn cookie_app(configure: impl FnOnce(&mut tokenledger::config::Settings)) -> TestApp {
    let app = spawn_app_with(|s| {
        s.refresh_cookie = Some(COOKIE.into());
        configure(s);
    })
    .await;
    app.create_user(ALICE.0, ALICE.1);
    app
}

/// Every `Set-Cookie` of a response.
fn set_cookies(response: &Response) -> Vec<String> {
    response
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .collect()
}

/// The `Set-Cookie` of `name`, and its value.
fn cookie_of(cookies: &[String], name: &str) -> (String, String) {
    let line = cookies
        .iter()
        .find(|c| c.starts_with(&format!("{name}=")))
        .unwrap_or_else(|| panic!("no {name} cookie in {cookies:?}"))
        .clone();
    let value = line[name.len() + 1..].split(';').next().unwrap().to_owned();
    (line, value)
}

fn attributes(line: &str) -> Vec<String> {
    line.split(';')
        .skip(1)
        .map(|a| a.trim().to_owned())
        .collect()
}

/// A browser's cookie jar after a login: (refresh cookie, csrf cookie, access token).
struct Jar {
    refresh: String,
    csrf: String,
}

impl Jar {
    fn header(&self) -> String {
        format!("{COOKIE}={}; {CSRF}={}", self.refresh, self.csrf)
    }

    fn update(&mut self, response: &Response) {
        let cookies = set_cookies(response);
        self.refresh = cookie_of(&cookies, COOKIE).1;
        self.csrf = cookie_of(&cookies, CSRF).1;
    }
}

async fn browser_login(app: &TestApp) -> (Jar, Value) {
    let response = app
        .post_json(
            "/api/token/",
            json!({"username": ALICE.0, "password": ALICE.1}),
        )
        .await;
    assert_eq!(response.status(), 200);
    let cookies = set_cookies(&response);
    let jar = Jar {
        refresh: cookie_of(&cookies, COOKIE).1,
        csrf: cookie_of(&cookies, CSRF).1,
    };
    (jar, body(response).await)
}

/// A body-less POST as a page's `fetch` sends it: the cookies, and the CSRF header if given.
async fn cookie_post(app: &TestApp, path: &str, jar: &Jar, csrf: Option<&str>) -> Response {
    let mut request = app
        .client
        .post(app.url(path))
        .header("Cookie", jar.header())
        .header("Content-Type", "application/json")
        .body("{}");
    if let Some(csrf) = csrf {
        request = request.header("X-CSRF-Token", csrf);
    }
    request.send().await.unwrap()
}

#[actix_web::test]
async fn a_login_sets_the_httponly_refresh_cookie_and_the_readable_csrf_cookie() {
    let app = cookie_app(|_| {}).await;
    let response = app
        .post_json(
            "/api/token/",
            json!({"username": ALICE.0, "password": ALICE.1}),
        )
        .await;
    assert_eq!(response.status(), 200);
    let cookies = set_cookies(&response);
    let (refresh_line, refresh) = cookie_of(&cookies, COOKIE);
    let (csrf_line, csrf) = cookie_of(&cookies, CSRF);
    let body = body(response).await;
    // Existing clients keep working: the body still has the pair.
    assert_eq!(body["refresh"].as_str(), Some(refresh.as_str()));
    assert_eq!(claims_of(&refresh)["token_type"], "refresh");

    let mut attrs = attributes(&refresh_line);
    attrs.sort();
    assert_eq!(
        attrs,
        [
            "HttpOnly",
            "Max-Age=86400",
            "Path=/api/token/",
            "SameSite=Strict",
            "Secure"
        ]
    );
    let mut attrs = attributes(&csrf_line);
    attrs.sort();
    assert_eq!(
        attrs,
        ["Max-Age=86400", "Path=/", "SameSite=Strict", "Secure"]
    );
    assert!(csrf.len() >= 32, "{csrf}");

    // A second login gets a different CSRF value.
    let (jar, _) = browser_login(&app).await;
    assert_ne!(jar.csrf, csrf);
}

#[actix_web::test]
async fn without_cookie_secure_the_cookies_drop_secure_and_follow_the_refresh_lifetime() {
    let app = cookie_app(|s| {
        s.cookie_secure = false;
        s.refresh_token_lifetime = std::time::Duration::from_secs(3600);
    })
    .await;
    let response = app
        .post_json(
            "/api/token/",
            json!({"username": ALICE.0, "password": ALICE.1}),
        )
        .await;
    for line in set_cookies(&response) {
        assert!(!line.contains("Secure"), "{line}");
        assert!(line.contains("Max-Age=3600"), "{line}");
    }
}

#[actix_web::test]
async fn a_refresh_through_the_cookie_needs_the_csrf_header_and_rotates_both_cookies() {
    let app = cookie_app(|_| {}).await;
    let (mut jar, _) = browser_login(&app).await;
    let first = jar.refresh.clone();

    let response = cookie_post(&app, "/api/token/refresh/", &jar, Some(&jar.csrf.clone())).await;
    assert_eq!(response.status(), 200);
    let old_csrf = jar.csrf.clone();
    jar.update(&response);
    assert_ne!(jar.refresh, first, "rotated");
    assert_ne!(jar.csrf, old_csrf, "a fresh CSRF value");
    let body = body(response).await;
    assert_eq!(body["refresh"].as_str(), Some(jar.refresh.as_str()));
    assert_eq!(
        app.me_with(body["access"].as_str().unwrap()).await.status(),
        200
    );

    // The old one is rotated: verify says blacklisted.
    let verify = app
        .post_json("/api/token/verify/", json!({"token": first}))
        .await;
    assert_eq!(verify.status(), 400);
}

#[actix_web::test]
async fn a_forged_cookie_request_without_the_header_is_refused_and_changes_nothing() {
    let app = cookie_app(|_| {}).await;
    let (jar, login) = browser_login(&app).await;
    let access = login["access"].as_str().unwrap().to_owned();
    let events_before = app.cli(&["ledger", "--format", "json"], None).stdout;

    for path in ["/api/token/refresh/", "/api/token/blacklist/"] {
        for csrf in [None, Some("wrong"), Some("")] {
            let response = cookie_post(&app, path, &jar, csrf).await;
            assert!(set_cookies(&response).is_empty(), "{path} {csrf:?}");
            assert_answer(response, 403, CSRF_FAILED).await;
        }
        // The header, but no CSRF cookie to match (a cookie jar with the refresh cookie only).
        let response = app
            .client
            .post(app.url(path))
            .header("Cookie", format!("{COOKIE}={}", jar.refresh))
            .header("X-CSRF-Token", &jar.csrf)
            .send()
            .await
            .unwrap();
        assert_answer(response, 403, CSRF_FAILED).await;
        // A form post, as a forged HTML form sends it.
        let response = app
            .client
            .post(app.url(path))
            .header("Cookie", jar.header())
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body("next=%2F")
            .send()
            .await
            .unwrap();
        assert_answer(response, 403, CSRF_FAILED).await;
    }
    // A crowd of forgeries at once changes nothing either.
    let mut tasks = Vec::new();
    for _ in 0..40 {
        let client = app.client.clone();
        let url = app.url("/api/token/refresh/");
        let cookie = jar.header();
        tasks.push(actix_web::rt::spawn(async move {
            client
                .post(url)
                .header("Cookie", cookie)
                .send()
                .await
                .map(|r| r.status().as_u16())
        }));
    }
    for task in tasks {
        assert_eq!(task.await.unwrap().unwrap(), 403);
    }

    let events_after = app.cli(&["ledger", "--format", "json"], None).stdout;
    assert_eq!(events_before, events_after, "no ledger event");
    assert_eq!(app.me_with(&access).await.status(), 200);
    let response = cookie_post(&app, "/api/token/refresh/", &jar, Some(&jar.csrf)).await;
    assert_eq!(response.status(), 200, "the cookie still refreshes");
}

#[actix_web::test]
async fn a_refresh_in_the_body_wins_over_the_cookie() {
    let app = cookie_app(|_| {}).await;
    let (jar, _) = browser_login(&app).await;
    let (refresh, _) = app.login(ALICE.0, ALICE.1).await;
    // A broken cookie and no CSRF header: the body's token is what counts.
    let response = app
        .client
        .post(app.url("/api/token/refresh/"))
        .header("Cookie", format!("{COOKIE}=garbage; {CSRF}={}", jar.csrf))
        .json(&json!({"refresh": refresh}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    // No cookie and no body: the field is required, as without the setting.
    let response = app
        .client
        .post(app.url("/api/token/refresh/"))
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_answer(response, 400, r#"{"refresh":["This field is required."]}"#).await;
}

#[actix_web::test]
async fn a_logout_through_the_cookie_clears_both_cookies_and_revokes_the_session() {
    let app = cookie_app(|_| {}).await;
    let (jar, login) = browser_login(&app).await;
    let access = login["access"].as_str().unwrap();

    let response = cookie_post(&app, "/api/token/blacklist/", &jar, Some(&jar.csrf)).await;
    assert_eq!(response.status(), 200);
    let cookies = set_cookies(&response);
    for name in [COOKIE, CSRF] {
        let (line, value) = cookie_of(&cookies, name);
        assert_eq!(value, "", "{line}");
        assert!(
            attributes(&line).contains(&"Max-Age=0".to_owned()),
            "{line}"
        );
    }
    assert_eq!(body(response).await, json!({}));
    assert_eq!(app.me_with(access).await.status(), 401);

    // The dead cookie, sent again (a browser that kept it): refused, and told to drop it.
    let response = cookie_post(&app, "/api/token/refresh/", &jar, Some(&jar.csrf)).await;
    assert!(
        set_cookies(&response)
            .iter()
            .any(|c| c.starts_with(&format!("{COOKIE}=;"))),
        "{:?}",
        set_cookies(&response)
    );
    assert_answer(response, 401, &token_error("Token is blacklisted")).await;
}

#[actix_web::test]
async fn cookie_only_leaves_the_refresh_token_out_of_every_body() {
    let app = cookie_app(|s| s.refresh_cookie_only = true).await;
    let (jar, login) = browser_login(&app).await;
    assert_eq!(
        login.as_object().unwrap().keys().collect::<Vec<_>>(),
        ["access"]
    );
    let response = cookie_post(&app, "/api/token/refresh/", &jar, Some(&jar.csrf)).await;
    assert_eq!(set_cookies(&response).len(), 2);
    let refreshed = body(response).await;
    assert_eq!(
        refreshed.as_object().unwrap().keys().collect::<Vec<_>>(),
        ["access"]
    );
}

#[actix_web::test]
async fn without_the_setting_no_cookie_is_set_or_read() {
    let app = spawn_app().await;
    app.create_user(ALICE.0, ALICE.1);
    let response = app
        .post_json(
            "/api/token/",
            json!({"username": ALICE.0, "password": ALICE.1}),
        )
        .await;
    assert!(set_cookies(&response).is_empty());
    let refresh = body(response).await["refresh"].as_str().unwrap().to_owned();
    let response = app
        .client
        .post(app.url("/api/token/refresh/"))
        .header("Cookie", format!("{COOKIE}={refresh}; {CSRF}=x"))
        .header("X-CSRF-Token", "x")
        .send()
        .await
        .unwrap();
    assert_answer(response, 400, r#"{"refresh":["This field is required."]}"#).await;
}

async fn preflight(app: &TestApp, origin: &str) -> Response {
    app.client
        .request(Method::OPTIONS, app.url("/api/token/refresh/"))
        .header("Origin", origin)
        .header("Access-Control-Request-Method", "POST")
        .header(
            "Access-Control-Request-Headers",
            "content-type,x-csrf-token",
        )
        .send()
        .await
        .unwrap()
}

fn header(response: &Response, name: &str) -> Option<String> {
    response
        .headers()
        .get(name)
        .map(|v| v.to_str().unwrap().to_owned())
}

#[actix_web::test]
async fn listed_origins_may_send_credentials_and_the_csrf_header() {
    let app = cookie_app(|s| s.cors_origins = vec![SPA.into()]).await;
    let response = preflight(&app, SPA).await;
    assert!(response.status().is_success());
    assert_eq!(
        header(&response, "access-control-allow-origin").as_deref(),
        Some(SPA)
    );
    assert_eq!(
        header(&response, "access-control-allow-credentials").as_deref(),
        Some("true")
    );
    let allowed = header(&response, "access-control-allow-headers").unwrap_or_default();
    assert!(allowed.to_lowercase().contains("x-csrf-token"), "{allowed}");

    let response = app
        .client
        .post(app.url("/api/token/"))
        .header("Origin", SPA)
        .json(&json!({"username": ALICE.0, "password": ALICE.1}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        header(&response, "access-control-allow-credentials").as_deref(),
        Some("true")
    );
    // Another origin gets no CORS headers at all.
    let response = preflight(&app, "http://127.0.0.1:6666").await;
    assert_eq!(header(&response, "access-control-allow-origin"), None);
    assert_eq!(header(&response, "access-control-allow-credentials"), None);
}

#[actix_web::test]
async fn a_star_or_no_cookie_never_allows_credentials() {
    let star = cookie_app(|s| s.cors_origins = vec!["*".into()]).await;
    let response = preflight(&star, SPA).await;
    assert_eq!(
        header(&response, "access-control-allow-origin").as_deref(),
        Some("*")
    );
    assert_eq!(header(&response, "access-control-allow-credentials"), None);

    let plain = spawn_app_with(|s| s.cors_origins = vec![SPA.into()]).await;
    let response = preflight(&plain, SPA).await;
    assert_eq!(
        header(&response, "access-control-allow-origin").as_deref(),
        Some(SPA)
    );
    assert_eq!(header(&response, "access-control-allow-credentials"), None);
}

#[actix_web::test]
async fn a_cookie_name_that_is_not_one_is_a_start_up_error() {
    for name in ["tl refresh", "tl;refresh", "a=b"] {
        let output = std::process::Command::new(env!("CARGO_BIN_EXE_tokenledger"))
            .arg("migrate")
            .env("TOKENLEDGER_DATABASE_URL", "sqlite::memory:")
            .env("TOKENLEDGER_REFRESH_COOKIE", name)
            .output()
            .unwrap();
        assert_eq!(output.status.code(), Some(1), "{name}: {output:?}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains("refresh_cookie"), "{stderr}");
    }
}
