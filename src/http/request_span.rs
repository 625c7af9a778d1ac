//! The span each request's log lines carry: its id, method, path and (once answered) status.
//! Fewer fields than tracing-actix-web's default span, because the log formatter renders every
//! field of every request's span whether or not a line is logged in it: on the hot path that
//! rendering cost a third of `/healthz`'s throughput.

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::{Error, HttpMessage};
use tracing::Span;
use tracing_actix_web::{RequestId, RootSpanBuilder};

pub struct RequestSpan;

impl RootSpanBuilder for RequestSpan {
    fn on_request_start(request: &ServiceRequest) -> Span {
        let request_id = request.extensions().get::<RequestId>().copied();
        tracing::info_span!(
            "request",
            request_id = request_id.map(tracing::field::display),
            method = %request.method(),
            path = request.path(),
            status = tracing::field::Empty,
        )
    }

    fn on_request_end<B: MessageBody>(span: Span, outcome: &Result<ServiceResponse<B>, Error>) {
        let status = match outcome {
            Ok(response) => response.status(),
            Err(error) => error.as_response_error().status_code(),
        };
        span.record("status", status.as_u16());
    }
}
