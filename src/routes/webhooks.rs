//! `POST /webhooks/stripe`: the signature authenticates the request (no
//! CSRF, no session). The inbox verifies, stores and applies; the answer
//! tells Stripe whether to deliver again.

use actix_web::http::StatusCode;
use actix_web::web::Bytes;
use actix_web::{HttpRequest, HttpResponse, web};
use tracing::Instrument;

use super::AppState;
use crate::error::AppError;
use crate::services::order_lifecycle::EventError;
use crate::services::webhook_inbox::{self, Delivery, DeliveryError};

/// Larger bodies are refused before any work (Stripe's events are a few KiB).
pub const MAX_BODY_BYTES: usize = 256 * 1024;

pub(super) async fn receive(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: Bytes,
) -> Result<HttpResponse, AppError> {
    let signature = req
        .headers()
        .get("Stripe-Signature")
        .and_then(|v| v.to_str().ok());
    let span = tracing::info_span!("webhook", stripe.event_id = tracing::field::Empty);
    let started = std::time::Instant::now();
    let result = webhook_inbox::deliver(&state.pool, &state.inbox, signature, &body)
        .instrument(span.clone())
        .await;
    let _entered = span.enter();
    count(&result, &body, started);
    Ok(match result {
        Ok((event, Delivery::Processed(outcome))) => {
            span.record("stripe.event_id", event.id.as_str());
            tracing::info!(stripe.event_type = %event.kind, outcome = %outcome, "webhook processed");
            answer(
                StatusCode::OK,
                serde_json::json!({ "received": event.id, "type": event.kind, "outcome": outcome }),
            )
        }
        Ok((event, Delivery::Duplicate)) => answer(
            StatusCode::OK,
            serde_json::json!({ "received": event.id, "outcome": "duplicate" }),
        ),
        Err(DeliveryError::Refused(e)) => {
            tracing::warn!(error = %e, "webhook refused");
            answer(
                StatusCode::BAD_REQUEST,
                serde_json::json!({ "error": e.to_string() }),
            )
        }
        Err(DeliveryError::Event(EventError::NotReady(reason))) => {
            // Non-2xx: Stripe delivers it again, and staff see the error.
            tracing::warn!(reason = %reason, "webhook not applied yet");
            answer(StatusCode::CONFLICT, serde_json::json!({ "error": reason }))
        }
        Err(DeliveryError::Event(EventError::Unreadable(reason))) => {
            // Delivering it again would not help: recorded, acknowledged.
            tracing::error!(reason = %reason, "webhook event unreadable");
            answer(
                StatusCode::OK,
                serde_json::json!({ "outcome": "unreadable", "error": reason }),
            )
        }
        Err(DeliveryError::Event(EventError::Database(e))) => return Err(e.into()),
        Err(DeliveryError::Unavailable(e)) => return Err(e.into()),
    })
}

/// The delivery in the metrics: its type (when it was a verified event)
/// and what came of it.
fn count(
    result: &Result<(crate::payments::webhook::Envelope, Delivery), DeliveryError>,
    body: &[u8],
    started: std::time::Instant,
) {
    let (kind, outcome) = match result {
        Ok((event, Delivery::Processed(_))) => (event.kind.as_str(), "processed"),
        Ok((event, Delivery::Duplicate)) => (event.kind.as_str(), "duplicate"),
        Err(DeliveryError::Refused(_)) => ("", "refused"),
        Err(DeliveryError::Event(EventError::NotReady(_))) => (kind_of(body), "retry"),
        Err(DeliveryError::Event(EventError::Unreadable(_))) => (kind_of(body), "unreadable"),
        Err(_) => (kind_of(body), "error"),
    };
    crate::metrics::webhook_event(kind, outcome, started);
}

/// The `type` of a verified body the inbox did not return.
fn kind_of(body: &[u8]) -> &'static str {
    serde_json::from_slice::<crate::payments::webhook::Envelope>(body)
        .ok()
        .and_then(|e| crate::domain::StripeEvent::parse(&e.kind).ok())
        .map_or("", crate::domain::StripeEvent::as_str)
}

fn answer(status: StatusCode, body: serde_json::Value) -> HttpResponse {
    HttpResponse::build(status).json(body)
}
