//! The sandbox provider: Stripe's PaymentIntent lifecycle and test cards,
//! with no network and no money. Its intents live in the shop's database,
//! so they survive restarts and every instance sees the same ones.

use super::stripe_json;
use super::{IntentRequest, IntentStatus, ProviderError, ProviderIntent, Refund};
use crate::db::{self, DbConnection, DbPool};
use crate::domain::StripeEvent;
use crate::i18n::Message;
use crate::models::sandbox_intent::{SandboxIntent, SandboxRefund};
use crate::session::new_token;

/// Stripe's test cards that the sandbox understands.
pub const CARD_SUCCEEDS: &str = "4242424242424242";
pub const CARD_DECLINED: &str = "4000000000000002";
pub const CARD_INSUFFICIENT_FUNDS: &str = "4000000000009995";
pub const CARD_NEEDS_AUTHENTICATION: &str = "4000002760003184";

pub const DECLINED_MESSAGE: &str = "Your card was declined.";
const INSUFFICIENT_FUNDS_MESSAGE: &str = "Your card has insufficient funds.";
const TEST_CARDS_ONLY_MESSAGE: &str =
    "Sandbox payments take test cards only: use 4242 4242 4242 4242.";
const AUTHENTICATION_FAILED_MESSAGE: &str = "We are unable to authenticate your payment method. Please choose a different payment method and try again.";

/// The code Stripe gives each of the sandbox's failures.
fn error_code(message: &str) -> &'static str {
    match message {
        INSUFFICIENT_FUNDS_MESSAGE => "insufficient_funds",
        TEST_CARDS_ONLY_MESSAGE => "sandbox_test_cards_only",
        AUTHENTICATION_FAILED_MESSAGE => "payment_intent_authentication_failure",
        _ => "card_declined",
    }
}

pub struct SandboxProvider {
    pool: DbPool,
}

/// What the student typed into the sandbox card form.
#[derive(Clone, Debug)]
pub struct TestCard {
    pub number: String,
    pub expiry: String,
    pub cvc: String,
}

impl TestCard {
    /// Checks the form the way Stripe's card element would before sending.
    pub fn validate(&self) -> Result<String, Message> {
        let number: String = self
            .number
            .chars()
            .filter(|c| !c.is_whitespace() && *c != '-')
            .collect();
        if number.len() < 12 || number.len() > 19 || !number.chars().all(|c| c.is_ascii_digit()) {
            return Err(crate::msg!("card-number-incomplete"));
        }
        let expiry: String = self.expiry.chars().filter(|c| !c.is_whitespace()).collect();
        let valid_expiry = match expiry.split_once('/') {
            Some((month, year)) => {
                let month: u32 = month.parse().unwrap_or(0);
                let year: i32 = year.parse().unwrap_or(0);
                let year = if year < 100 { 2000 + year } else { year };
                let now = chrono::Utc::now().date_naive();
                use chrono::Datelike;
                (1..=12).contains(&month) && (year, month) >= (now.year(), now.month())
            }
            None => false,
        };
        if !valid_expiry {
            return Err(crate::msg!("card-expiry-invalid"));
        }
        let cvc = self.cvc.trim();
        if !(3..=4).contains(&cvc.len()) || !cvc.chars().all(|c| c.is_ascii_digit()) {
            return Err(crate::msg!("card-cvc-incomplete"));
        }
        Ok(number)
    }
}

fn charge_id(intent: &SandboxIntent) -> Option<String> {
    (intent.status == IntentStatus::Succeeded).then(|| format!("ch_{}", intent.id))
}

/// The intent as Stripe would render it.
fn intent_json(intent: &SandboxIntent) -> serde_json::Value {
    let charge = charge_id(intent);
    stripe_json::payment_intent(&stripe_json::Intent {
        id: &intent.id,
        amount: intent.amount,
        currency: &intent.currency,
        status: intent.status.as_str(),
        metadata: serde_json::from_str(&intent.metadata).unwrap_or_default(),
        last_error: intent.last_error.as_deref(),
        latest_charge: charge.as_deref(),
    })
}

fn to_provider(intent: SandboxIntent) -> ProviderIntent {
    let mut json = intent_json(&intent);
    json["client_secret"] = intent.client_secret.clone().into();
    ProviderIntent {
        status: intent.status,
        charge_id: charge_id(&intent),
        raw_json: json.to_string(),
        id: intent.id,
        amount: intent.amount,
        currency: intent.currency,
        client_secret: Some(intent.client_secret),
        last_error_code: intent
            .last_error
            .as_deref()
            .map(|m| error_code(m).to_owned()),
        last_error: intent.last_error,
    }
}

