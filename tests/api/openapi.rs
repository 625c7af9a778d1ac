//! The OpenAPI document: served, complete, and equal to the committed openapi/openapi.json.

use serde_json::Value;

use crate::helpers::*;

#[actix_web::test]
async fn the_committed_document_equals_tokenledger_openapi() {
    let app = spawn_app().await;
    let printed: Value = serde_json::from_slice(&app.cli(&["openapi"], None).stdout).expect("JSON");
    let committed: Value = serde_json::from_str(
        &std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/openapi/openapi.json"))
            .expect("committed"),
    )
    .expect("JSON");
    assert!(
        printed == committed,
        "openapi/openapi.json is stale: run `tokenledger openapi > openapi/openapi.json`"
    );
    let served: Value = body(
        app.client
            .get(app.url("/api-docs/openapi.json"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(served, printed);
}

/// Every path of the contract (sections 4 to 8), in the document. Routes are mounted from
/// their operations (`src/http/routes.rs`), so a path missing here was mounted some other way.
const CONTRACT_PATHS: [&str; 29] = [
    "/api/token/",
    "/api/token/refresh/",
    "/api/token/verify/",
    "/api/token/blacklist/",
    "/api/token/sliding/",
    "/api/token/sliding/refresh/",
    "/api/me/",
    "/api/me/sessions/",
    "/api/me/sessions/{sid}/",
    "/api/logout/all/",
    "/api/me/password/",
    "/api/admin/users/",
    "/api/admin/users/{id}/deactivate/",
    "/api/admin/users/{id}/activate/",
    "/api/admin/users/{id}/revoke/",
    "/api/admin/tokens/",
    "/api/admin/tokens/{jti}/blacklist/",
    "/api/admin/tokens/{jti}/history/",
    "/api/admin/ledger/",
    "/api/admin/users/{id}/tokens/",
    "/api/admin/maintenance/flush-expired/",
    "/oauth/revoke",
    "/oauth/introspect",
    "/.well-known/jwks.json",
    "/healthz",
    "/readyz",
    "/metrics",
    "/.well-known/oauth-authorization-server",
    "/api/revocations/",
];

#[actix_web::test]
async fn every_endpoint_is_documented_with_the_bearer_scheme() {
    let app = spawn_app().await;
    let doc: Value = body(
        app.client
            .get(app.url("/api-docs/openapi.json"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert!(doc["openapi"].as_str().unwrap().starts_with("3.1"));
    let documented = doc["paths"].as_object().expect("paths");
    let missing: Vec<&str> = CONTRACT_PATHS
        .into_iter()
        .chain(["/api/revocations/stream", "/api/auth/check"])
        .filter(|path| !documented.contains_key(*path))
        .collect();
    assert!(missing.is_empty(), "undocumented: {missing:?}");
    assert_eq!(
        doc["components"]["securitySchemes"]["bearerAuth"]["scheme"],
        "bearer"
    );
    assert_eq!(
        doc["paths"]["/api/me/"]["get"]["security"][0]["bearerAuth"],
        serde_json::json!([])
    );
    let login = &doc["paths"]["/api/token/"]["post"];
    assert!(login["requestBody"]["content"]["application/json"].is_object());
    assert!(login["responses"]["401"].is_object());
}

/// The other way round: every operation in the document is served at its path and method.
/// Anonymous requests with made-up path parameters: what matters is that the router finds
/// the route (any answer but the JSON 404 of an unknown path, or a 405). `CONTRACT_PATHS` and
/// this test together pin the document to what is served.
#[actix_web::test]
async fn every_documented_operation_is_served() {
    let app = spawn_app().await;
    let doc: Value = serde_json::from_str(&tokenledger::openapi::document_json()).unwrap();
    let mut unserved = Vec::new();
    let mut operations = 0;
    for (path, item) in doc["paths"].as_object().expect("paths") {
        let url = path
            .replace("{sid}", "00000000-0000-0000-0000-000000000000")
            .replace("{id}", "2")
            .replace("{jti}", "0123456789abcdef0123456789abcdef");
        for method in item.as_object().expect("path item").keys() {
            const METHODS: [&str; 8] = [
                "get", "put", "post", "delete", "options", "head", "patch", "trace",
            ];
            if !METHODS.contains(&method.as_str()) {
                continue; // `parameters`, `summary`: not methods
            }
            let method = reqwest::Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
            operations += 1;
            let mut request = app.client.request(method.clone(), app.url(&url));
            if path.as_str() == "/api/revocations/stream" {
                // An anonymous stream is refused at once; no need to wait for a body.
                request = request.timeout(std::time::Duration::from_secs(5));
            }
            let response = request.send().await.unwrap();
            let status = response.status().as_u16();
            let text = response.text().await.unwrap_or_default();
            // Anonymous, every route with a path parameter answers 401 before it looks anything up.
            if status == 405 || (status == 404 && text.contains("\"Not found.\"")) {
                unserved.push(format!("{method} {path}: {status} {text}"));
            }
        }
    }
    // 30 operations, and forward auth's under each of its 8 methods.
    assert_eq!(operations, 38, "operations documented");
    assert!(
        unserved.is_empty(),
        "documented but not served: {unserved:#?}"
    );
}

#[actix_web::test]
async fn swagger_ui_is_served_from_the_binary() {
    let app = spawn_app().await;
    let page = app
        .client
        .get(app.url("/swagger-ui/"))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    assert!(page.text().await.unwrap().contains("swagger-ui"));
    let init = app
        .client
        .get(app.url("/swagger-ui/swagger-initializer.js"))
        .send()
        .await
        .unwrap();
    assert!(
        init.text()
            .await
            .unwrap()
            .contains("/api-docs/openapi.json")
    );
}

/// Found by schemathesis: the ledger's enums were documented by their Rust variant names
/// (`"Issued"`), not the values on the wire (`"issued"`).
#[test]
fn enums_are_documented_as_the_wire_values() {
    let doc: Value = serde_json::from_str(&tokenledger::openapi::document_json()).unwrap();
    let schemas = &doc["components"]["schemas"];
    assert_eq!(
        schemas["EventKind"]["enum"],
        serde_json::json!([
            "issued",
            "rotated",
            "blacklisted",
            "expired",
            "reuse_detected"
        ])
    );
    assert_eq!(
        schemas["TokenType"]["enum"],
        serde_json::json!(["access", "refresh", "sliding"])
    );
    assert_eq!(
        schemas["TokenState"]["enum"],
        serde_json::json!(["outstanding", "blacklisted"])
    );
    assert!(
        schemas["Reason"]["enum"]
            .as_array()
            .unwrap()
            .contains(&serde_json::json!("reuse_detected"))
    );
    let ids: Vec<&str> = doc["paths"]
        .as_object()
        .unwrap()
        .values()
        .flat_map(|item| item.as_object().unwrap().values())
        .filter_map(|operation| operation["operationId"].as_str())
        .collect();
    let unique: std::collections::BTreeSet<&str> = ids.iter().copied().collect();
    assert_eq!(ids.len(), unique.len(), "operationIds are unique: {ids:?}");
}

/// OpenAPI 3.1 requires a `description` on every response object (CI also runs
/// openapi-spec-validator on the whole document).
#[test]
fn every_response_has_a_description() {
    let document: Value =
        serde_json::from_str(&tokenledger::openapi::document_json()).expect("JSON");
    let mut missing = Vec::new();
    for (path, operations) in document["paths"].as_object().expect("paths") {
        for (method, operation) in operations.as_object().expect("operations") {
            let Some(responses) = operation.get("responses").and_then(Value::as_object) else {
                continue;
            };
            for (status, response) in responses {
                if response.get("$ref").is_none() && response.get("description").is_none() {
                    missing.push(format!("{method} {path} {status}"));
                }
            }
        }
    }
    assert!(
        missing.is_empty(),
        "responses without a description: {missing:?}"
    );
}
