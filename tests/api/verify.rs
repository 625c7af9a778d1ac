//! `POST /api/token/verify/` from memory: a token this instance holds as blacklisted, or any
//! token while its follower has just proved nothing is missing, is answered without a
//! database query; a revocation committed by another instance is seen; where memory cannot
//! vouch (a follower that only polls), the database answers, the same.

use std::time::Duration;

use serde_json::json;

use crate::helpers::*;

const BLACKLISTED: &str = r#"{"non_field_errors":["Token is blacklisted"]}"#;

async fn verify_status(app: &TestApp, token: &str) -> u16 {
    app.post_json("/api/token/verify/", json!({"token": token}))
        .await
        .status()
        .as_u16()
}

#[actix_web::test]
async fn verify_of_known_tokens_runs_no_database_query() {
    let app = spawn_app().await;
    app.create_user(ALICE.0, ALICE.1);
    let (refresh, access) = app.login(ALICE.0, ALICE.1).await;
    let (logged_out, logged_out_access) = app.login(ALICE.0, ALICE.1).await;
    let (rotated, _) = app.login(ALICE.0, ALICE.1).await;
    assert_eq!(
        app.post_json("/api/token/blacklist/", json!({"refresh": logged_out}))
            .await
            .status(),
        200
    );
    let successor = body(app.refresh(&rotated).await).await;
    let successor = successor["refresh"].as_str().expect("rotated").to_owned();

    let first = db_queries(&app).await;
    let before = db_queries(&app).await;
    let per_scrape = before - first;

    // The counter moves when a request does use the database (so this test can fail).
    app.post_json("/api/token/blacklist/", json!({"refresh": "not.a.token"}))
        .await;
    let (other, _) = app.login(ALICE.0, ALICE.1).await;
    let after_login = db_queries(&app).await;
    assert!(
        after_login - before > per_scrape,
        "a login queries: {before} -> {after_login}"
    );

    let valid = [
        (&access, 200),
        (&refresh, 200),
        (&successor, 200),
        (&other, 200),
    ];
    let blacklisted = [
        (&logged_out, 400),
        (&logged_out_access, 400),
        (&rotated, 400),
    ];
    // On PostgreSQL and MariaDB a valid token is the database's to vouch for: PostgreSQL's
    // empty LISTEN socket proves nothing (a notification can be in flight after its commit
    // was acknowledged) and MariaDB's follower only polls, so only a blacklisting held in
    // memory is answered without a query there. SQLite's change counter is the proof.
    let cases: Vec<_> = if server_admin_url().is_some() {
        for (token, status) in &valid {
            assert_eq!(verify_status(&app, token).await, *status);
        }
        blacklisted.to_vec()
    } else {
        valid.iter().chain(&blacklisted).copied().collect()
    };
    let start = db_queries(&app).await;
    for _ in 0..10 {
        for (token, status) in &cases {
            assert_eq!(verify_status(&app, token).await, *status);
        }
    }
    let end = db_queries(&app).await;
    assert_eq!(
        end - start,
        per_scrape,
        "{} verifies of known tokens ran {} queries",
        cases.len() * 10,
        end - start - per_scrape
    );
}

#[actix_web::test]
async fn a_revocation_through_another_instance_reaches_verify_at_once() {
    // The contract: verify decides on the database's state, so instances agree at once. B
    // answers from memory only after its follower proved, by a check begun after the request
    // arrived, that nothing committed is missing; so A's acknowledged logout is never missed,
    // however soon B is asked. Several rounds, each asking B the moment A has answered.
    let a = spawn_app().await;
    let b = a.another_instance();
    a.create_user(ALICE.0, ALICE.1);
    for round in 0..10 {
        let (refresh, access) = a.login(ALICE.0, ALICE.1).await;
        // A token issued on A is valid on B at once.
        assert_eq!(verify_status(&b, &refresh).await, 200, "round {round}");
        assert_eq!(verify_status(&b, &access).await, 200, "round {round}");
        assert_eq!(
            a.post_json("/api/token/blacklist/", json!({"refresh": refresh}))
                .await
                .status(),
            200
        );
        for token in [&access, &refresh] {
            let response = b
                .post_json("/api/token/verify/", json!({"token": token}))
                .await;
            assert_answer(response, 400, BLACKLISTED).await;
        }
    }
}

#[actix_web::test]
async fn a_polling_follower_is_asked_for_a_check_and_vouches_without_request_queries() {
    // One private in-memory database: the follower only polls (every 250 ms), so between polls
    // its state is too old to vouch for a token not held as blacklisted. A verify asks it for
    // a check at once, and is answered from memory once that check is done: no query runs for
    // the request itself.
    if on_postgres() {
        return;
    }
    let app = spawn_app_with(|settings| settings.database_url = "sqlite::memory:".into()).await;
    // The bootstrap admin: the CLI cannot reach a private in-memory database.
    let (refresh, access) = app.login(ADMIN.0, ADMIN.1).await;
    let (logged_out, _) = app.login(ADMIN.0, ADMIN.1).await;
    app.post_json("/api/token/blacklist/", json!({"refresh": logged_out}))
        .await;

    let first = db_queries(&app).await;
    let before = db_queries(&app).await;
    let per_scrape = before - first;
    for _ in 0..25 {
        assert_eq!(verify_status(&app, &logged_out).await, 400);
    }
    let after_revoked = db_queries(&app).await;
    assert_eq!(
        after_revoked - before,
        per_scrape,
        "a token held as blacklisted is refused from memory"
    );
    for _ in 0..25 {
        assert_eq!(verify_status(&app, &refresh).await, 200);
        assert_eq!(verify_status(&app, &access).await, 200);
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let after_live = db_queries(&app).await;
    // A verify waits 10 ms for the check, then asks the database itself (as it must: memory
    // is too old to vouch). On a loaded CI machine a check now and then takes longer, so a
    // few of the 50 may fall back; without the check every one of them queries.
    let own_queries = after_live - after_revoked - per_scrape;
    assert!(
        own_queries <= 5,
        "between polls the follower's check vouches, not a query of the request's own: \
         {own_queries} queries for 50 verifies"
    );
    // And a revocation is still seen at once.
    app.post_json("/api/token/blacklist/", json!({"refresh": refresh}))
        .await;
    assert_eq!(verify_status(&app, &refresh).await, 400);
    assert_eq!(verify_status(&app, &access).await, 400);
}
