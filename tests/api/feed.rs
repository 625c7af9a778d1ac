//! The revocation feed (contract section 8): who may read it, the paged list, and the SSE
//! stream: resume with `Last-Event-ID` exactly once, revocations from another instance within
//! a second, keep-alive comments, and the cap on open streams under a burst of opens.

use std::time::{Duration, Instant};

use futures_util::future::join_all;
use serde_json::{Value, json};

use crate::helpers::*;

pub const FEED_KEY: &str = "feed-key-of-at-least-thirty-two-characters";

pub async fn spawn_feed_app(configure: impl FnOnce(&mut tokenledger::config::Settings)) -> TestApp {
    spawn_app_with(|settings| {
        settings.feed_keys = Some(tokenledger::config::Secret::new(FEED_KEY));
        configure(settings);
    })
    .await
}

pub async fn admin_access(app: &TestApp) -> String {
    app.login(ADMIN.0, ADMIN.1).await.1
}

/// Logs alice in and out `times` times: each logout revokes the refresh and the access token.
pub async fn logouts(app: &TestApp, times: usize) {
    for _ in 0..times {
        let (refresh, _) = app.login(ALICE.0, ALICE.1).await;
        let response = app
            .post_json("/api/token/blacklist/", json!({"refresh": refresh}))
            .await;
        assert_eq!(response.status(), 200);
    }
}

async fn page(app: &TestApp, query: &str, bearer: &str) -> (u16, Value) {
    let response = app
        .client
        .get(app.url(&format!("/api/revocations/{query}")))
        .bearer_auth(bearer)
        .send()
        .await
        .expect("request");
    (response.status().as_u16(), body(response).await)
}

/// Every revocation the paged endpoint lists, oldest first.
pub async fn all_revocations(app: &TestApp) -> Vec<Value> {
    let (status, body) = page(app, "?limit=1000", FEED_KEY).await;
    assert_eq!(status, 200, "{body}");
    body["revocations"].as_array().expect("a list").clone()
}

/// One event of a stream.
#[derive(Debug, Clone)]
pub struct SseEvent {
    pub id: Option<String>,
    pub event: Option<String>,
    pub data: String,
}

/// A minimal SSE reader over a streaming response: events and comment lines, in order.
pub struct Sse {
    response: reqwest::Response,
    buffer: String,
    pub comments: Vec<String>,
}

impl Sse {
    pub async fn open(app: &TestApp, query: &str, last_event_id: Option<&str>) -> Sse {
        let mut request = app
            .client
            .get(app.url(&format!("/api/revocations/stream{query}")))
            .bearer_auth(FEED_KEY);
        if let Some(id) = last_event_id {
            request = request.header("Last-Event-ID", id);
        }
        let response = request.send().await.expect("request");
        assert_eq!(response.status(), 200);
        assert_eq!(
            response.headers()["content-type"],
            "text/event-stream",
            "an event stream"
        );
        Sse {
            response,
            buffer: String::new(),
            comments: Vec::new(),
        }
    }

    /// The next event, waiting at most `within`; `None` when none came in time.
    pub async fn next(&mut self, within: Duration) -> Option<SseEvent> {
        let deadline = Instant::now() + within;
        loop {
            while let Some(end) = self.buffer.find("\n\n") {
                let block: String = self.buffer.drain(..end + 2).collect();
                let mut event = SseEvent {
                    id: None,
                    event: None,
                    data: String::new(),
                };
                let mut is_event = false;
                for line in block.lines() {
                    if let Some(comment) = line.strip_prefix(':') {
                        self.comments.push(comment.trim().to_owned());
                    } else if let Some(id) = line.strip_prefix("id: ") {
                        event.id = Some(id.to_owned());
                        is_event = true;
                    } else if let Some(kind) = line.strip_prefix("event: ") {
                        event.event = Some(kind.to_owned());
                        is_event = true;
                    } else if let Some(data) = line.strip_prefix("data: ") {
                        event.data.push_str(data);
                        is_event = true;
                    }
                }
                if is_event {
                    return Some(event);
                }
            }
            let left = deadline.checked_duration_since(Instant::now())?;
            match tokio::time::timeout(left, self.response.chunk()).await {
                Ok(Ok(Some(chunk))) => self.buffer.push_str(&String::from_utf8_lossy(&chunk)),
                Ok(Ok(None)) | Ok(Err(_)) | Err(_) => return None,
            }
        }
    }

