//! The audit and maintenance operations at a million ledger events: seeds a SQLite ledger
//! with realistic sessions (login: refresh + access; one rotation: rotated, blacklisted,
//! issued x2 = 6 events per session; half the access tokens already ended), then times each
//! query and maintenance command once, and prints one table.
//!
//! Run: `cargo bench --bench ledger_scale [-- EVENTS]` (default 1,000,000). With
//! `LEDGER_SCALE_DB=PATH` the seeded database is kept at PATH (to EXPLAIN queries on it).

use std::time::Instant;

use chrono::Duration;
use diesel::connection::SimpleConnection;
use tokenledger::db;
use tokenledger::ledger::query::{self, EventFilter, TokenFilter};
use tokenledger::ledger::{
    Decision, EventKind, Ledger, NewEvent, Reason, TokenRef, TokenState, TokenType, chain, flush,
    replay,
};
use tokenledger::time;
use tokenledger::tokens::claims::new_id;

const USERS: i64 = 1_000;
const SESSIONS_PER_WRITE: usize = 200;

/// Session `n` of `total`, logged in `total - n` seconds ago (one login a second).
fn session(n: usize, total: usize, now: chrono::NaiveDateTime) -> Vec<NewEvent> {
    let at = now - Duration::seconds((total - n) as i64);
    let user_id = (n as i64 % USERS) + 1;
    let sid = new_id();
    let token = |token_type, expires_at| TokenRef {
        jti: new_id(),
        token_type,
        user_id,
        sid: sid.clone(),
        expires_at,
    };
    // Half the sessions' access tokens ended a minute ago: work for flush-expired.
    let access_end = if n.is_multiple_of(2) {
        now - Duration::minutes(1)
    } else {
        now + Duration::minutes(5)
    };
    let refresh = token(TokenType::Refresh, now + Duration::days(1));
    let access = token(TokenType::Access, access_end);
    let successor = token(TokenType::Refresh, now + Duration::days(1));
    let second_access = token(TokenType::Access, access_end);
    vec![
        NewEvent::issued(refresh.clone(), None, at),
        NewEvent::issued(access, Some(refresh.jti.clone()), at),
        NewEvent::rotated(refresh.clone(), at),
        NewEvent::blacklisted(refresh.clone(), Reason::Rotation, at),
        NewEvent::issued(successor, Some(refresh.jti.clone()), at),
        NewEvent::issued(second_access, Some(refresh.jti), at),
    ]
}

fn timed<T>(
    rows: &mut Vec<(String, f64, String)>,
    name: &str,
    run: impl FnOnce() -> T,
    describe: impl Fn(&T) -> String,
) {
    let started = Instant::now();
    let result = run();
    let ms = started.elapsed().as_secs_f64() * 1e3;
    rows.push((name.to_owned(), ms, describe(&result)));
}

/// Runs `run` with `index` dropped, then builds it again (`create`): what the index saves.
fn without_index(conn: &mut db::DbConn, index: &str, create: &str, run: impl FnOnce()) {
    conn.batch_execute(&format!("DROP INDEX {index}"))
        .expect("drop the index");
    run();
    conn.batch_execute(create).expect("build the index again");
}

