//! Stripe events in today's shapes (Stripe's own fixtures), signed and
//! delivered to the app the way Stripe delivers them.

use diesel::prelude::*;
use kasir::db::schema::orders;
use kasir::domain::StripeEvent;
use kasir::payments::stripe_json;
use stripe_webhook::Webhook;

use super::{TestApp, location};

pub fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

/// A PaymentIntent event in today's shape (Stripe's own fixture, with the
/// fields we set) for the order `order_id`.
pub fn intent_event(
    event_id: &str,
    kind: &str,
    intent: &str,
    amount: i64,
    order_id: i64,
    error: Option<&str>,
) -> String {
    let succeeded = kind == "payment_intent.succeeded";
    let charge = format!("ch_{intent}");
    let object = stripe_json::payment_intent(&stripe_json::Intent {
        id: intent,
        amount,
        currency: "usd",
        status: if succeeded {
            "succeeded"
        } else {
            "requires_payment_method"
        },
        metadata: serde_json::json!({ "kasir_order_id": order_id.to_string() }),
        last_error: error,
        latest_charge: succeeded.then_some(charge.as_str()),
    });
    event(event_id, kind, object)
}

/// An event of `kind` (a Stripe event type) around `object`, made now.
pub fn event(event_id: &str, kind: &str, object: serde_json::Value) -> String {
    event_at(event_id, kind, object, now())
}

/// [`event`], made at `created` (unix seconds): Stripe's snapshot time.
pub fn event_at(event_id: &str, kind: &str, object: serde_json::Value, created: i64) -> String {
    let kind = StripeEvent::parse(kind).expect("an event type kasir handles");
    stripe_json::event(event_id, kind, object, created).to_string()
}

/// A refund event (`refund.created`, `refund.failed` ...) for the charge
/// of `intent`; the refund was made at `refund_created`, the event at
/// `created`.
#[expect(
    clippy::too_many_arguments,
    reason = "a refund's fields, named at each call"
)]
pub fn refund_event(
    event_id: &str,
    kind: &str,
    refund_id: &str,
    intent: &str,
    amount: i64,
    status: &str,
    refund_created: i64,
    created: i64,
) -> String {
    let charge = format!("ch_{intent}");
    let refund = stripe_json::refund(&stripe_json::RefundJson {
        id: refund_id,
        payment_intent: intent,
        charge: &charge,
        amount,
        currency: "usd",
        status,
        created: refund_created,
    });
    event_at(event_id, kind, refund, created)
}

/// `charge.refunded` for the charge of `intent` (of `amount`), with the
/// cumulative `amount_refunded`.
pub fn charge_refunded(event_id: &str, intent: &str, amount: i64, amount_refunded: i64) -> String {
    charge_refunded_at(event_id, intent, amount, amount_refunded, now())
}

/// [`charge_refunded`], the charge as it was at `created`.
pub fn charge_refunded_at(
    event_id: &str,
    intent: &str,
    amount: i64,
    amount_refunded: i64,
    created: i64,
) -> String {
    let charge = stripe_json::charge(
        &format!("ch_{intent}"),
        intent,
        amount,
        amount_refunded,
        "usd",
    );
    event_at(event_id, "charge.refunded", charge, created)
}

pub fn dispute_event(
    event_id: &str,
    kind: &str,
    intent: &str,
    amount: i64,
    status: &str,
) -> String {
    let dispute = stripe_json::dispute(
        &format!("dp_{intent}"),
        intent,
        &format!("ch_{intent}"),
        amount,
        "usd",
        status,
    );
    event(event_id, kind, dispute)
}

impl TestApp {
    /// This app's installation id (its database's).
    pub fn installation(&self) -> String {
        use kasir::db::schema::installation;
        installation::table
            .select(installation::installation_id)
            .first(&mut self.db.connect())
            .unwrap()
    }

    /// Posts a webhook signed by stripe-python's own signer.
    pub async fn deliver_signed_by_stripe_python(&self, body: &str) -> reqwest::Response {
        let header = super::stripe_today().sign(body, &self.webhook_secret).await;
        self.deliver_with(body, Some(&header)).await
    }

    /// Posts a webhook signed the way Stripe's own SDK signs.
    pub async fn deliver(&self, body: &str) -> reqwest::Response {
        let header = Webhook::generate_test_header(body, &self.webhook_secret, None);
        self.deliver_with(body, Some(&header)).await
    }

    pub async fn deliver_with(&self, body: &str, signature: Option<&str>) -> reqwest::Response {
        let mut request = self
            .new_client()
            .post(self.url("/webhooks/stripe"))
            .header("Content-Type", "application/json")
            .body(body.to_owned());
        if let Some(signature) = signature {
            request = request.header("Stripe-Signature", signature);
        }
        request.send().await.unwrap()
    }

    /// A student with a pending order for the given courses; returns
    /// (order id, PaymentIntent id, total).
    pub async fn pending_order(&self, email: &str, slugs: &[&str]) -> (i64, String, i64) {
        self.student(email).await;
        for slug in slugs {
            self.add_course(slug).await;
        }
        let response = self.checkout("").await;
        let number = location(&response)
            .trim_start_matches("/checkout/")
            .to_owned();
        let mut conn = self.db.connect();
        let (id, intent, total): (i64, Option<String>, i64) = orders::table
            .filter(orders::number.eq(number))
            .select((orders::id, orders::payment_intent_id, orders::total_cents))
            .first(&mut conn)
            .unwrap();
        (id, intent.unwrap(), total)
    }
}