    /// Reads `count` revocations, each within `within`; panics naming how many came.
    pub async fn take(&mut self, count: usize, within: Duration) -> Vec<SseEvent> {
        let mut events = Vec::new();
        while events.len() < count {
            match self.next(within).await {
                Some(event) => events.push(event),
                None => panic!("only {} of {count} revocations arrived", events.len()),
            }
        }
        events
    }
}

fn seqs(events: &[SseEvent]) -> Vec<i64> {
    events
        .iter()
        .map(|event| {
            let data: Value = serde_json::from_str(&event.data).expect("JSON data");
            let seq = data["seq"].as_i64().expect("a seq");
            assert_eq!(
                event.id.as_deref(),
                Some(seq.to_string().as_str()),
                "id is the seq"
            );
            assert_eq!(event.event.as_deref(), Some("revoked"));
            seq
        })
        .collect()
}

#[actix_web::test]
async fn the_feed_takes_a_staff_token_or_a_feed_key_and_a_feed_key_nothing_else() {
    let app = spawn_feed_app(|_| {}).await;
    app.create_user(ALICE.0, ALICE.1);
    let (_, alice) = app.login(ALICE.0, ALICE.1).await;
    let admin = admin_access(&app).await;
    for path in ["/api/revocations/", "/api/revocations/stream"] {
        let anonymous = app.client.get(app.url(path)).send().await.expect("request");
        assert_eq!(anonymous.status(), 401);
        assert!(anonymous.headers().contains_key("www-authenticate"));
        assert_answer(
            anonymous,
            401,
            r#"{"detail":"Authentication credentials were not provided."}"#,
        )
        .await;
        let wrong_key = app
            .client
            .get(app.url(path))
            .bearer_auth(format!("{FEED_KEY}x"))
            .send()
            .await
            .expect("request");
        assert_eq!(wrong_key.status(), 401, "a near miss of the key");
        let not_staff = app
            .client
            .get(app.url(path))
            .bearer_auth(&alice)
            .send()
            .await
            .expect("request");
        assert_answer(
            not_staff,
            403,
            r#"{"detail":"You do not have permission to perform this action."}"#,
        )
        .await;
    }
    assert_eq!(page(&app, "", &admin).await.0, 200);
    assert_eq!(page(&app, "", FEED_KEY).await.0, 200);
    // A feed key opens the feed and nothing else.
    for path in ["/api/admin/ledger/", "/api/me/", "/api/admin/tokens/"] {
        let response = app
            .client
            .get(app.url(path))
            .bearer_auth(FEED_KEY)
            .send()
            .await
            .expect("request");
        assert_eq!(response.status(), 401, "{path} with a feed key");
    }
}

#[actix_web::test]
async fn the_page_lists_every_revocation_oldest_first_and_pages_by_seq() {
    let app = spawn_feed_app(|_| {}).await;
    app.create_user(ALICE.0, ALICE.1);
    logouts(&app, 3).await;
    let (status, first) = page(&app, "?limit=4", FEED_KEY).await;
    assert_eq!(status, 200, "{first}");
    let items = first["revocations"].as_array().expect("a list");
    assert_eq!(items.len(), 4);
    let keys: Vec<&str> = items[0]
        .as_object()
        .expect("an object")
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        keys,
        [
            "seq",
            "at",
            "jti",
            "sid",
            "user_id",
            "token_type",
            "reason",
            "expires_at"
        ]
    );
    assert_eq!(items[0]["reason"], "logout");
    let next = first["next"].as_i64().expect("more follow");
    assert_eq!(Some(next), items[3]["seq"].as_i64());
    let (_, second) = page(&app, &format!("?after={next}&limit=4"), FEED_KEY).await;
    let rest = second["revocations"].as_array().expect("a list");
    assert_eq!(rest.len(), 2, "six revocations in all: {second}");
    assert_eq!(second["next"], Value::Null);
    let all: Vec<i64> = items
        .iter()
        .chain(rest)
        .map(|item| item["seq"].as_i64().expect("seq"))
        .collect();
    assert!(all.windows(2).all(|w| w[0] < w[1]), "oldest first: {all:?}");
    // Only blacklistings: every listed seq is a `blacklisted` event in the audit ledger.
    let admin = admin_access(&app).await;
    let ledger = body(
        app.client
            .get(app.url("/api/admin/ledger/?event=blacklisted&limit=1000"))
            .bearer_auth(&admin)
            .send()
            .await
            .expect("request"),
    )
    .await;
    let blacklisted: Vec<i64> = ledger["events"]
        .as_array()
        .expect("events")
        .iter()
        .map(|event| event["seq"].as_i64().expect("seq"))
        .collect();
    assert_eq!(all, blacklisted);
    for bad in ["?limit=0", "?limit=1001", "?after=abc"] {
        let (status, error) = page(&app, bad, FEED_KEY).await;
        assert_eq!(status, 400, "{bad}: {error}");
    }
}

