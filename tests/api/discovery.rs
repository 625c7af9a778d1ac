//! `GET /.well-known/oauth-authorization-server` (contract section 8): RFC 8414 metadata with
//! only true fields, absolute URLs on the client's origin (through trusted proxies only), and
//! every URL it names answering.

use std::path::PathBuf;

use serde_json::{Value, json};
use tokenledger::config::SigningAlgorithm;

use crate::helpers::*;

const PATH: &str = "/.well-known/oauth-authorization-server";

async fn metadata(app: &TestApp, headers: &[(&str, &str)]) -> Value {
    let mut request = app.client.get(app.url(PATH));
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = request.send().await.unwrap();
    assert_eq!(response.status(), 200);
    body(response).await
}

#[actix_web::test]
async fn the_metadata_names_what_exists_on_the_requests_origin() {
    let app = spawn_app().await;
    let origin = app.address.clone();
    let document = metadata(&app, &[]).await;
    assert_eq!(
        document,
        json!({
            "issuer": origin,
            "jwks_uri": format!("{origin}/.well-known/jwks.json"),
            "revocation_endpoint": format!("{origin}/oauth/revoke"),
            "revocation_endpoint_auth_methods_supported": ["none"],
            "introspection_endpoint": format!("{origin}/oauth/introspect"),
            "token_endpoint_auth_methods_supported": ["none"],
            "service_documentation": format!("{origin}/swagger-ui/"),
        })
    );
    // Nothing that does not exist: no OAuth authorization or token endpoint, no grants.
    for absent in [
        "authorization_endpoint",
        "token_endpoint",
        "grant_types_supported",
        "response_types_supported",
        "userinfo_endpoint",
    ] {
        assert!(document.get(absent).is_none(), "{absent}");
    }

    // Every URL it names answers as it says.
    let jwks = app
        .client
        .get(document["jwks_uri"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(body(jwks).await, json!({"keys": []}));
    let (_, access) = app.login(ADMIN.0, ADMIN.1).await;
    let introspected = app
        .client
        .post(document["introspection_endpoint"].as_str().unwrap())
        .bearer_auth(&access)
        .form(&[("token", access.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(body(introspected).await["active"], true);
    let revoked = app
        .client
        .post(document["revocation_endpoint"].as_str().unwrap())
        .form(&[("token", access.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(revoked.status(), 200);
    assert_eq!(app.me_with(&access).await.status(), 401);
    let docs = app
        .client
        .get(document["service_documentation"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(docs.status(), 200);
}

#[actix_web::test]
async fn the_configured_issuer_is_the_issuer() {
    let app = spawn_app_with(|s| s.issuer = Some("https://id.example".into())).await;
    let document = metadata(&app, &[]).await;
    assert_eq!(document["issuer"], "https://id.example");
    assert_eq!(
        document["jwks_uri"],
        format!("{}/.well-known/jwks.json", app.address)
    );
}

#[actix_web::test]
async fn forwarded_headers_count_from_trusted_proxies_only() {
    let forwarded = [
        ("X-Forwarded-Proto", "https"),
        ("X-Forwarded-Host", "auth.example"),
    ];
    let stranger = spawn_app().await;
    let document = metadata(&stranger, &forwarded).await;
    assert_eq!(
        document["issuer"], stranger.address,
        "a client cannot rename us"
    );

    let proxied = spawn_app_with(|s| s.trusted_proxies = vec!["127.0.0.1".into()]).await;
    let document = metadata(&proxied, &forwarded).await;
    assert_eq!(document["issuer"], "https://auth.example");
    assert_eq!(
        document["revocation_endpoint"],
        "https://auth.example/oauth/revoke"
    );
    let document = metadata(
        &proxied,
        &[(
            "Forwarded",
            "for=192.0.2.1;proto=https;host=\"id.example:8443\"",
        )],
    )
    .await;
    assert_eq!(
        document["jwks_uri"],
        "https://id.example:8443/.well-known/jwks.json"
    );
    // A forwarded host that is not one is not published.
    let document = metadata(&proxied, &[("X-Forwarded-Host", "a.example/x?y=\"z")]).await;
    assert_eq!(document["issuer"], proxied.address);
}

#[actix_web::test]
async fn the_jwks_it_names_verifies_an_es256_token() {
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use jwt_simple::prelude::{ECDSAP256PublicKeyLike, ES256PublicKey, JWTClaims};

    let app = spawn_app_with(|s| {
        s.algorithm = SigningAlgorithm::ES256;
        s.signing_key = None;
        s.signing_key_file =
            Some(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/keys/ec256-a.pem"));
    })
    .await;
    let (_, access) = app.login(ADMIN.0, ADMIN.1).await;
    let document = metadata(&app, &[]).await;
    let jwks = app
        .client
        .get(document["jwks_uri"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    let jwks = body(jwks).await;
    let jwk = &jwks["keys"][0];
    let coordinate = |name: &str| URL_SAFE_NO_PAD.decode(jwk[name].as_str().unwrap()).unwrap();
    let mut point = vec![0x04];
    point.extend(coordinate("x"));
    point.extend(coordinate("y"));
    let key = ES256PublicKey::from_bytes(&point).unwrap();
    let claims: JWTClaims<serde_json::Map<String, Value>> =
        key.verify_token(&access, None).expect("verifies");
    assert_eq!(claims.custom["token_type"], "access");
}