impl SandboxProvider {
    pub fn new(pool: DbPool) -> Self {
        Self { pool }
    }

    async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce(&mut DbConnection) -> Result<T, ProviderError> + Send + 'static,
    ) -> Result<T, ProviderError> {
        db::run(&self.pool, work)
            .await
            .map_err(|e| ProviderError::Unavailable(e.to_string()))?
    }

    /// `run` for work that writes: in a write transaction, which on SQLite
    /// waits for the writer's turn with the shop's own writes. Outside it,
    /// a write that met a busy database slept in SQLite's busy handler (1,
    /// 2, 5 ... 100 ms between tries) and lost to every writer that came
    /// by: during a burst of checkouts some waited over a second
    /// (bench/results.md, eleventh round).
    async fn write<T: Send + 'static>(
        &self,
        work: impl FnOnce(&mut DbConnection) -> Result<T, ProviderError> + Send + 'static,
    ) -> Result<T, ProviderError> {
        self.run(move |conn| db::write_transaction(conn, work))
            .await
    }

    pub async fn create_intent(
        &self,
        request: &IntentRequest,
    ) -> Result<ProviderIntent, ProviderError> {
        let request = request.clone();
        self.write(move |conn| {
            let key = request.idempotency_key();
            // Same key, same intent: what Stripe does with Idempotency-Key.
            if let Some(existing) = SandboxIntent::find_by_idempotency_key(conn, &key)? {
                return Ok(to_provider(existing));
            }
            let id = format!("pi_sandbox_{}", &new_token()[..24]);
            let now = db::now();
            let intent = SandboxIntent {
                client_secret: format!("{id}_secret_{}", &new_token()[..16]),
                id,
                amount: request.amount,
                currency: request.currency.clone(),
                status: IntentStatus::RequiresPaymentMethod,
                metadata: serde_json::to_string(&request.metadata())
                    .map_err(|e| ProviderError::Rejected(e.to_string()))?,
                last_error: None,
                idempotency_key: key,
                created_at: now,
                updated_at: now,
                amount_refunded: 0,
            };
            intent.insert(conn)?;
            Ok(to_provider(intent))
        })
        .await
    }

    pub async fn retrieve_intent(&self, id: &str) -> Result<ProviderIntent, ProviderError> {
        let id = id.to_owned();
        self.run(move |conn| {
            SandboxIntent::find(conn, &id)?
                .map(to_provider)
                .ok_or(ProviderError::NotFound(id))
        })
        .await
    }

    pub async fn cancel_intent(&self, id: &str) -> Result<ProviderIntent, ProviderError> {
        let id = id.to_owned();
        self.run(move |conn| {
            SandboxIntent::transition(
                conn,
                &id,
                &[
                    IntentStatus::RequiresPaymentMethod,
                    IntentStatus::RequiresConfirmation,
                    IntentStatus::RequiresAction,
                ],
                IntentStatus::Canceled,
                None,
                db::now(),
            )?;
            SandboxIntent::find(conn, &id)?
                .map(to_provider)
                .ok_or(ProviderError::NotFound(id))
        })
        .await
    }

    /// Confirms the intent with a test card, as `confirmCardPayment` would.
    /// The card number decides: success, decline, or a 3-D Secure step.
    pub async fn confirm_with_card(
        &self,
        id: &str,
        card_number: &str,
    ) -> Result<ProviderIntent, ProviderError> {
        let (to, error) = match card_number {
            CARD_SUCCEEDS => (IntentStatus::Succeeded, None),
            CARD_NEEDS_AUTHENTICATION => (IntentStatus::RequiresAction, None),
            CARD_DECLINED => (IntentStatus::RequiresPaymentMethod, Some(DECLINED_MESSAGE)),
            CARD_INSUFFICIENT_FUNDS => (
                IntentStatus::RequiresPaymentMethod,
                Some(INSUFFICIENT_FUNDS_MESSAGE),
            ),
            _ => (
                IntentStatus::RequiresPaymentMethod,
                Some(TEST_CARDS_ONLY_MESSAGE),
            ),
        };
        self.move_intent(
            id,
            &[
                IntentStatus::RequiresPaymentMethod,
                IntentStatus::RequiresConfirmation,
            ],
            to,
            error,
        )
        .await
    }

    /// Refunds part or all of a succeeded intent, once per `key` (a retry
    /// returns the first refund and no new event); the refund carries the
    /// `charge.refunded` event Stripe would send (cumulative amount).
    pub async fn refund(&self, id: &str, amount: i64, key: &str) -> Result<Refund, ProviderError> {
        let (id, key) = (id.to_owned(), key.to_owned());
        self.run(move |conn| {
            db::write_transaction(conn, |conn| {
                if let Some(done) = SandboxRefund::find_by_key(conn, &key)? {
                    return Ok(Refund {
                        id: done.id,
                        amount: done.amount,
                        event: None,
                    });
                }
                let now = db::now();
                let updated = SandboxIntent::add_refund(conn, &id, amount, now)?;
                let intent = SandboxIntent::find(conn, &id)?
                    .ok_or_else(|| ProviderError::NotFound(id.clone()))?;
                if !updated {
                    return Err(ProviderError::Rejected(format!(
                        "cannot refund {amount} of {} ({} refunded already, status {})",
                        intent.amount, intent.amount_refunded, intent.status
                    )));
                }
                let refund = SandboxRefund {
                    id: stripe_json::new_id("re_sandbox_"),
                    payment_intent_id: intent.id.clone(),
                    amount,
                    idempotency_key: key.clone(),
                    created_at: now,
                };
                refund.insert(conn)?;
                let charge = stripe_json::charge(
                    &format!("ch_{}", intent.id),
                    &intent.id,
                    intent.amount,
                    intent.amount_refunded,
                    &intent.currency,
                );
                let event = stripe_json::event(
                    &stripe_json::new_id("evt_sandbox_"),
                    StripeEvent::ChargeRefunded,
                    charge,
                    chrono::Utc::now().timestamp(),
                );
                Ok(Refund {
                    id: refund.id,
                    amount,
                    event: Some(event.to_string()),
                })
            })
        })
        .await
    }

    /// The 3-D Secure step: the student approves or fails the challenge.
    pub async fn authenticate(
        &self,
        id: &str,
        approve: bool,
    ) -> Result<ProviderIntent, ProviderError> {
        let (to, error) = if approve {
            (IntentStatus::Succeeded, None)
        } else {
            (
                IntentStatus::RequiresPaymentMethod,
                Some(AUTHENTICATION_FAILED_MESSAGE),
            )
        };
        self.move_intent(id, &[IntentStatus::RequiresAction], to, error)
            .await
    }

    async fn move_intent(
        &self,
        id: &str,
        from: &'static [IntentStatus],
        to: IntentStatus,
        error: Option<&'static str>,
    ) -> Result<ProviderIntent, ProviderError> {
        let id = id.to_owned();
        self.write(move |conn| {
            // An intent in any other state keeps it (a double submit, a
            // paid intent): the caller reads the current state either way.
            SandboxIntent::transition(conn, &id, from, to, error, db::now())?;
            SandboxIntent::find(conn, &id)?
                .map(to_provider)
                .ok_or(ProviderError::NotFound(id))
        })
        .await
    }
}

