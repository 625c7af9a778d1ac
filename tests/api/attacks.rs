//! Hostile tokens, each presented to a protected endpoint, to verify and to refresh: every one
//! is refused with the contract's 401 body, never a 5xx, and no URL a token names is fetched.
//! (Algorithm confusion with an asymmetric key is in keys.rs; iss/aud/leeway too.)

use std::net::TcpListener;

use base64::Engine;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use reqwest::header::HeaderValue;
use serde_json::{Value, json};

use crate::helpers::*;

fn b64(value: &Value) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(value.to_string().as_bytes())
}

fn claims(user_id: i64, token_type: &str) -> Value {
    json!({
        "token_type": token_type, "exp": now() + 300, "iat": now(),
        "jti": tokenledger::tokens::claims::new_id(), "user_id": user_id.to_string(),
    })
}

fn signed_with(header: Header, claims: &Value, secret: &[u8]) -> String {
    jsonwebtoken::encode(&header, claims, &EncodingKey::from_secret(secret)).expect("signed")
}

/// A header the library would not write: any JSON, signed with `secret` as HS256.
fn with_raw_header(header: Value, claims: &Value, secret: &[u8]) -> String {
    let signing_input = format!("{}.{}", b64(&header), b64(claims));
    let signature = jsonwebtoken::crypto::sign(
        signing_input.as_bytes(),
        &EncodingKey::from_secret(secret),
        Algorithm::HS256,
    )
    .expect("signed");
    format!("{signing_input}.{signature}")
}

/// Presents `token` everywhere a token is taken; asserts 401 with the contract's bodies.
async fn refused_everywhere(app: &TestApp, name: &str, token: &str) {
    let me = app.me_with(token).await;
    assert_eq!(me.status(), 401, "{name}: /api/me/");
    let me = body(me).await;
    assert_eq!(me["code"], "token_not_valid", "{name}: {me}");
    assert_eq!(me["detail"], "Given token not valid for any token type");

    for (path, field) in [
        ("/api/token/verify/", "token"),
        ("/api/token/refresh/", "refresh"),
    ] {
        let response = app.post_json(path, json!({ field: token })).await;
        let status = response.status();
        let answer = body(response).await;
        assert_eq!(status, 401, "{name}: {path}: {answer}");
        assert_eq!(
            answer["code"], "token_not_valid",
            "{name}: {path}: {answer}"
        );
    }
}

