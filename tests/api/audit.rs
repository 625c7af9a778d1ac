//! Contract section 6: the ledger query with its filters and seq paging, and the flush
//! endpoint.

use std::time::Duration;

use serde_json::{Value, json};

use crate::helpers::*;

async fn ledger(app: &TestApp, token: &str, query: &str) -> reqwest::Response {
    app.client
        .get(app.url(&format!("/api/admin/ledger/?{query}")))
        .bearer_auth(token)
        .send()
        .await
        .expect("ledger query")
}

async fn events(app: &TestApp, token: &str, query: &str) -> Vec<Value> {
    let response = ledger(app, token, query).await;
    assert_eq!(response.status(), 200, "{query}");
    body(response).await["events"]
        .as_array()
        .expect("events")
        .clone()
}

/// Alice logs in twice, rotates once and logs out; returns the first session's refresh token.
async fn some_history(app: &TestApp) -> String {
    app.create_user(ALICE.0, ALICE.1);
    let (first, _) = app.login(ALICE.0, ALICE.1).await;
    let (second, _) = app.login(ALICE.0, ALICE.1).await;
    let rotated = body(app.refresh(&second).await).await;
    let logout = app
        .post_json(
            "/api/token/blacklist/",
            json!({"refresh": rotated["refresh"]}),
        )
        .await;
    assert_eq!(logout.status(), 200);
    first
}

#[actix_web::test]
async fn paging_by_seq_walks_every_event_once_oldest_first() {
    let app = spawn_app().await;
    some_history(&app).await;
    let (_, admin) = app.login(ADMIN.0, ADMIN.1).await;
    let everything = events(&app, &admin, "limit=1000").await;
    assert!(everything.len() > 10);

    let mut walked = Vec::new();
    let mut after: Option<i64> = None;
    loop {
        let query = match after {
            Some(seq) => format!("limit=3&after={seq}"),
            None => "limit=3".to_owned(),
        };
        let page = body(ledger(&app, &admin, &query).await).await;
        let page_events = page["events"].as_array().expect("events");
        assert!(page_events.len() <= 3);
        walked.extend(page_events.iter().cloned());
        match page["next"].as_i64() {
            Some(next) => {
                assert_eq!(
                    Some(next),
                    page_events.last().and_then(|e| e["seq"].as_i64())
                );
                after = Some(next);
            }
            None => break,
        }
    }
    assert_eq!(walked, everything);
    let seqs: Vec<i64> = walked.iter().map(|e| e["seq"].as_i64().unwrap()).collect();
    assert!(seqs.windows(2).all(|pair| pair[0] < pair[1]));
    let fields: Vec<&String> = walked[0].as_object().unwrap().keys().collect();
    assert_eq!(
        fields,
        [
            "seq",
            "at",
            "event",
            "jti",
            "token_type",
            "user_id",
            "sid",
            "parent_jti",
            "reason",
            "actor",
            "expires_at"
        ]
    );
}

#[actix_web::test]
async fn every_filter_narrows_to_what_it_names() {
    let app = spawn_app().await;
    let first_refresh = some_history(&app).await;
    let first = claims_of(&first_refresh);
    let (_, admin) = app.login(ADMIN.0, ADMIN.1).await;
    let alice_id = first["user_id"].as_str().unwrap().parse::<i64>().unwrap();

    let of_alice = events(&app, &admin, &format!("user_id={alice_id}")).await;
    assert!(of_alice.iter().all(|e| e["user_id"] == alice_id));
    let all = events(&app, &admin, "limit=1000").await;
    assert!(
        of_alice.len() < all.len(),
        "the admin's login is not alice's"
    );

    let rotations = events(&app, &admin, "event=blacklisted&reason=rotation").await;
    assert_eq!(rotations.len(), 1);
    // The logout's refresh token and its session's two access tokens (login, refresh).
    let logouts = events(&app, &admin, "reason=logout").await;
    assert_eq!(logouts.len(), 3);
    assert!(logouts.iter().all(|e| e["event"] == "blacklisted"));
    assert_eq!(events(&app, &admin, "event=rotated").await.len(), 1);

    let of_token = events(
        &app,
        &admin,
        &format!("jti={}", first["jti"].as_str().unwrap()),
    )
    .await;
    assert_eq!(of_token.len(), 1);
    assert_eq!(of_token[0]["event"], "issued");
    let of_session = events(
        &app,
        &admin,
        &format!("sid={}", first["sid"].as_str().unwrap()),
    )
    .await;
    assert_eq!(
        of_session.len(),
        2,
        "the first login: its refresh and access token"
    );

    assert!(
        events(&app, &admin, "since=2999-01-01T00:00:00Z")
            .await
            .is_empty()
    );
    assert!(
        events(&app, &admin, "until=2000-01-01T00:00:00Z")
            .await
            .is_empty()
    );
    assert_eq!(
        events(
            &app,
            &admin,
            "since=2000-01-01T00:00:00Z&until=2999-01-01T00:00:00%2B02:00&limit=1000"
        )
        .await,
        all
    );
}

#[actix_web::test]
async fn bad_parameters_are_400_with_every_field_named() {
    let app = spawn_app().await;
    let (_, admin) = app.login(ADMIN.0, ADMIN.1).await;
    assert_answer(
        ledger(&app, &admin, "user_id=abc&event=nope&since=yesterday&limit=0").await,
        400,
        concat!(
            r#"{"user_id":["A valid integer is required."],"event":["\"nope\" is not a valid choice."],"#,
            r#""since":["Datetime has wrong format. Use one of these formats instead: YYYY-MM-DDThh:mm[:ss[.uuuuuu]][+HH:MM|-HH:MM|Z]."],"#,
            r#""limit":["Ensure this value is between 1 and 1000."]}"#
        ),
    )
    .await;
}

#[actix_web::test]
async fn the_ledger_is_for_staff_only() {
    let app = spawn_app().await;
    app.create_user(ALICE.0, ALICE.1);
    let (_, alice) = app.login(ALICE.0, ALICE.1).await;
    assert_answer(
        ledger(&app, &alice, "").await,
        403,
        r#"{"detail":"You do not have permission to perform this action."}"#,
    )
    .await;
    let anonymous = app
        .client
        .get(app.url("/api/admin/ledger/"))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), 401);
}

#[actix_web::test]
async fn the_flush_endpoint_expires_ended_tokens_once() {
    let app = spawn_app_with(|s| s.access_token_lifetime = Duration::from_secs(1)).await;
    app.create_user(ALICE.0, ALICE.1);
    app.login(ALICE.0, ALICE.1).await;
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let (_, admin) = app.login(ADMIN.0, ADMIN.1).await;
    let flush = || {
        app.client
            .post(app.url("/api/admin/maintenance/flush-expired/"))
            .bearer_auth(&admin)
            .send()
    };
    assert_answer(flush().await.unwrap(), 200, r#"{"expired":1}"#).await;
    assert_answer(flush().await.unwrap(), 200, r#"{"expired":0}"#).await;
    assert_eq!(events(&app, &admin, "event=expired").await.len(), 1);
    app.assert_view_matches_ledger();
}