/// The event Stripe would send for this intent now, as JSON text.
pub fn event_for(intent: &ProviderIntent, kind: StripeEvent) -> String {
    let mut object: serde_json::Value = serde_json::from_str(&intent.raw_json).unwrap_or_default();
    // Events do not carry the client secret.
    if let Some(fields) = object.as_object_mut() {
        fields.remove("client_secret");
    }
    stripe_json::event(
        &stripe_json::new_id("evt_sandbox_"),
        kind,
        object,
        chrono::Utc::now().timestamp(),
    )
    .to_string()
}

#[cfg(test)]
mod tests {
    use super::TestCard;

    fn card(number: &str, expiry: &str, cvc: &str) -> TestCard {
        TestCard {
            number: number.into(),
            expiry: expiry.into(),
            cvc: cvc.into(),
        }
    }

    #[test]
    fn the_card_form_is_checked_like_stripes_element() {
        assert_eq!(
            card("4242 4242 4242 4242", "12/40", "123")
                .validate()
                .unwrap(),
            "4242424242424242"
        );
        assert!(card("4242", "12/40", "123").validate().is_err());
        assert!(
            card("4242 4242 4242 4242", "13/40", "123")
                .validate()
                .is_err()
        );
        assert!(
            card("4242 4242 4242 4242", "01/20", "123")
                .validate()
                .is_err()
        );
        assert!(
            card("4242 4242 4242 4242", "12/40", "1")
                .validate()
                .is_err()
        );
        assert!(
            card("4242 4242 4242 424x", "12/40", "123")
                .validate()
                .is_err()
        );
    }
}
