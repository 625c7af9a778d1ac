//! Staff administration of users (contract section 6: users, deactivate, activate, revoke).

use futures_util::future::join_all;
use serde_json::json;

use crate::helpers::*;

async fn admin_token(app: &TestApp) -> String {
    app.login(ADMIN.0, ADMIN.1).await.1
}

#[actix_web::test]
async fn staff_create_users_and_names_are_unique() {
    let app = spawn_app().await;
    let admin = admin_token(&app).await;
    let create = |body: serde_json::Value| {
        app.client
            .post(app.url("/api/admin/users/"))
            .bearer_auth(&admin)
            .json(&body)
            .send()
    };
    let response = create(json!({"username": "bob", "password": "bob-password", "is_staff": true}))
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    let created = body(response).await;
    assert_eq!(created["username"], "bob");
    assert_eq!(created["is_active"], true);
    assert_eq!(created["is_staff"], true);
    assert!(created["id"].as_i64().unwrap() > 1);
    app.login("bob", "bob-password").await;

    let taken = create(json!({"username": "bob", "password": "x"}))
        .await
        .unwrap();
    assert_answer(
        taken,
        409,
        r#"{"detail":"A user with that username already exists."}"#,
    )
    .await;
    let invalid = create(json!({"username": "", "is_staff": "maybe"}))
        .await
        .unwrap();
    assert_answer(
        invalid,
        400,
        r#"{"username":["This field may not be blank."],"password":["This field is required."]}"#,
    )
    .await;
}

#[actix_web::test]
async fn non_staff_get_403_and_anonymous_401() {
    let app = spawn_app().await;
    let alice = app.create_user(ALICE.0, ALICE.1);
    let (_, access) = app.login(ALICE.0, ALICE.1).await;
    for path in [
        "/api/admin/users/".to_owned(),
        format!("/api/admin/users/{alice}/revoke/"),
    ] {
        let response = app
            .client
            .post(app.url(&path))
            .bearer_auth(&access)
            .json(&json!({}))
            .send()
            .await
            .unwrap();
        assert_answer(
            response,
            403,
            r#"{"detail":"You do not have permission to perform this action."}"#,
        )
        .await;
        assert_eq!(
            app.client
                .post(app.url(&path))
                .send()
                .await
                .unwrap()
                .status(),
            401
        );
    }
}