#[actix_web::test]
async fn expired_tokens_are_not_listed() {
    // Lifetimes with a margin for a loaded machine (a login hashes a password), and a wait
    // until the listed `expires_at` itself has passed, not a guess at it.
    let app = spawn_feed_app(|settings| {
        settings.access_token_lifetime = Duration::from_secs(6);
        settings.refresh_token_lifetime = Duration::from_secs(6);
    })
    .await;
    app.create_user(ALICE.0, ALICE.1);
    logouts(&app, 1).await;
    let listed = all_revocations(&app).await;
    assert_eq!(listed.len(), 2, "{listed:?}");
    let last_expiry = listed
        .iter()
        .map(|item| {
            chrono::DateTime::parse_from_rfc3339(item["expires_at"].as_str().expect("expires_at"))
                .expect("RFC 3339")
                .with_timezone(&chrono::Utc)
        })
        .max()
        .expect("two");
    let wait = (last_expiry - chrono::Utc::now())
        .to_std()
        .unwrap_or_default();
    tokio::time::sleep(wait + Duration::from_millis(1100)).await;
    assert_eq!(all_revocations(&app).await.len(), 0, "both tokens expired");
}

#[actix_web::test]
async fn a_reconnect_with_last_event_id_sees_every_revocation_exactly_once() {
    let app = spawn_feed_app(|_| {}).await;
    app.create_user(ALICE.0, ALICE.1);
    logouts(&app, 2).await;
    // A new stream first sends what is already revoked, then follows.
    let mut stream = Sse::open(&app, "", None).await;
    let mut seen = seqs(&stream.take(4, Duration::from_secs(5)).await);
    logouts(&app, 2).await;
    seen.extend(seqs(&stream.take(4, Duration::from_secs(2)).await));
    let last = seen.last().expect("some").to_string();
    drop(stream);
    // Revocations while disconnected.
    logouts(&app, 3).await;
    let mut resumed = Sse::open(&app, "", Some(&last)).await;
    seen.extend(seqs(&resumed.take(6, Duration::from_secs(5)).await));
    logouts(&app, 1).await;
    seen.extend(seqs(&resumed.take(2, Duration::from_secs(2)).await));
    assert!(
        resumed.next(Duration::from_millis(300)).await.is_none(),
        "nothing more, no duplicate"
    );
    let listed: Vec<i64> = all_revocations(&app)
        .await
        .iter()
        .map(|item| item["seq"].as_i64().expect("seq"))
        .collect();
    assert_eq!(seen, listed, "every revocation once, in seq order");
    // `after` resumes the same way as Last-Event-ID.
    let mut from_after = Sse::open(&app, &format!("?after={}", listed[13]), None).await;
    assert_eq!(
        seqs(&from_after.take(2, Duration::from_secs(2)).await),
        listed[14..]
    );
}

#[actix_web::test]
async fn a_revocation_written_on_another_instance_reaches_a_stream_within_a_second() {
    let a = spawn_feed_app(|_| {}).await;
    let b = a.another_instance();
    a.create_user(ALICE.0, ALICE.1);
    let mut stream = Sse::open(&b, "", None).await;
    // The stream is open and idle: nothing is revoked yet.
    assert!(stream.next(Duration::from_millis(300)).await.is_none());
    for _ in 0..3 {
        let (refresh, _) = a.login(ALICE.0, ALICE.1).await;
        let written = Instant::now();
        let response = a
            .post_json("/api/token/blacklist/", json!({"refresh": refresh}))
            .await;
        assert_eq!(response.status(), 200);
        let arrived = stream.take(2, Duration::from_secs(1)).await;
        assert!(
            written.elapsed() < Duration::from_secs(1),
            "took {:?}",
            written.elapsed()
        );
        assert_eq!(seqs(&arrived).len(), 2);
    }
}

