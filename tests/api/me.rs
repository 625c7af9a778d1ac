//! `GET /api/me/` and its bearer authentication, row by row as contract section 5 (and the
//! reference's recorded answers where the contract is silent).

use std::time::{Duration, Instant};

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use reqwest::{Method, Response};
use serde_json::{Value, json};

use crate::helpers::{
    ADMIN, ALICE, SIGNING_KEY, TestApp, crafted_claims, now, sign, spawn_app, spawn_app_with,
    without,
};

/// What a bound of the contract gets on top, for a loaded 2-core machine.
const TIMING_MARGIN: Duration = Duration::from_secs(3);

const ME_ALLOW: &str = "GET, HEAD, OPTIONS";
const NOT_PROVIDED: &str = r#"{"detail":"Authentication credentials were not provided."}"#;
const BAD_HEADER: &str = r#"{"detail":"Authorization header must contain two space-delimited values","code":"bad_authorization_header"}"#;

/// The body of a refused token, as the reference's `JWTAuthentication` words it.
fn not_valid(message: &str) -> String {
    format!(
        r#"{{"detail":"Given token not valid for any token type","code":"token_not_valid","messages":[{{"token_class":"AccessToken","token_type":"access","message":"{message}"}}]}}"#
    )
}

fn me_body(id: i64, username: &str, is_staff: bool) -> String {
    format!(r#"{{"id":{id},"username":"{username}","is_staff":{is_staff}}}"#)
}

fn crafted_access(user_id: i64) -> Value {
    crafted_claims("access", user_id)
}

/// Asserts status, exact body, `Allow`, and the challenge exactly on 401s.
async fn expect_with(
    response: Response,
    status: u16,
    expected: &str,
    challenge: &str,
    context: &str,
) {
    let headers = response.headers().clone();
    let actual = response.status().as_u16();
    let text = response.text().await.expect("body");
    assert_eq!((actual, text.as_str()), (status, expected), "{context}");
    assert_eq!(
        headers.get("allow").and_then(|v| v.to_str().ok()),
        Some(ME_ALLOW),
        "{context}: Allow"
    );
    let www_authenticate = headers
        .get("www-authenticate")
        .and_then(|v| v.to_str().ok());
    if status == 401 {
        assert_eq!(
            www_authenticate,
            Some(challenge),
            "{context}: WWW-Authenticate"
        );
    } else {
        assert_eq!(
            www_authenticate, None,
            "{context}: WWW-Authenticate on a {status}"
        );
    }
}

async fn expect(response: Response, status: u16, expected: &str, context: &str) {
    expect_with(response, status, expected, r#"Bearer realm="api""#, context).await;
}

async fn me_request(app: &TestApp, method: Method, authorization: Option<&str>) -> Response {
    let mut request = app.client.request(method, app.url("/api/me/"));
    if let Some(value) = authorization {
        request = request.header("Authorization", value);
    }
    request.send().await.expect("request")
}

#[actix_web::test]
async fn no_or_foreign_credentials_are_not_provided() {
    let app = spawn_app().await;
    app.create_user(ALICE.0, ALICE.1);
    let (_, access) = app.login(ALICE.0, ALICE.1).await;
    expect(app.get_me(None).await, 401, NOT_PROVIDED, "no header").await;
    for header in [
        String::new(),
        "   ".to_owned(),
        "Basic xyz".to_owned(),
        format!("JWT {access}"),
        format!("Token {access}"),
        format!("Bearerx {access}"),
        access.clone(),
    ] {
        let response = app.get_me(Some(&header)).await;
        expect(response, 401, NOT_PROVIDED, &format!("{header:?}")).await;
    }
}

#[actix_web::test]
async fn a_scheme_without_exactly_one_token_is_a_bad_header() {
    let app = spawn_app().await;
    app.create_user(ALICE.0, ALICE.1);
    let (_, access) = app.login(ALICE.0, ALICE.1).await;
    for header in [
        "Bearer".to_owned(),
        "Bearer ".to_owned(),
        "Bearer a b".to_owned(),
        format!("Bearer {access} {access}"),
        format!("Bearer {access} x"),
    ] {
        let response = app.get_me(Some(&header)).await;
        expect(response, 401, BAD_HEADER, &format!("{header:?}")).await;
    }
}

#[actix_web::test]
async fn a_valid_access_token_identifies_its_user() {
    let app = spawn_app().await;
    let alice = app.create_user(ALICE.0, ALICE.1);
    let (_, access) = app.login(ALICE.0, ALICE.1).await;
    let expected = me_body(alice, "alice", false);
    for header in [
        format!("Bearer {access}"),
        format!("Bearer  {access}"),
        format!("Bearer\t{access}"),
        format!("  Bearer {access}  "),
        // Case-insensitive scheme: a deliberate difference from the reference.
        format!("bearer {access}"),
        format!("BEARER {access}"),
    ] {
        let response = app.get_me(Some(&header)).await;
        expect(response, 200, &expected, &format!("{header:?}")).await;
    }
    // HEAD answers like GET, without a body.
    let response = me_request(&app, Method::HEAD, Some(&format!("Bearer {access}"))).await;
    expect(response, 200, "", "HEAD").await;

    // A crafted token of the service's key, user_id as a number, is accepted as the reference.
    let mut claims = crafted_access(alice);
    claims["user_id"] = json!(alice);
    expect(
        app.me_with(&sign(claims)).await,
        200,
        &expected,
        "int user_id",
    )
    .await;

    // A staff user.
    let (_, admin_access) = app.login("admin", "admin-password").await;
    let admin_id: i64 = crate::helpers::claims_of(&admin_access)["user_id"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let response = app.me_with(&admin_access).await;
    expect(response, 200, &me_body(admin_id, "admin", true), "staff").await;

    // A non-ASCII username goes out as raw UTF-8.
    let zoe = app.create_user("zoë", "zoë-password");
    let (_, zoe_access) = app.login("zoë", "zoë-password").await;
    let response = app.me_with(&zoe_access).await;
    expect(response, 200, &me_body(zoe, "zoë", false), "zoë").await;
}

#[actix_web::test]
async fn refused_tokens_name_the_reason() {
    let app = spawn_app().await;
    let alice = app.create_user(ALICE.0, ALICE.1);
    let (refresh, _) = app.login(ALICE.0, ALICE.1).await;
    let sliding = app
        .post_json(
            "/api/token/sliding/",
            json!({"username": ALICE.0, "password": ALICE.1}),
        )
        .await;
    assert_eq!(sliding.status(), 200);
    let sliding: Value = sliding.json().await.unwrap();
    let sliding = sliding["token"].as_str().unwrap().to_owned();

    let mut expired = crafted_access(alice);
    expired["exp"] = json!(now() - 30);
    expired["iat"] = json!(now() - 330);
    let mut foo_type = crafted_access(alice);
    foo_type["token_type"] = json!("foo");
    let other_key = jsonwebtoken::encode(
        &Header::default(),
        &crafted_access(alice),
        &EncodingKey::from_secret(b"another-key"),
    )
    .unwrap();
    let hs512 = jsonwebtoken::encode(
        &Header::new(Algorithm::HS512),
        &crafted_access(alice),
        &EncodingKey::from_secret(SIGNING_KEY.as_bytes()),
    )
    .unwrap();
    let alg_none = {
        use base64::Engine;
        let b64 = |v: Value| {
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string().as_bytes())
        };
        format!(
            "{}.{}.",
            b64(json!({"alg": "none", "typ": "JWT"})),
            b64(crafted_access(alice))
        )
    };
    let good = sign(crafted_access(alice));
    let tampered = {
        // The same signature over other claims.
        let parts: Vec<&str> = good.split('.').collect();
        let other = sign(crafted_access(alice + 1));
        format!(
            "{}.{}.{}",
            parts[0],
            other.split('.').nth(1).unwrap(),
            parts[2]
        )
    };

    let cases = [
        (sign(expired), "Token is expired"),
        ("abc".to_owned(), "Token is invalid"),
        ("a.b.c".to_owned(), "Token is invalid"),
        (other_key, "Token is invalid"),
        (tampered, "Token is invalid"),
        (hs512, "Token is invalid"),
        (alg_none, "Token is invalid"),
        (refresh, "Token has wrong type"),
        (sliding, "Token has wrong type"),
        (sign(foo_type), "Token has wrong type"),
        (
            sign(without(crafted_access(alice), "jti")),
            "Token has no id",
        ),
        (
            sign(without(crafted_access(alice), "exp")),
            "Token has no 'exp' claim",
        ),
        (
            sign(without(crafted_access(alice), "token_type")),
            "Token has no type",
        ),
    ];
    for (token, message) in cases {
        let response = app.me_with(&token).await;
        expect(response, 401, &not_valid(message), message).await;
    }
    // The control: a well-formed crafted token is accepted.
    let response = app.me_with(&good).await;
    expect(response, 200, &me_body(alice, "alice", false), "control").await;
}

#[actix_web::test]
async fn a_token_must_name_an_existing_active_user() {
    let app = spawn_app().await;
    let alice = app.create_user(ALICE.0, ALICE.1);

    let response = app
        .me_with(&sign(without(crafted_access(alice), "user_id")))
        .await;
    let expected = r#"{"detail":"Token contained no recognizable user identification","code":"token_not_valid"}"#;
    expect(response, 401, expected, "no user_id").await;

    let user_not_found = r#"{"detail":"User not found","code":"user_not_found"}"#;
    let response = app.me_with(&sign(crafted_access(999))).await;
    expect(response, 401, user_not_found, "user 999").await;
    let response = app.me_with(&sign(crafted_access(alice + 1))).await;
    expect(response, 401, user_not_found, "the next id").await;
}

#[actix_web::test]
async fn an_inactive_user_is_refused_and_its_tokens_are_revoked() {
    let app = spawn_app().await;
    let alice = app.create_user(ALICE.0, ALICE.1);
    let (_, access) = app.login(ALICE.0, ALICE.1).await;
    expect(
        app.me_with(&access).await,
        200,
        &me_body(alice, "alice", false),
        "before",
    )
    .await;

    let output = app.cli(&["user", "deactivate", "alice"], None);
    assert!(
        output.status.success(),
        "deactivate: {}",
        String::from_utf8_lossy(&output.stderr)
    );

    // The CLI is another process: the server honours its deactivation within a second. The
    // token issued before it is revoked by it; a valid, unrevoked token of the now inactive
    // user is refused as such.
    let fresh = sign(crafted_access(alice));
    let inactive = r#"{"detail":"User is inactive","code":"user_inactive"}"#;
    let blacklisted = not_valid("Token is blacklisted");
    // The contract's one second, plus a margin for a loaded machine: a failure means the
    // change was not honoured at all, not that the machine was slow.
    let deadline = Instant::now() + Duration::from_secs(1) + TIMING_MARGIN;
    loop {
        let old = app.me_with(&access).await;
        let old = (old.status().as_u16(), old.text().await.unwrap());
        let new = app.me_with(&fresh).await;
        let new = (new.status().as_u16(), new.text().await.unwrap());
        if old == (401, blacklisted.clone()) && new == (401, inactive.to_owned()) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the deactivation was not honoured within a second: old {old:?}, fresh {new:?}"
        );
        actix_web::rt::time::sleep(Duration::from_millis(50)).await;
    }
    let response = app.me_with(&access).await;
    expect(response, 401, &blacklisted, "old token").await;
}

#[actix_web::test]
async fn a_deactivation_through_this_instance_is_honoured_at_once() {
    let app = spawn_app().await;
    let alice = app.create_user(ALICE.0, ALICE.1);
    let (_, staff_access) = app.login(ADMIN.0, ADMIN.1).await;
    let fresh = sign(crafted_access(alice));
    // Read once, so the server holds alice as active in memory.
    assert_eq!(app.me_with(&fresh).await.status(), 200);

    let admin_post = |action: &str| {
        app.client
            .post(app.url(&format!("/api/admin/users/{alice}/{action}/")))
            .bearer_auth(&staff_access)
            .send()
    };
    assert_eq!(admin_post("deactivate").await.unwrap().status(), 200);
    let inactive = r#"{"detail":"User is inactive","code":"user_inactive"}"#;
    expect(app.me_with(&fresh).await, 401, inactive, "at once").await;

    assert_eq!(admin_post("activate").await.unwrap().status(), 200);
    expect(
        app.me_with(&fresh).await,
        200,
        &me_body(alice, "alice", false),
        "after activation",
    )
    .await;
}

#[actix_web::test]
async fn a_deactivation_that_revoked_nothing_is_honoured_within_a_second() {
    let app = spawn_app().await;
    let alice = app.create_user(ALICE.0, ALICE.1);
    // Signed with our key but never issued: no ledger event will name it.
    let fresh = sign(crafted_access(alice));
    assert_eq!(app.me_with(&fresh).await.status(), 200);

    let output = app.cli(&["user", "deactivate", "alice"], None);
    assert!(output.status.success(), "deactivate");
    let inactive = r#"{"detail":"User is inactive","code":"user_inactive"}"#;
    // The contract's one second, plus a margin for a loaded machine: a failure means the
    // change was not honoured at all, not that the machine was slow.
    let deadline = Instant::now() + Duration::from_secs(1) + TIMING_MARGIN;
    loop {
        let response = app.me_with(&fresh).await;
        let answer = (response.status().as_u16(), response.text().await.unwrap());
        if answer == (401, inactive.to_owned()) {
            break;
        }
        assert_eq!(answer.0, 200, "before the deactivation is seen: {answer:?}");
        assert!(
            Instant::now() < deadline,
            "the deactivation was not honoured within a second"
        );
        actix_web::rt::time::sleep(Duration::from_millis(50)).await;
    }
}

#[actix_web::test]
async fn an_access_token_is_refused_after_logout() {
    let app = spawn_app().await;
    let alice = app.create_user(ALICE.0, ALICE.1);
    let (refresh, access) = app.login(ALICE.0, ALICE.1).await;
    let (_, other_session) = app.login(ALICE.0, ALICE.1).await;
    expect(
        app.me_with(&access).await,
        200,
        &me_body(alice, "alice", false),
        "before",
    )
    .await;

    let response = app
        .post_json("/api/token/blacklist/", json!({"refresh": refresh}))
        .await;
    assert_eq!(response.status(), 200);

    // Unlike the reference, which kept answering 200 here.
    let response = app.me_with(&access).await;
    expect(
        response,
        401,
        &not_valid("Token is blacklisted"),
        "after logout",
    )
    .await;
    // Another session of the same user is untouched.
    let response = app.me_with(&other_session).await;
    expect(
        response,
        200,
        &me_body(alice, "alice", false),
        "other session",
    )
    .await;
}

#[actix_web::test]
async fn configured_header_types_are_all_accepted() {
    let app = spawn_app_with(|settings| {
        settings.auth_header_types = vec!["JWT".into(), "Bearer".into()];
    })
    .await;
    let alice = app.create_user(ALICE.0, ALICE.1);
    let (_, access) = app.login(ALICE.0, ALICE.1).await;
    let expected = me_body(alice, "alice", false);
    for scheme in ["JWT", "Bearer", "jwt"] {
        let response = app.get_me(Some(&format!("{scheme} {access}"))).await;
        expect(response, 200, &expected, scheme).await;
    }
    // The challenge names the first scheme.
    let challenge = r#"JWT realm="api""#;
    for header in ["Basic xyz".to_owned(), format!("Token {access}")] {
        let response = app.get_me(Some(&header)).await;
        expect_with(response, 401, NOT_PROVIDED, challenge, &header).await;
    }
    expect_with(app.get_me(None).await, 401, NOT_PROVIDED, challenge, "none").await;
    let response = app.get_me(Some("JWT a b")).await;
    expect_with(response, 401, BAD_HEADER, challenge, "JWT a b").await;
    let response = app.get_me(Some("JWT abc")).await;
    expect_with(
        response,
        401,
        &not_valid("Token is invalid"),
        challenge,
        "JWT abc",
    )
    .await;

    // The token endpoints' 401s carry the same challenge.
    let response = app
        .post_json(
            "/api/token/",
            json!({"username": "alice", "password": "wrong"}),
        )
        .await;
    assert_eq!(response.status(), 401);
    assert_eq!(
        response
            .headers()
            .get("www-authenticate")
            .and_then(|v| v.to_str().ok()),
        Some(challenge)
    );
}

#[actix_web::test]
async fn sliding_tokens_are_accepted_when_configured() {
    let app = spawn_app_with(|settings| {
        settings.auth_token_types = vec!["access".into(), "sliding".into()];
    })
    .await;
    let alice = app.create_user(ALICE.0, ALICE.1);
    let (refresh, access) = app.login(ALICE.0, ALICE.1).await;
    let response = app
        .post_json(
            "/api/token/sliding/",
            json!({"username": ALICE.0, "password": ALICE.1}),
        )
        .await;
    assert_eq!(response.status(), 200);
    let sliding: Value = response.json().await.unwrap();
    let expected = me_body(alice, "alice", false);
    let response = app.me_with(sliding["token"].as_str().unwrap()).await;
    expect(response, 200, &expected, "sliding").await;
    expect(app.me_with(&access).await, 200, &expected, "access").await;

    // A refresh token is refused by each accepted type in turn.
    let response = app.me_with(&refresh).await;
    let both = r#"{"detail":"Given token not valid for any token type","code":"token_not_valid","messages":[{"token_class":"AccessToken","token_type":"access","message":"Token has wrong type"},{"token_class":"SlidingToken","token_type":"sliding","message":"Token has wrong type"}]}"#;
    expect(response, 401, both, "refresh").await;
}

#[actix_web::test]
async fn options_and_other_methods_need_authentication_first() {
    let app = spawn_app().await;
    app.create_user(ALICE.0, ALICE.1);
    let (_, access) = app.login(ALICE.0, ALICE.1).await;
    let bearer = format!("Bearer {access}");

    let response = me_request(&app, Method::OPTIONS, None).await;
    expect(response, 401, NOT_PROVIDED, "OPTIONS without auth").await;
    let response = me_request(&app, Method::OPTIONS, Some(&bearer)).await;
    let metadata = r#"{"name":"Me","description":"","renders":["application/json"],"parses":["application/json","application/x-www-form-urlencoded","multipart/form-data"]}"#;
    expect(response, 200, metadata, "OPTIONS with auth").await;

    for method in [Method::POST, Method::PUT, Method::PATCH, Method::DELETE] {
        let response = me_request(&app, method.clone(), None).await;
        expect(
            response,
            401,
            NOT_PROVIDED,
            &format!("{method} without auth"),
        )
        .await;
        let response = me_request(&app, method.clone(), Some("Bearer abc")).await;
        expect(
            response,
            401,
            &not_valid("Token is invalid"),
            &format!("{method} bad token"),
        )
        .await;
        let response = me_request(&app, method.clone(), Some(&bearer)).await;
        let expected = format!(r#"{{"detail":"Method \"{method}\" not allowed."}}"#);
        expect(response, 405, &expected, &format!("{method} with auth")).await;
    }
}
