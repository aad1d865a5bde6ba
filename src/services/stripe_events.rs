//! What each Stripe event does to kasir's orders: one function per event
//! type, each reading only the fields it needs and calling the order
//! lifecycle. Events for objects that are not this shop's (another
//! application, or another kasir installation, on the same Stripe account)
//! are acknowledged and ignored; only an event for an order of ours that
//! could still appear is answered "not ready", so Stripe delivers it again.

use chrono::NaiveDateTime;

use crate::db::{self, DbConnection};
use crate::domain::{IntentStatus, OrderStatus, StripeEvent};
use crate::models::OrderId;
use crate::models::installation::Installation;
use crate::models::order::Order;
use crate::payments::webhook::{ChargeObject, DisputeObject, Envelope, IntentObject, RefundObject};
use crate::payments::{METADATA_INSTALLATION, METADATA_ORDER_ID};
use crate::services::order_lifecycle::{
    self as lifecycle, DisputePhase, EventError, EventMeta, ObservedIntent,
};

/// Applies a verified event inside the inbox's write transaction and says
/// what it came to. `livemode` is the mode of the shop's secret key.
pub fn apply(
    conn: &mut DbConnection,
    event: &Envelope,
    raw: &str,
    livemode: bool,
) -> Result<String, EventError> {
    if let Some(mode) = event.livemode
        && mode != livemode
    {
        return Err(EventError::Unreadable(format!(
            "a {} event, but this shop runs with {} keys",
            mode_name(mode),
            mode_name(livemode)
        )));
    }
    let meta = EventMeta {
        id: &event.id,
        created: event_time(event.created),
        raw,
    };
    let Ok(kind) = StripeEvent::parse(&event.kind) else {
        return Ok(format!("{}: recorded, not handled", event.kind));
    };
    match kind {
        StripeEvent::PaymentIntentSucceeded => on_payment_succeeded(conn, &parse(event)?, meta),
        StripeEvent::PaymentIntentFailed => on_payment_failed(conn, &parse(event)?, meta),
        StripeEvent::PaymentIntentProcessing => on_payment_processing(conn, &parse(event)?),
        StripeEvent::PaymentIntentCanceled => on_payment_canceled(conn, &parse(event)?),
        StripeEvent::ChargeRefunded => on_charge_refunded(conn, &parse(event)?, meta),
        StripeEvent::ChargeRefundUpdated
        | StripeEvent::RefundCreated
        | StripeEvent::RefundUpdated
        | StripeEvent::RefundFailed => on_refund_changed(conn, &parse(event)?, meta),
        StripeEvent::DisputeCreated => {
            on_dispute(conn, &parse(event)?, DisputePhase::Created, meta)
        }
        StripeEvent::DisputeUpdated => {
            on_dispute(conn, &parse(event)?, DisputePhase::Updated, meta)
        }
        StripeEvent::DisputeClosed => on_dispute(conn, &parse(event)?, DisputePhase::Closed, meta),
    }
}

fn mode_name(livemode: bool) -> &'static str {
    if livemode { "live" } else { "test" }
}

/// An event's `created`, or now for the few that carry none.
fn event_time(created: Option<i64>) -> NaiveDateTime {
    created
        .and_then(|t| chrono::DateTime::from_timestamp(t, 0))
        .map_or_else(db::now, |t| t.naive_utc())
}

fn parse<T: serde::de::DeserializeOwned>(event: &Envelope) -> Result<T, EventError> {
    serde_json::from_value(event.data.object.clone())
        .map_err(|e| EventError::Unreadable(format!("{} object: {e}", event.kind)))
}

const NOT_OURS: &str = "not a PaymentIntent of this shop: ignored";

/// The order of this PaymentIntent. `Ok(None)`: not this shop's. Not ready:
/// this shop made it for an order that has no intent stored yet (the
/// moment between creating the intent and storing it).
fn intent_order(
    conn: &mut DbConnection,
    intent: &IntentObject,
) -> Result<Option<Order>, EventError> {
    if let Some(order) = Order::find_by_payment_intent(conn, &intent.id)? {
        return Ok(Some(order));
    }
    match named_order(conn, intent)? {
        Some(order)
            if order.payment_intent_id.is_none() && order.status == OrderStatus::Pending =>
        {
            Err(EventError::NotReady(format!(
                "no order has PaymentIntent {} yet",
                intent.id
            )))
        }
        _ => Ok(None),
    }
}

/// The order this installation's metadata on the intent names, if any.
fn named_order(
    conn: &mut DbConnection,
    intent: &IntentObject,
) -> diesel::QueryResult<Option<Order>> {
    let ours = intent.metadata_str(METADATA_INSTALLATION) == Some(Installation::id(conn)?.as_str());
    let id = intent
        .metadata_str(METADATA_ORDER_ID)
        .and_then(|id| id.parse::<i64>().ok());
    match (ours, id) {
        (true, Some(id)) => Order::find(conn, OrderId(id)),
        _ => Ok(None),
    }
}

