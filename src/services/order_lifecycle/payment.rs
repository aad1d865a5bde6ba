//! A payment's transitions: started (a PaymentIntent attached), paid (the
//! one idempotent `fulfill`), failed, canceled, and a payment that does not
//! match its order.

use std::fmt;

use chrono::NaiveDateTime;

use super::EventError;
use super::access::grant_order_access;
use crate::db::{self, DbConnection};
use crate::domain::{Currency, IntentStatus, JournalKind, JournalStatus, OrderStatus};
use crate::models::OrderId;
use crate::models::cart::{Cart, CartItem, CartOf};
use crate::models::order::Order;
use crate::models::promo_code::PromoRedemption;
use crate::models::user::User;
use crate::payments::ProviderIntent;
use crate::services::journal::{JournalEntry, record_journal_entry};
use crate::services::promo;

/// What the provider says about a PaymentIntent, from an event or a retrieve.
pub struct ObservedIntent<'a> {
    pub id: &'a str,
    pub amount: i64,
    /// As the provider writes it (`usd`).
    pub currency: &'a str,
    pub status: IntentStatus,
    /// The charge that paid it, when the provider says.
    pub charge_id: Option<&'a str>,
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
            status: intent.status,
            charge_id: intent.charge_id.as_deref(),
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

impl fmt::Display for FulfillOutcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Fulfilled => f.write_str("order paid, access granted"),
            Self::AlreadyPaid => f.write_str("order was paid already"),
            Self::Mismatch(problem) => write!(f, "payment not applied: {problem}"),
            Self::NotSucceeded => f.write_str("payment has not succeeded: nothing to do"),
        }
    }
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

/// [`fulfill_payment`] inside the caller's write transaction.
pub fn fulfill_in_transaction(
    conn: &mut DbConnection,
    intent: &ObservedIntent<'_>,
    now: NaiveDateTime,
) -> Result<FulfillOutcome, EventError> {
    if intent.status != IntentStatus::Succeeded {
        return Ok(FulfillOutcome::NotSucceeded);
    }
    let found = Order::find_by_payment_intent(conn, intent.id)?.ok_or_else(|| not_ready(intent))?;
    fulfill_found(conn, &found, intent, now)
}

fn not_ready(intent: &ObservedIntent<'_>) -> EventError {
    EventError::NotReady(format!("no order has PaymentIntent {}", intent.id))
}

/// [`fulfill_in_transaction`] for the order the caller found by the
/// intent's id (read before any lock: it is locked and read again here).
pub fn fulfill_found(
    conn: &mut DbConnection,
    found: &Order,
    intent: &ObservedIntent<'_>,
    now: NaiveDateTime,
) -> Result<FulfillOutcome, EventError> {
    if intent.status != IntentStatus::Succeeded {
        return Ok(FulfillOutcome::NotSucceeded);
    }
    // The cart first, then the order: the lock order of checkout too, so a
    // checkout never places an order for a course granted a moment before,
    // and a cancel and a payment of one order cannot both win.
    Cart::lock_for_user(conn, found.user_id)?;
    let order = Order::lock(conn, found.id)?.ok_or_else(|| not_ready(intent))?;
    let problem = match order.status {
        OrderStatus::Pending => mismatch(intent, &order),
        OrderStatus::Canceled => Some(format!(
            "PaymentIntent {} succeeded for order {}, which was canceled: refund it or fulfil it by hand",
            intent.id, order.number
        )),
        _ => return Ok(FulfillOutcome::AlreadyPaid),
    };
    if let Some(problem) = problem {
        record_mismatch(conn, &order, intent, &problem, now)?;
        return Ok(FulfillOutcome::Mismatch(problem));
    }
    // The order is held and pending: it turns paid with the last write,
    // which takes the year's invoice counter (held until commit).
    deliver_paid_order(conn, &order, now)?;
    record_journal_entry(
        conn,
        &JournalEntry {
            kind: JournalKind::Income,
            status: JournalStatus::Success,
            amount_cents: order.total_cents,
            currency: order.currency,
            description: &format!("Payment received for order {}", order.number),
            order_id: Some(order.id),
            metadata: intent.raw_json,
            provider_event_id: intent.event_id,
            idempotency_key: &format!("order-{}-income", order.id.0),
        },
    )?;
    super::tax::record_tax(
        conn,
        &order,
        JournalKind::Tax,
        order.tax_cents,
        &format!("Tax in the payment of order {}", order.number),
        &format!("order-{}-tax", order.id.0),
    )?;
    Order::mark_paid(conn, order.id, order.provider, intent.charge_id, now)?;
    tracing::info!(order.id = %order.id, stripe.payment_intent = intent.id, "order paid");
    Ok(FulfillOutcome::Fulfilled)
}

/// Why this intent cannot pay this pending order, if it cannot.
fn mismatch(intent: &ObservedIntent<'_>, order: &Order) -> Option<String> {
    let same_currency = intent.currency.eq_ignore_ascii_case(order.currency.code());
    (intent.amount != order.total_cents || !same_currency).then(|| {
        format!(
            "PaymentIntent {} is for {} {}, order {} is for {} {}",
            intent.id,
            intent.amount,
            intent.currency.to_uppercase(),
            order.number,
            order.total_cents,
            order.currency
        )
    })
}

