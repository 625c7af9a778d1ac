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

/// A database from before the chain: its events have no hash and the seal was never made.
#[actix_web::test]
async fn events_written_before_the_chain_are_hashed_once_when_the_ledger_opens() {
    let app = spawn_app().await;
    history(&app).await;
    tamper(&app, "UPDATE token_ledger SET hash = ''");
    tamper(
        &app,
        "DELETE FROM service_secrets WHERE name = 'ledger_chain_sealed_through'",
    );
    assert_eq!(verify(&app).0, Some(1));
    let app = app.restart();
    let (code, out) = verify(&app);
    assert_eq!(code, Some(0), "{out}");
    // And the chain continues from the sealed head.
    app.login(ALICE.0, ALICE.1).await;
    assert_eq!(verify(&app).0, Some(0));
    // Sealed once: blanking hashes now is not laundered by another restart.
    tamper(&app, "UPDATE token_ledger SET hash = '' WHERE seq >= 4");
    let app = app.restart();
    let (code, out) = verify(&app);
    assert_eq!(code, Some(1), "{out}");
    assert!(out.starts_with("first bad seq: 4 "), "{out}");
}

/// Before, every open hashed every event whose hash was empty: edit an event, blank the
/// hashes from there on, restart, and `ledger verify` passed.
#[actix_web::test]
async fn an_edit_with_blanked_hashes_is_not_laundered_by_a_restart() {
    let app = spawn_app().await;
    history(&app).await;
    tamper(
        &app,
        "UPDATE token_ledger SET actor = 'nobody', hash = '' WHERE seq >= 2",
    );
    let app = app.restart().restart();
    let (code, out) = verify(&app);
    assert_eq!(code, Some(1), "{out}");
    assert!(out.starts_with("first bad seq: 2 "), "{out}");
}

#[actix_web::test]
async fn compaction_exports_then_removes_only_what_no_held_token_needs() {
    use sha2::{Digest, Sha256};
    use std::time::Duration;

    let app = spawn_app_with(|s| {
        // Long enough that a loaded machine still logs out before the pair expires.
        s.access_token_lifetime = Duration::from_secs(3);
        s.refresh_token_lifetime = Duration::from_secs(3);
        s.flush_interval = Duration::ZERO;
    })
    .await;
    app.create_user(ALICE.0, ALICE.1);
    let (refresh, _) = app.login(ALICE.0, ALICE.1).await; // seq 1, 2
    let logout = app
        .post_json("/api/token/blacklist/", json!({"refresh": refresh}))
        .await; // seq 3, 4
    assert_eq!(logout.status(), 200);
    tokio::time::sleep(Duration::from_millis(3100)).await;
    assert!(app.cli(&["flush-expired"], None).status.success()); // seq 5, 6
    app.login(ALICE.0, ALICE.1).await; // seq 7, 8: still held by the view

    let export = app.dir.path().join("ledger-2026.jsonl");
    let export_arg = export.display().to_string();
    let now = chrono::Utc::now().to_rfc3339();
    let output = app.cli(
        &[
            "ledger",
            "compact",
            "--before",
            &now,
            "--export",
            &export_arg,
        ],
        None,
    );
    let printed = String::from_utf8(output.stdout).unwrap();
    assert!(output.status.success(), "{printed}");
    assert!(
        printed.starts_with("exported and removed 6 events (seq 1..=6)"),
        "{printed}"
    );

    let exported = std::fs::read(&export).unwrap();
    let lines: Vec<serde_json::Value> = exported
        .split(|byte| *byte == b'\n')
        .filter(|line| !line.is_empty())
        .map(|line| serde_json::from_slice(line).unwrap())
        .collect();
    let seqs: Vec<i64> = lines.iter().map(|e| e["seq"].as_i64().unwrap()).collect();
    assert_eq!(seqs, [1, 2, 3, 4, 5, 6]);
    let digest = hex::encode(Sha256::digest(&exported));
    assert!(printed.contains(&format!("sha256 {digest}")), "{printed}");

    let remaining = app.cli(&["ledger", "--format", "json"], None);
    let remaining: Vec<i64> = String::from_utf8(remaining.stdout)
        .unwrap()
        .lines()
        .map(|line| {
            serde_json::from_str::<serde_json::Value>(line).unwrap()["seq"]
                .as_i64()
                .unwrap()
        })
        .collect();
    assert_eq!(remaining, [7, 8]);
    assert_eq!(
        verify(&app).0,
        Some(0),
        "the chain continues from the recorded anchor"
    );
    assert_eq!(
        view_check(&app),
        Some(0),
        "what remains still folds into the view"
    );

    // New events chain on; a second compaction has nothing to take; an export is never
    // overwritten.
    app.login(ALICE.0, ALICE.1).await;
    assert_eq!(verify(&app).0, Some(0));
    let again = app.dir.path().join("again.jsonl").display().to_string();
    let nothing = app.cli(
        &["ledger", "compact", "--before", &now, "--export", &again],
        None,
    );
    assert!(
        String::from_utf8(nothing.stdout)
            .unwrap()
            .starts_with("nothing to compact")
    );
    let existing = app.cli(
        &[
            "ledger",
            "compact",
            "--before",
            &now,
            "--export",
            &export_arg,
        ],
        None,
    );
    assert_eq!(existing.status.code(), Some(1));
    assert_eq!(std::fs::read(&export).unwrap(), exported);
}