#[actix_web::test]
async fn an_idle_stream_gets_keep_alive_comments() {
    let app = spawn_feed_app(|settings| settings.feed_keepalive = Duration::from_millis(200)).await;
    let mut stream = Sse::open(&app, "", None).await;
    assert!(stream.next(Duration::from_millis(900)).await.is_none());
    let keepalives = stream
        .comments
        .iter()
        .filter(|comment| *comment == "keep-alive")
        .count();
    assert!(keepalives >= 2, "{:?}", stream.comments);
}

#[actix_web::test]
async fn a_burst_of_opens_gets_exactly_the_cap_and_the_rest_a_503() {
    // A client gone is noticed at the next write: keep-alives come often here.
    let app = spawn_feed_app(|settings| {
        settings.feed_max_streams = 3;
        settings.feed_keepalive = Duration::from_millis(100);
    })
    .await;
    let opens = join_all((0..12).map(|_| {
        app.client
            .get(app.url("/api/revocations/stream"))
            .bearer_auth(FEED_KEY)
            .send()
    }))
    .await;
    let mut open = Vec::new();
    let mut refused = 0;
    for response in opens {
        let response = response.expect("request");
        match response.status().as_u16() {
            200 => open.push(response),
            503 => {
                assert_eq!(response.headers()["retry-after"], "5");
                let detail = body(response).await;
                assert_eq!(
                    detail,
                    json!({"detail": "Too many open revocation streams, try again later."})
                );
                refused += 1;
            }
            other => panic!("unexpected status {other}"),
        }
    }
    assert_eq!((open.len(), refused), (3, 9));
    // A closed stream frees its slot.
    drop(open.pop());
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let again = app
            .client
            .get(app.url("/api/revocations/stream"))
            .bearer_auth(FEED_KEY)
            .send()
            .await
            .expect("request");
        if again.status() == 200 {
            break;
        }
        assert!(Instant::now() < deadline, "the slot was never freed");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[actix_web::test]
async fn a_bad_last_event_id_is_a_400() {
    let app = spawn_feed_app(|_| {}).await;
    let response = app
        .client
        .get(app.url("/api/revocations/stream"))
        .bearer_auth(FEED_KEY)
        .header("Last-Event-ID", "not-a-seq")
        .send()
        .await
        .expect("request");
    assert_answer(
        response,
        400,
        r#"{"Last-Event-ID":["A valid integer is required."]}"#,
    )
    .await;
}

#[actix_web::test]
async fn open_streams_ask_the_database_nothing_while_idle_and_share_one_read_per_revocation() {
    let app = spawn_feed_app(|settings| settings.feed_keepalive = Duration::from_millis(100)).await;
    app.create_user(ALICE.0, ALICE.1);
    logouts(&app, 1).await;
    let head = all_revocations(&app)
        .await
        .last()
        .and_then(|r| r["seq"].as_i64());
    let after = format!("?after={}", head.expect("a revocation"));
    let mut streams = Vec::new();
    for _ in 0..20 {
        streams.push(Sse::open(&app, &after, None).await);
    }
    // /metrics itself reads the view's size: what one look costs, measured back to back.
    let first = db_queries(&app).await;
    let look = db_queries(&app).await - first;
    let before = db_queries(&app).await;
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert_eq!(
        db_queries(&app).await - before,
        look,
        "idle streams queried the database"
    );
    // A revocation reaches all twenty from the pump's one read (a background thread, not
    // counted): what grows is the logout's own queries, whatever the number of streams.
    let mut costs = Vec::new();
    for _ in 0..2 {
        let start = db_queries(&app).await;
        logouts(&app, 1).await;
        for stream in &mut streams {
            assert_eq!(stream.take(2, Duration::from_secs(2)).await.len(), 2);
        }
        costs.push(db_queries(&app).await - start - look);
    }
    drop(streams);
    let start = db_queries(&app).await;
    logouts(&app, 1).await;
    let without_streams = db_queries(&app).await - start - look;
    assert_eq!(
        costs,
        [without_streams, without_streams],
        "streams added queries"
    );
}
