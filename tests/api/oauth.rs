//! RFC 7009 revocation and RFC 7662 introspection.

use crate::helpers::*;

async fn form(app: &TestApp, path: &str, bearer: Option<&str>, body: &str) -> reqwest::Response {
    let mut request = app
        .client
        .post(app.url(path))
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body(body.to_owned());
    if let Some(token) = bearer {
        request = request.bearer_auth(token);
    }
    request.send().await.unwrap()
}

#[actix_web::test]
async fn revoking_an_access_token_refuses_it_at_once() {
    let app = spawn_app().await;
    app.create_user(ALICE.0, ALICE.1);
    let (refresh, access) = app.login(ALICE.0, ALICE.1).await;
    let response = form(
        &app,
        "/oauth/revoke",
        None,
        &format!("token={access}&token_type_hint=access_token"),
    )
    .await;
    assert_eq!(response.status(), 200);
    assert_eq!(app.me_with(&access).await.status(), 401);
    assert_eq!(app.refresh(&refresh).await.status(), 200, "only that token");
    let events = crate::rotation::ledger_events(&app);
    assert!(
        events
            .iter()
            .any(|e| e.reason.map(|r| r.as_str()) == Some("revoked"))
    );
}

#[actix_web::test]
async fn revoking_a_refresh_token_revokes_its_sessions_access_tokens() {
    let app = spawn_app().await;
    app.create_user(ALICE.0, ALICE.1);
    let (refresh, access) = app.login(ALICE.0, ALICE.1).await;
    assert_eq!(
        form(&app, "/oauth/revoke", None, &format!("token={refresh}"))
            .await
            .status(),
        200
    );
    assert_eq!(app.refresh(&refresh).await.status(), 401);
    assert_eq!(app.me_with(&access).await.status(), 401);
    // Revoking again, or revoking garbage, is still 200 (RFC 7009 section 2.2).
    assert_eq!(
        form(&app, "/oauth/revoke", None, &format!("token={refresh}"))
            .await
            .status(),
        200
    );
    assert_eq!(
        form(&app, "/oauth/revoke", None, "token=not-a-token")
            .await
            .status(),
        200
    );
    assert_answer(
        form(&app, "/oauth/revoke", None, "token_type_hint=x").await,
        400,
        r#"{"error":"invalid_request"}"#,
    )
    .await;
    app.assert_view_matches_ledger();
}

#[actix_web::test]
async fn sliding_tokens_are_revoked_through_oauth_revoke() {
    let app =
        spawn_app_with(|s| s.auth_token_types = vec!["access".into(), "sliding".into()]).await;
    app.create_user(ALICE.0, ALICE.1);
    let sliding = app.obtain_sliding(ALICE.0, ALICE.1).await;
    assert_eq!(app.me_with(&sliding).await.status(), 200);
    form(&app, "/oauth/revoke", None, &format!("token={sliding}")).await;
    assert_eq!(app.me_with(&sliding).await.status(), 401);
}

#[actix_web::test]
async fn introspection_is_for_staff_and_tells_active_from_revoked() {
    let app = spawn_app().await;
    app.create_user(ALICE.0, ALICE.1);
    let (refresh, access) = app.login(ALICE.0, ALICE.1).await;
    let (_, staff) = app.login(ADMIN.0, ADMIN.1).await;

    let active = body(
        form(
            &app,
            "/oauth/introspect",
            Some(&staff),
            &format!("token={access}"),
        )
        .await,
    )
    .await;
    assert_eq!(active["active"], true);
    assert_eq!(active["username"], "alice");
    assert_eq!(active["jti"], claims_of(&access)["jti"]);
    assert_eq!(active["token_type"], "access");

    app.post_json(
        "/api/token/blacklist/",
        serde_json::json!({"refresh": refresh}),
    )
    .await;
    for token in [access.as_str(), refresh.as_str(), "garbage"] {
        let answer = form(
            &app,
            "/oauth/introspect",
            Some(&staff),
            &format!("token={token}"),
        )
        .await;
        assert_answer(answer, 200, r#"{"active":false}"#).await;
    }
    assert_answer(
        form(&app, "/oauth/introspect", Some(&staff), "").await,
        400,
        r#"{"error":"invalid_request"}"#,
    )
    .await;

    let (_, alice) = app.login(ALICE.0, ALICE.1).await;
    assert_eq!(
        form(
            &app,
            "/oauth/introspect",
            Some(&alice),
            &format!("token={alice}")
        )
        .await
        .status(),
        403
    );
    assert_eq!(
        form(&app, "/oauth/introspect", None, &format!("token={alice}"))
            .await
            .status(),
        401
    );
}

/// Found by schemathesis: a JSON body that is not an object answered DRF's
/// `non_field_errors` instead of RFC 6749's `invalid_request`.
#[actix_web::test]
async fn a_body_that_does_not_parse_is_an_invalid_request() {
    let app = spawn_app().await;
    let admin = app.login(ADMIN.0, ADMIN.1).await.1;
    for body in ["[null, null]", "{not json", "\"token\""] {
        let revoke = app
            .post_raw("/oauth/revoke", Some("application/json"), body)
            .await;
        assert_answer(revoke, 400, r#"{"error":"invalid_request"}"#).await;
        let introspect = app
            .client
            .post(app.url("/oauth/introspect"))
            .bearer_auth(&admin)
            .header("Content-Type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap();
        assert_answer(introspect, 400, r#"{"error":"invalid_request"}"#).await;
    }
    let unsupported = app.post_raw("/oauth/revoke", Some("text/csv"), "a,b").await;
    assert_eq!(unsupported.status(), 415, "media type keeps its own answer");
}
