//! Delivering the outbox: after commit, by a worker inside `serve`, at
//! least once, each event signed like Stripe's webhooks
//! (`Kasir-Signature: t=<unix>,v1=<hex HMAC-SHA256 of "t.body">`).
//! Several instances on one database share the work: an event is leased to
//! one worker at a time.

use std::time::Duration;

use chrono::TimeDelta;

use crate::db::{self, DbPool};
use crate::models::lms_outbox::OutboxEvent;
use crate::payments::webhook::sign;
use crate::services::retry;

pub use crate::config::LmsWebhook;

pub const SIGNATURE_HEADER: &str = "Kasir-Signature";
pub const EVENT_ID_HEADER: &str = "Kasir-Event-Id";
/// How long a worker holds the events it took; another instance may take
/// them after that (the request timeout is far shorter).
const LEASE: TimeDelta = TimeDelta::minutes(2);
const BATCH: i64 = 20;
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// What one pass did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Pass {
    pub delivered: usize,
    pub failed: usize,
}

pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(REQUEST_TIMEOUT)
        .user_agent(concat!("kasir/", env!("CARGO_PKG_VERSION")))
        .build()
        .expect("a client with a timeout and a user agent builds")
}

/// Leases the events that are due and sends each once.
pub async fn deliver_due(
    pool: &DbPool,
    client: &reqwest::Client,
    hook: &LmsWebhook,
) -> anyhow::Result<Pass> {
    let now = db::now();
    let events = db::run(pool, move |conn| {
        db::write_transaction(conn, |conn| {
            OutboxEvent::lease_due(conn, now, now + LEASE, BATCH)
        })
    })
    .await??;
    let mut pass = Pass::default();
    for event in events {
        let outcome = send(client, hook, &event).await;
        let (id, attempts) = (event.id, event.attempts + 1);
        let next = db::now() + retry::backoff(hook.first_retry, attempts);
        let failed = outcome.is_err();
        db::run(pool, move |conn| match &outcome {
            Ok(()) => OutboxEvent::mark_delivered(conn, id, db::now()),
            Err(error) => OutboxEvent::mark_failed(conn, id, error, next),
        })
        .await??;
        if failed {
            pass.failed += 1;
        } else {
            pass.delivered += 1;
        }
    }
    Ok(pass)
}

/// One POST; any 2xx is a delivery.
async fn send(
    client: &reqwest::Client,
    hook: &LmsWebhook,
    event: &OutboxEvent,
) -> Result<(), String> {
    let signature = sign(
        event.payload.as_bytes(),
        &hook.secret,
        chrono::Utc::now().timestamp(),
    );
    let response = client
        .post(&hook.url)
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .header(SIGNATURE_HEADER, signature)
        .header(EVENT_ID_HEADER, &event.event_id)
        .body(event.payload.clone())
        .send()
        .await
        .map_err(|e| format!("{e}"))?;
    let status = response.status();
    if status.is_success() {
        return Ok(());
    }
    let body = response.text().await.unwrap_or_default();
    let body: String = body.chars().take(300).collect();
    Err(format!("HTTP {status}: {body}"))
}
