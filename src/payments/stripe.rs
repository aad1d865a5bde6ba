//! The only Stripe client. Requests are built and sent with async-stripe's
//! client (idempotency keys, timeouts); responses are read into our own
//! lean struct, so neither localstripe's older shapes nor Stripe's newer
//! fields can break deserialisation.

use std::collections::BTreeMap;
use std::time::Duration;

use miniserde::Deserialize as MiniDeserialize;
use serde::Serialize;
use stripe_client_core::{RequestBuilder, StripeMethod};

use super::{IntentRequest, IntentStatus, ProviderError, ProviderIntent, Refund};
use crate::config::StripeSettings;

pub struct StripeProvider {
    client: ::stripe::Client,
}

/// The fields of a PaymentIntent we use; everything else is ignored.
#[derive(MiniDeserialize)]
struct LeanIntent {
    id: String,
    status: String,
    amount: i64,
    currency: String,
    client_secret: Option<String>,
    last_payment_error: Option<LeanError>,
}

#[derive(MiniDeserialize)]
struct LeanError {
    message: Option<String>,
}

#[derive(Serialize)]
struct CreateIntentForm<'a> {
    amount: i64,
    currency: &'a str,
    metadata: BTreeMap<&'static str, String>,
    payment_method_types: [&'static str; 1],
}

impl StripeProvider {
    pub fn new(settings: &StripeSettings) -> anyhow::Result<Self> {
        let client = ::stripe::ClientBuilder::new(settings.secret_key.clone())
            .url(format!("{}/", settings.api_base.trim_end_matches('/')))
            .timeout(Duration::from_secs(20))
            .build()
            .map_err(|e| anyhow::anyhow!("could not build the Stripe client: {e}"))?;
        Ok(Self { client })
    }

    pub async fn create_intent(
        &self,
        request: &IntentRequest,
    ) -> Result<ProviderIntent, ProviderError> {
        let form = CreateIntentForm {
            amount: request.amount,
            currency: &request.currency,
            metadata: BTreeMap::from([
                ("order_id", request.order_id.0.to_string()),
                ("order_number", request.order_number.clone()),
            ]),
            payment_method_types: ["card"],
        };
        let key = ::stripe::IdempotencyKey::new(request.idempotency_key())
            .map_err(|e| ProviderError::Rejected(format!("idempotency key: {e}")))?;
        self.send(
            RequestBuilder::new(StripeMethod::Post, "/payment_intents").form(&form),
            ::stripe::RequestStrategy::Idempotent(key),
        )
        .await
    }

    pub async fn retrieve_intent(&self, id: &str) -> Result<ProviderIntent, ProviderError> {
        self.send(
            RequestBuilder::new(
                StripeMethod::Get,
                format!("/payment_intents/{}", path_segment(id)?),
            ),
            ::stripe::RequestStrategy::Retry(2),
        )
        .await
    }

    pub async fn cancel_intent(&self, id: &str) -> Result<ProviderIntent, ProviderError> {
        let key = ::stripe::IdempotencyKey::new(format!("cancel-{id}"))
            .map_err(|e| ProviderError::Rejected(format!("idempotency key: {e}")))?;
        self.send(
            RequestBuilder::new(
                StripeMethod::Post,
                format!("/payment_intents/{}/cancel", path_segment(id)?),
            ),
            ::stripe::RequestStrategy::Idempotent(key),
        )
        .await
    }

    /// Refunds `amount` of the intent's charge; the key makes a retried
    /// refund harmless.
    pub async fn refund(
        &self,
        intent_id: &str,
        amount: i64,
        key: &str,
        reason: &str,
    ) -> Result<Refund, ProviderError> {
        #[derive(Serialize)]
        struct RefundForm<'a> {
            payment_intent: &'a str,
            amount: i64,
            metadata: BTreeMap<&'static str, &'a str>,
        }
        #[derive(MiniDeserialize)]
        struct LeanRefund {
            id: String,
            amount: i64,
        }
        let key = ::stripe::IdempotencyKey::new(key)
            .map_err(|e| ProviderError::Rejected(format!("idempotency key: {e}")))?;
        let form = RefundForm {
            payment_intent: path_segment(intent_id)?,
            amount,
            metadata: BTreeMap::from([("reason", reason)]),
        };
        let raw_json = self
            .send_raw(
                RequestBuilder::new(StripeMethod::Post, "/refunds").form(&form),
                ::stripe::RequestStrategy::Idempotent(key),
            )
            .await?;
        let lean: LeanRefund = miniserde::json::from_str(&raw_json)
            .map_err(|_| ProviderError::Rejected(format!("unexpected Refund shape: {raw_json}")))?;
        Ok(Refund {
            id: lean.id,
            amount: lean.amount,
        })
    }

    async fn send_raw(
        &self,
        request: RequestBuilder,
        strategy: ::stripe::RequestStrategy,
    ) -> Result<String, ProviderError> {
        let value: miniserde::json::Value = request
            .customize()
            .request_strategy(strategy)
            .send(&self.client)
            .await
            .map_err(classify)?;
        Ok(miniserde::json::to_string(&value))
    }

    async fn send(
        &self,
        request: RequestBuilder,
        strategy: ::stripe::RequestStrategy,
    ) -> Result<ProviderIntent, ProviderError> {
        let raw_json = self.send_raw(request, strategy).await?;
        let lean: LeanIntent = miniserde::json::from_str(&raw_json).map_err(|_| {
            ProviderError::Rejected(format!("unexpected PaymentIntent shape: {raw_json}"))
        })?;
        Ok(ProviderIntent {
            status: IntentStatus::parse(&lean.status),
            id: lean.id,
            amount: lean.amount,
            currency: lean.currency,
            client_secret: lean.client_secret,
            last_error: lean.last_payment_error.and_then(|e| e.message),
            raw_json,
        })
    }
}

/// An id goes into a URL path: refuse anything that is not an id.
fn path_segment(id: &str) -> Result<&str, ProviderError> {
    if !id.is_empty()
        && id.len() <= 255
        && id.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
    {
        Ok(id)
    } else {
        Err(ProviderError::NotFound(id.to_owned()))
    }
}

fn classify(error: ::stripe::StripeError) -> ProviderError {
    match error {
        ::stripe::StripeError::Stripe(api, 404) => {
            ProviderError::NotFound(api.message.unwrap_or_default())
        }
        ::stripe::StripeError::Stripe(api, status) if status >= 500 || status == 429 => {
            ProviderError::Unavailable(format!(
                "HTTP {status}: {}",
                api.message.unwrap_or_default()
            ))
        }
        ::stripe::StripeError::Stripe(api, status) => ProviderError::Rejected(format!(
            "HTTP {status}: {}",
            api.message.unwrap_or_default()
        )),
        ::stripe::StripeError::ClientError(e) => ProviderError::Unavailable(e),
        ::stripe::StripeError::Timeout => ProviderError::Unavailable("timed out".into()),
        other => ProviderError::Rejected(other.to_string()),
    }
}
