//! One webhook delivery as the Standard Webhooks specification defines it: the JSON body
//! `{"type", "timestamp", "data"}` and the three headers, signed with the specification's own
//! crate. Pure: no clock, no I/O (the caller passes the attempt's time).

use serde_json::json;

use crate::ledger::LedgerEvent;
use crate::time::rfc3339;

/// A signed delivery, ready to POST.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// `webhook-id`: the same for every attempt at one event to one URL, so a receiver can
    /// drop a redelivery it already handled.
    pub id: String,
    /// `webhook-timestamp`: the attempt's time, whole seconds since the epoch.
    pub timestamp: i64,
    /// `webhook-signature`: `v1,<base64 HMAC-SHA256 of "id.timestamp.body">`.
    pub signature: String,
    pub body: String,
}

/// `webhook-id` of `seq` for the URL whose endpoint key is `endpoint` (hex).
pub fn message_id(endpoint: &str, seq: i64) -> String {
    let url_part = endpoint.get(..12).unwrap_or(endpoint);
    format!("msg_{url_part}_{seq}")
}

/// The body: `type` is `token.<event>`, `timestamp` when the event happened, `data` the
/// ledger event exactly as `GET /api/admin/ledger/` shows it.
pub fn body(event: &LedgerEvent) -> String {
    json!({
        "type": format!("token.{}", event.event.as_str()),
        "timestamp": rfc3339::format(&event.at),
        "data": event,
    })
    .to_string()
}

pub fn sign(
    signer: &standardwebhooks::Webhook,
    endpoint: &str,
    event: &LedgerEvent,
    timestamp: i64,
) -> Message {
    let id = message_id(endpoint, event.seq);
    let body = body(event);
    // `sign` fails only on a body that is not UTF-8; ours is a Rust string.
    let signature = signer
        .sign(&id, timestamp, body.as_bytes())
        .unwrap_or_default();
    Message {
        id,
        timestamp,
        signature,
        body,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ledger::{EventKind, Reason, TokenType};
    use base64::Engine;
    use hmac::{Hmac, Mac};

    fn event() -> LedgerEvent {
        LedgerEvent {
            seq: 7,
            at: chrono::DateTime::from_timestamp(1_700_000_000, 0)
                .expect("an instant")
                .naive_utc(),
            event: EventKind::Blacklisted,
            jti: "a".repeat(32),
            token_type: TokenType::Access,
            user_id: 2,
            sid: "b".repeat(32),
            parent_jti: None,
            reason: Some(Reason::Logout),
            actor: None,
            expires_at: chrono::DateTime::from_timestamp(1_700_000_300, 0)
                .expect("an instant")
                .naive_utc(),
            hash: "h".into(),
        }
    }

    /// The signature checked by hand, from the specification's text (not through the crate
    /// that made it): base64(HMAC-SHA256(key, "id.timestamp.body")).
    #[test]
    fn the_signature_is_the_specifications_hmac_and_the_id_is_stable() {
        let key = b"a key of some thirty-two bytes!!";
        let secret = format!(
            "whsec_{}",
            base64::engine::general_purpose::STANDARD.encode(key)
        );
        let signer = standardwebhooks::Webhook::new(&secret).expect("a secret");
        let first = sign(&signer, "0123456789abcdef", &event(), 1_700_000_100);
        let again = sign(&signer, "0123456789abcdef", &event(), 1_700_000_200);
        assert_eq!(first.id, "msg_0123456789ab_7");
        assert_eq!(first.id, again.id, "a redelivery repeats the id");
        let mut mac = Hmac::<sha2::Sha256>::new_from_slice(key).expect("any key length");
        mac.update(format!("{}.{}.{}", first.id, first.timestamp, first.body).as_bytes());
        let expected =
            base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes());
        assert_eq!(first.signature, format!("v1,{expected}"));
        let body: serde_json::Value = serde_json::from_str(&first.body).expect("JSON");
        assert_eq!(body["type"], "token.blacklisted");
        assert_eq!(body["timestamp"], "2023-11-14T22:13:20Z");
        assert_eq!(body["data"]["seq"], 7);
        assert_eq!(body["data"]["reason"], "logout");
    }
}
