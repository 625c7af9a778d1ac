//! The admin console at /admin/: sign-in through the form, pages, the blacklist action with
//! its CSRF token, and what non-staff and signed-out visitors get.

use reqwest::redirect::Policy;
use reqwest::{Client, Response, header};
use serde_json::Value;

use crate::helpers::{ADMIN, ALICE, TestApp, body, claims_of, spawn_app, spawn_app_with};

/// A browser-like visitor: keeps the console's cookie, follows no redirect by itself.
struct Visitor<'a> {
    app: &'a TestApp,
    client: Client,
    cookie: Option<String>,
}

impl<'a> Visitor<'a> {
    fn new(app: &'a TestApp) -> Self {
        Self {
            app,
            client: Client::builder()
                .redirect(Policy::none())
                .build()
                .expect("client"),
            cookie: None,
        }
    }

    fn remember(&mut self, response: &Response) {
        for value in response.headers().get_all(header::SET_COOKIE) {
            let value = value.to_str().expect("ascii cookie");
            if let Some(rest) = value.strip_prefix("tokenledger_console=") {
                let token = rest.split(';').next().unwrap_or_default();
                self.cookie = (!token.is_empty()).then(|| format!("tokenledger_console={token}"));
            }
        }
    }

    async fn get(&mut self, path: &str) -> Response {
        let mut request = self.client.get(self.app.url(path));
        if let Some(cookie) = &self.cookie {
            request = request.header(header::COOKIE, cookie);
        }
        let response = request.send().await.expect("request");
        self.remember(&response);
        response
    }

    async fn page(&mut self, path: &str) -> String {
        let response = self.get(path).await;
        assert_eq!(response.status(), 200, "GET {path}");
        response.text().await.expect("html")
    }

    async fn post(&mut self, path: &str, form: &[(&str, &str)], origin: Option<&str>) -> Response {
        let mut request = self.client.post(self.app.url(path)).form(form);
        if let Some(cookie) = &self.cookie {
            request = request.header(header::COOKIE, cookie);
        }
        if let Some(origin) = origin {
            request = request.header(header::ORIGIN, origin);
        }
        let response = request.send().await.expect("request");
        self.remember(&response);
        response
    }

    async fn sign_in(&mut self, username: &str, password: &str) -> Response {
        let origin = self.app.address.clone();
        self.post(
            "/admin/signin/",
            &[("username", username), ("password", password)],
            Some(&origin),
        )
        .await
    }
}

fn location(response: &Response) -> &str {
    response
        .headers()
        .get(header::LOCATION)
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default()
}

/// The CSRF token the page's forms carry.
fn csrf_of(html: &str) -> String {
    let marker = r#"name="csrf" value=""#;
    let start = html.find(marker).expect("a form with a CSRF token") + marker.len();
    html[start..]
        .split('"')
        .next()
        .unwrap_or_default()
        .to_owned()
}

