//! Contract sections 2, 3 and 7: asymmetric algorithms from PEM, `kid`, the JWKS, key rotation,
//! and ISSUER / AUDIENCE / LEEWAY enforced end to end.

use std::path::PathBuf;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};
use tokenledger::config::{Settings, SigningAlgorithm};

use crate::helpers::*;

fn key_file(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/keys")
        .join(name)
}

fn signing_with(settings: &mut Settings, algorithm: SigningAlgorithm, private: &str) {
    settings.algorithm = algorithm;
    settings.signing_key = None;
    settings.signing_key_file = Some(key_file(private));
}

fn header_of(token: &str) -> Value {
    let header = token.split('.').next().expect("a JWT");
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(header).expect("base64url")).expect("json")
}

async fn jwks(app: &TestApp) -> Value {
    let response = app
        .client
        .get(app.url("/.well-known/jwks.json"))
        .send()
        .await
        .expect("jwks");
    assert_eq!(response.status(), 200);
    body(response).await
}

fn kids(jwks: &Value) -> Vec<String> {
    let mut kids: Vec<String> = jwks["keys"]
        .as_array()
        .expect("keys")
        .iter()
        .map(|key| key["kid"].as_str().expect("a kid").to_owned())
        .collect();
    kids.sort();
    kids
}

#[actix_web::test]
async fn an_es256_token_verifies_with_an_independent_library_through_the_jwks() {
    use jwt_simple::prelude::{ECDSAP256PublicKeyLike, ES256PublicKey, JWTClaims};

    let app = spawn_app_with(|s| signing_with(s, SigningAlgorithm::ES256, "ec256-a.pem")).await;
    let (_, access) = app.login(ADMIN.0, ADMIN.1).await;
    let published = jwks(&app).await;
    let jwk = &published["keys"][0];
    assert_eq!(
        (&jwk["kty"], &jwk["crv"], &jwk["alg"], &jwk["use"]),
        (
            &json!("EC"),
            &json!("P-256"),
            &json!("ES256"),
            &json!("sig")
        )
    );
    assert_eq!(header_of(&access)["kid"], jwk["kid"]);

    // Only what the JWKS publishes: the curve point, as SEC1 uncompressed bytes.
    let coordinate = |name: &str| {
        URL_SAFE_NO_PAD
            .decode(jwk[name].as_str().expect("a coordinate"))
            .expect("base64url")
    };
    let mut point = vec![0x04];
    point.extend(coordinate("x"));
    point.extend(coordinate("y"));
    let key = ES256PublicKey::from_bytes(&point)
        .expect("a P-256 point")
        .with_key_id(jwk["kid"].as_str().expect("kid"));
    let claims: JWTClaims<serde_json::Map<String, Value>> = key
        .verify_token(&access, None)
        .expect("the independent library accepts our token");
    assert_eq!(claims.custom["token_type"], "access");
    assert_eq!(claims.custom["user_id"], "1");

    // The control: the same library refuses a token whose payload was changed.
    let parts: Vec<&str> = access.split('.').collect();
    let mut payload = claims_of(&access);
    payload["user_id"] = json!("2");
    let forged = format!(
        "{}.{}.{}",
        parts[0],
        URL_SAFE_NO_PAD.encode(payload.to_string()),
        parts[2]
    );
    assert!(
        key.verify_token::<serde_json::Map<String, Value>>(&forged, None)
            .is_err()
    );
}

#[actix_web::test]
async fn every_asymmetric_family_logs_in_refreshes_and_authenticates() {
    let cases = [
        (SigningAlgorithm::RS256, "rsa-b.pem", "RSA"),
        (SigningAlgorithm::PS512, "rsa-a.pem", "RSA"),
        (SigningAlgorithm::ES384, "ec384.pem", "EC"),
        (SigningAlgorithm::EdDSA, "ed25519.pem", "OKP"),
    ];
    for (algorithm, private, kty) in cases {
        let app = spawn_app_with(|s| signing_with(s, algorithm, private)).await;
        let (refresh, access) = app.login(ADMIN.0, ADMIN.1).await;
        let published = jwks(&app).await;
        assert_eq!(published["keys"][0]["kty"], kty, "{algorithm:?}");
        assert_eq!(
            header_of(&access),
            json!({"alg": format!("{algorithm:?}"), "kid": published["keys"][0]["kid"], "typ": "JWT"}),
            "{algorithm:?}"
        );
        assert_eq!(app.me_with(&access).await.status(), 200, "{algorithm:?}");
        let refreshed = app.refresh(&refresh).await;
        assert_eq!(refreshed.status(), 200, "{algorithm:?}");
        let rotated = body(refreshed).await;
        let verified = app
            .post_json("/api/token/verify/", json!({"token": rotated["refresh"]}))
            .await;
        assert_eq!(verified.status(), 200, "{algorithm:?}");
    }
}