#[actix_web::test]
async fn deactivation_revokes_every_token_and_activation_restores_login() {
    let app = spawn_app().await;
    let admin = admin_token(&app).await;
    let alice = app.create_user(ALICE.0, ALICE.1);
    let (refresh, access) = app.login(ALICE.0, ALICE.1).await;

    let response = app
        .client
        .post(app.url(&format!("/api/admin/users/{alice}/deactivate/")))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap();
    assert_answer(
        response,
        200,
        &format!(r#"{{"id":{alice},"username":"alice","is_active":false,"is_staff":false}}"#),
    )
    .await;
    assert_eq!(app.me_with(&access).await.status(), 401);
    assert_eq!(app.refresh(&refresh).await.status(), 401);
    assert_eq!(
        app.post_json(
            "/api/token/",
            json!({"username": ALICE.0, "password": ALICE.1})
        )
        .await
        .status(),
        401
    );

    let response = app
        .client
        .post(app.url(&format!("/api/admin/users/{alice}/activate/")))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap();
    assert_eq!(body(response).await["is_active"], true);
    app.login(ALICE.0, ALICE.1).await;

    let missing = app
        .client
        .post(app.url("/api/admin/users/999/deactivate/"))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap();
    assert_answer(missing, 404, r#"{"detail":"Not found."}"#).await;
}

#[actix_web::test]
async fn admin_revoke_counts_newly_blacklisted_tokens_with_reason_admin() {
    let app = spawn_app().await;
    let admin = admin_token(&app).await;
    let alice = app.create_user(ALICE.0, ALICE.1);
    let (_, access) = app.login(ALICE.0, ALICE.1).await;
    let revoke = || {
        app.client
            .post(app.url(&format!("/api/admin/users/{alice}/revoke/")))
            .bearer_auth(&admin)
            .send()
    };
    assert_answer(revoke().await.unwrap(), 200, r#"{"revoked":2}"#).await;
    assert_answer(revoke().await.unwrap(), 200, r#"{"revoked":0}"#).await;
    assert_eq!(app.me_with(&access).await.status(), 401);
    let events = crate::rotation::ledger_events(&app);
    let admin_id = claims_of(&admin)["user_id"].as_str().unwrap().to_owned();
    let revocations: Vec<_> = events
        .iter()
        .filter(|e| e.event.as_str() == "blacklisted")
        .collect();
    assert_eq!(revocations.len(), 2);
    for event in revocations {
        assert_eq!(event.reason.map(|r| r.as_str()), Some("admin"));
        assert_eq!(
            event.actor.as_deref(),
            Some(format!("admin:{admin_id}").as_str())
        );
    }
}

/// Found by schemathesis: an id that is not an integer answered actix's plain-text 404.
#[actix_web::test]
async fn an_id_that_is_not_an_integer_is_a_json_404() {
    let app = spawn_app().await;
    let admin = admin_token(&app).await;
    for (method, path) in [
        ("POST", "/api/admin/users/abc/deactivate/"),
        ("POST", "/api/admin/users/9223372036854775808/revoke/"),
        ("GET", "/api/admin/users/1.5/tokens/"),
    ] {
        let response = app
            .client
            .request(method.parse().unwrap(), app.url(path))
            .bearer_auth(&admin)
            .send()
            .await
            .unwrap();
        assert_eq!(
            response.headers()["content-type"],
            "application/json",
            "{path}"
        );
        assert_answer(response, 404, r#"{"detail":"Not found."}"#).await;
    }
}

/// A deactivation changes the user's row before it decides, so it runs in a savepoint of its
/// own inside a batch whose other jobs' view rows are still pending. In one burst with sixteen
/// refreshes of two users: afterwards every token of the deactivated user is refused, whatever
/// its refresh answered, and the other user's new tokens all work.
#[actix_web::test]
async fn a_deactivation_in_a_burst_of_refreshes_revokes_exactly_its_user() {
    let app = spawn_app().await;
    let admin = admin_token(&app).await;
    app.create_user(ALICE.0, ALICE.1);
    let bob = app.create_user("bob", "bob's long password");
    let mut alices = Vec::new();
    let mut bobs = Vec::new();
    for _ in 0..8 {
        alices.push(app.login(ALICE.0, ALICE.1).await.0);
        bobs.push(app.login("bob", "bob's long password").await.0);
    }
    let deactivate = app
        .client
        .post(app.url(&format!("/api/admin/users/{bob}/deactivate/")))
        .bearer_auth(&admin)
        .send();
    let (alice_answers, bob_answers, deactivated) = tokio::join!(
        join_all(alices.iter().map(|token| app.refresh(token))),
        join_all(bobs.iter().map(|token| app.refresh(token))),
        deactivate
    );
    assert_eq!(deactivated.unwrap().status(), 200);
    let mut bob_tokens = bobs.clone();
    let mut bob_access = Vec::new();
    for answer in bob_answers {
        match answer.status().as_u16() {
            200 => {
                let pair = body(answer).await;
                bob_tokens.push(pair["refresh"].as_str().unwrap().to_owned());
                bob_access.push(pair["access"].as_str().unwrap().to_owned());
            }
            401 => {}
            other => panic!("a refresh of bob's answered {other}"),
        }
    }
    // Verify answers from the revocations alone (it does not look the user up): only a
    // blacklisting that saw every pending token of bob's refuses these (SimpleJWT's answer).
    for access in &bob_access {
        assert_verify_refuses_as_blacklisted(&app, access).await;
    }
    for token in &bob_tokens {
        assert_eq!(
            app.refresh(token).await.status(),
            401,
            "bob's refresh token"
        );
    }
    for answer in alice_answers {
        assert_eq!(answer.status(), 200);
        let refresh = body(answer).await["refresh"].as_str().unwrap().to_owned();
        assert_eq!(
            app.refresh(&refresh).await.status(),
            200,
            "alice's new token"
        );
    }
    app.assert_view_matches_ledger();
}
