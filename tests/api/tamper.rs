//! Tamper evidence: edits, deletions and reorderings made straight in the database file are
//! caught by `ledger verify` (naming the first bad seq) and, where they change a token's
//! state, by `view check`; `view rebuild` repairs a tampered view.

use diesel::RunQueryDsl;
use serde_json::json;

use crate::helpers::*;

/// Runs SQL on the database file behind the service's back.
fn tamper(app: &TestApp, sql: &str) {
    let pool = tokenledger::db::connect(&app.settings.database_url).expect("db");
    let mut conn = pool.get().expect("connection");
    let changed = diesel::sql_query(sql).execute(&mut conn).expect("tampered");
    assert!(changed > 0, "{sql} changed nothing");
}

fn verify(app: &TestApp) -> (Option<i32>, String) {
    let output = app.cli(&["ledger", "verify"], None);
    (
        output.status.code(),
        String::from_utf8(output.stdout).expect("utf-8"),
    )
}

fn view_check(app: &TestApp) -> Option<i32> {
    app.cli(&["view", "check"], None).status.code()
}

/// Login, rotation, logout: 9 events (seq 1..=9), the last ones blacklistings.
async fn history(app: &TestApp) {
    app.create_user(ALICE.0, ALICE.1);
    let (refresh, _) = app.login(ALICE.0, ALICE.1).await;
    let rotated = body(app.refresh(&refresh).await).await;
    let logout = app
        .post_json(
            "/api/token/blacklist/",
            json!({"refresh": rotated["refresh"]}),
        )
        .await;
    assert_eq!(logout.status(), 200);
}

#[actix_web::test]
async fn an_untouched_ledger_verifies_and_reports_its_head() {
    let app = spawn_app().await;
    history(&app).await;
    let (code, out) = verify(&app);
    assert_eq!(code, Some(0), "{out}");
    assert!(out.starts_with("ledger verified: "), "{out}");
    assert!(out.contains(" head seq "), "{out}");
}

#[actix_web::test]
async fn an_edited_event_is_named_and_view_check_fails_until_rebuild() {
    let app = spawn_app().await;
    history(&app).await;
    // Turn the logout into an admin action, as someone hiding what happened might.
    tamper(
        &app,
        "UPDATE token_ledger SET reason = 'admin' WHERE seq = (SELECT MIN(seq) FROM token_ledger WHERE reason = 'logout')",
    );
    let pool = tokenledger::db::connect(&app.settings.database_url).unwrap();
    let edited: i64 = {
        use diesel::prelude::*;
        use tokenledger::db::schema::token_ledger::dsl::*;
        token_ledger
            .filter(reason.eq("admin"))
            .select(seq)
            .first(&mut pool.get().unwrap())
            .unwrap()
    };
    let (code, out) = verify(&app);
    assert_eq!(code, Some(1));
    assert!(
        out.starts_with(&format!("first bad seq: {edited} ")),
        "{out}"
    );
    assert_eq!(
        view_check(&app),
        Some(1),
        "the view says logout, the ledger now says admin"
    );

    let rebuilt = app.cli(&["view", "rebuild"], None);
    assert!(rebuilt.status.success());
    assert_eq!(view_check(&app), Some(0));
    assert_eq!(verify(&app).0, Some(1), "the ledger itself stays tampered");
}

#[actix_web::test]
async fn a_tampered_view_is_caught_by_view_check_and_repaired_by_rebuild() {
    let app = spawn_app().await;
    history(&app).await;
    tamper(
        &app,
        "UPDATE token_view SET state = 'outstanding', blacklisted_at = NULL, reason = NULL WHERE state = 'blacklisted'",
    );
    assert_eq!(view_check(&app), Some(1));
    assert_eq!(verify(&app).0, Some(0), "the ledger is intact");
    assert!(app.cli(&["view", "rebuild"], None).status.success());
    assert_eq!(view_check(&app), Some(0));
}

#[actix_web::test]
async fn a_deleted_event_is_named() {
    let app = spawn_app().await;
    history(&app).await;
    tamper(&app, "DELETE FROM token_ledger WHERE seq = 4");
    let (code, out) = verify(&app);
    assert_eq!(code, Some(1));
    assert!(out.starts_with("first bad seq: 4 (missing"), "{out}");
}

#[actix_web::test]
async fn deleting_the_newest_events_is_caught_through_the_view() {
    let app = spawn_app().await;
    history(&app).await;
    tamper(
        &app,
        "DELETE FROM token_ledger WHERE seq = (SELECT MAX(seq) FROM token_ledger)",
    );
    let (code, out) = verify(&app);
    assert_eq!(code, Some(1));
    assert!(out.contains("(missing: the view has folded seq"), "{out}");
}

#[actix_web::test]
async fn reordered_events_are_named_at_the_first_moved_one() {
    let app = spawn_app().await;
    history(&app).await;
    // Swap the contents of seq 2 and 3, keeping each row's seq and hash.
    tamper(
        &app,
        "UPDATE token_ledger SET jti = CASE seq WHEN 2 THEN (SELECT jti FROM token_ledger WHERE seq = 3) \
         ELSE (SELECT jti FROM token_ledger WHERE seq = 2) END WHERE seq IN (2, 3)",
    );
    let (code, out) = verify(&app);
    assert_eq!(code, Some(1));
    assert!(out.starts_with("first bad seq: 2 "), "{out}");
}

#[actix_web::test]
async fn events_written_before_the_chain_are_hashed_when_the_ledger_opens() {
    let app = spawn_app().await;
    history(&app).await;
    tamper(&app, "UPDATE token_ledger SET hash = ''");
    assert_eq!(verify(&app).0, Some(1));
    let app = app.restart();
    let (code, out) = verify(&app);
    assert_eq!(code, Some(0), "{out}");
    // And the chain continues from the backfilled head.
    app.login(ALICE.0, ALICE.1).await;
    assert_eq!(verify(&app).0, Some(0));
}