#[actix_web::test]
async fn hmac_publishes_an_empty_key_set_and_no_kid() {
    let app = spawn_app().await;
    assert_eq!(jwks(&app).await, json!({"keys": []}));
    let (_, access) = app.login(ADMIN.0, ADMIN.1).await;
    assert_eq!(header_of(&access), json!({"alg": "HS256", "typ": "JWT"}));
}

#[actix_web::test]
async fn an_hs256_token_signed_with_our_public_key_is_refused() {
    let app = spawn_app_with(|s| signing_with(s, SigningAlgorithm::RS256, "rsa-a.pem")).await;
    let public_pem = std::fs::read(key_file("rsa-a.pub.pem")).expect("public key");
    let forged = jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        &crafted_claims("access", 1),
        &EncodingKey::from_secret(&public_pem),
    )
    .expect("signed");
    let response = app.me_with(&forged).await;
    assert_eq!(response.status(), 401);
    assert_eq!(
        body(response).await["messages"][0]["message"],
        "Token is invalid"
    );
}

#[actix_web::test]
async fn after_a_key_rotation_old_tokens_keep_working_and_new_ones_use_the_new_key() {
    let before = spawn_app_with(|s| signing_with(s, SigningAlgorithm::ES256, "ec256-a.pem")).await;
    let (old_refresh, old_access) = before.login(ADMIN.0, ADMIN.1).await;
    let old_kid = header_of(&old_access)["kid"].clone();

    let after = before.restart_with(|s| signing_with(s, SigningAlgorithm::ES256, "ec256-b.pem"));
    let (_, new_access) = after.login(ADMIN.0, ADMIN.1).await;
    let new_kid = header_of(&new_access)["kid"].clone();
    assert_ne!(old_kid, new_kid);
    let mut both = vec![
        old_kid.as_str().expect("kid").to_owned(),
        new_kid.as_str().expect("kid").to_owned(),
    ];
    both.sort();
    assert_eq!(kids(&jwks(&after).await), both);

    assert_eq!(after.me_with(&old_access).await.status(), 200);
    let refreshed = after.refresh(&old_refresh).await;
    assert_eq!(refreshed.status(), 200);
    let rotated = body(refreshed).await;
    for token in [&rotated["access"], &rotated["refresh"]] {
        assert_eq!(header_of(token.as_str().expect("a token"))["kid"], new_kid);
    }
}

