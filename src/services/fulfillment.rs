//! Fulfilment and the rest of a payment's life: one idempotent `fulfill`
//! (called by the webhook, the return page and the reconciliation sweep),
//! failed payments, cancellations, refunds and disputes. Each runs in one
//! write transaction with its journal row.

use chrono::NaiveDateTime;

use crate::db::{self, DbConnection};
use crate::models::cart::{Cart, CartItem};
use crate::models::journal::JournalRow;
use crate::models::order::{CANCELED, Order, PARTIALLY_REFUNDED, PENDING, REFUNDED};
use crate::models::promo_code::{PromoRedemption, REDEEMED, RESERVED};
use crate::models::user_course::UserCourse;
use crate::models::webhook_event::WebhookEvent;
use crate::payments::ProviderIntent;
use crate::payments::webhook::{ChargeObject, DisputeObject, Envelope, IntentObject};
use crate::services::checkout::cancel_pending_order;
use crate::services::journal::{self, JournalEntry, record_journal_entry};

/// Journal kinds written here, beyond the checkout's.
pub mod kind {
    pub const FAILED_PAYMENT: &str = "failed_payment";
    pub const REFUND: &str = "refund";
    /// Money returned for a payment that was never applied to its order
    /// (it succeeded after the order was canceled): journalled, not revenue.
    pub const UNAPPLIED_REFUND: &str = "unapplied_refund";
    pub const DISPUTE: &str = "dispute";
    pub const PAYMENT_MISMATCH: &str = "payment_mismatch";
}

pub const STATUS_FAILED: &str = "failed";

#[derive(Debug, thiserror::Error)]
pub enum EventError {
    /// The event is for an order we do not have (yet): answer non-2xx so
    /// the provider delivers it again.
    #[error("not ready: {0}")]
    NotReady(String),
    /// A verified event whose object lacks what this type needs.
    #[error("unreadable event: {0}")]
    Unreadable(String),
    #[error(transparent)]
    Database(#[from] diesel::result::Error),
}

/// What the provider says about a PaymentIntent, from an event or a retrieve.
pub struct ObservedIntent<'a> {
    pub id: &'a str,
    pub amount: i64,
    pub currency: &'a str,
    pub status: &'a str,
    pub raw_json: &'a str,
    pub event_id: Option<&'a str>,
}

/// An intent as retrieved from the provider (the return page, the sweep).
impl<'a> From<&'a ProviderIntent> for ObservedIntent<'a> {
    fn from(intent: &'a ProviderIntent) -> Self {
        Self {
            id: &intent.id,
            amount: intent.amount,
            currency: &intent.currency,
            status: intent.status.as_str(),
            raw_json: &intent.raw_json,
            event_id: None,
        }
    }
}

#[derive(Debug, PartialEq, Eq)]
pub enum FulfillOutcome {
    Fulfilled,
    /// Paid before (another delivery, the return page, the sweep).
    AlreadyPaid,
    /// Never applied: recorded in the journal, the order flagged.
    Mismatch(String),
    /// The intent has not succeeded: nothing to do yet.
    NotSucceeded,
}

/// Marks the order of this PaymentIntent paid and does everything that goes
/// with it, in one transaction: income row, grants, promo redeemed, cart
/// emptied. Safe to call any number of times, from anywhere, at once.
pub fn fulfill_payment(
    conn: &mut DbConnection,
    intent: &ObservedIntent<'_>,
) -> Result<FulfillOutcome, EventError> {
    db::write_transaction(conn, |conn| fulfill_in_transaction(conn, intent, db::now()))
}

