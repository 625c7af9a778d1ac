//! Request handling of the six reference-compatible token endpoints (contract section 4):
//! content types, body shapes, field validation, size limit, methods, metadata and headers.
//! Bodies are compared byte for byte with the reference's recorded answers.

use reqwest::{Method, Response};
use serde_json::{Value, json};

use crate::helpers::{ALICE, TestApp, claims_of, sign, spawn_app, spawn_app_with};

const TOKEN_ALLOW: &str = "POST, OPTIONS";
const CHALLENGE: &str = r#"Bearer realm="api""#;

/// Every token endpoint with its body fields, in declaration order.
const ENDPOINTS: [(&str, &[&str]); 6] = [
    ("/api/token/", &["username", "password"]),
    ("/api/token/refresh/", &["refresh"]),
    ("/api/token/verify/", &["token"]),
    ("/api/token/blacklist/", &["refresh"]),
    ("/api/token/sliding/", &["username", "password"]),
    ("/api/token/sliding/refresh/", &["token"]),
];

const NO_ACCOUNT: &str = r#"{"detail":"No active account found with the given credentials"}"#;
const TOKEN_INVALID: &str = r#"{"detail":"Token is invalid","code":"token_not_valid"}"#;
const TOO_LARGE: &str = r#"{"detail":"Request body too large."}"#;

