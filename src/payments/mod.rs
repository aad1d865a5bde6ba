//! Payment providers. Nothing but `stripe.rs` talks to Stripe.
//!
//! Two providers, chosen by configuration: Stripe, and a built-in sandbox
//! that mimics Stripe's PaymentIntent lifecycle and test cards. They are an
//! enum rather than a trait object: there are exactly two, and async methods
//! on a `dyn` trait would need boxing for no gain.

pub mod sandbox;
pub mod stripe;
pub mod stripe_json;
pub mod webhook;

pub use crate::domain::IntentStatus;

use crate::config::{PaymentSettings, Settings};
use crate::db::DbPool;
use crate::domain::Provider;
use crate::models::OrderId;

/// What we ask a provider for: one PaymentIntent for one order.
#[derive(Clone, Debug)]
pub struct IntentRequest {
    pub amount: i64,
    /// Lower-case ISO code, as Stripe wants it (`usd`).
    pub currency: String,
    pub order_id: OrderId,
    pub order_number: String,
    /// This shop's installation id (see [`crate::models::installation`]).
    pub installation: String,
    /// The student's Customer at the provider, when it has one.
    pub customer: Option<String>,
    /// Where the provider sends its receipt.
    pub receipt_email: Option<String>,
}

impl IntentRequest {
    /// Derived from our own order id and the installation, so a retry after
    /// a crash or a timeout cannot create a second PaymentIntent, and
    /// another database on the same account cannot reuse this one.
    pub fn idempotency_key(&self) -> String {
        format!("{}-order-{}-pi", self.installation, self.order_id.0)
    }

    /// What the student's bank statement and Stripe's dashboard show.
    pub fn description(&self) -> String {
        format!("Order {}", self.order_number)
    }

    /// Namespaced keys: another application on the same Stripe account
    /// may put its own `order_id` on its intents.
    pub fn metadata(&self) -> std::collections::BTreeMap<&'static str, String> {
        std::collections::BTreeMap::from([
            (METADATA_ORDER_ID, self.order_id.0.to_string()),
            (METADATA_ORDER_NUMBER, self.order_number.clone()),
            (METADATA_INSTALLATION, self.installation.clone()),
        ])
    }
}

/// The metadata keys kasir puts on what it creates at the provider.
pub const METADATA_ORDER_ID: &str = "kasir_order_id";
pub const METADATA_ORDER_NUMBER: &str = "kasir_order_number";
pub const METADATA_INSTALLATION: &str = "kasir_installation";

/// A Customer for one student.
#[derive(Clone, Debug)]
pub struct CustomerRequest {
    pub user_id: crate::models::UserId,
    pub email: String,
    pub name: String,
    pub installation: String,
}

impl CustomerRequest {
    pub fn idempotency_key(&self) -> String {
        format!("{}-user-{}-customer", self.installation, self.user_id.0)
    }
}

/// Why we cancel a PaymentIntent, in Stripe's words.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CancelReason {
    /// A newer checkout replaced the order, or a second intent lost a race.
    Duplicate,
    /// Nobody paid within the order's lifetime.
    Abandoned,
}

impl CancelReason {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Duplicate => "duplicate",
            Self::Abandoned => "abandoned",
        }
    }
}

/// A PaymentIntent as we use it, whichever provider made it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProviderIntent {
    pub id: String,
    pub status: IntentStatus,
    pub amount: i64,
    pub currency: String,
    pub client_secret: Option<String>,
    /// The provider's message for the last failed attempt.
    pub last_error: Option<String>,
    /// Its code (`card_declined`, or the decline code such as
    /// `insufficient_funds`), which pages turn into the reader's language.
    pub last_error_code: Option<String>,
    /// The charge that paid it, once there is one.
    pub charge_id: Option<String>,
    /// The provider's response as it came, for the journal.
    pub raw_json: String,
}

/// A refund the provider accepted. Its effect on the order (status, journal
/// row, access) comes from the provider's `charge.refunded` event.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Refund {
    pub id: String,
    pub amount: i64,
    /// The sandbox's `charge.refunded` event, for the shop to receive as
    /// it would receive Stripe's.
    pub event: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum ProviderError {
    /// Could not reach the provider, or it failed on its side: try again later.
    #[error("payment provider unreachable: {0}")]
    Unavailable(String),
    /// The provider refused the request (our bug or a bad key).
    #[error("payment provider refused the request: {0}")]
    Rejected(String),
    #[error("no such PaymentIntent: {0}")]
    NotFound(String),
    #[error(transparent)]
    Database(#[from] diesel::result::Error),
}

pub enum Payments {
    /// Boxed: the Stripe client is large, and there is one per process.
    Stripe(Box<stripe::StripeProvider>),
    Sandbox(sandbox::SandboxProvider),
}

impl Payments {
    pub fn from_settings(settings: &Settings, pool: DbPool) -> anyhow::Result<Self> {
        Ok(match &settings.payments {
            PaymentSettings::Stripe(stripe) => {
                Self::Stripe(Box::new(stripe::StripeProvider::new(stripe)?))
            }
            PaymentSettings::Sandbox => Self::Sandbox(sandbox::SandboxProvider::new(pool)),
        })
    }

    /// Stored on the order: which provider holds its PaymentIntent.
    pub fn provider(&self) -> Provider {
        match self {
            Self::Stripe(_) => Provider::Stripe,
            Self::Sandbox(_) => Provider::Sandbox,
        }
    }

    /// Refunds `amount` of the intent's charge; `key` makes a retry harmless.
    pub async fn refund(
        &self,
        intent_id: &str,
        amount: i64,
        key: &str,
        reason: &str,
    ) -> Result<Refund, ProviderError> {
        match self {
            Self::Stripe(p) => p.refund(intent_id, amount, key, reason).await,
            Self::Sandbox(p) => p.refund(intent_id, amount, key).await,
        }
    }

    pub async fn create_intent(
        &self,
        request: &IntentRequest,
    ) -> Result<ProviderIntent, ProviderError> {
        match self {
            Self::Stripe(p) => p.create_intent(request).await,
            Self::Sandbox(p) => p.create_intent(request).await,
        }
    }

    pub async fn retrieve_intent(&self, id: &str) -> Result<ProviderIntent, ProviderError> {
        match self {
            Self::Stripe(p) => p.retrieve_intent(id).await,
            Self::Sandbox(p) => p.retrieve_intent(id).await,
        }
    }

    pub async fn cancel_intent(
        &self,
        id: &str,
        reason: CancelReason,
    ) -> Result<ProviderIntent, ProviderError> {
        match self {
            Self::Stripe(p) => p.cancel_intent(id, reason).await,
            Self::Sandbox(p) => p.cancel_intent(id).await,
        }
    }

    /// The student's Customer at the provider: Stripe makes one, the
    /// sandbox needs none.
    pub async fn create_customer(
        &self,
        request: &CustomerRequest,
    ) -> Result<Option<String>, ProviderError> {
        match self {
            Self::Stripe(p) => p.create_customer(request).await.map(Some),
            Self::Sandbox(_) => Ok(None),
        }
    }
}
