//! Tamper evidence: every event's `hash` is SHA-256 over the previous event's hash and this
//! event's fields, so editing, deleting or reordering any stored event breaks the chain from
//! that event on. `verify` walks the chain and names the first bad seq.
//!
//! The chain proves the ledger is the one the service wrote only to someone who knows the head:
//! whoever can rewrite the database can also recompute every hash after an edit. `verify`
//! prints the head seq and hash so auditors can record them elsewhere and compare later.

use diesel::dsl::max;
use diesel::prelude::*;
use sha2::{Digest, Sha256};

use super::event::LedgerEvent;
use super::log::events_after;
use crate::db::schema::{ledger_compactions, service_secrets, token_ledger, token_view};
use crate::db::{DbConn, StoreError};
use crate::time::rfc3339;

/// The hash before the first event (and before the first event kept after a compaction, the
/// hash recorded by that compaction).
pub const GENESIS: &str = "";

const PAGE: i64 = 10_000;

/// The event's hash given the previous one. The fields go in as a JSON array in a fixed
/// order, so no value can be mistaken for another's boundary. The array is serialised straight
/// into the digest (a tuple serialises exactly as the `json!` array it replaced: the
/// `link_is_the_json_array_it_always_was` test holds it to that, byte for byte).
pub fn link(previous: &str, event: &LedgerEvent) -> String {
    let fields = (
        event.seq,
        rfc3339::format(&event.at),
        event.event.as_str(),
        &event.jti,
        event.token_type.as_str(),
        event.user_id,
        &event.sid,
        &event.parent_jti,
        event.reason.map(|reason| reason.as_str()),
        &event.actor,
        rfc3339::format(&event.expires_at),
    );
    let mut digest = Sha256::new();
    digest.update(previous.as_bytes());
    digest.update(b"\n");
    // Writing into a digest cannot fail, and these fields always serialise.
    let _ = serde_json::to_writer(DigestWriter(&mut digest), &fields);
    hex::encode(digest.finalize())
}

/// Feeds what serde_json writes into the hash, with no intermediate string.
struct DigestWriter<'a>(&'a mut Sha256);

impl std::io::Write for DigestWriter<'_> {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.update(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The newest seq in the ledger (when a compaction removed every event, the last it removed;
/// 0 for a new ledger).
pub fn head_seq(conn: &mut DbConn) -> Result<i64, StoreError> {
    let newest = token_ledger::table
        .select(max(token_ledger::seq))
        .get_result::<Option<i64>>(conn)?;
    match newest {
        Some(seq) => Ok(seq),
        None => Ok(anchor(conn)?.0),
    }
}

/// Where the chain starts: after the latest compaction, or at the beginning.
pub fn anchor(conn: &mut DbConn) -> Result<(i64, String), StoreError> {
    Ok(ledger_compactions::table
        .order(ledger_compactions::id.desc())
        .select((
            ledger_compactions::up_to_seq,
            ledger_compactions::up_to_hash,
        ))
        .first::<(i64, String)>(conn)
        .optional()?
        .unwrap_or((0, GENESIS.to_owned())))
}

/// The seq and hash the next appended event follows: one indexed read of the newest row. Each
/// write batch reads it, so it is the row whose seq is the greatest rather than the first of a
/// descending order: without a `LIMIT` parameter, which SQLite re-prepares at every bind (see
/// `view::find`).
pub fn head(conn: &mut DbConn) -> Result<(i64, String), StoreError> {
    let all = diesel::alias!(token_ledger as all_events);
    let newest = token_ledger::table
        .filter(
            token_ledger::seq
                .nullable()
                .eq(all.select(max(all.field(token_ledger::seq))).single_value()),
        )
        .select((token_ledger::seq, token_ledger::hash))
        .get_result::<(i64, String)>(conn)
        .optional()?;
    match newest {
        Some(head) => Ok(head),
        None => anchor(conn),
    }
}