fn fulfill_in_transaction(
    conn: &mut DbConnection,
    intent: &ObservedIntent<'_>,
    now: NaiveDateTime,
) -> Result<FulfillOutcome, EventError> {
    if intent.status != "succeeded" {
        return Ok(FulfillOutcome::NotSucceeded);
    }
    let order = Order::find_by_payment_intent(conn, intent.id)?
        .ok_or_else(|| EventError::NotReady(format!("no order has PaymentIntent {}", intent.id)))?;
    if order.status != PENDING && order.status != CANCELED {
        return Ok(FulfillOutcome::AlreadyPaid);
    }
    let problem = if order.status == CANCELED {
        Some(format!(
            "PaymentIntent {} succeeded for order {}, which was canceled: refund it or fulfil it by hand",
            intent.id, order.number
        ))
    } else if intent.amount != order.total_cents
        || !intent.currency.eq_ignore_ascii_case(&order.currency)
    {
        Some(format!(
            "PaymentIntent {} is for {} {}, order {} is for {} {}",
            intent.id,
            intent.amount,
            intent.currency.to_uppercase(),
            order.number,
            order.total_cents,
            order.currency
        ))
    } else {
        None
    };
    if let Some(problem) = problem {
        Order::flag_for_review(conn, order.id, &problem, now)?;
        record_journal_entry(
            conn,
            &JournalEntry {
                kind: kind::PAYMENT_MISMATCH,
                status: STATUS_FAILED,
                amount_cents: intent.amount,
                currency: &intent.currency.to_uppercase(),
                description: &problem,
                order_id: Some(order.id),
                metadata: intent.raw_json,
                provider_event_id: intent.event_id,
                idempotency_key: &format!("pi-{}-mismatch", intent.id),
            },
        )?;
        tracing::error!(order.id = %order.id, stripe.payment_intent = intent.id, "{problem}");
        return Ok(FulfillOutcome::Mismatch(problem));
    }
    // Compare and set: of any number of concurrent callers, one moves it.
    if !Order::mark_paid_if_pending(conn, order.id, &order.provider, now)? {
        return Ok(FulfillOutcome::AlreadyPaid);
    }
    deliver_paid_order(conn, &order, now)?;
    // Last: appending takes the journal chain's lock, held until commit, and
    // every payment queues on it; the less that follows, the more per second.
    record_journal_entry(
        conn,
        &JournalEntry {
            kind: journal::kind::INCOME,
            status: journal::status::SUCCESS,
            amount_cents: order.total_cents,
            currency: &order.currency,
            description: &format!("Payment received for order {}", order.number),
            order_id: Some(order.id),
            metadata: intent.raw_json,
            provider_event_id: intent.event_id,
            idempotency_key: &format!("order-{}-income", order.id.0),
        },
    )?;
    tracing::info!(order.id = %order.id, stripe.payment_intent = intent.id, "order paid");
    Ok(FulfillOutcome::Fulfilled)
}

/// What a paid order brings: access to its courses, its promo use
/// redeemed, its courses out of the cart. Runs in the caller's transaction,
/// right after the order turned paid.
pub fn deliver_paid_order(
    conn: &mut DbConnection,
    order: &Order,
    now: NaiveDateTime,
) -> diesel::QueryResult<()> {
    let items = order.items(conn)?;
    for item in &items {
        UserCourse::grant(conn, order.user_id, item.course_id, order.id, now)?;
    }
    PromoRedemption::transition(conn, order.id, RESERVED, REDEEMED, now)?;
    if let Some(cart) = Cart::find_for_user(conn, order.user_id)? {
        for item in &items {
            CartItem::remove(conn, cart.id, item.course_id)?;
        }
    }
    Ok(())
}

/// What a delivered event came to.
#[derive(Debug, PartialEq, Eq)]
pub enum Delivery {
    Processed(String),
    /// Seen and processed before: acknowledged, nothing done.
    Duplicate,
}

