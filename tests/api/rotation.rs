//! Rotation: atomic under concurrency, blacklist after rotation, reuse detection.

use futures_util::future::join_all;
use serde_json::Value;

use crate::helpers::*;

const BLACKLISTED: &str = r#"{"detail":"Token is blacklisted","code":"token_not_valid"}"#;

#[actix_web::test]
async fn concurrent_refreshes_of_one_token_let_exactly_one_through() {
    let app = spawn_app().await;
    app.create_user(ALICE.0, ALICE.1);
    let (refresh, _) = app.login(ALICE.0, ALICE.1).await;

    let responses = join_all((0..8).map(|_| app.refresh(&refresh))).await;
    let mut winners = 0;
    for response in responses {
        match response.status().as_u16() {
            200 => winners += 1,
            401 => assert_eq!(response.text().await.unwrap(), BLACKLISTED),
            other => panic!("unexpected status {other}"),
        }
    }
    assert_eq!(winners, 1, "exactly one refresh may spend the token");
    app.assert_view_matches_ledger();
}

#[actix_web::test]
async fn a_rotated_token_is_blacklisted_and_its_reuse_revokes_the_session() {
    let app = spawn_app().await;
    app.create_user(ALICE.0, ALICE.1);
    let (first, _) = app.login(ALICE.0, ALICE.1).await;
    let rotated: Value = body(app.refresh(&first).await).await;
    let (second, access) = (
        rotated["refresh"].as_str().unwrap(),
        rotated["access"].as_str().unwrap(),
    );
    assert_eq!(app.me_with(access).await.status(), 200);

    // Someone replays the spent token: the whole session goes.
    assert_answer(app.refresh(&first).await, 401, BLACKLISTED).await;
    assert_answer(app.refresh(second).await, 401, BLACKLISTED).await;
    let me = body(app.me_with(access).await).await;
    assert_eq!(me["messages"][0]["message"], "Token is blacklisted");

    let events = ledger_events(&app);
    let first_jti = claims_of(&first)["jti"].as_str().unwrap().to_owned();
    assert!(
        events
            .iter()
            .any(|e| e.event.as_str() == "reuse_detected" && e.jti == first_jti)
    );
    assert!(
        events
            .iter()
            .any(|e| e.reason.map(|r| r.as_str()) == Some("reuse_detected"))
    );
    app.assert_view_matches_ledger();
}

#[actix_web::test]
async fn without_reuse_detection_a_rotated_token_is_only_refused() {
    let app = spawn_app_with(|s| s.reuse_detection = false).await;
    app.create_user(ALICE.0, ALICE.1);
    let (first, _) = app.login(ALICE.0, ALICE.1).await;
    let rotated: Value = body(app.refresh(&first).await).await;
    assert_answer(app.refresh(&first).await, 401, BLACKLISTED).await;
    assert_eq!(
        app.refresh(rotated["refresh"].as_str().unwrap())
            .await
            .status(),
        200
    );
}

#[actix_web::test]
async fn without_blacklist_after_rotation_the_old_token_keeps_working_as_in_the_reference() {
    let app = spawn_app_with(|s| {
        s.blacklist_after_rotation = false;
        s.reuse_detection = false;
    })
    .await;
    app.create_user(ALICE.0, ALICE.1);
    let (first, _) = app.login(ALICE.0, ALICE.1).await;
    assert_eq!(app.refresh(&first).await.status(), 200);
    assert_eq!(app.refresh(&first).await.status(), 200);
    app.assert_view_matches_ledger();
}

#[actix_web::test]
async fn rotation_records_rotated_blacklisted_and_the_successors_parent() {
    let app = spawn_app().await;
    app.create_user(ALICE.0, ALICE.1);
    let (first, _) = app.login(ALICE.0, ALICE.1).await;
    let rotated: Value = body(app.refresh(&first).await).await;
    let first_jti = claims_of(&first)["jti"].as_str().unwrap().to_owned();
    let second_jti = claims_of(rotated["refresh"].as_str().unwrap())["jti"]
        .as_str()
        .unwrap()
        .to_owned();

    let events = ledger_events(&app);
    let kinds: Vec<(&str, &str)> = events
        .iter()
        .map(|e| (e.event.as_str(), e.token_type.as_str()))
        .collect();
    assert_eq!(
        kinds,
        [
            ("issued", "refresh"),
            ("issued", "access"),
            ("rotated", "refresh"),
            ("blacklisted", "refresh"),
            ("issued", "refresh"),
            ("issued", "access"),
        ]
    );
    assert_eq!(events[3].reason.map(|r| r.as_str()), Some("rotation"));
    assert_eq!(events[4].jti, second_jti);
    assert_eq!(events[4].parent_jti.as_deref(), Some(first_jti.as_str()));
    assert!(
        events.windows(2).all(|w| w[1].seq == w[0].seq + 1),
        "seq is gapless and increasing"
    );
}