fn main() -> anyhow::Result<()> {
    let target: usize = std::env::args()
        .skip(1)
        .find_map(|arg| arg.replace('_', "").parse().ok())
        .unwrap_or(1_000_000);
    let dir = tempfile::tempdir()?;
    let path = std::env::var_os("LEDGER_SCALE_DB")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| dir.path().join("scale.db"));
    let url = format!("sqlite://{}", path.display());
    let ledger = Ledger::open(db::connect(&url)?)?;

    let started = Instant::now();
    let now = time::now();
    let sessions = target.div_ceil(6);
    for first in (0..sessions).step_by(SESSIONS_PER_WRITE) {
        let events: Vec<NewEvent> = (first..(first + SESSIONS_PER_WRITE).min(sessions))
            .flat_map(|n| session(n, sessions, now))
            .collect();
        ledger.write(|_| Ok::<_, db::StoreError>(Decision::new(events, ())))?;
    }
    let seeded = started.elapsed().as_secs_f64();
    let mut conn = ledger.pool().get()?;
    let events = tokenledger::ledger::chain::head_seq(&mut conn)?;
    println!("seeded {events} events ({sessions} sessions) in {seeded:.1} s");

    let sample = query::events(
        &mut conn,
        &EventFilter {
            after: Some(events / 2),
            ..Default::default()
        },
        1,
    )?;
    let middle = sample.first().expect("an event").clone();
    let mut rows = Vec::new();
    let page = |filter: EventFilter| {
        let mut conn = ledger.pool().get().expect("connection");
        query::events(&mut conn, &filter, 100).expect("query")
    };
    let count = |events: &Vec<_>| format!("{} events", events.len());
    timed(
        &mut rows,
        "ledger ?user_id=U&limit=100",
        || {
            page(EventFilter {
                user_id: Some(middle.user_id),
                ..Default::default()
            })
        },
        count,
    );
    timed(
        &mut rows,
        "ledger ?user_id=U&after=<middle>",
        || {
            page(EventFilter {
                user_id: Some(middle.user_id),
                after: Some(middle.seq),
                ..Default::default()
            })
        },
        count,
    );
    timed(
        &mut rows,
        "ledger ?jti=J",
        || {
            page(EventFilter {
                jti: Some(middle.jti.clone()),
                ..Default::default()
            })
        },
        count,
    );
    timed(
        &mut rows,
        "ledger ?sid=S",
        || {
            page(EventFilter {
                sid: Some(middle.sid.clone()),
                ..Default::default()
            })
        },
        count,
    );
    timed(
        &mut rows,
        "ledger ?event=blacklisted&reason=rotation",
        || {
            page(EventFilter {
                event: Some(EventKind::Blacklisted),
                reason: Some(Reason::Rotation),
                after: Some(middle.seq),
                ..Default::default()
            })
        },
        count,
    );
    timed(
        &mut rows,
        "ledger ?event=reuse_detected (none exist)",
        || {
            page(EventFilter {
                event: Some(EventKind::ReuseDetected),
                ..Default::default()
            })
        },
        count,
    );
    timed(
        &mut rows,
        "ledger ?since=T&until=T+1s",
        || {
            page(EventFilter {
                since: Some(middle.at),
                until: Some(middle.at + Duration::seconds(1)),
                ..Default::default()
            })
        },
        count,
    );
    timed(
        &mut rows,
        "ledger ?since=&until= covering everything",
        || {
            page(EventFilter {
                since: Some(now - Duration::days(30)),
                until: Some(now + Duration::days(30)),
                ..Default::default()
            })
        },
        count,
    );
    without_index(
        &mut conn,
        "token_ledger_event",
        "CREATE INDEX token_ledger_event ON token_ledger (event, seq)",
        || {
            timed(
                &mut rows,
                "ledger ?event=reuse_detected, without token_ledger_event",
                || {
                    page(EventFilter {
                        event: Some(EventKind::ReuseDetected),
                        ..Default::default()
                    })
                },
                count,
            )
        },
    );
    timed(
        &mut rows,
        "ledger ?after=<middle>&limit=100",
        || {
            page(EventFilter {
                after: Some(middle.seq),
                ..Default::default()
            })
        },
        count,
    );
    let view_page = |filter: TokenFilter| {
        let mut conn = ledger.pool().get().expect("connection");
        query::tokens(&mut conn, &filter, 100).expect("tokens")
    };
    let by_state = || {
        view_page(TokenFilter {
            state: Some(TokenState::Blacklisted),
            after_jti: Some(middle.jti.clone()),
            ..Default::default()
        })
    };
    let tokens_count = |rows: &Vec<_>| format!("{} tokens", rows.len());
    timed(
        &mut rows,
        "tokens ?state=blacklisted&cursor=J",
        by_state,
        tokens_count,
    );
    timed(
        &mut rows,
        "tokens ?user_id=U",
        || {
            view_page(TokenFilter {
                user_id: Some(middle.user_id),
                ..Default::default()
            })
        },
        tokens_count,
    );
    without_index(
        &mut conn,
        "token_view_state_jti",
        "CREATE INDEX token_view_state_jti ON token_view (state, jti)",
        || {
            timed(
                &mut rows,
                "tokens ?state=blacklisted&cursor=J, without token_view_state_jti",
                by_state,
                tokens_count,
            )
        },
    );
    timed(
        &mut rows,
        "tokens/{jti}/history/",
        || query::history(&mut conn, &middle.jti).expect("history"),
        |h| {
            format!(
                "{} events, {} in lineage",
                h.as_ref().map_or(0, |h| h.events.len()),
                h.as_ref().map_or(0, |h| h.lineage.len())
            )
        },
    );
    timed(
        &mut rows,
        "users/{id}/tokens/?at=now",
        || query::tokens_at(&mut conn, middle.user_id, time::now()).expect("at"),
        |t| format!("{} tokens", t.len()),
    );
    timed(
        &mut rows,
        "view check",
        || replay::check(&mut conn, |_| {}).expect("check"),
        |d| format!("{} differences", d.len()),
    );
    timed(
        &mut rows,
        "view rebuild",
        || replay::rebuild(&mut conn, |_| {}).expect("rebuild"),
        |r| format!("{} events -> {} tokens", r.events, r.rows),
    );
    timed(
        &mut rows,
        "ledger verify",
        || chain::verify(&mut conn, |_| {}).expect("verify"),
        |v| {
            format!(
                "{} events, bad: {:?}",
                v.events,
                v.first_bad.as_ref().map(|b| b.seq)
            )
        },
    );
    timed(
        &mut rows,
        "flush-expired",
        || flush::flush_expired(&ledger, time::now(), flush::DEFAULT_BATCH, |_| {}).expect("flush"),
        |n| format!("{n} tokens expired"),
    );

    println!("{:<64} {:>10}  result", "operation", "ms");
    for (name, ms, result) in rows {
        println!("{name:<64} {ms:>10.1}  {result}");
    }
    Ok(())
}