/// The inbox: stores the verified event and processes it once, in one
/// transaction with the "processed" mark. An event that cannot be applied
/// yet stays unprocessed with its error, for the next delivery.
pub fn receive_event(
    conn: &mut DbConnection,
    event: &Envelope,
    raw: &str,
) -> Result<Delivery, EventError> {
    let now = db::now();
    // One write transaction stores, claims and applies the event.
    let result: Result<Delivery, EventError> = db::write_transaction(conn, |conn| {
        WebhookEvent::store(conn, &event.id, &event.kind, raw, now)?;
        if !WebhookEvent::claim(conn, &event.id)? {
            return Ok(Delivery::Duplicate);
        }
        // Marked first: it commits or rolls back with the work either way,
        // and the work ends with the journal append (see fulfill).
        WebhookEvent::mark_processed(conn, &event.id, now)?;
        let outcome = apply_event(conn, event, raw, now)?;
        Ok(Delivery::Processed(outcome))
    });
    if let Err(e) = &result {
        // The rollback took the stored event too: keep it, with the reason.
        WebhookEvent::store(conn, &event.id, &event.kind, raw, now)?;
        WebhookEvent::record_failure(conn, &event.id, &e.to_string())?;
    }
    result
}

fn parse<T: serde::de::DeserializeOwned>(event: &Envelope) -> Result<T, EventError> {
    serde_json::from_value(event.data.object.clone())
        .map_err(|e| EventError::Unreadable(format!("{} object: {e}", event.kind)))
}

/// An order for this PaymentIntent, or: not ours (`None`), or not there yet.
fn order_for_intent(
    conn: &mut DbConnection,
    intent: &IntentObject,
) -> Result<Option<Order>, EventError> {
    match Order::find_by_payment_intent(conn, &intent.id)? {
        Some(order) => Ok(Some(order)),
        None if intent
            .metadata
            .contains_key(crate::payments::METADATA_ORDER_ID) =>
        {
            Err(EventError::NotReady(format!(
                "no order has PaymentIntent {} yet",
                intent.id
            )))
        }
        None => Ok(None),
    }
}

fn order_for_charge(
    conn: &mut DbConnection,
    payment_intent: Option<&str>,
) -> Result<Order, EventError> {
    let intent = payment_intent
        .ok_or_else(|| EventError::Unreadable("no payment_intent on the charge".into()))?;
    Order::find_by_payment_intent(conn, intent)?
        .ok_or_else(|| EventError::NotReady(format!("no order has PaymentIntent {intent} yet")))
}

/// The order of a disputed charge, once its payment is applied: a dispute
/// delivered before the payment's own event waits for it (non-2xx), or the
/// payment would grant access the dispute had already suspended.
fn paid_order_for_charge(
    conn: &mut DbConnection,
    payment_intent: Option<&str>,
) -> Result<Order, EventError> {
    let order = order_for_charge(conn, payment_intent)?;
    if order.paid_at.is_none() {
        return Err(EventError::NotReady(format!(
            "order {} is not paid yet",
            order.number
        )));
    }
    Ok(order)
}

/// Whether the recorded closing of this dispute was a win.
fn dispute_won(
    conn: &mut DbConnection,
    order: &Order,
    dispute_id: &str,
) -> diesel::QueryResult<bool> {
    let key = format!("dispute-{dispute_id}-closed");
    Ok(JournalRow::for_order(conn, order.id)?
        .iter()
        .any(|row| row.idempotency_key == key && row.status == journal::status::SUCCESS))
}