/// The `service_secrets` row (the table of instance-wide values every instance shares) that
/// records the one-time seal, with the head seq it sealed through.
pub const SEALED: &str = "ledger_chain_sealed_through";

/// What opening the ledger found of the chain.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Seal {
    /// The first open since the chain exists: the events written before it were hashed now.
    SealedNow { hashed: u64 },
    /// Sealed before; events without a hash since then are tampering (none is written so).
    Sealed { unhashed: u64 },
}

/// Gives the events written before the chain existed their hashes, once: the seal is
/// recorded, and from then on an empty hash is never filled in again (whoever can write the
/// table could otherwise edit events, blank the hashes from there on, restart the service
/// and have the chain recomputed over the edit). `ledger verify` reports such an event.
pub fn seal_once(conn: &mut DbConn) -> Result<Seal, StoreError> {
    crate::db::write_transaction(conn, |conn| {
        let sealed = service_secrets::table
            .find(SEALED)
            .select(service_secrets::value)
            .first::<String>(conn)
            .optional()?;
        if sealed.is_some() {
            let unhashed = token_ledger::table
                .filter(token_ledger::hash.eq(""))
                .count()
                .get_result::<i64>(conn)?;
            return Ok(Seal::Sealed {
                unhashed: unhashed as u64,
            });
        }
        let hashed = hash_unhashed(conn)?;
        let (head_seq, _) = head(conn)?;
        diesel::insert_into(service_secrets::table)
            .values((
                service_secrets::name.eq(SEALED),
                service_secrets::value.eq(head_seq.to_string()),
            ))
            .execute(conn)?;
        Ok(Seal::SealedNow { hashed })
    })
}

/// Hashes every event without a hash, in seq order, continuing the chain.
fn hash_unhashed(conn: &mut DbConn) -> Result<u64, StoreError> {
    let unhashed = token_ledger::table
        .filter(token_ledger::hash.eq(""))
        .count()
        .get_result::<i64>(conn)?;
    if unhashed == 0 {
        return Ok(0);
    }
    let (mut after, mut previous) = anchor(conn)?;
    let mut sealed = 0;
    loop {
        let page = events_after(conn, after, PAGE)?;
        let Some(last) = page.last() else { break };
        after = last.seq;
        for event in page {
            let hash = if event.hash.is_empty() {
                let hash = link(&previous, &event);
                diesel::update(token_ledger::table.find(event.seq))
                    .set(token_ledger::hash.eq(&hash))
                    .execute(conn)?;
                sealed += 1;
                hash
            } else {
                event.hash
            };
            previous = hash;
        }
    }
    Ok(sealed)
}

/// What `ledger verify` found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verification {
    pub events: u64,
    pub head_seq: i64,
    pub head_hash: String,
    pub first_bad: Option<BadEvent>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadEvent {
    pub seq: i64,
    pub problem: String,
}