/// A payment never applied: the order is flagged for staff with the
/// reason, and the journal says what came in.
fn record_mismatch(
    conn: &mut DbConnection,
    order: &Order,
    intent: &ObservedIntent<'_>,
    problem: &str,
    now: NaiveDateTime,
) -> diesel::QueryResult<()> {
    Order::flag_for_review(conn, order.id, problem, now)?;
    record_journal_entry(
        conn,
        &JournalEntry {
            kind: JournalKind::PaymentMismatch,
            status: JournalStatus::Failed,
            amount_cents: intent.amount,
            currency: Currency::parse(intent.currency).unwrap_or(order.currency),
            description: problem,
            order_id: Some(order.id),
            metadata: intent.raw_json,
            provider_event_id: intent.event_id,
            idempotency_key: &format!("pi-{}-mismatch", intent.id),
        },
    )?;
    tracing::error!(order.id = %order.id, stripe.payment_intent = intent.id, "{problem}");
    Ok(())
}

/// A PaymentIntent this shop made for `order` that is not the order's (it
/// lost the race to be stored) and was paid anyway: flagged, never applied.
pub fn record_stray_payment(
    conn: &mut DbConnection,
    order: &Order,
    intent: &ObservedIntent<'_>,
) -> diesel::QueryResult<String> {
    let problem = format!(
        "PaymentIntent {} succeeded for order {}, which is paid through {}: refund it",
        intent.id,
        order.number,
        order.payment_intent_id.as_deref().unwrap_or("no intent")
    );
    record_mismatch(conn, order, intent, &problem, db::now())?;
    Ok(problem)
}

/// What a paid order brings: access to its courses, its promo use
/// redeemed, its courses out of the cart. Runs in the caller's transaction,
/// on the order it holds, before [`Order::mark_paid`] ends it.
pub(super) fn deliver_paid_order(
    conn: &mut DbConnection,
    order: &Order,
    now: NaiveDateTime,
) -> diesel::QueryResult<()> {
    let student = User::find(conn, order.user_id)?.ok_or(diesel::result::Error::NotFound)?;
    let items = grant_order_access(conn, order, &student, now)?;
    // Only an order placed with a promo code has a redemption to redeem.
    if order.promo_code_id.is_some() {
        PromoRedemption::transition(
            conn,
            order.id,
            crate::domain::RedemptionStatus::Reserved,
            crate::domain::RedemptionStatus::Redeemed,
            now,
        )?;
    }
    CartItem::remove_courses(conn, CartOf::User(order.user_id), &items)?;
    crate::services::mail::queue::receipt(conn, &student, order, now)
}

/// A failed attempt: the order stays pending (the student may try another
/// card); a late failure is recorded and changes nothing else.
pub fn record_failed_payment(
    conn: &mut DbConnection,
    order: &Order,
    amount: i64,
    message: &str,
    event: super::EventMeta<'_>,
) -> diesel::QueryResult<bool> {
    record_journal_entry(
        conn,
        &JournalEntry {
            kind: JournalKind::FailedPayment,
            status: JournalStatus::Failed,
            amount_cents: amount,
            currency: order.currency,
            description: &format!("Payment failed for order {}: {message}", order.number),
            order_id: Some(order.id),
            metadata: event.raw,
            provider_event_id: Some(event.id),
            idempotency_key: &format!("evt-{}", event.id),
        },
    )
}

/// `pending -> canceled` with its promo use given back and a journal row,
/// all in the caller's transaction. Returns whether it moved.
pub fn cancel_pending_order(
    conn: &mut DbConnection,
    order: &Order,
    reason: &str,
    now: NaiveDateTime,
) -> diesel::QueryResult<bool> {
    if !cancel_without_journal(conn, order, now)? {
        return Ok(false);
    }
    journal_cancellation(conn, order, reason)?;
    Ok(true)
}

/// The state change of a cancellation; the caller appends its journal row
/// ([`journal_cancellation`]) once its other locks are taken.
pub(super) fn cancel_without_journal(
    conn: &mut DbConnection,
    order: &Order,
    now: NaiveDateTime,
) -> diesel::QueryResult<bool> {
    if !Order::cancel_if_pending(conn, order.id, now)? {
        return Ok(false);
    }
    promo::release_promo_redemption(conn, order.id, order.promo_code_id, now)?;
    Ok(true)
}

pub(super) fn journal_cancellation(
    conn: &mut DbConnection,
    order: &Order,
    reason: &str,
) -> diesel::QueryResult<bool> {
    let metadata =
        serde_json::json!({ "reason": reason, "payment_intent": order.payment_intent_id })
            .to_string();
    record_journal_entry(
        conn,
        &JournalEntry {
            kind: JournalKind::Canceled,
            status: JournalStatus::Success,
            amount_cents: order.total_cents,
            currency: order.currency,
            description: &format!("Order {} canceled: {reason}", order.number),
            order_id: Some(order.id),
            metadata: &metadata,
            provider_event_id: None,
            idempotency_key: &format!("order-{}-canceled", order.id.0),
        },
    )
}

/// Stores a new PaymentIntent on its order and journals the attempt, once:
/// the compare-and-set on the order decides who records it. Returns whether
/// this intent is the order's (false: another one was attached first).
pub fn attach_payment_intent(
    conn: &mut DbConnection,
    order_id: OrderId,
    intent: &ProviderIntent,
) -> diesel::QueryResult<bool> {
    db::write_transaction(conn, |conn| {
        let Some(order) = Order::find(conn, order_id)? else {
            return Ok(false);
        };
        if order.payment_intent_id.as_deref() == Some(intent.id.as_str()) {
            return Ok(true);
        }
        if !Order::attach_payment_intent(conn, order_id, &intent.id)? {
            return Ok(false);
        }
        record_journal_entry(
            conn,
            &JournalEntry {
                kind: JournalKind::PaymentInitiated,
                status: JournalStatus::Pending,
                amount_cents: intent.amount,
                currency: order.currency,
                description: &format!("Payment started for order {}", order.number),
                order_id: Some(order_id),
                metadata: &intent.raw_json,
                provider_event_id: None,
                idempotency_key: &format!("pi-{}-initiated", intent.id),
            },
        )?;
        Ok(true)
    })
}