async fn ledger_of(app: &TestApp, admin_access: &str, query: &str) -> Vec<Value> {
    let response = app
        .client
        .get(app.url(&format!("/api/admin/ledger/?{query}")))
        .bearer_auth(admin_access)
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), 200);
    body(response).await["events"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

#[actix_rt::test]
async fn staff_blacklist_alices_access_token_through_the_form() {
    let app = spawn_app().await;
    let alice_id = app.create_user(ALICE.0, ALICE.1);
    let (alice_refresh, alice_access) = app.login(ALICE.0, ALICE.1).await;
    let jti = claims_of(&alice_access)["jti"].as_str().unwrap().to_owned();
    let mut staff = Visitor::new(&app);

    let signed_in = staff.sign_in(ADMIN.0, ADMIN.1).await;
    assert_eq!(signed_in.status(), 303);
    assert_eq!(location(&signed_in), "/admin/tokens/");
    let set_cookie = signed_in.headers()[header::SET_COOKIE].to_str().unwrap();
    for attribute in ["HttpOnly", "SameSite=Strict", "Path=/admin/"] {
        assert!(
            set_cookie.contains(attribute),
            "{attribute} in {set_cookie}"
        );
    }
    assert!(staff.cookie.is_some());

    // The pages, as a person follows them.
    let tokens = staff.page("/admin/tokens/").await;
    assert!(
        tokens.contains(&jti),
        "the tokens page lists alice's access token"
    );
    let filtered = staff
        .page("/admin/tokens/?user=alice&type=access&state=outstanding")
        .await;
    assert!(filtered.contains(&jti));
    let refresh_jti = claims_of(&alice_refresh)["jti"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(!filtered.contains(&refresh_jti), "the type filter holds");
    let users = staff.page("/admin/users/?q=ali").await;
    assert!(users.contains(&format!("/admin/users/{alice_id}/")));
    let user = staff.page(&format!("/admin/users/{alice_id}/")).await;
    assert!(
        user.contains(&jti) && user.contains("<svg"),
        "sessions with their lineage"
    );
    let confirm = staff.page(&format!("/admin/tokens/{jti}/blacklist/")).await;
    assert!(confirm.contains("Blacklist this token?"));
    let csrf = csrf_of(&confirm);
    let action = format!("/admin/tokens/{jti}/blacklist/");

    // Refused changes change nothing.
    let origin = app.address.clone();
    for (form, origin) in [
        (vec![], Some(origin.as_str())),
        (vec![("csrf", "0000")], Some(origin.as_str())),
        (vec![("csrf", csrf.as_str())], Some("http://evil.example")),
    ] {
        let refused = staff.post(&action, &form, origin).await;
        assert_eq!(refused.status(), 403, "{form:?} from {origin:?}");
        assert!(refused.text().await.unwrap().contains("CSRF"));
    }
    assert_eq!(app.me_with(&alice_access).await.status(), 200);

    let done = staff
        .post(&action, &[("csrf", csrf.as_str())], Some(&origin))
        .await;
    assert_eq!(done.status(), 303);
    assert_eq!(
        location(&done),
        format!("/admin/users/{alice_id}/?notice=blacklisted")
    );
    let refused = app.me_with(&alice_access).await;
    assert_eq!(refused.status(), 401);
    let refusal = body(refused).await;
    assert_eq!(refusal["messages"][0]["message"], "Token is blacklisted");

    // The same event the JSON admin API appends.
    let (_, admin_access) = app.login(ADMIN.0, ADMIN.1).await;
    let events = ledger_of(&app, &admin_access, &format!("jti={jti}&event=blacklisted")).await;
    assert_eq!(events.len(), 1);
    assert_eq!(events[0]["reason"], "admin");
    assert_eq!(events[0]["actor"], "admin:1");
    let again = staff
        .post(&action, &[("csrf", csrf.as_str())], Some(&origin))
        .await;
    assert_eq!(again.status(), 303, "idempotent");
    assert_eq!(
        ledger_of(&app, &admin_access, &format!("jti={jti}&event=blacklisted"))
            .await
            .len(),
        1
    );

    let ledger = staff.page(&format!("/admin/ledger/?jti={jti}")).await;
    assert!(ledger.contains("blacklisted") && ledger.contains("admin:1"));
    let instant = staff.page("/admin/ledger/?pit_user=alice").await;
    assert!(instant.contains(&jti) && instant.contains("blacklisted"));

    // Sign-out revokes the console's session in the ledger; the old cookie opens nothing.
    let stale = staff.cookie.clone();
    let out = staff
        .post("/admin/signout/", &[("csrf", csrf.as_str())], Some(&origin))
        .await;
    assert_eq!(out.status(), 303);
    assert!(staff.cookie.is_none(), "the cookie is removed");
    staff.cookie = stale;
    let after = staff.get("/admin/tokens/").await;
    assert_eq!(after.status(), 303);
    assert_eq!(location(&after), "/admin/signin/");
    let logouts = ledger_of(&app, &admin_access, "user_id=1&reason=logout").await;
    assert_eq!(logouts.len(), 1);
    assert_eq!(logouts[0]["token_type"], "sliding");
}

#[actix_rt::test]
async fn a_non_staff_user_sees_no_data() {
    let app = spawn_app().await;
    app.create_user(ALICE.0, ALICE.1);
    let (_, access) = app.login(ALICE.0, ALICE.1).await;
    let jti = claims_of(&access)["jti"].as_str().unwrap().to_owned();
    let mut alice = Visitor::new(&app);

    let refused = alice.sign_in(ALICE.0, ALICE.1).await;
    assert_eq!(refused.status(), 403);
    assert!(alice.cookie.is_none(), "no session cookie");
    let html = refused.text().await.unwrap();
    assert!(html.contains("Only staff accounts") && !html.contains(&jti));
    assert!(!html.contains("<table"));

    // Even holding a valid sliding token of her own as the cookie.
    let sliding = app.obtain_sliding(ALICE.0, ALICE.1).await;
    alice.cookie = Some(format!("tokenledger_console={sliding}"));
    for path in [
        "/admin/tokens/",
        "/admin/users/",
        "/admin/ledger/",
        "/admin/users/2/",
    ] {
        let response = alice.get(path).await;
        assert_eq!(response.status(), 303, "{path}");
        assert_eq!(location(&response), "/admin/signin/");
    }

    let wrong = alice.sign_in(ALICE.0, "wrong password").await;
    assert_eq!(wrong.status(), 401);
    assert!(wrong.text().await.unwrap().contains("No active account"));
}

#[actix_rt::test]
async fn signed_out_visitors_get_the_sign_in_page() {
    let app = spawn_app().await;
    app.create_user(ALICE.0, ALICE.1);
    let (_, access) = app.login(ALICE.0, ALICE.1).await;
    let jti = claims_of(&access)["jti"].as_str().unwrap().to_owned();
    let mut nobody = Visitor::new(&app);
    let confirm = format!("/admin/tokens/{jti}/blacklist/");
    for path in [
        "/admin/",
        "/admin/tokens/",
        "/admin/users/",
        "/admin/users/2/",
        "/admin/ledger/?pit_user=alice",
        confirm.as_str(),
    ] {
        let response = nobody.get(path).await;
        assert_eq!(response.status(), 303, "{path}");
        let to = location(&response).to_owned();
        assert!(
            to == "/admin/signin/" || to == "/admin/tokens/",
            "{path} -> {to}"
        );
    }
    let signin = nobody.page("/admin/signin/").await;
    assert!(signin.contains(r#"<label for="password">"#) && !signin.contains(&jti));

    // A change without a session is refused and changes nothing.
    let refused = nobody
        .post(
            &format!("/admin/tokens/{jti}/blacklist/"),
            &[("csrf", "x")],
            None,
        )
        .await;
    assert_eq!(refused.status(), 403);
    nobody.cookie = Some("tokenledger_console=not-a-token".into());
    let refused = nobody
        .post("/admin/users/2/revoke/", &[("csrf", "x")], None)
        .await;
    assert_eq!(refused.status(), 403);
    assert_eq!(app.me_with(&access).await.status(), 200);

    // A sign-in posted from another site is refused.
    let mut staff = Visitor::new(&app);
    let forged = staff
        .post(
            "/admin/signin/",
            &[("username", ADMIN.0), ("password", ADMIN.1)],
            Some("https://evil.example"),
        )
        .await;
    assert_eq!(forged.status(), 403);
    assert!(staff.cookie.is_none());
}

#[actix_rt::test]
async fn bad_input_is_a_page_not_a_server_error() {
    let app = spawn_app().await;
    let alice_id = app.create_user(ALICE.0, ALICE.1);
    let mut staff = Visitor::new(&app);
    assert_eq!(staff.sign_in(ADMIN.0, ADMIN.1).await.status(), 303);
    for (path, status) in [
        ("/admin/tokens/?since=yesterday&limit=abc&state=gone", 400),
        ("/admin/tokens/?user=nobody", 400),
        ("/admin/tokens/?limit=0", 400),
        ("/admin/ledger/?after=x&until=soon&event=nope", 400),
        (
            "/admin/ledger/?pit_user=nobody&pit_at=2026-11-30T10:00",
            400,
        ),
        ("/admin/users/?after=x", 400),
        ("/admin/users/abc/", 404),
        ("/admin/users/999/", 404),
        ("/admin/users/2/explode/", 404),
        ("/admin/tokens/nope/blacklist/", 404),
        ("/admin/nowhere", 404),
    ] {
        let response = staff.get(path).await;
        assert_eq!(response.status(), status, "{path}");
        let html = response.text().await.unwrap();
        assert!(html.starts_with("<!doctype html>"), "{path}: an HTML page");
    }
    let blank = staff
        .post(
            "/admin/signin/",
            &[("username", ""), ("password", "")],
            None,
        )
        .await;
    assert_eq!(blank.status(), 400);
    let html = staff.page(&format!("/admin/users/{alice_id}/")).await;
    let csrf = csrf_of(&html);
    let missing = staff
        .post("/admin/tokens/nope/blacklist/", &[("csrf", &csrf)], None)
        .await;
    assert_eq!(missing.status(), 404);
}

#[actix_rt::test]
async fn the_session_renews_while_used_and_ends_when_idle() {
    let app = spawn_app_with(|settings| {
        // 8 s: the renewal below lands 4-8 s in, the idle end after 9 s; margins of seconds.
        settings.sliding_token_lifetime = std::time::Duration::from_secs(8);
    })
    .await;
    let mut staff = Visitor::new(&app);
    assert_eq!(staff.sign_in(ADMIN.0, ADMIN.1).await.status(), 303);
    let first = staff.cookie.clone().expect("a session cookie");
    let csrf = csrf_of(&staff.page("/admin/users/").await);
    assert_eq!(staff.cookie.as_ref(), Some(&first), "young: not renewed");

    // Past half its lifetime, the next page renews it: same jti, so the same CSRF token.
    tokio::time::sleep(std::time::Duration::from_millis(5_000)).await;
    let html = staff.page("/admin/users/").await;
    let renewed = staff.cookie.clone().expect("a session cookie");
    assert_ne!(renewed, first, "renewed");
    let jti =
        |cookie: &str| claims_of(cookie.trim_start_matches("tokenledger_console="))["jti"].clone();
    assert_eq!(jti(&renewed), jti(&first));
    assert_eq!(csrf_of(&html), csrf);

    // Idle past its lifetime, it is over.
    tokio::time::sleep(std::time::Duration::from_millis(9_500)).await;
    let response = staff.get("/admin/users/").await;
    assert_eq!(response.status(), 303);
    assert_eq!(location(&response), "/admin/signin/");
}

#[actix_web::test]
async fn console_sign_in_is_throttled_like_the_api_login() {
    let app = spawn_app_with(|s| {
        s.login_throttle = tokenledger::config::LoginRate {
            failures: 2,
            window: std::time::Duration::from_secs(60),
        }
    })
    .await;
    let mut visitor = Visitor::new(&app);
    for _ in 0..2 {
        assert_eq!(visitor.sign_in(ADMIN.0, "guess").await.status(), 401);
    }
    let throttled = visitor.sign_in(ADMIN.0, ADMIN.1).await;
    assert_eq!(throttled.status(), 429);
    assert!(throttled.headers().contains_key(header::RETRY_AFTER));
    assert!(
        visitor.cookie.is_none(),
        "no session for a throttled sign-in"
    );
    // The API's login counts the console's failures: one throttle for both doors.
    let api = app
        .post_json(
            "/api/token/",
            serde_json::json!({"username": ADMIN.0, "password": ADMIN.1}),
        )
        .await;
    assert_eq!(api.status(), 429);
}