fn apply_event(
    conn: &mut DbConnection,
    event: &Envelope,
    raw: &str,
    now: NaiveDateTime,
) -> Result<String, EventError> {
    match event.kind.as_str() {
        "payment_intent.succeeded" => {
            let intent: IntentObject = parse(event)?;
            if order_for_intent(conn, &intent)?.is_none() {
                return Ok("not a kasir PaymentIntent: ignored".into());
            }
            let observed = ObservedIntent {
                id: &intent.id,
                amount: intent.amount,
                currency: &intent.currency,
                status: intent.status.as_deref().unwrap_or("succeeded"),
                raw_json: raw,
                event_id: Some(&event.id),
            };
            Ok(format!(
                "{:?}",
                fulfill_in_transaction(conn, &observed, now)?
            ))
        }
        "payment_intent.payment_failed" => {
            let intent: IntentObject = parse(event)?;
            let Some(order) = order_for_intent(conn, &intent)? else {
                return Ok("not a kasir PaymentIntent: ignored".into());
            };
            let message = intent
                .last_payment_error
                .and_then(|e| e.message)
                .unwrap_or_else(|| "The payment failed.".into());
            // The order stays pending: the student may try another card. A
            // late failure is recorded and changes nothing else.
            record_journal_entry(
                conn,
                &JournalEntry {
                    kind: kind::FAILED_PAYMENT,
                    status: STATUS_FAILED,
                    amount_cents: intent.amount,
                    currency: &order.currency,
                    description: &format!("Payment failed for order {}: {message}", order.number),
                    order_id: Some(order.id),
                    metadata: raw,
                    provider_event_id: Some(&event.id),
                    idempotency_key: &format!("evt-{}", event.id),
                },
            )?;
            Ok("failed payment recorded".into())
        }
        "payment_intent.canceled" => {
            let intent: IntentObject = parse(event)?;
            let Some(order) = order_for_intent(conn, &intent)? else {
                return Ok("not a kasir PaymentIntent: ignored".into());
            };
            let moved =
                cancel_pending_order(conn, &order, "payment canceled at the provider", now)?;
            Ok(if moved {
                "order canceled"
            } else {
                "order not pending: unchanged"
            }
            .into())
        }
        "charge.refunded" => {
            let charge: ChargeObject = parse(event)?;
            let order = order_for_charge(conn, charge.payment_intent.as_deref())?;
            apply_refund(conn, &order, &charge, &event.id, raw, now)
        }
        "charge.dispute.created" => {
            let dispute: DisputeObject = parse(event)?;
            let order = paid_order_for_charge(conn, dispute.payment_intent.as_deref())?;
            record_journal_entry(
                conn,
                &JournalEntry {
                    kind: kind::DISPUTE,
                    status: journal::status::PENDING,
                    amount_cents: dispute.amount,
                    currency: &dispute.currency.to_uppercase(),
                    description: &format!(
                        "Dispute {} opened on order {}",
                        dispute.id, order.number
                    ),
                    order_id: Some(order.id),
                    metadata: raw,
                    provider_event_id: Some(&event.id),
                    idempotency_key: &format!("dispute-{}-created", dispute.id),
                },
            )?;
            // Deliveries can come out of order: a dispute already won stays won.
            if JournalRow::exists(conn, &format!("dispute-{}-closed", dispute.id))?
                && dispute_won(conn, &order, &dispute.id)?
            {
                return Ok("dispute recorded after it was won: access kept".into());
            }
            let revoked = revoke_order_access(conn, &order, "dispute opened", now)?;
            Ok(format!(
                "dispute recorded, access suspended for {revoked} course(s)"
            ))
        }
        "charge.dispute.closed" => {
            let dispute: DisputeObject = parse(event)?;
            let order = paid_order_for_charge(conn, dispute.payment_intent.as_deref())?;
            let won = dispute.status == "won";
            record_journal_entry(
                conn,
                &JournalEntry {
                    kind: kind::DISPUTE,
                    status: if won {
                        journal::status::SUCCESS
                    } else {
                        STATUS_FAILED
                    },
                    amount_cents: dispute.amount,
                    currency: &dispute.currency.to_uppercase(),
                    description: &format!(
                        "Dispute {} closed ({}) on order {}",
                        dispute.id, dispute.status, order.number
                    ),
                    order_id: Some(order.id),
                    metadata: raw,
                    provider_event_id: Some(&event.id),
                    idempotency_key: &format!("dispute-{}-closed", dispute.id),
                },
            )?;
            if won && order.status != REFUNDED {
                let items = order.items(conn)?;
                for item in &items {
                    UserCourse::grant(conn, order.user_id, item.course_id, order.id, now)?;
                }
                return Ok("dispute won: access restored".into());
            }
            // Lost: the money went back; the access ends (also when the
            // "created" delivery has not arrived yet).
            let revoked = revoke_order_access(conn, &order, "dispute lost", now)?;
            Ok(format!(
                "dispute closed ({}): access ended for {revoked} course(s)",
                dispute.status
            ))
        }
        other => Ok(format!("{other}: recorded, not handled")),
    }
}