#[actix_web::test]
async fn a_retired_key_leaves_the_jwks_when_its_last_token_has_expired() {
    let short = |s: &mut Settings| {
        // Long enough that the restart below surely happens within them on a loaded
        // machine; the key's end is then awaited, not guessed.
        s.access_token_lifetime = Duration::from_secs(3);
        s.refresh_token_lifetime = Duration::from_secs(3);
        s.sliding_token_lifetime = Duration::from_secs(3);
        s.sliding_token_refresh_lifetime = Duration::from_secs(3);
    };
    let before = spawn_app_with(|s| {
        short(s);
        signing_with(s, SigningAlgorithm::EdDSA, "ed25519.pem");
    })
    .await;
    let (_, access) = before.login(ADMIN.0, ADMIN.1).await;
    let old_kid = header_of(&access)["kid"].clone();
    let after = before.restart_with(|s| signing_with(s, SigningAlgorithm::ES256, "ec256-b.pem"));
    assert_eq!(kids(&jwks(&after).await).len(), 2);

    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    let published = loop {
        let published = jwks(&after).await;
        if kids(&published).len() == 1 {
            break published;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the retired key never left the JWKS"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_ne!(published["keys"][0]["kid"], old_kid);
    assert_eq!(published["keys"][0]["alg"], "ES256");
}

#[actix_web::test]
async fn keys_in_verifying_key_files_verify_and_are_published() {
    let app = spawn_app_with(|s| {
        signing_with(s, SigningAlgorithm::RS256, "rsa-b.pem");
        s.verifying_key_files = vec![key_file("rsa-a.pub.pem").display().to_string()];
    })
    .await;
    let (_, access) = app.login(ADMIN.0, ADMIN.1).await;
    let ours = header_of(&access)["kid"].clone();
    let published = kids(&jwks(&app).await);
    assert_eq!(published.len(), 2);
    let retired_kid = published
        .iter()
        .find(|kid| **kid != ours)
        .expect("the retired kid");

    let retired_private = std::fs::read(key_file("rsa-a.pem")).expect("private key");
    let retired_key = EncodingKey::from_rsa_pem(&retired_private).expect("rsa key");
    let mut header = Header::new(Algorithm::RS256);
    header.kid = Some(retired_kid.clone());
    let signed_by_retired =
        jsonwebtoken::encode(&header, &crafted_claims("access", 1), &retired_key).expect("signed");
    assert_eq!(app.me_with(&signed_by_retired).await.status(), 200);

    // The same key under another key's kid is refused: the kid picks the key.
    header.kid = Some(ours.as_str().expect("kid").to_owned());
    let mislabelled =
        jsonwebtoken::encode(&header, &crafted_claims("access", 1), &retired_key).expect("signed");
    assert_eq!(app.me_with(&mislabelled).await.status(), 401);
}

#[actix_web::test]
async fn issuer_audience_and_leeway_are_enforced_end_to_end() {
    const ISSUER: &str = "https://id.example.test";
    const AUDIENCE: &str = "orders-api";
    let app = spawn_app_with(|s| {
        s.issuer = Some(ISSUER.into());
        s.audience = Some(AUDIENCE.into());
        s.leeway = Duration::from_secs(30);
    })
    .await;
    let (_, access) = app.login(ADMIN.0, ADMIN.1).await;
    let claims = claims_of(&access);
    assert_eq!(
        (&claims["iss"], &claims["aud"]),
        (&json!(ISSUER), &json!(AUDIENCE))
    );
    assert_eq!(app.me_with(&access).await.status(), 200);

    let with = |iss: Option<&str>, aud: Option<Value>, exp_offset: i64| {
        let mut claims = crafted_claims("access", 1);
        claims["exp"] = json!(now() + exp_offset);
        if let Some(iss) = iss {
            claims["iss"] = json!(iss);
        }
        if let Some(aud) = aud {
            claims["aud"] = aud;
        }
        sign(claims)
    };
    let cases = [
        (with(Some(ISSUER), Some(json!(AUDIENCE)), 300), 200, None),
        (
            with(Some(ISSUER), Some(json!(["other", AUDIENCE])), 300),
            200,
            None,
        ),
        (
            with(None, Some(json!(AUDIENCE)), 300),
            401,
            Some("Token is invalid"),
        ),
        (
            with(Some("https://evil.test"), Some(json!(AUDIENCE)), 300),
            401,
            Some("Token is invalid"),
        ),
        (with(Some(ISSUER), None, 300), 401, Some("Token is invalid")),
        (
            with(Some(ISSUER), Some(json!("other")), 300),
            401,
            Some("Token is invalid"),
        ),
        // Expired ten seconds ago: inside the 30 s leeway.
        (with(Some(ISSUER), Some(json!(AUDIENCE)), -10), 200, None),
        (
            with(Some(ISSUER), Some(json!(AUDIENCE)), -60),
            401,
            Some("Token is expired"),
        ),
    ];
    for (token, status, message) in cases {
        let response = app.me_with(&token).await;
        assert_eq!(response.status(), status, "{message:?}");
        if let Some(message) = message {
            assert_eq!(body(response).await["messages"][0]["message"], message);
        }
    }
}
