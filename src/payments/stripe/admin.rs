//! The setup side of the Stripe client, for `kasir stripe doctor` and
//! `kasir stripe webhook-endpoint create`: the account behind the key, its
//! mode, and the webhook endpoints.

use std::collections::BTreeSet;

use miniserde::Deserialize as MiniDeserialize;
use serde::Serialize;
use stripe_client_core::{RequestBuilder, StripeMethod};

use super::{StripeProvider, idempotent};
use crate::payments::ProviderError;

/// The account a secret key belongs to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Account {
    pub id: String,
    /// The name Stripe shows customers, when the account has one.
    pub name: Option<String>,
    pub charges_enabled: bool,
    /// What the balance says of the key's mode.
    pub livemode: bool,
}

/// A webhook endpoint as Stripe lists it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WebhookEndpoint {
    pub id: String,
    pub url: String,
    pub enabled_events: BTreeSet<String>,
    pub status: String,
    pub api_version: Option<String>,
    /// Only on the answer to a create: shown once, never again.
    pub secret: Option<String>,
}

#[derive(MiniDeserialize)]
struct LeanAccount {
    id: String,
    charges_enabled: Option<bool>,
    settings: Option<LeanAccountSettings>,
}

#[derive(MiniDeserialize)]
struct LeanAccountSettings {
    dashboard: Option<LeanDashboard>,
}

#[derive(MiniDeserialize)]
struct LeanDashboard {
    display_name: Option<String>,
}

#[derive(MiniDeserialize)]
struct LeanBalance {
    livemode: bool,
}

#[derive(MiniDeserialize)]
struct LeanEndpoint {
    id: String,
    url: String,
    enabled_events: Vec<String>,
    status: Option<String>,
    api_version: Option<String>,
    secret: Option<String>,
}

#[derive(MiniDeserialize)]
struct LeanEndpointList {
    data: Vec<LeanEndpoint>,
}

impl From<LeanEndpoint> for WebhookEndpoint {
    fn from(lean: LeanEndpoint) -> Self {
        Self {
            id: lean.id,
            url: lean.url,
            enabled_events: lean.enabled_events.into_iter().collect(),
            status: lean.status.unwrap_or_default(),
            api_version: lean.api_version,
            secret: lean.secret,
        }
    }
}

fn read<T: miniserde::Deserialize>(what: &str, raw: String) -> Result<T, ProviderError> {
    miniserde::json::from_str(&raw)
        .map_err(|_| ProviderError::Rejected(format!("unexpected {what} shape: {raw}")))
}

impl StripeProvider {
    /// The account behind the secret key, and the mode it answers in.
    pub async fn account(&self) -> Result<Account, ProviderError> {
        let retry = ::stripe::RequestStrategy::Retry(2);
        let account: LeanAccount = read(
            "Account",
            self.send_raw(
                RequestBuilder::new(StripeMethod::Get, "/account"),
                retry.clone(),
            )
            .await?,
        )?;
        let balance: LeanBalance = read(
            "Balance",
            self.send_raw(RequestBuilder::new(StripeMethod::Get, "/balance"), retry)
                .await?,
        )?;
        Ok(Account {
            id: account.id,
            name: account
                .settings
                .and_then(|s| s.dashboard)
                .and_then(|d| d.display_name),
            charges_enabled: account.charges_enabled.unwrap_or(false),
            livemode: balance.livemode,
        })
    }

    /// The account's webhook endpoints (the first hundred).
    pub async fn webhook_endpoints(&self) -> Result<Vec<WebhookEndpoint>, ProviderError> {
        #[derive(Serialize)]
        struct ListQuery {
            limit: u32,
        }
        let list: LeanEndpointList = read(
            "webhook endpoint list",
            self.send_raw(
                RequestBuilder::new(StripeMethod::Get, "/webhook_endpoints")
                    .query(&ListQuery { limit: 100 }),
                ::stripe::RequestStrategy::Retry(2),
            )
            .await?,
        )?;
        Ok(list.data.into_iter().map(WebhookEndpoint::from).collect())
    }

    /// Creates an endpoint for `url` that listens to `events`, rendering
    /// them in the API version this client pins.
    pub async fn create_webhook_endpoint(
        &self,
        url: &str,
        events: &[&str],
        key: &str,
    ) -> Result<WebhookEndpoint, ProviderError> {
        #[derive(Serialize)]
        struct CreateForm<'a> {
            url: &'a str,
            enabled_events: &'a [&'a str],
            api_version: String,
            description: &'static str,
        }
        let form = CreateForm {
            url,
            enabled_events: events,
            api_version: super::api_version(),
            description: "kasir: payments, refunds and disputes",
        };
        let lean: LeanEndpoint = read(
            "webhook endpoint",
            self.send_raw(
                RequestBuilder::new(StripeMethod::Post, "/webhook_endpoints").form(&form),
                idempotent(key)?,
            )
            .await?,
        )?;
        Ok(lean.into())
    }
}