/// `{"f1":["message"],"f2":["message"]}`, the fields in the order given.
fn field_errors(fields: &[&str], message: &str) -> String {
    let parts: Vec<String> = fields
        .iter()
        .map(|field| format!(r#""{field}":["{message}"]"#))
        .collect();
    format!("{{{}}}", parts.join(","))
}

/// Asserts an answer of a token endpoint: status, exact body, `Allow`, a JSON content type,
/// and `WWW-Authenticate` exactly on 401s.
async fn expect(response: Response, status: u16, expected: &str, context: &str) {
    let text = check_headers(response, status, context).await;
    assert_eq!(text, expected, "{context}");
}

/// The header checks of `expect`; returns the body.
async fn check_headers(response: Response, status: u16, context: &str) -> String {
    let headers = response.headers().clone();
    let actual = response.status().as_u16();
    let text = response.text().await.expect("body");
    assert_eq!(actual, status, "{context}: body {text}");
    assert_eq!(
        headers.get("allow").and_then(|v| v.to_str().ok()),
        Some(TOKEN_ALLOW),
        "{context}: Allow"
    );
    assert_eq!(
        headers.get("content-type").and_then(|v| v.to_str().ok()),
        Some("application/json"),
        "{context}: Content-Type"
    );
    let challenge = headers
        .get("www-authenticate")
        .and_then(|v| v.to_str().ok());
    if status == 401 {
        assert_eq!(challenge, Some(CHALLENGE), "{context}: WWW-Authenticate");
    } else {
        assert_eq!(challenge, None, "{context}: WWW-Authenticate on a {status}");
    }
    text
}

/// The body with every JWT replaced by `<JWT>`, key order kept (as the reference's summary).
fn redact(text: &str) -> String {
    let mut value: Value = serde_json::from_str(text).expect("a JSON body");
    if let Value::Object(map) = &mut value {
        for field in map.values_mut() {
            if field.as_str().is_some_and(|s| s.split('.').count() == 3) {
                *field = json!("<JWT>");
            }
        }
    }
    value.to_string()
}

fn alice_json() -> String {
    json!({"username": ALICE.0, "password": ALICE.1}).to_string()
}

fn form_encode(value: &str) -> String {
    value
        .replace('%', "%25")
        .replace(' ', "+")
        .replace('&', "%26")
}

async fn request(app: &TestApp, method: &str, path: &str) -> Response {
    let method = Method::from_bytes(method.as_bytes()).expect("a method");
    app.client
        .request(method, app.url(path))
        .send()
        .await
        .expect("request")
}

#[actix_web::test]
async fn form_bodies_are_accepted_and_the_last_repeated_key_wins() {
    let app = spawn_app().await;
    let alice = app.create_user(ALICE.0, ALICE.1);
    let form = "application/x-www-form-urlencoded";
    let password = form_encode(ALICE.1);

    let response = app
        .post_raw(
            "/api/token/",
            Some(form),
            format!("username=alice&password={password}"),
        )
        .await;
    let body = check_headers(response, 200, "form login").await;
    assert_eq!(redact(&body), r#"{"refresh":"<JWT>","access":"<JWT>"}"#);
    let pair: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        claims_of(pair["access"].as_str().unwrap())["user_id"],
        json!(alice.to_string())
    );

    let response = app
        .post_raw(
            "/api/token/",
            Some(form),
            format!("username=nobody&username=alice&password=wrong&password={password}"),
        )
        .await;
    let body = check_headers(response, 200, "form with repeated keys").await;
    assert_eq!(redact(&body), r#"{"refresh":"<JWT>","access":"<JWT>"}"#);

    let response = app
        .post_raw(
            "/api/token/",
            Some(form),
            format!("username=alice&password={password}&password=wrong"),
        )
        .await;
    expect(response, 401, NO_ACCOUNT, "form, last password wrong").await;

    let response = app
        .post_raw(
            "/api/token/sliding/",
            Some(form),
            format!("username=alice&password={password}"),
        )
        .await;
    let body = check_headers(response, 200, "form sliding login").await;
    assert_eq!(redact(&body), r#"{"token":"<JWT>"}"#);
    let sliding: Value = serde_json::from_str(&body).unwrap();

    let response = app
        .post_raw(
            "/api/token/verify/",
            Some(form),
            format!("token={}", sliding["token"].as_str().unwrap()),
        )
        .await;
    expect(response, 200, "{}", "form verify").await;

    let response = app
        .post_raw(
            "/api/token/refresh/",
            Some(form),
            format!("refresh={}", pair["refresh"].as_str().unwrap()),
        )
        .await;
    let body = check_headers(response, 200, "form refresh").await;
    assert_eq!(redact(&body), r#"{"access":"<JWT>","refresh":"<JWT>"}"#);
}

#[actix_web::test]
async fn json_content_type_is_matched_without_case_or_parameters() {
    let app = spawn_app().await;
    app.create_user(ALICE.0, ALICE.1);
    for content_type in [
        "application/json",
        "application/json; charset=utf-8",
        "APPLICATION/JSON",
        "Application/Json;charset=UTF-8",
        "application/json;",
    ] {
        let response = app
            .post_raw("/api/token/", Some(content_type), alice_json())
            .await;
        let body = check_headers(response, 200, content_type).await;
        assert_eq!(
            redact(&body),
            r#"{"refresh":"<JWT>","access":"<JWT>"}"#,
            "{content_type}"
        );
    }
    // A query string does not change the route.
    let response = app
        .post_raw("/api/token/?x=1", Some("application/json"), alice_json())
        .await;
    check_headers(response, 200, "query string").await;
}

#[actix_web::test]
async fn string_fields_are_trimmed() {
    let app = spawn_app().await;
    app.create_user(ALICE.0, ALICE.1);
    let padded = json!({"username": "  alice ", "password": format!(" {}\t\n", ALICE.1)});
    let body = check_headers(
        app.post_json("/api/token/", padded.clone()).await,
        200,
        "padded login",
    )
    .await;
    assert_eq!(redact(&body), r#"{"refresh":"<JWT>","access":"<JWT>"}"#);
    let pair: Value = serde_json::from_str(&body).unwrap();

    let body = check_headers(
        app.post_json("/api/token/sliding/", padded).await,
        200,
        "padded sliding login",
    )
    .await;
    let sliding: Value = serde_json::from_str(&body).unwrap();

    let padded_token = |token: &Value| format!("  {}\n", token.as_str().unwrap());
    let response = app
        .post_json(
            "/api/token/verify/",
            json!({"token": padded_token(&pair["access"])}),
        )
        .await;
    expect(response, 200, "{}", "padded verify").await;
    let response = app
        .post_json(
            "/api/token/sliding/refresh/",
            json!({"token": padded_token(&sliding["token"])}),
        )
        .await;
    let body = check_headers(response, 200, "padded sliding refresh").await;
    assert_eq!(redact(&body), r#"{"token":"<JWT>"}"#);
    let response = app
        .post_json(
            "/api/token/refresh/",
            json!({"refresh": padded_token(&pair["refresh"])}),
        )
        .await;
    let body = check_headers(response, 200, "padded refresh").await;
    let refreshed: Value = serde_json::from_str(&body).unwrap();
    let response = app
        .post_json(
            "/api/token/blacklist/",
            json!({"refresh": padded_token(&refreshed["refresh"])}),
        )
        .await;
    expect(response, 200, "{}", "padded blacklist").await;
}

#[actix_web::test]
async fn duplicate_json_keys_last_wins() {
    let app = spawn_app().await;
    app.create_user(ALICE.0, ALICE.1);
    let json = Some("application/json");
    let last_right = format!(
        r#"{{"username":"nobody","password":"wrong","username":"alice","password":"{}"}}"#,
        ALICE.1
    );
    let body = check_headers(
        app.post_raw("/api/token/", json, last_right).await,
        200,
        "last key right",
    )
    .await;
    assert_eq!(redact(&body), r#"{"refresh":"<JWT>","access":"<JWT>"}"#);

    let last_wrong = format!(
        r#"{{"username":"alice","password":"{}","password":"wrong"}}"#,
        ALICE.1
    );
    let response = app.post_raw("/api/token/", json, last_wrong).await;
    expect(response, 401, NO_ACCOUNT, "last key wrong").await;
}

#[actix_web::test]
async fn unknown_fields_are_ignored() {
    let app = spawn_app().await;
    app.create_user(ALICE.0, ALICE.1);
    let body = json!({
        "username": ALICE.0, "password": ALICE.1,
        "extra": [1, 2], "token_type": "refresh", "is_staff": true, "refresh": null,
    });
    let text = check_headers(app.post_json("/api/token/", body).await, 200, "extras").await;
    assert_eq!(redact(&text), r#"{"refresh":"<JWT>","access":"<JWT>"}"#);
}

#[actix_web::test]
async fn numbers_are_coerced_to_strings() {
    let app = spawn_app().await;
    app.create_user("5", "12345");
    // The user "5" with password "12345" logs in with JSON numbers.
    for path in ["/api/token/", "/api/token/sliding/"] {
        let response = app
            .post_json(path, json!({"username": 5, "password": 12345}))
            .await;
        check_headers(response, 200, &format!("{path} numbers")).await;
        let response = app
            .post_json(path, json!({"username": 1.5, "password": 12345}))
            .await;
        expect(response, 401, NO_ACCOUNT, &format!("{path} float username")).await;
        let response = app
            .post_json(path, json!({"username": 6, "password": 12345}))
            .await;
        expect(response, 401, NO_ACCOUNT, &format!("{path} username 6")).await;
    }
    for (path, fields) in &ENDPOINTS[1..] {
        if fields.len() != 1 {
            continue;
        }
        for number in [json!(5), json!(1.5)] {
            let response = app.post_json(path, json!({fields[0]: number})).await;
            expect(response, 401, TOKEN_INVALID, &format!("{path} {number}")).await;
        }
    }
}

#[actix_web::test]
async fn malformed_json_is_a_parse_error() {
    let app = spawn_app().await;
    let bodies: [&[u8]; 12] = [
        br#"{"username": "#,
        b"not json",
        br#"{"username":"a","password":"b"} x"#,
        br#"{"username":"a","password":"b"}{}"#,
        b"{",
        br#"{"username":"a",}"#,
        b"{'username':'a'}",
        br#"{"username" "a"}"#,
        b" ",
        br#"{"username":NaN}"#,
        b"\xef\xbb\xbf{\"username\":\"a\"}",
        b"{\"username\":\"\xff\"}",
    ];
    for (path, _) in ENDPOINTS {
        for body in bodies {
            let context = format!("{path} {}", String::from_utf8_lossy(body));
            let response = app
                .post_raw(path, Some("application/json"), body.to_vec())
                .await;
            let text = check_headers(response, 400, &context).await;
            let value: Value = serde_json::from_str(&text).expect("a JSON body");
            let object = value.as_object().expect("an object");
            assert_eq!(object.len(), 1, "{context}: {text}");
            let detail = object["detail"].as_str().expect("a detail string");
            let reason = detail
                .strip_prefix("JSON parse error - ")
                .unwrap_or_else(|| panic!("{context}: {text}"));
            assert!(!reason.trim().is_empty(), "{context}: {text}");
            assert!(
                text.starts_with(r#"{"detail":"JSON parse error - "#),
                "{context}: {text}"
            );
        }
    }
}

#[actix_web::test]
async fn trailing_whitespace_after_json_is_fine() {
    let app = spawn_app().await;
    app.create_user(ALICE.0, ALICE.1);
    let body = format!("\n  {}\n\t \r\n", alice_json());
    let response = app
        .post_raw("/api/token/", Some("application/json"), body)
        .await;
    check_headers(response, 200, "whitespace around JSON").await;
}

#[actix_web::test]
async fn json_that_is_not_an_object_is_invalid_data() {
    let app = spawn_app().await;
    let cases = [
        ("[]", "Invalid data. Expected a dictionary, but got list."),
        (
            r#"["a", 1]"#,
            "Invalid data. Expected a dictionary, but got list.",
        ),
        (
            r#""str""#,
            "Invalid data. Expected a dictionary, but got str.",
        ),
        ("5", "Invalid data. Expected a dictionary, but got int."),
        ("1.5", "Invalid data. Expected a dictionary, but got float."),
        ("true", "Invalid data. Expected a dictionary, but got bool."),
        (
            "false",
            "Invalid data. Expected a dictionary, but got bool.",
        ),
        ("null", "No data provided"),
    ];
    for (path, _) in ENDPOINTS {
        for (body, message) in cases {
            let response = app.post_raw(path, Some("application/json"), body).await;
            let expected = format!(r#"{{"non_field_errors":["{message}"]}}"#);
            expect(response, 400, &expected, &format!("{path} {body}")).await;
        }
    }
}

#[actix_web::test]
async fn an_empty_body_has_every_field_missing_whatever_its_content_type() {
    let app = spawn_app().await;
    for (path, fields) in ENDPOINTS {
        let expected = field_errors(fields, "This field is required.");
        for content_type in [
            Some("application/json"),
            Some("application/x-www-form-urlencoded"),
            Some("text/plain"),
            Some("application/xml"),
            None,
        ] {
            let response = app.post_raw(path, content_type, "").await;
            expect(
                response,
                400,
                &expected,
                &format!("{path} {content_type:?}"),
            )
            .await;
        }
        let response = app.client.post(app.url(path)).send().await.unwrap();
        expect(response, 400, &expected, &format!("{path} without a body")).await;
        let response = app.post_raw(path, Some("application/json"), "{}").await;
        expect(response, 400, &expected, &format!("{path} {{}}")).await;
        let response = app
            .post_raw(path, Some("application/json"), r#"{"other":"x"}"#)
            .await;
        expect(response, 400, &expected, &format!("{path} other key")).await;
    }
}

#[actix_web::test]
async fn a_body_of_another_media_type_is_415() {
    let app = spawn_app().await;
    let body = r#"{"username":"alice","password":"x","refresh":"x","token":"x"}"#;
    let cases = [
        (None, "text/plain"),
        (Some("text/plain"), "text/plain"),
        (Some("application/xml"), "application/xml"),
        (
            Some("application/json-patch+json"),
            "application/json-patch+json",
        ),
        (Some("application/vnd.api+json"), "application/vnd.api+json"),
    ];
    for (path, _) in ENDPOINTS {
        for (content_type, named) in cases {
            let response = app.post_raw(path, content_type, body).await;
            let expected =
                format!(r#"{{"detail":"Unsupported media type \"{named}\" in request."}}"#);
            expect(
                response,
                415,
                &expected,
                &format!("{path} {content_type:?}"),
            )
            .await;
        }
    }
}

#[actix_web::test]
async fn blank_null_and_non_string_fields_are_refused() {
    let app = spawn_app().await;
    for (path, fields) in ENDPOINTS {
        let all = |value: Value| {
            Value::Object(
                fields
                    .iter()
                    .map(|f| ((*f).to_owned(), value.clone()))
                    .collect(),
            )
        };
        let cases = [
            (json!(""), "This field may not be blank."),
            (json!("   "), "This field may not be blank."),
            (json!(" \t\n "), "This field may not be blank."),
            (json!(null), "This field may not be null."),
            (json!(["a"]), "Not a valid string."),
            (json!({"a": 1}), "Not a valid string."),
            (json!(true), "Not a valid string."),
            (json!(false), "Not a valid string."),
        ];
        for (value, message) in cases {
            let response = app.post_json(path, all(value.clone())).await;
            let expected = field_errors(fields, message);
            expect(response, 400, &expected, &format!("{path} {value}")).await;
        }
        // Form fields can be blank too.
        let form: Vec<String> = fields.iter().map(|f| format!("{f}=")).collect();
        let response = app
            .post_raw(
                path,
                Some("application/x-www-form-urlencoded"),
                form.join("&"),
            )
            .await;
        let expected = field_errors(fields, "This field may not be blank.");
        expect(response, 400, &expected, &format!("{path} blank form")).await;
    }

    // Each field gets its own message, in declaration order, whatever the body's key order.
    for path in ["/api/token/", "/api/token/sliding/"] {
        let cases = [
            (
                json!({"password": "", "username": null}),
                r#"{"username":["This field may not be null."],"password":["This field may not be blank."]}"#,
            ),
            (
                json!({"password": "x"}),
                r#"{"username":["This field is required."]}"#,
            ),
            (
                json!({"username": "x"}),
                r#"{"password":["This field is required."]}"#,
            ),
            (
                json!({"username": "x", "password": " "}),
                r#"{"password":["This field may not be blank."]}"#,
            ),
            (
                json!({"password": [], "username": "\t\n"}),
                r#"{"username":["This field may not be blank."],"password":["Not a valid string."]}"#,
            ),
        ];
        for (body, expected) in cases {
            let response = app.post_json(path, body.clone()).await;
            expect(response, 400, expected, &format!("{path} {body}")).await;
        }
    }
}

#[actix_web::test]
async fn bodies_over_the_default_limit_are_413() {
    let app = spawn_app().await;
    app.create_user(ALICE.0, ALICE.1);
    let limit = 64 * 1024;
    assert_eq!(app.settings.max_body, limit);

    // Exactly at the limit is still read.
    let mut at_limit = alice_json();
    at_limit.push_str(&" ".repeat(limit - at_limit.len()));
    assert_eq!(at_limit.len(), limit);
    let response = app
        .post_raw("/api/token/", Some("application/json"), at_limit.clone())
        .await;
    check_headers(response, 200, "body at the limit").await;

    let over = format!("{at_limit} ");
    for (path, _) in ENDPOINTS {
        for content_type in [
            Some("application/json"),
            Some("application/x-www-form-urlencoded"),
            Some("application/xml"),
            None,
        ] {
            let response = app.post_raw(path, content_type, over.clone()).await;
            expect(
                response,
                413,
                TOO_LARGE,
                &format!("{path} {content_type:?}"),
            )
            .await;
        }
    }
    // Far over the limit as well.
    let huge = vec![b' '; 4 * limit];
    let response = app
        .post_raw("/api/token/", Some("application/json"), huge)
        .await;
    expect(response, 413, TOO_LARGE, "4x the limit").await;
}

#[actix_web::test]
async fn a_configured_body_limit_is_enforced() {
    let app = spawn_app_with(|settings| settings.max_body = 100).await;
    app.create_user(ALICE.0, ALICE.1);
    let mut body = alice_json();
    body.push_str(&" ".repeat(100 - body.len()));
    let response = app
        .post_raw("/api/token/", Some("application/json"), body.clone())
        .await;
    check_headers(response, 200, "100 bytes").await;

    body.push(' ');
    for (path, _) in ENDPOINTS {
        let response = app
            .post_raw(path, Some("application/json"), body.clone())
            .await;
        expect(response, 413, TOO_LARGE, &format!("{path} 101 bytes")).await;
    }
    // A chunked body (no Content-Length) is counted as it arrives.
    let (status, text) = chunked_post(&app, "/api/token/", &[body.as_bytes()]).await;
    assert_eq!((status, text.as_str()), (413, TOO_LARGE), "chunked");
    let (status, _) = chunked_post(&app, "/api/token/", &[&body.as_bytes()[..100]]).await;
    assert_eq!(status, 200, "chunked body at the limit");
}

/// A `Transfer-Encoding: chunked` JSON POST over a raw socket; returns (status, body).
async fn chunked_post(app: &TestApp, path: &str, chunks: &[&[u8]]) -> (u16, String) {
    use std::io::{Read, Write};
    let host = app.address.trim_start_matches("http://").to_owned();
    let mut request = format!(
        "POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n\
         Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
    )
    .into_bytes();
    for chunk in chunks {
        request.extend_from_slice(format!("{:x}\r\n", chunk.len()).as_bytes());
        request.extend_from_slice(chunk);
        request.extend_from_slice(b"\r\n");
    }
    request.extend_from_slice(b"0\r\n\r\n");
    let raw = actix_web::rt::task::spawn_blocking(move || {
        let mut stream = std::net::TcpStream::connect(&host).expect("connect");
        stream
            .set_read_timeout(Some(std::time::Duration::from_secs(10)))
            .unwrap();
        // The server may answer 413 and close before reading everything.
        let _ = stream.write_all(&request);
        let mut raw = Vec::new();
        let _ = stream.read_to_end(&mut raw);
        raw
    })
    .await
    .expect("the raw request");
    let raw = String::from_utf8_lossy(&raw).into_owned();
    let status = raw
        .split(' ')
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or_else(|| panic!("an HTTP answer: {raw:?}"));
    let (head, body) = raw.split_once("\r\n\r\n").expect("headers and body");
    let body = if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        dechunk(body)
    } else {
        body.to_owned()
    };
    (status, body)
}

fn dechunk(mut body: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = body.split_once("\r\n") {
        let size = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        if size == 0 {
            break;
        }
        out.push_str(&rest[..size]);
        body = rest[size..].trim_start_matches("\r\n");
    }
    out
}

#[actix_web::test]
async fn other_methods_are_405_with_allow() {
    let app = spawn_app().await;
    for (path, _) in ENDPOINTS {
        for method in ["GET", "PUT", "PATCH", "DELETE", "FOO", "get"] {
            let upper = method.to_ascii_uppercase();
            let expected = format!(r#"{{"detail":"Method \"{upper}\" not allowed."}}"#);
            let response = request(&app, method, path).await;
            expect(response, 405, &expected, &format!("{method} {path}")).await;
        }
        // The method is checked before the body is read.
        let response = app
            .client
            .put(app.url(path))
            .header("Content-Type", "application/json")
            .body("{not json")
            .send()
            .await
            .unwrap();
        let expected = r#"{"detail":"Method \"PUT\" not allowed."}"#;
        expect(response, 405, expected, &format!("PUT {path} malformed")).await;
        let response = request(&app, "HEAD", path).await;
        expect(response, 405, "", &format!("HEAD {path}")).await;
    }
}

#[actix_web::test]
async fn options_answers_the_reference_metadata() {
    let app = spawn_app().await;
    let parses = r#""renders":["application/json"],"parses":["application/json","application/x-www-form-urlencoded","multipart/form-data"]"#;
    let username =
        r#""username":{"type":"string","required":true,"read_only":false,"label":"Username"}"#;
    let password =
        r#""password":{"type":"string","required":true,"read_only":false,"label":"Password"}"#;
    let refresh =
        r#""refresh":{"type":"string","required":true,"read_only":false,"label":"Refresh"}"#;
    let token = r#""token":{"type":"string","required":true,"read_only":false,"label":"Token"}"#;
    let access = r#""access":{"type":"string","required":false,"read_only":true,"label":"Access"}"#;
    let cases = [
        (
            "/api/token/",
            format!(
                r#"{{"name":"Token Obtain Pair","description":"Takes a set of user credentials and returns an access and refresh JSON web\ntoken pair to prove the authentication of those credentials.",{parses},"actions":{{"POST":{{{username},{password}}}}}}}"#
            ),
        ),
        (
            "/api/token/refresh/",
            format!(
                r#"{{"name":"Token Refresh","description":"Takes a refresh type JSON web token and returns an access type JSON web\ntoken if the refresh token is valid.",{parses},"actions":{{"POST":{{{refresh},{access}}}}}}}"#
            ),
        ),
        (
            "/api/token/verify/",
            format!(
                r#"{{"name":"Token Verify","description":"Takes a token and indicates if it is valid.  This view provides no\ninformation about a token's fitness for a particular use.",{parses},"actions":{{"POST":{{{token}}}}}}}"#
            ),
        ),
        (
            "/api/token/blacklist/",
            format!(
                r#"{{"name":"Token Blacklist","description":"Takes a token and blacklists it. Must be used with the\n`rest_framework_simplejwt.token_blacklist` app installed.",{parses},"actions":{{"POST":{{{refresh}}}}}}}"#
            ),
        ),
        (
            "/api/token/sliding/",
            format!(
                r#"{{"name":"Token Obtain Sliding","description":"Takes a set of user credentials and returns a sliding JSON web token to\nprove the authentication of those credentials.",{parses},"actions":{{"POST":{{{username},{password}}}}}}}"#
            ),
        ),
        (
            "/api/token/sliding/refresh/",
            format!(
                r#"{{"name":"Token Refresh Sliding","description":"Takes a sliding JSON web token and returns a new, refreshed version if the\ntoken's refresh period has not expired.",{parses},"actions":{{"POST":{{{token}}}}}}}"#
            ),
        ),
    ];
    for (path, expected) in cases {
        let response = request(&app, "OPTIONS", path).await;
        expect(response, 200, &expected, &format!("OPTIONS {path}")).await;
        // No authentication is needed, and a bad one is ignored.
        let response = app
            .client
            .request(Method::OPTIONS, app.url(path))
            .header("Authorization", "Bearer garbage")
            .send()
            .await
            .unwrap();
        expect(
            response,
            200,
            &expected,
            &format!("OPTIONS {path} with a bad token"),
        )
        .await;
    }
}

#[actix_web::test]
async fn unknown_paths_are_json_404() {
    let app = spawn_app().await;
    let not_found = r#"{"detail":"Not found."}"#;
    for (method, path) in [
        ("GET", "/api/nope/"),
        ("POST", "/api/nope/"),
        ("POST", "/api/token"),
        ("GET", "/api/token"),
        ("POST", "/api/token/refresh"),
        ("POST", "/api/token/sliding"),
        ("GET", "/api/me"),
        ("GET", "/"),
        ("POST", "/api/token/extra/"),
    ] {
        let response = request(&app, method, path).await;
        let context = format!("{method} {path}");
        assert_eq!(
            response
                .headers()
                .get("content-type")
                .and_then(|v| v.to_str().ok()),
            Some("application/json"),
            "{context}"
        );
        crate::helpers::assert_answer(response, 404, not_found).await;
    }
}

#[actix_web::test]
async fn token_endpoints_ignore_the_authorization_header() {
    let app = spawn_app().await;
    app.create_user(ALICE.0, ALICE.1);
    let (_, access) = app.login(ALICE.0, ALICE.1).await;
    let response = app
        .client
        .post(app.url("/api/token/verify/"))
        .header("Authorization", "Bearer garbage a b")
        .json(&json!({"token": access}))
        .send()
        .await
        .unwrap();
    expect(response, 200, "{}", "verify with a garbage Authorization").await;
}

#[actix_web::test]
async fn every_401_of_the_token_endpoints_carries_the_challenge() {
    let app = spawn_app().await;
    app.create_user(ALICE.0, ALICE.1);
    let (refresh, access) = app.login(ALICE.0, ALICE.1).await;
    let expired = sign(json!({
        "token_type": "refresh", "exp": crate::helpers::now() - 60,
        "iat": crate::helpers::now() - 120, "jti": "0123456789abcdef0123456789abcdef",
        "user_id": "1",
    }));
    let wrong_type = r#"{"detail":"Token has wrong type","code":"token_not_valid"}"#;
    let expired_body = r#"{"detail":"Token is expired","code":"token_not_valid"}"#;
    let cases = [
        (
            "/api/token/",
            json!({"username": "alice", "password": "wrong"}),
            NO_ACCOUNT,
        ),
        (
            "/api/token/",
            json!({"username": "nobody", "password": "x"}),
            NO_ACCOUNT,
        ),
        (
            "/api/token/sliding/",
            json!({"username": "alice", "password": "wrong"}),
            NO_ACCOUNT,
        ),
        (
            "/api/token/refresh/",
            json!({"refresh": "abc"}),
            TOKEN_INVALID,
        ),
        (
            "/api/token/refresh/",
            json!({"refresh": "a.b.c"}),
            TOKEN_INVALID,
        ),
        (
            "/api/token/refresh/",
            json!({"refresh": access}),
            wrong_type,
        ),
        (
            "/api/token/refresh/",
            json!({"refresh": expired}),
            expired_body,
        ),
        ("/api/token/verify/", json!({"token": "abc"}), TOKEN_INVALID),
        (
            "/api/token/verify/",
            json!({"token": expired}),
            expired_body,
        ),
        (
            "/api/token/blacklist/",
            json!({"refresh": "abc"}),
            TOKEN_INVALID,
        ),
        (
            "/api/token/blacklist/",
            json!({"refresh": access}),
            wrong_type,
        ),
        (
            "/api/token/sliding/refresh/",
            json!({"token": "abc"}),
            TOKEN_INVALID,
        ),
        (
            "/api/token/sliding/refresh/",
            json!({"token": refresh}),
            wrong_type,
        ),
    ];
    for (path, body, expected) in cases {
        let response = app.post_json(path, body.clone()).await;
        expect(response, 401, expected, &format!("{path} {body}")).await;
    }
    // Blacklisting twice: the second answer is a 401 too.
    let response = app
        .post_json("/api/token/blacklist/", json!({"refresh": refresh}))
        .await;
    expect(response, 200, "{}", "logout").await;
    let response = app
        .post_json("/api/token/blacklist/", json!({"refresh": refresh}))
        .await;
    let blacklisted = r#"{"detail":"Token is blacklisted","code":"token_not_valid"}"#;
    expect(response, 401, blacklisted, "logout twice").await;
}

/// A `multipart/form-data` body of text fields.
fn multipart(boundary: &str, fields: &[(&str, &str)]) -> String {
    let mut body = String::new();
    for (name, value) in fields {
        body.push_str(&format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n"
        ));
    }
    body.push_str(&format!("--{boundary}--\r\n"));
    body
}

#[actix_web::test]
async fn multipart_bodies_are_accepted_as_the_reference() {
    let app = spawn_app().await;
    app.create_user(ALICE.0, ALICE.1);
    let content_type = "multipart/form-data; boundary=XyZ-boundary";
    let body = multipart(
        "XyZ-boundary",
        &[("username", "alice"), ("password", ALICE.1)],
    );
    let response = app.post_raw("/api/token/", Some(content_type), body).await;
    let text = check_headers(response, 200, "multipart login").await;
    assert_eq!(redact(&text), r#"{"refresh":"<JWT>","access":"<JWT>"}"#);
    let pair: Value = serde_json::from_str(&text).unwrap();

    let body = multipart("b", &[("token", pair["access"].as_str().unwrap())]);
    let response = app
        .post_raw(
            "/api/token/verify/",
            Some(r#"multipart/form-data; boundary="b""#),
            body,
        )
        .await;
    expect(response, 200, "{}", "multipart verify").await;

    // Repeated names: the last wins; fields are trimmed and validated as any other body.
    let body = multipart(
        "b",
        &[
            ("username", "alice"),
            ("password", ALICE.1),
            ("password", "wrong"),
        ],
    );
    let response = app
        .post_raw(
            "/api/token/sliding/",
            Some("multipart/form-data; boundary=b"),
            body,
        )
        .await;
    expect(response, 401, NO_ACCOUNT, "multipart, last password wrong").await;
    let body = multipart("b", &[("username", "  "), ("other", "x")]);
    let response = app
        .post_raw("/api/token/", Some("multipart/form-data; boundary=b"), body)
        .await;
    let expected =
        r#"{"username":["This field may not be blank."],"password":["This field is required."]}"#;
    expect(response, 400, expected, "multipart blank and missing").await;

    // Without a boundary the body cannot be read.
    let response = app
        .post_raw("/api/token/", Some("multipart/form-data"), "x")
        .await;
    let expected =
        r#"{"detail":"Multipart form parse error - Invalid boundary in multipart: None"}"#;
    expect(response, 400, expected, "multipart without a boundary").await;
}

#[actix_web::test]
async fn a_doubled_slash_reaches_the_endpoint_as_in_the_reference() {
    let app = spawn_app().await;
    app.create_user(ALICE.0, ALICE.1);
    let response = app
        .client
        .post(format!("{}//api/token/", app.address))
        .json(&serde_json::json!({"username": ALICE.0, "password": ALICE.1}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
}
