//! The only Stripe client. Requests are built and sent with async-stripe's
//! client (idempotency keys, timeouts, the `Stripe-Version` it pins);
//! responses are read into our own lean structs, so neither localstripe's
//! older shapes nor Stripe's newer fields can break deserialisation.
//!
//! Every parameter sent here is one that Stripe's API of the pinned
//! release accepts: the test suite runs these requests through a proxy
//! that holds them to stripe-python's parameter definitions of the same
//! release (`tests/stripe/stripe_today.py`). Never `payment_method_types`:
//! Stripe refuses it on PaymentIntents since `2026-09-30.endive`.

use std::collections::BTreeMap;
use std::time::Duration;

use miniserde::Deserialize as MiniDeserialize;
use serde::Serialize;
use stripe_client_core::{RequestBuilder, StripeMethod};

use super::{
    CancelReason, CustomerRequest, IntentRequest, IntentStatus, ProviderError, ProviderIntent,
    Refund,
};
use crate::config::StripeSettings;

pub mod admin;

/// The API release async-stripe pins: every request carries it as
/// `Stripe-Version`, and `kasir stripe doctor` prints it.
pub fn api_version() -> String {
    stripe_client_core::VERSION.to_string()
}

pub struct StripeProvider {
    client: ::stripe::Client,
    /// `STRIPE_PAYMENT_METHODS`: restricts Stripe's dynamic choice.
    allowed_methods: Vec<String>,
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
    latest_charge: Option<miniserde::json::Value>,
}

#[derive(MiniDeserialize)]
struct LeanError {
    message: Option<String>,
    code: Option<String>,
    decline_code: Option<String>,
}

#[derive(MiniDeserialize)]
struct LeanId {
    id: String,
}

/// `POST /v1/payment_intents`. Stripe picks the payment methods (dynamic
/// payment methods) unless the shop restricts them.
#[derive(Serialize)]
struct CreateIntentForm<'a> {
    amount: i64,
    currency: &'a str,
    description: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    customer: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    receipt_email: Option<&'a str>,
    metadata: BTreeMap<&'static str, String>,
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    allowed_payment_method_types: &'a [String],
}

impl StripeProvider {
    pub fn new(settings: &StripeSettings) -> anyhow::Result<Self> {
        let client = ::stripe::ClientBuilder::new(settings.secret_key.clone())
            .url(format!("{}/", settings.api_base.trim_end_matches('/')))
            .timeout(Duration::from_secs(20))
            .app_info(
                "kasir",
                Some(env!("CARGO_PKG_VERSION").to_owned()),
                Some("https://github.com/kasir-shop/kasir".to_owned()),
            )
            .build()
            .map_err(|e| anyhow::anyhow!("could not build the Stripe client: {e}"))?;
        Ok(Self {
            client,
            allowed_methods: settings.payment_methods.clone(),
        })
    }

    /// One Customer per student, so Stripe's dashboard, receipts and
    /// saved methods are theirs; the key makes a retried create harmless.
    pub async fn create_customer(
        &self,
        request: &CustomerRequest,
    ) -> Result<String, ProviderError> {
        #[derive(Serialize)]
        struct CustomerForm<'a> {
            email: &'a str,
            name: &'a str,
            metadata: BTreeMap<&'static str, String>,
        }
        let form = CustomerForm {
            email: &request.email,
            name: &request.name,
            metadata: BTreeMap::from([
                ("kasir_user_id", request.user_id.0.to_string()),
                ("kasir_installation", request.installation.clone()),
            ]),
        };
        let raw_json = self
            .send_raw(
                RequestBuilder::new(StripeMethod::Post, "/customers").form(&form),
                idempotent(&request.idempotency_key())?,
            )
            .await?;
        let lean: LeanId = miniserde::json::from_str(&raw_json).map_err(|_| {
            ProviderError::Rejected(format!("unexpected Customer shape: {raw_json}"))
        })?;
        Ok(lean.id)
    }

    pub async fn create_intent(
        &self,
        request: &IntentRequest,
    ) -> Result<ProviderIntent, ProviderError> {
        let form = CreateIntentForm {
            amount: request.amount,
            currency: &request.currency,
            description: &request.description(),
            customer: request.customer.as_deref(),
            receipt_email: request.receipt_email.as_deref(),
            metadata: request.metadata(),
            allowed_payment_method_types: &self.allowed_methods,
        };
        self.send(
            RequestBuilder::new(StripeMethod::Post, "/payment_intents").form(&form),
            idempotent(&request.idempotency_key())?,
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

    pub async fn cancel_intent(
        &self,
        id: &str,
        reason: CancelReason,
    ) -> Result<ProviderIntent, ProviderError> {
        #[derive(Serialize)]
        struct CancelForm {
            cancellation_reason: &'static str,
        }
        self.send(
            RequestBuilder::new(
                StripeMethod::Post,
                format!("/payment_intents/{}/cancel", path_segment(id)?),
            )
            .form(&CancelForm {
                cancellation_reason: reason.as_str(),
            }),
            idempotent(&format!("cancel-{id}"))?,
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
            reason: &'static str,
            metadata: BTreeMap<&'static str, &'a str>,
        }
        #[derive(MiniDeserialize)]
        struct LeanRefund {
            id: String,
            amount: i64,
        }
        let form = RefundForm {
            payment_intent: path_segment(intent_id)?,
            amount,
            // Stripe's own reasons are a short list; ours goes in metadata.
            reason: "requested_by_customer",
            metadata: BTreeMap::from([("kasir_reason", reason)]),
        };
        let raw_json = self
            .send_raw(
                RequestBuilder::new(StripeMethod::Post, "/refunds").form(&form),
                idempotent(key)?,
            )
            .await?;
        let lean: LeanRefund = miniserde::json::from_str(&raw_json)
            .map_err(|_| ProviderError::Rejected(format!("unexpected Refund shape: {raw_json}")))?;
        Ok(Refund {
            id: lean.id,
            amount: lean.amount,
            event: None,
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
        // `latest_charge` is an id, or the charge itself when expanded.
        let charge_id = match lean.latest_charge {
            Some(miniserde::json::Value::String(id)) => Some(id),
            Some(miniserde::json::Value::Object(charge)) => match charge.get("id") {
                Some(miniserde::json::Value::String(id)) => Some(id.clone()),
                _ => None,
            },
            _ => None,
        };
        Ok(ProviderIntent {
            status: IntentStatus::from_provider(&lean.status),
            id: lean.id,
            amount: lean.amount,
            currency: lean.currency,
            client_secret: lean.client_secret,
            last_error_code: lean
                .last_payment_error
                .as_ref()
                .and_then(|e| e.decline_code.clone().or_else(|| e.code.clone())),
            last_error: lean.last_payment_error.and_then(|e| e.message),
            charge_id,
            raw_json,
        })
    }
}

fn idempotent(key: &str) -> Result<::stripe::RequestStrategy, ProviderError> {
    ::stripe::IdempotencyKey::new(key)
        .map(::stripe::RequestStrategy::Idempotent)
        .map_err(|e| ProviderError::Rejected(format!("idempotency key: {e}")))
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