#[actix_web::test]
async fn hostile_tokens_are_refused_with_401_everywhere() {
    let app = spawn_app().await;
    let alice = app.create_user(ALICE.0, ALICE.1);
    let key = SIGNING_KEY.as_bytes();
    // Anything a token points at would land here; nothing may.
    let trap = TcpListener::bind("127.0.0.1:0").expect("a listener");
    trap.set_nonblocking(true).expect("non-blocking");
    let trap_url = format!("http://{}/keys.json", trap.local_addr().expect("address"));
    let attacker_jwk = json!({"kty": "oct", "k": b64(&json!("attacker"))});

    let access = claims(alice, "access");
    let mut not_yet = claims(alice, "access");
    not_yet["nbf"] = json!(now() + 3600);
    let mut expired = claims(alice, "refresh");
    expired["exp"] = json!(now() - 10);
    let huge = {
        let mut padded = claims(alice, "access");
        padded["pad"] = json!("x".repeat(16 * 1024));
        signed_with(Header::default(), &padded, b"attacker")
    };
    let valid = signed_with(Header::default(), &access, key);
    // The control: the token every case below is derived from is itself accepted, so each
    // refusal is the attack's doing, not a broken fixture.
    assert_eq!(app.me_with(&valid).await.status(), 200, "the control token");
    let flipped_signature = {
        let (head, signature) = valid.rsplit_once('.').expect("a JWT");
        let flipped = if signature.starts_with('A') { "B" } else { "A" };
        format!("{head}.{flipped}{}", &signature[1..])
    };

    let cases: Vec<(&str, String)> = vec![
        (
            "alg none",
            format!(
                "{}.{}.",
                b64(&json!({"alg": "none", "typ": "JWT"})),
                b64(&access)
            ),
        ),
        (
            "alg None, signed",
            with_raw_header(json!({"alg": "None", "typ": "JWT"}), &access, key),
        ),
        (
            "kid naming a path, signed with that file's (empty) content",
            with_raw_header(
                json!({"alg": "HS256", "typ": "JWT", "kid": "../../../../dev/null"}),
                &access,
                b"",
            ),
        ),
        (
            "kid of an unknown key",
            with_raw_header(
                json!({"alg": "HS256", "typ": "JWT", "kid": "attacker-key"}),
                &access,
                b"attacker",
            ),
        ),
        (
            "jku to the attacker's key set",
            with_raw_header(
                json!({"alg": "HS256", "typ": "JWT", "jku": trap_url}),
                &access,
                b"attacker",
            ),
        ),
        (
            "x5u to the attacker's certificate",
            with_raw_header(
                json!({"alg": "HS256", "typ": "JWT", "x5u": trap_url}),
                &access,
                b"attacker",
            ),
        ),
        (
            "x5c chain of the attacker",
            with_raw_header(
                json!({"alg": "HS256", "typ": "JWT", "x5c": ["MIIB"], "x5t": "abc"}),
                &access,
                b"attacker",
            ),
        ),
        (
            "embedded jwk of the attacker",
            with_raw_header(
                json!({"alg": "HS256", "typ": "JWT", "jwk": attacker_jwk}),
                &access,
                b"attacker",
            ),
        ),
        ("tampered signature", flipped_signature),
        ("tampered payload", {
            let (head, rest) = valid.split_once('.').expect("a JWT");
            let (_, signature) = rest.split_once('.').expect("a JWT");
            format!("{head}.{}.{signature}", b64(&claims(alice + 1, "access")))
        }),
        ("expired", signed_with(Header::default(), &expired, key)),
        (
            "nbf in the future",
            signed_with(Header::default(), &not_yet, key),
        ),
        (
            "another HMAC strength",
            signed_with(Header::new(Algorithm::HS384), &access, key),
        ),
        (
            "missing every claim",
            signed_with(Header::default(), &json!({}), key),
        ),
        ("16 KB", huge),
        ("not base64", "@@@.$$$.%%%".to_owned()),
        ("one segment", "eyJhbGciOiJIUzI1NiJ9".to_owned()),
        (
            "JSON that is not an object",
            format!("{}.{}.", b64(&json!([1, 2])), b64(&json!("x"))),
        ),
        (
            "payload that is not UTF-8",
            format!(
                "{}.{}.sig",
                b64(&json!({"alg": "HS256"})),
                base64::engine::general_purpose::URL_SAFE_NO_PAD.encode([0xff, 0xfe, 0x00])
            ),
        ),
    ];
    for (name, token) in &cases {
        refused_everywhere(&app, name, token).await;
    }

    // Bytes that are not UTF-8 in the header itself.
    let raw = HeaderValue::from_bytes(b"Bearer \xff\xfe.\x80.\x81").expect("opaque bytes");
    let response = app
        .client
        .get(app.url("/api/me/"))
        .header("Authorization", raw)
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), 401);

    assert!(
        matches!(trap.accept(), Err(err) if err.kind() == std::io::ErrorKind::WouldBlock),
        "a URL named in a token was fetched"
    );
    app.assert_view_matches_ledger();
}

