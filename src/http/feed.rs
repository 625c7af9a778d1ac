//! The revocation feed over HTTP (contract section 8): `GET /api/revocations/` (a page by
//! seq, from the database) and `GET /api/revocations/stream` (Server-Sent Events, from the
//! in-memory hub of `ledger::feed`). Either takes a staff access token or a feed key.

use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::web::Bytes;
use actix_web::{FromRequest, HttpRequest, HttpResponse, web};
use serde::Serialize;
use serde_json::json;
use sha2::{Digest, Sha256};

use super::bearer::Staff;
use super::error::{ApiError, FieldErrors};
use super::params::Params;
use super::schemas::{Detail, FeedRefused, ValidationErrors};
use super::state::AppState;
use crate::config::Secret;
use crate::ledger::feed::{self, FeedHub, Next, Revocation, StreamSlot};
use crate::time;
use crate::tokens::LedgerReader;

/// Revocations a stream takes from the hub or the database at once.
const STREAM_BATCH: usize = 100;
/// Seconds a client refused for too many streams is told to wait.
const RETRY_OPEN: &str = "5";

/// What the feed endpoints share: the hub, the feed keys (as SHA-256 digests, compared in
/// constant time), and the stream settings.
pub struct FeedAccess {
    pub hub: Arc<FeedHub>,
    reader: LedgerReader,
    keys: Vec<[u8; 32]>,
    max_streams: usize,
    keepalive: Duration,
}

impl FeedAccess {
    pub fn new(
        hub: Arc<FeedHub>,
        reader: LedgerReader,
        keys: &[Secret],
        max_streams: usize,
        keepalive: Duration,
    ) -> Self {
        Self {
            hub,
            reader,
            keys: keys.iter().map(|key| digest(key.expose())).collect(),
            max_streams,
            keepalive,
        }
    }

    /// Whether `presented` is one of the keys. Digests of equal length are compared, every
    /// key each time, so neither a key's length nor which key matched shows in the timing.
    fn accepts(&self, presented: &str) -> bool {
        use subtle::ConstantTimeEq;
        let presented = digest(presented);
        self.keys
            .iter()
            .fold(subtle::Choice::from(0), |found, key| {
                found | key.ct_eq(&presented)
            })
            .into()
    }
}

fn digest(text: &str) -> [u8; 32] {
    Sha256::digest(text.as_bytes()).into()
}

/// Starts the feed's pump (and, on Unix, ends every stream at SIGTERM/SIGINT so a graceful
/// shutdown need not wait for them) and returns what the feed endpoints share.
pub fn start(
    settings: &crate::config::Settings,
    ledger: &crate::ledger::Ledger,
    stop: &Arc<std::sync::atomic::AtomicBool>,
) -> std::io::Result<FeedAccess> {
    let hub = FeedHub::new(ledger.revocations().applied_seq());
    feed::spawn(ledger.clone(), hub.clone(), stop.clone())?;
    #[cfg(unix)]
    {
        let closing = hub.clone();
        actix_web::rt::spawn(async move {
            use tokio::signal::unix::{SignalKind, signal};
            let (Ok(mut term), Ok(mut int)) = (
                signal(SignalKind::terminate()),
                signal(SignalKind::interrupt()),
            ) else {
                return;
            };
            tokio::select! {
                _ = term.recv() => {}
                _ = int.recv() => {}
            }
            closing.close();
        });
    }
    Ok(FeedAccess::new(
        hub,
        LedgerReader::new(ledger.clone()),
        &settings.feed_keys(),
        settings.feed_max_streams,
        settings.feed_keepalive,
    ))
}

/// A caller allowed to read the feed: a feed key, or a staff access token (checked exactly
/// as on the admin endpoints, with the same 401/403 bodies).
#[derive(Debug)]
pub struct FeedReader;

impl FromRequest for FeedReader {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            if presents_feed_key(&req) {
                return Ok(FeedReader);
            }
            Staff::from_request(&req, &mut Payload::None).await?;
            Ok(FeedReader)
        })
    }
}

