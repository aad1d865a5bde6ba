//! Stripe-shaped objects and events in today's shapes, built from Stripe's
//! own OpenAPI fixtures (`stripe_fixtures.json`: the `payment_intent`,
//! `charge`, `refund`, `dispute` and `event` objects of `fixtures3.json`
//! in Stripe's public `openapi` repository). The one builder of event JSON:
//! the sandbox delivers these, the benchmark replays them, the tests send
//! them.

use std::sync::OnceLock;

use serde_json::{Map, Value, json};

use crate::domain::StripeEvent;

const FIXTURES: &str = include_str!("stripe_fixtures.json");

fn fixtures() -> &'static Map<String, Value> {
    static PARSED: OnceLock<Map<String, Value>> = OnceLock::new();
    PARSED.get_or_init(|| serde_json::from_str(FIXTURES).expect("stripe_fixtures.json is JSON"))
}

/// Stripe's fixture for `name`, with `overrides` laid over its top level.
fn fixture(name: &str, overrides: Value) -> Value {
    let mut object = fixtures()
        .get(name)
        .cloned()
        .unwrap_or_else(|| panic!("no {name} in stripe_fixtures.json"));
    if let (Value::Object(base), Value::Object(extra)) = (&mut object, overrides) {
        base.extend(extra);
    }
    object
}

/// A random id with Stripe's prefix (`evt_`, `re_` ...).
pub fn new_id(prefix: &str) -> String {
    format!("{prefix}{}", &crate::session::new_token()[..24])
}

/// A PaymentIntent as Stripe renders it today.
pub struct Intent<'a> {
    pub id: &'a str,
    pub amount: i64,
    /// Lower case, as Stripe writes it.
    pub currency: &'a str,
    pub status: &'a str,
    pub metadata: Value,
    pub last_error: Option<&'a str>,
    pub latest_charge: Option<&'a str>,
}

pub fn payment_intent(intent: &Intent<'_>) -> Value {
    fixture(
        "payment_intent",
        json!({
            "id": intent.id,
            "amount": intent.amount,
            "amount_received": if intent.status == "succeeded" { intent.amount } else { 0 },
            "currency": intent.currency,
            "status": intent.status,
            "metadata": intent.metadata,
            "client_secret": format!("{}_secret_fixture", intent.id),
            "canceled_at": null,
            "latest_charge": intent.latest_charge,
            "last_payment_error": intent.last_error.map(|message| json!({
                "type": "card_error", "code": "card_declined", "message": message,
            })),
            "next_action": null,
        }),
    )
}

/// A Charge with its cumulative refunded amount.
pub fn charge(
    id: &str,
    payment_intent: &str,
    amount: i64,
    amount_refunded: i64,
    currency: &str,
) -> Value {
    fixture(
        "charge",
        json!({
            "id": id,
            "payment_intent": payment_intent,
            "amount": amount,
            "amount_captured": amount,
            "amount_refunded": amount_refunded,
            "captured": true,
            "currency": currency,
            "refunded": amount_refunded >= amount,
            "refunds": {
                "object": "list", "data": [], "has_more": false,
                "url": format!("/v1/charges/{id}/refunds"),
            },
        }),
    )
}

/// A Refund (`status`: pending, succeeded, failed, canceled ...).
pub struct RefundJson<'a> {
    pub id: &'a str,
    pub payment_intent: &'a str,
    pub charge: &'a str,
    pub amount: i64,
    pub currency: &'a str,
    pub status: &'a str,
    /// Unix seconds.
    pub created: i64,
}

pub fn refund(refund: &RefundJson<'_>) -> Value {
    fixture(
        "refund",
        json!({
            "id": refund.id,
            "payment_intent": refund.payment_intent,
            "charge": refund.charge,
            "amount": refund.amount,
            "currency": refund.currency,
            "status": refund.status,
            "created": refund.created,
            "failure_reason": if refund.status == "failed" { json!("lost_or_stolen_card") } else { Value::Null },
        }),
    )
}

/// A Dispute (`status`: warning_needs_response ... won, lost).
pub fn dispute(
    id: &str,
    payment_intent: &str,
    charge: &str,
    amount: i64,
    currency: &str,
    status: &str,
) -> Value {
    fixture(
        "dispute",
        json!({
            "id": id,
            "payment_intent": payment_intent,
            "charge": charge,
            "amount": amount,
            "currency": currency,
            "status": status,
            "reason": "fraudulent",
        }),
    )
}

/// An event wrapping `object`, made `created` (unix seconds), in test mode
/// and the API version async-stripe pins.
pub fn event(id: &str, kind: StripeEvent, object: Value, created: i64) -> Value {
    fixture(
        "event",
        json!({
            "id": id,
            "type": kind.as_str(),
            "created": created,
            "livemode": false,
            "api_version": super::stripe::api_version(),
            "pending_webhooks": 1,
            "data": { "object": object },
        }),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::payments::webhook::{
        ChargeObject, DisputeObject, Envelope, IntentObject, RefundObject,
    };

    #[test]
    fn built_events_read_back_through_the_webhook_structs() {
        let intent = payment_intent(&Intent {
            id: "pi_1",
            amount: 8900,
            currency: "usd",
            status: "succeeded",
            metadata: json!({ "kasir_order_id": "7" }),
            last_error: None,
            latest_charge: Some("ch_1"),
        });
        let raw = event(
            "evt_1",
            StripeEvent::PaymentIntentSucceeded,
            intent,
            1_800_000_000,
        )
        .to_string();
        let envelope: Envelope = serde_json::from_str(&raw).unwrap();
        assert_eq!(
            (envelope.kind.as_str(), envelope.created),
            ("payment_intent.succeeded", Some(1_800_000_000))
        );
        assert_eq!(envelope.livemode, Some(false));
        let object: IntentObject = serde_json::from_value(envelope.data.object).unwrap();
        assert_eq!(
            (object.amount, object.latest_charge.as_deref()),
            (8900, Some("ch_1"))
        );
        assert_eq!(object.metadata_str("kasir_order_id"), Some("7"));
        // The fixture's fields we did not override are Stripe's own.
        assert!(raw.contains("\"automatic_payment_methods\""));

        let charge: ChargeObject =
            serde_json::from_value(charge("ch_1", "pi_1", 8900, 100, "usd")).unwrap();
        assert_eq!((charge.amount, charge.amount_refunded), (8900, 100));
        assert!(charge.refunds.unwrap().data.is_empty());
        let refund: RefundObject = serde_json::from_value(refund(&RefundJson {
            id: "re_1",
            payment_intent: "pi_1",
            charge: "ch_1",
            amount: 100,
            currency: "usd",
            status: "failed",
            created: 5,
        }))
        .unwrap();
        assert_eq!(
            (refund.status.as_deref(), refund.created),
            (Some("failed"), Some(5))
        );
        let dispute: DisputeObject =
            serde_json::from_value(dispute("dp_1", "pi_1", "ch_1", 8900, "usd", "lost")).unwrap();
        assert_eq!(
            (dispute.status.as_str(), dispute.charge.as_deref()),
            ("lost", Some("ch_1"))
        );
    }
}