/// Bodies built to hurt a parser, sent to every endpoint that reads a body: each gets a 4xx in
/// the contract's shape, and the service keeps answering.
#[actix_web::test]
async fn hostile_bodies_get_a_4xx_and_never_a_5xx() {
    let app = spawn_app().await;
    let (_, admin) = app.login(ADMIN.0, ADMIN.1).await;
    let nested = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    let deep_object = format!("{}1{}", r#"{"a":"#.repeat(10_000), "}".repeat(10_000));
    let many_keys = format!(
        "{{{}}}",
        (0..5_000)
            .map(|n| format!(r#""k{n}":{n}"#))
            .collect::<Vec<_>>()
            .join(",")
    );
    let bodies: Vec<(&str, &str, Vec<u8>)> = vec![
        ("nested arrays", "application/json", nested.into_bytes()),
        (
            "nested objects",
            "application/json",
            deep_object.into_bytes(),
        ),
        ("many keys", "application/json", many_keys.into_bytes()),
        (
            "not UTF-8",
            "application/json",
            b"{\"username\": \"\xff\xfe\"}".to_vec(),
        ),
        (
            "NUL bytes",
            "application/json",
            b"{\"username\": \"a\0b\", \"password\": \"\0\"}".to_vec(),
        ),
        (
            "escaped NUL",
            "application/json",
            br#"{"username": "a\u0000b", "password": "\u0000", "refresh": "\u0000", "token": "\u0000", "old_password": "\u0000", "new_password": "x\u0000"}"#.to_vec(),
        ),
        (
            "huge number",
            "application/json",
            format!(r#"{{"refresh": 1{}}}"#, "0".repeat(5_000)).into_bytes(),
        ),
        ("truncated", "application/json", b"{\"username\": ".to_vec()),
        (
            "bad form",
            "application/x-www-form-urlencoded",
            b"%%%=%zz&&==".to_vec(),
        ),
        (
            "multipart without boundary",
            "multipart/form-data",
            b"--x\r\n".to_vec(),
        ),
        ("xml", "application/xml", b"<a/>".to_vec()),
        ("over the limit", "application/json", vec![b' '; 65 * 1024]),
    ];
    let paths = [
        "/api/token/",
        "/api/token/refresh/",
        "/api/token/verify/",
        "/api/token/blacklist/",
        "/api/token/sliding/",
        "/api/token/sliding/refresh/",
        "/oauth/revoke",
        "/oauth/introspect",
        "/api/me/password/",
        "/api/admin/users/",
    ];
    for path in paths {
        for (name, content_type, bytes) in &bodies {
            let response = app
                .client
                .post(app.url(path))
                .header("Content-Type", *content_type)
                .bearer_auth(&admin)
                .body(bytes.clone())
                .send()
                .await
                .expect("request");
            let status = response.status();
            let text = response.text().await.unwrap_or_default();
            assert!(
                status.is_client_error(),
                "{path} with {name}: {status} {}",
                &text[..text.len().min(200)]
            );
            assert!(
                serde_json::from_str::<Value>(&text).is_ok(),
                "{path} with {name}: not JSON: {}",
                &text[..text.len().min(200)]
            );
        }
    }
    // The same for what GETs carry in their query and path.
    // A NUL in a filter or an id matches nothing on SQLite (200 with no events, 404) and is
    // refused by a database server's text type (400); either way an answer in the contract's
    // shape.
    for (path, expected) in [
        ("/api/admin/ledger/?jti=%00&sid=a%00b", &[200, 400][..]),
        ("/api/admin/ledger/?since=%00", &[400]),
        ("/api/admin/tokens/?cursor=%00&user_id=%00", &[400]),
        ("/api/admin/tokens/a%00b/history/", &[404, 400]),
        ("/api/admin/users/1/tokens/?at=%00", &[400]),
        ("/api/me/sessions/a%00b/", &[405]),
    ] {
        let response = app
            .client
            .get(app.url(path))
            .bearer_auth(&admin)
            .send()
            .await
            .expect("request");
        let status = response.status().as_u16();
        assert!(expected.contains(&status), "{path}: {status}");
        if status != 405 {
            let text = response.text().await.unwrap_or_default();
            assert!(
                serde_json::from_str::<Value>(&text).is_ok(),
                "{path}: not JSON: {text}"
            );
        }
    }
    let response = app
        .client
        .post(app.url("/api/admin/tokens/a%00b/blacklist/"))
        .bearer_auth(&admin)
        .send()
        .await
        .expect("request");
    assert!(
        [404, 400].contains(&response.status().as_u16()),
        "{}",
        response.status()
    );
    assert_eq!(app.me_with(&admin).await.status(), 200, "still serving");
}