/// Walks the whole chain from its anchor, calling `progress` with the events checked.
pub fn verify(
    conn: &mut DbConn,
    mut progress: impl FnMut(u64),
) -> Result<Verification, StoreError> {
    let (anchor_seq, anchor_hash) = anchor(conn)?;
    let mut previous = anchor_hash;
    let mut expected_seq = anchor_seq + 1;
    let mut checked = 0u64;
    let mut after = 0;
    let bad = |seq: i64, problem: String| Some(BadEvent { seq, problem });
    let first_bad = 'walk: loop {
        let page = events_after(conn, after, PAGE)?;
        let Some(last) = page.last() else {
            break 'walk None;
        };
        after = last.seq;
        for event in &page {
            if event.seq < expected_seq {
                break 'walk bad(
                    event.seq,
                    format!("seq {} is at or before the compaction anchor", event.seq),
                );
            }
            if event.seq > expected_seq {
                break 'walk bad(
                    expected_seq,
                    format!(
                        "missing: the ledger jumps from seq {} to {}",
                        expected_seq - 1,
                        event.seq
                    ),
                );
            }
            let hash = link(&previous, event);
            if event.hash != hash {
                break 'walk bad(
                    event.seq,
                    "its hash does not match its fields and the previous hash (edited, reordered or a predecessor removed)".into(),
                );
            }
            previous = hash;
            expected_seq += 1;
            checked += 1;
        }
        progress(checked);
    };
    let head_seq = expected_seq - 1;
    // Removing the newest events leaves a valid shorter chain; the view still remembers
    // having folded them.
    let first_bad = first_bad.or({
        let folded = token_view::table
            .select(max(token_view::last_seq))
            .first::<Option<i64>>(conn)?
            .unwrap_or(0);
        if folded > head_seq {
            bad(
                head_seq + 1,
                format!("missing: the view has folded seq {folded}, the ledger ends at {head_seq}"),
            )
        } else {
            None
        }
    });
    Ok(Verification {
        events: checked,
        head_seq,
        head_hash: previous,
        first_bad,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ledger::event::{NewEvent, TokenRef, TokenType};

    fn event(seq: i64, jti: &str) -> LedgerEvent {
        let at = chrono::DateTime::from_timestamp(1_900_000_000 + seq, 0)
            .unwrap()
            .naive_utc();
        let token = TokenRef {
            jti: jti.into(),
            token_type: TokenType::Access,
            user_id: 7,
            sid: "s".into(),
            expires_at: at,
        };
        NewEvent::issued(token, None, at).with_seq(seq)
    }

    /// The hash as it was first defined: a `json!` array, rendered, then hashed.
    fn link_as_first_defined(previous: &str, event: &LedgerEvent) -> String {
        let fields = serde_json::json!([
            event.seq,
            rfc3339::format(&event.at),
            event.event.as_str(),
            event.jti,
            event.token_type.as_str(),
            event.user_id,
            event.sid,
            event.parent_jti,
            event.reason.map(|reason| reason.as_str()),
            event.actor,
            rfc3339::format(&event.expires_at),
        ]);
        let mut digest = Sha256::new();
        digest.update(previous.as_bytes());
        digest.update(b"\n");
        digest.update(fields.to_string().as_bytes());
        hex::encode(digest.finalize())
    }

    #[test]
    fn link_is_the_json_array_it_always_was() {
        let plain = event(1, "a");
        let mut odd = event(5, "quote\" back\\slash \u{1} tab\t é 😀 \u{2028}");
        odd.sid = String::new();
        odd.parent_jti = Some("p\"\n".into());
        odd.reason = Some(crate::ledger::Reason::ReuseDetected);
        odd.actor = Some("admin:1 </script>".into());
        odd.user_id = i64::MIN;
        let mut huge = event(3, "");
        huge.seq = i64::MAX;
        for (previous, event) in [(GENESIS, &plain), ("abc", &odd), ("x", &huge)] {
            assert_eq!(
                link(previous, event),
                link_as_first_defined(previous, event)
            );
        }
    }

    #[test]
    fn the_hash_covers_every_field_and_the_previous_hash() {
        let base = link(GENESIS, &event(1, "a"));
        assert_eq!(base.len(), 64);
        assert_eq!(base, link(GENESIS, &event(1, "a")), "deterministic");
        assert_ne!(base, link("x", &event(1, "a")));
        assert_ne!(base, link(GENESIS, &event(2, "a")));
        assert_ne!(base, link(GENESIS, &event(1, "b")));
        let mut actor = event(1, "a");
        actor.actor = Some("admin:1".into());
        assert_ne!(base, link(GENESIS, &actor));
        // A value cannot shift across a field boundary.
        let mut left = event(1, "ab");
        left.sid = "c".into();
        let mut right = event(1, "a");
        right.sid = "bc".into();
        assert_ne!(link(GENESIS, &left), link(GENESIS, &right));
    }
}