pub fn ledger_events(app: &TestApp) -> Vec<tokenledger::ledger::LedgerEvent> {
    let pool = tokenledger::db::connect(&app.settings.database_url).unwrap();
    tokenledger::ledger::log::events_after(&mut pool.get().unwrap(), 0, 10_000).unwrap()
}

/// Concurrent writers share transactions (group commit): refusals, reuse detections and
/// rotations racing each other must each get their own answer, and leave the ledger and the
/// view as if they had run one by one.
#[actix_web::test]
async fn concurrent_writers_with_mixed_outcomes_each_get_their_own_answer() {
    let app = spawn_app().await;
    app.create_user(ALICE.0, ALICE.1);
    let mut rotating = Vec::new();
    let mut reused = Vec::new();
    for n in 0..12 {
        let (refresh, _) = app.login(ALICE.0, ALICE.1).await;
        let rotated: Value = body(app.refresh(&refresh).await).await;
        let current = rotated["refresh"].as_str().expect("rotated").to_owned();
        if n % 2 == 0 {
            rotating.push(current);
        } else {
            reused.push((refresh, current));
        }
    }

    let refreshes = rotating.iter().map(|token| app.refresh(token));
    let reuses = reused.iter().map(|(old, _)| app.refresh(old));
    let forged = (0..6).map(|_| app.refresh("not.a.token"));
    let (refreshes, reuses, forged) =
        tokio::join!(join_all(refreshes), join_all(reuses), join_all(forged));
    let mut successors = Vec::new();
    for response in refreshes {
        assert_eq!(response.status(), 200);
        successors.push(body(response).await["refresh"].as_str().unwrap().to_owned());
    }
    for response in reuses {
        assert_eq!(response.status(), 401, "a reused token");
    }
    for response in forged {
        assert_eq!(response.status(), 401, "not a token");
    }

    // Each reuse revoked its own session and nothing else.
    for (_, current) in &reused {
        assert_eq!(app.refresh(current).await.status(), 401);
    }
    for successor in &successors {
        assert_eq!(app.refresh(successor).await.status(), 200);
    }
    app.assert_view_matches_ledger();
    let verified = app.cli(&["ledger", "verify"], None);
    assert!(verified.status.success(), "{verified:?}");
}

/// A batch keeps its view rows pending and writes them at its commit (changed rows in one
/// statement on PostgreSQL). Sixteen chains refreshed at once, three times over, with a
/// logout in each round (a read by session, which writes the pending rows out mid-batch):
/// every chain's new token works and every spent one is refused, and the view matches a
/// replay of the ledger.
#[actix_web::test]
async fn chains_refreshed_together_share_batches_and_lose_no_row() {
    let app = spawn_app().await;
    app.create_user(ALICE.0, ALICE.1);
    let mut chains = Vec::new();
    for _ in 0..16 {
        chains.push(app.login(ALICE.0, ALICE.1).await.0);
    }
    let commits_before = counter(&app, "tokenledger_ledger_commits_total").await;
    let mut spent = Vec::new();
    let mut logged_out = Vec::new();
    for _ in 0..3 {
        let (victim, _) = app.login(ALICE.0, ALICE.1).await;
        let logout = app.post_json(
            "/api/token/blacklist/",
            serde_json::json!({ "refresh": victim }),
        );
        let (answers, logout) =
            tokio::join!(join_all(chains.iter().map(|t| app.refresh(t))), logout);
        assert_eq!(logout.status(), 200);
        logged_out.push(victim);
        let mut next = Vec::new();
        for answer in answers {
            assert_eq!(answer.status(), 200);
            next.push(body(answer).await["refresh"].as_str().unwrap().to_owned());
        }
        spent.extend(std::mem::replace(&mut chains, next));
    }
    let commits = counter(&app, "tokenledger_ledger_commits_total").await - commits_before;
    // 3 x (16 refreshes + a login + a logout): fewer commits means jobs shared batches.
    assert!(commits < 54, "{commits} commits: no batch held two jobs");
    // The live ones first: presenting a spent one is reuse, which revokes its session.
    for token in &chains {
        assert_eq!(app.refresh(token).await.status(), 200);
    }
    for token in spent.iter().chain(&logged_out) {
        assert_answer(app.refresh(token).await, 401, BLACKLISTED).await;
    }
    app.assert_view_matches_ledger();
}