fn observed<'a>(intent: &'a IntentObject, meta: EventMeta<'a>) -> ObservedIntent<'a> {
    ObservedIntent {
        id: &intent.id,
        amount: intent.amount,
        currency: &intent.currency,
        status: intent
            .status
            .as_deref()
            .map_or(IntentStatus::Succeeded, IntentStatus::from_provider),
        charge_id: intent.latest_charge.as_deref(),
        raw_json: meta.raw,
        event_id: Some(meta.id),
    }
}

fn on_payment_succeeded(
    conn: &mut DbConnection,
    intent: &IntentObject,
    meta: EventMeta<'_>,
) -> Result<String, EventError> {
    let Some(found) = intent_order(conn, intent)? else {
        // An intent of ours that lost to another one on its order, and was
        // paid anyway: money came in for nothing, staff must refund it.
        if let Some(order) = named_order(conn, intent)? {
            let problem = lifecycle::record_stray_payment(conn, &order, &observed(intent, meta))?;
            return Ok(format!("payment not applied: {problem}"));
        }
        return Ok(NOT_OURS.into());
    };
    Ok(lifecycle::fulfill_found(conn, &found, &observed(intent, meta), db::now())?.to_string())
}

fn on_payment_failed(
    conn: &mut DbConnection,
    intent: &IntentObject,
    meta: EventMeta<'_>,
) -> Result<String, EventError> {
    let Some(order) = intent_order(conn, intent)? else {
        return Ok(NOT_OURS.into());
    };
    let message = intent
        .last_payment_error
        .as_ref()
        .and_then(|e| e.message.as_deref())
        .unwrap_or("The payment failed.");
    lifecycle::record_failed_payment(conn, &order, intent.amount, message, meta)?;
    Ok("failed payment recorded; the order stays open for another try".into())
}

fn on_payment_processing(
    conn: &mut DbConnection,
    intent: &IntentObject,
) -> Result<String, EventError> {
    Ok(match intent_order(conn, intent)? {
        Some(order) => format!(
            "order {} is waiting for its payment to settle",
            order.number
        ),
        None => NOT_OURS.into(),
    })
}

fn on_payment_canceled(
    conn: &mut DbConnection,
    intent: &IntentObject,
) -> Result<String, EventError> {
    let Some(order) = intent_order(conn, intent)? else {
        return Ok(NOT_OURS.into());
    };
    let moved = lifecycle::cancel_pending_order(
        conn,
        &order,
        "payment canceled at the provider",
        db::now(),
    )?;
    Ok(if moved {
        "order canceled"
    } else {
        "order not pending: unchanged"
    }
    .into())
}

/// The order a charge, refund or dispute is about, held for this
/// transaction: by its PaymentIntent, else by the charge that paid it.
fn money_order(
    conn: &mut DbConnection,
    payment_intent: Option<&str>,
    charge: Option<&str>,
) -> diesel::QueryResult<Option<Order>> {
    if let Some(intent) = payment_intent
        && let Some(order) = Order::lock_by_payment_intent(conn, intent)?
    {
        return Ok(Some(order));
    }
    match charge {
        Some(charge) => Order::lock_by_charge(conn, charge),
        None => Ok(None),
    }
}

const NOT_OUR_CHARGE: &str = "not a charge of this shop: ignored";

fn on_charge_refunded(
    conn: &mut DbConnection,
    charge: &ChargeObject,
    meta: EventMeta<'_>,
) -> Result<String, EventError> {
    match money_order(conn, charge.payment_intent.as_deref(), Some(&charge.id))? {
        Some(order) => lifecycle::apply_charge_refunded(conn, &order, charge, meta),
        None => Ok(NOT_OUR_CHARGE.into()),
    }
}

fn on_refund_changed(
    conn: &mut DbConnection,
    refund: &RefundObject,
    meta: EventMeta<'_>,
) -> Result<String, EventError> {
    match money_order(
        conn,
        refund.payment_intent.as_deref(),
        refund.charge.as_deref(),
    )? {
        Some(order) => lifecycle::apply_refund_update(conn, &order, refund, meta),
        None => Ok(NOT_OUR_CHARGE.into()),
    }
}

/// A dispute waits for its payment to be applied (non-2xx until then), or
/// the payment would grant access the dispute had already suspended.
fn on_dispute(
    conn: &mut DbConnection,
    dispute: &DisputeObject,
    phase: DisputePhase,
    meta: EventMeta<'_>,
) -> Result<String, EventError> {
    let Some(order) = money_order(
        conn,
        dispute.payment_intent.as_deref(),
        dispute.charge.as_deref(),
    )?
    else {
        return Ok(NOT_OUR_CHARGE.into());
    };
    if order.paid_at.is_none() {
        return Err(EventError::NotReady(format!(
            "order {} is not paid yet",
            order.number
        )));
    }
    lifecycle::apply_dispute(conn, &order, dispute, phase, meta)
}