fn presents_feed_key(req: &HttpRequest) -> bool {
    let (Some(access), Some(state)) = (
        req.app_data::<web::Data<FeedAccess>>(),
        req.app_data::<web::Data<AppState>>(),
    ) else {
        return false;
    };
    if access.keys.is_empty() {
        return false;
    }
    let Some(value) = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let mut parts = value.split_whitespace();
    match (parts.next(), parts.next(), parts.next()) {
        (Some(scheme), Some(key), None) => {
            state
                .header_types
                .iter()
                .any(|accepted| accepted.eq_ignore_ascii_case(scheme))
                && access.accepts(key)
        }
        _ => false,
    }
}

/// A page of the feed; pass `next` as `after` for the following page.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct RevocationPage {
    pub revocations: Vec<Revocation>,
    /// The last seq of this page when more may follow; `null` at the end.
    pub next: Option<i64>,
}

#[utoipa::path(
    get, path = "/api/revocations/", tag = "feed",
    summary = "Revocations (blacklisted events of unexpired tokens), oldest first, paged by seq",
    params(
        ("after" = Option<i64>, Query, description = "the previous page's `next`: revocations with a greater seq", example = 100),
        ("limit" = Option<i64>, Query, description = "page size, 1 to 1000 (default 100)", minimum = 1, maximum = 1000, example = 100),
    ),
    security(("bearerAuth" = [])),
    responses(
        (status = 200, description = "A page of revocations, oldest first", body = RevocationPage),
        (status = 400, description = "A parameter that does not parse, or `limit` out of range", body = ValidationErrors),
        FeedRefused,
    )
)]
pub async fn revocations(
    _reader: FeedReader,
    req: HttpRequest,
    access: web::Data<FeedAccess>,
) -> Result<HttpResponse, ApiError> {
    let mut params = Params::of(&req);
    let after = params.integer("after").unwrap_or(0);
    let limit = params.limit();
    params.finish()?;
    let reader = access.reader.clone();
    let revocations =
        crate::http::block(move || reader.revocations(after, None, Some(time::now()), limit))
            .await??;
    let next = (revocations.len() as i64 == limit)
        .then(|| revocations.last().map(|item| item.seq))
        .flatten();
    Ok(HttpResponse::Ok().json(RevocationPage { revocations, next }))
}

#[utoipa::path(
    get, path = "/api/revocations/stream", tag = "feed",
    summary = "Revocations as Server-Sent Events: event `revoked`, `id: <seq>`, resumable",
    description = "Sends every revocation after `Last-Event-ID` (a reconnect), else after \
        `after`, else every revocation of a token that has not expired yet; then each new one as \
        this instance applies it (from any instance, within a second). A comment line comes at \
        least every 15 s. Beyond `TOKENLEDGER_FEED_MAX_STREAMS` open streams: 503.",
    params(
        ("after" = Option<i64>, Query, description = "start after this seq (`Last-Event-ID` wins)", example = 0),
        ("Last-Event-ID" = Option<i64>, Header, description = "the last `id` received: resume after it"),
    ),
    security(("bearerAuth" = [])),
    responses(
        (status = 200, description = "`text/event-stream`: `id: 42`, `event: revoked`, `data: <revocation as JSON>`", content_type = "text/event-stream", body = String),
        (status = 400, description = "`after` or `Last-Event-ID` is not an integer", body = ValidationErrors),
        FeedRefused,
        (status = 503, description = "Too many open streams (`Retry-After`)", body = Detail),
    )
)]
pub async fn stream(
    _reader: FeedReader,
    req: HttpRequest,
    access: web::Data<FeedAccess>,
) -> Result<HttpResponse, ApiError> {
    let mut params = Params::of(&req);
    let after = params.integer("after");
    params.finish()?;
    let last_event_id = match req.headers().get("last-event-id") {
        None => None,
        Some(value) => match value
            .to_str()
            .ok()
            .and_then(|v| v.trim().parse::<i64>().ok())
        {
            Some(seq) => Some(seq),
            None => {
                let mut fields = FieldErrors::new();
                fields.insert(
                    "Last-Event-ID".into(),
                    json!(["A valid integer is required."]),
                );
                return Err(ApiError::Fields(fields));
            }
        },
    };
    let Some(slot) = access.hub.open_stream(access.max_streams) else {
        return Ok(HttpResponse::ServiceUnavailable()
            .insert_header((header::RETRY_AFTER, RETRY_OPEN))
            .json(json!({"detail": "Too many open revocation streams, try again later."})));
    };
    let follow = Follow {
        rx: access.hub.subscribe(),
        hub: access.hub.clone(),
        reader: access.reader.clone(),
        cursor: last_event_id.or(after).unwrap_or(0).max(0),
        keepalive: access.keepalive,
        pending: VecDeque::new(),
        greeted: false,
        _slot: slot,
    };
    Ok(HttpResponse::Ok()
        .content_type("text/event-stream")
        .insert_header((header::CACHE_CONTROL, "no-store"))
        // nginx would otherwise buffer the stream.
        .insert_header(("X-Accel-Buffering", "no"))
        .streaming(futures_util::stream::unfold(follow, Follow::step)))
}

