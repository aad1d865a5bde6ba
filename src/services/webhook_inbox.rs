//! The webhook inbox: a delivery's signature is verified over the raw
//! body, its envelope read, and the event stored by its id and applied
//! once, in one write transaction with the "processed" mark. An event that
//! cannot be applied yet stays unprocessed with its error, for the next
//! delivery. The HTTP route and the sandbox provider both deliver here.

use std::sync::Arc;

use crate::db::{self, DbConnection, DbPool, WriteGroup};
use crate::models::webhook_event::WebhookEvent;
use crate::payments::webhook::{Envelope, SignatureError, verify_signature};
use crate::services::order_lifecycle::EventError;
use crate::services::stripe_events;

/// How the shop checks deliveries.
#[derive(Clone, Debug)]
pub struct InboxSettings {
    /// The webhook signing secret (Stripe's, or the sandbox's own).
    pub secret: String,
    /// The mode of the secret key: events of the other mode are refused.
    pub livemode: bool,
}

/// A delivery refused before anything was stored: answered 400.
#[derive(Debug, thiserror::Error)]
pub enum Refused {
    #[error(transparent)]
    Signature(#[from] SignatureError),
    #[error("body is not UTF-8")]
    NotUtf8,
    #[error("not an event: {0}")]
    NotAnEvent(String),
}

/// What a delivered event came to.
#[derive(Debug, PartialEq, Eq)]
pub enum Delivery {
    /// Applied now; what it did, in words.
    Processed(String),
    /// Seen and processed before: acknowledged, nothing done.
    Duplicate,
}

/// Why a verified delivery was not processed.
#[derive(Debug, thiserror::Error)]
pub enum DeliveryError {
    #[error(transparent)]
    Refused(#[from] Refused),
    #[error(transparent)]
    Event(#[from] EventError),
    #[error(transparent)]
    Unavailable(#[from] db::Unavailable),
}

/// A delivery that passed the signature check, with its envelope read.
#[derive(Clone)]
pub struct Verified {
    pub event: Envelope,
    pub raw: String,
}

/// Checks the signature (at `now`, unix seconds) and reads the envelope.
pub fn verify(
    settings: &InboxSettings,
    signature: Option<&str>,
    body: &[u8],
    now: i64,
) -> Result<Verified, Refused> {
    verify_signature(signature, body, &settings.secret, now)?;
    let raw = std::str::from_utf8(body).map_err(|_| Refused::NotUtf8)?;
    let event: Envelope =
        serde_json::from_str(raw).map_err(|e| Refused::NotAnEvent(e.to_string()))?;
    Ok(Verified {
        event,
        raw: raw.to_owned(),
    })
}

/// Stores the verified event and processes it once; returns when that is
/// committed.
pub fn receive(
    conn: &mut DbConnection,
    verified: Verified,
    livemode: bool,
) -> Result<Delivery, EventError> {
    INBOX.write(conn, (Arc::new(verified), livemode))
}

/// Deliveries that arrive together are committed together on SQLite
/// (see [`WriteGroup`]): each is still stored, claimed and applied in a
/// transaction of its own, a savepoint, and answered after the commit.
static INBOX: WriteGroup<Incoming, Delivery, EventError> = WriteGroup::new(apply, keep_failed);

/// A verified delivery, and the mode of the shop's secret key.
type Incoming = (Arc<Verified>, bool);

fn apply(conn: &mut DbConnection, (verified, livemode): &Incoming) -> Result<Delivery, EventError> {
    let (event, raw) = (&verified.event, verified.raw.as_str());
    let now = db::now();
    // Claimed and marked processed as it is stored: the mark commits or
    // rolls back with the work either way.
    if !WebhookEvent::receive(
        conn,
        &event.id,
        &event.kind,
        raw,
        event.api_version.as_deref(),
        now,
    )? {
        return Ok(Delivery::Duplicate);
    }
    let outcome = stripe_events::apply(conn, event, raw, *livemode)?;
    Ok(Delivery::Processed(outcome))
}

/// The rollback took the stored event too: it is kept, with the reason.
fn keep_failed(
    conn: &mut DbConnection,
    (verified, _): &Incoming,
    error: &EventError,
) -> Result<(), EventError> {
    let event = &verified.event;
    let api_version = event.api_version.as_deref();
    WebhookEvent::store(
        conn,
        &event.id,
        &event.kind,
        &verified.raw,
        api_version,
        db::now(),
    )?;
    WebhookEvent::record_failure(conn, &event.id, &error.to_string())?;
    Ok(())
}

/// Verifies, stores and processes one delivery, on the blocking pool.
pub async fn deliver(
    pool: &DbPool,
    settings: &InboxSettings,
    signature: Option<&str>,
    body: &[u8],
) -> Result<(Envelope, Delivery), DeliveryError> {
    let verified = Arc::new(verify(
        settings,
        signature,
        body,
        chrono::Utc::now().timestamp(),
    )?);
    let incoming = (Arc::clone(&verified), settings.livemode);
    let delivery = db::run(pool, move |conn| INBOX.write(conn, incoming)).await??;
    Ok((Arc::unwrap_or_clone(verified).event, delivery))
}

/// Signs `body` the way the provider would and delivers it: how the
/// sandbox tells the shop what happened to its payments.
pub async fn deliver_signed(
    pool: &DbPool,
    settings: &InboxSettings,
    body: &str,
) -> Result<(Envelope, Delivery), DeliveryError> {
    let signature = crate::payments::webhook::sign(
        body.as_bytes(),
        &settings.secret,
        chrono::Utc::now().timestamp(),
    );
    deliver(pool, settings, Some(&signature), body.as_bytes()).await
}
