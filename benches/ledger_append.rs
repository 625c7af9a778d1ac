//! What the hash chain costs on the append path, measured in one run: a ledger write (one
//! `issued` event: write transaction, seq, chain link, insert, fold into the view, commit on
//! a WAL SQLite file with synchronous=FULL) against its parts alone: reading the head (seq and
//! hash in one query, as the seq alone was read before) and computing one link.
//!
//! Run: `cargo bench --bench ledger_append`

use std::time::{Duration, Instant};

use tokenledger::db;
use tokenledger::ledger::{Decision, Ledger, NewEvent, TokenRef, TokenType, chain};
use tokenledger::tokens::claims::new_id;

const WRITES: u32 = 3_000;

fn token() -> TokenRef {
    TokenRef {
        jti: new_id(),
        token_type: TokenType::Access,
        user_id: 1,
        sid: new_id(),
        expires_at: tokenledger::time::now() + chrono::Duration::minutes(5),
    }
}

fn per_op(total: Duration, count: u32) -> f64 {
    total.as_secs_f64() * 1e6 / f64::from(count)
}

fn main() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let url = format!("sqlite://{}", dir.path().join("bench.db").display());
    let ledger = Ledger::open(db::connect(&url)?)?;

    let started = Instant::now();
    for _ in 0..WRITES {
        ledger.write(|_| {
            let event = NewEvent::issued(token(), None, tokenledger::time::now());
            Ok::<_, db::StoreError>(Decision::new(vec![event], ()))
        })?;
    }
    let append = per_op(started.elapsed(), WRITES);

    let mut conn = ledger.pool().get()?;
    let started = Instant::now();
    for _ in 0..WRITES {
        std::hint::black_box(chain::head(&mut conn)?);
    }
    let head = per_op(started.elapsed(), WRITES);

    let event = NewEvent::issued(token(), None, tokenledger::time::now()).with_seq(1);
    let started = Instant::now();
    for _ in 0..WRITES {
        std::hint::black_box(chain::link(
            std::hint::black_box("0".repeat(64).as_str()),
            &event,
        ));
    }
    let link = per_op(started.elapsed(), WRITES);

    println!("{:<44} {:>10}", "operation", "us/op");
    println!(
        "{:<44} {append:>10.1}",
        "ledger write, 1 event (with the chain)"
    );
    println!(
        "{:<44} {head:>10.1}",
        "  read the head (seq + hash, one query)"
    );
    println!("{:<44} {link:>10.1}", "  chain: SHA-256 link of one event");
    // The head read replaced the seq read a write did before the chain, so the chain adds
    // only the link.
    println!("chain share of a write: {:.1}%", link / append * 100.0);
    Ok(())
}