/// `amount_refunded` is cumulative: one refund row per new amount, the
/// order's status follows, and a full refund ends the access it bought.
fn apply_refund(
    conn: &mut DbConnection,
    order: &Order,
    charge: &ChargeObject,
    event_id: &str,
    raw: &str,
    now: NaiveDateTime,
) -> Result<String, EventError> {
    if order.status == PENDING {
        return Err(EventError::NotReady(format!(
            "order {} is not paid yet",
            order.number
        )));
    }
    if order.paid_at.is_none() {
        return apply_unapplied_refund(conn, order, charge, event_id, raw);
    }
    let refunded = charge.amount_refunded.min(order.total_cents);
    if refunded <= order.refunded_cents {
        return Ok("refund already recorded".into());
    }
    let full = refunded >= order.total_cents;
    let status = if full { REFUNDED } else { PARTIALLY_REFUNDED };
    if !Order::record_refunded(conn, order.id, refunded, status, now)? {
        return Ok("refund already recorded".into());
    }
    let delta = refunded - order.refunded_cents;
    record_journal_entry(
        conn,
        &JournalEntry {
            kind: kind::REFUND,
            status: journal::status::SUCCESS,
            amount_cents: delta,
            currency: &order.currency,
            description: &format!(
                "Refund on order {} ({} of {} refunded)",
                order.number, refunded, order.total_cents
            ),
            order_id: Some(order.id),
            metadata: raw,
            provider_event_id: Some(event_id),
            idempotency_key: &format!("charge-{}-refunded-{refunded}", charge.id),
        },
    )?;
    if full {
        let revoked = revoke_order_access(conn, order, "refunded", now)?;
        return Ok(format!("full refund: access ended for {revoked} course(s)"));
    }
    Ok(format!("partial refund of {delta}"))
}

/// A refund on an order that was canceled before its payment was applied
/// (a payment that succeeds after that is flagged, never income): the
/// money still went back, so it is journalled, as its own kind that
/// revenue does not count, and the order is left as it is.
fn apply_unapplied_refund(
    conn: &mut DbConnection,
    order: &Order,
    charge: &ChargeObject,
    event_id: &str,
    raw: &str,
) -> Result<String, EventError> {
    let earlier: i64 = JournalRow::for_order(conn, order.id)?
        .iter()
        .filter(|row| row.kind == kind::UNAPPLIED_REFUND)
        .map(|row| row.amount_cents)
        .sum();
    let refunded = charge.amount_refunded;
    if refunded <= earlier {
        return Ok("refund already recorded".into());
    }
    let delta = refunded - earlier;
    record_journal_entry(
        conn,
        &JournalEntry {
            kind: kind::UNAPPLIED_REFUND,
            status: journal::status::SUCCESS,
            amount_cents: delta,
            currency: &charge.currency.to_uppercase(),
            description: &format!(
                "Refund of a payment never applied to order {} ({refunded} refunded)",
                order.number
            ),
            order_id: Some(order.id),
            metadata: raw,
            provider_event_id: Some(event_id),
            idempotency_key: &format!("charge-{}-refunded-{refunded}", charge.id),
        },
    )?;
    tracing::warn!(order.id = %order.id, delta, "refund of a payment that was never applied");
    Ok(format!("refund of an unapplied payment: {delta}"))
}

/// Ends the access this order granted, except where the student holds the
/// course through another paid order (then that order grants it).
fn revoke_order_access(
    conn: &mut DbConnection,
    order: &Order,
    reason: &str,
    now: NaiveDateTime,
) -> diesel::QueryResult<usize> {
    let revoked = UserCourse::revoke_for_order(conn, order.id, reason, now)?;
    let mut ended = 0;
    for (user, course) in revoked {
        match Order::other_paid_orders_with_course(conn, user, course, order.id)?.first() {
            Some(other) => {
                UserCourse::grant(conn, user, course, *other, now)?;
            }
            None => ended += 1,
        }
    }
    Ok(ended)
}
