//! `POST /webhooks/stripe`: the signature authenticates the request (no
//! CSRF, no session). Verified events go to the inbox and are processed
//! once; the answer tells Stripe whether to deliver again.

use actix_web::http::StatusCode;
use actix_web::web::Bytes;
use actix_web::{HttpRequest, HttpResponse, web};

use super::{AppState, with_db};
use crate::error::AppError;
use crate::payments::webhook::{Envelope, verify_signature};
use crate::services::fulfillment::{self, Delivery, EventError};

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
    deliver(&state, signature, &body).await
}

fn answer(status: StatusCode, body: serde_json::Value) -> HttpResponse {
    HttpResponse::build(status).json(body)
}

/// Verifies, stores and processes one delivery. The sandbox provider hands
/// its signed events to this same function.
pub async fn deliver(
    state: &AppState,
    signature: Option<&str>,
    body: &[u8],
) -> Result<HttpResponse, AppError> {
    let now = chrono::Utc::now().timestamp();
    if let Err(e) = verify_signature(signature, body, &state.settings.webhook_secret(), now) {
        tracing::warn!(error = %e, "webhook refused");
        return Ok(answer(
            StatusCode::BAD_REQUEST,
            serde_json::json!({ "error": e.to_string() }),
        ));
    }
    let Ok(raw) = std::str::from_utf8(body) else {
        return Ok(answer(
            StatusCode::BAD_REQUEST,
            serde_json::json!({ "error": "body is not UTF-8" }),
        ));
    };
    let event: Envelope = match serde_json::from_str(raw) {
        Ok(event) => event,
        Err(e) => {
            return Ok(answer(
                StatusCode::BAD_REQUEST,
                serde_json::json!({ "error": format!("not an event: {e}") }),
            ));
        }
    };
    let span = tracing::info_span!("webhook", stripe.event_id = %event.id, stripe.event_type = %event.kind);
    let _entered = span.enter();
    let raw = raw.to_owned();
    let (id, kind) = (event.id.clone(), event.kind.clone());
    let result = with_db(state, move |conn| {
        fulfillment::receive_event(conn, &event, &raw)
    })
    .await?;
    Ok(match result {
        Ok(Delivery::Processed(outcome)) => {
            tracing::info!(outcome = %outcome, "webhook processed");
            answer(
                StatusCode::OK,
                serde_json::json!({ "received": id, "type": kind, "outcome": outcome }),
            )
        }
        Ok(Delivery::Duplicate) => answer(
            StatusCode::OK,
            serde_json::json!({ "received": id, "outcome": "duplicate" }),
        ),
        Err(EventError::NotReady(reason)) => {
            // Non-2xx: Stripe delivers it again, and staff see the error.
            tracing::warn!(reason = %reason, "webhook not applied yet");
            answer(StatusCode::CONFLICT, serde_json::json!({ "error": reason }))
        }
        Err(EventError::Unreadable(reason)) => {
            // Delivering it again would not help: recorded, acknowledged.
            tracing::error!(reason = %reason, "webhook event unreadable");
            answer(
                StatusCode::OK,
                serde_json::json!({ "received": id, "outcome": "unreadable", "error": reason }),
            )
        }
        Err(EventError::Database(e)) => return Err(e.into()),
    })
}