/// One open stream: its cursor (the last seq it has sent or skipped) and at most one batch
/// of revocations read but not yet sent, so a slow client holds a bounded amount of memory
/// (actix polls for the next chunk only once the previous one is written).
struct Follow {
    hub: Arc<FeedHub>,
    reader: LedgerReader,
    rx: tokio::sync::watch::Receiver<i64>,
    cursor: i64,
    keepalive: Duration,
    pending: VecDeque<Arc<Revocation>>,
    greeted: bool,
    _slot: StreamSlot,
}

type Chunk = Result<Bytes, actix_web::Error>;

impl Follow {
    async fn step(mut self) -> Option<(Chunk, Self)> {
        if !self.greeted {
            self.greeted = true;
            // Sent at once, so the client knows the stream is open; `retry` asks
            // EventSource clients to reconnect after a second.
            return Some((
                Ok(Bytes::from_static(b"retry: 1000\n: connected\n\n")),
                self,
            ));
        }
        loop {
            if !self.pending.is_empty() {
                let now = time::now();
                let mut out = String::new();
                for item in self.pending.drain(..) {
                    // A token that has expired meanwhile needs no deny-list entry.
                    if item.expires_at > now {
                        encode(&mut out, &item);
                    }
                }
                if !out.is_empty() {
                    return Some((Ok(Bytes::from(out)), self));
                }
            }
            if self.hub.is_closed() {
                return None;
            }
            // Marked before looking, so a change after the look wakes the wait below.
            self.rx.borrow_and_update();
            match self.hub.next(self.cursor, STREAM_BATCH) {
                Next::Ready(items, cursor) => {
                    self.pending.extend(items);
                    self.cursor = cursor;
                }
                Next::Behind { up_to } => {
                    let (reader, after) = (self.reader.clone(), self.cursor);
                    let read = crate::http::block(move || {
                        reader.revocations(
                            after,
                            Some(up_to),
                            Some(time::now()),
                            STREAM_BATCH as i64,
                        )
                    })
                    .await;
                    match read {
                        Ok(Ok(items)) => {
                            self.cursor = if items.len() == STREAM_BATCH {
                                items.last().map_or(up_to, |item| item.seq)
                            } else {
                                up_to
                            };
                            self.pending.extend(items.into_iter().map(Arc::new));
                        }
                        // The client reconnects with Last-Event-ID and loses nothing.
                        _ => {
                            tracing::warn!("revocation stream could not read the ledger; closed");
                            return None;
                        }
                    }
                }
                Next::Idle => match tokio::time::timeout(self.keepalive, self.rx.changed()).await {
                    Ok(Ok(())) => {}
                    Ok(Err(_)) => return None,
                    Err(_) => return Some((Ok(Bytes::from_static(b": keep-alive\n\n")), self)),
                },
            }
        }
    }
}

/// One SSE event: `id`, `event: revoked`, the revocation as one line of JSON.
fn encode(out: &mut String, item: &Revocation) {
    use std::fmt::Write;
    let data = serde_json::to_string(item).unwrap_or_else(|_| "{}".into());
    let _ = write!(out, "id: {}\nevent: revoked\ndata: {data}\n\n", item.seq);
}
