//! Going live with Stripe, checked: `kasir stripe doctor` (does the key
//! work, in which mode, does a webhook endpoint for this shop listen to
//! every event kasir handles) and `kasir stripe webhook-endpoint create`.

use std::fmt;

use crate::config::StripeSettings;
use crate::domain::StripeEvent;
use crate::payments::ProviderError;
use crate::payments::stripe::admin::WebhookEndpoint;
use crate::payments::stripe::{StripeProvider, api_version};

/// Where Stripe must send this shop's events.
pub fn webhook_url(public_url: &str) -> String {
    format!("{}/webhooks/stripe", public_url.trim_end_matches('/'))
}

/// Every event type kasir acts on.
pub fn handled_events() -> Vec<&'static str> {
    StripeEvent::ALL.iter().map(|e| e.as_str()).collect()
}

/// One finding of the doctor.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Finding {
    pub ok: bool,
    pub text: String,
}

/// What `kasir stripe doctor` found, in order.
#[derive(Clone, Debug, Default)]
pub struct Diagnosis(pub Vec<Finding>);

impl Diagnosis {
    fn ok(&mut self, text: impl Into<String>) {
        self.0.push(Finding {
            ok: true,
            text: text.into(),
        });
    }

    fn problem(&mut self, text: impl Into<String>) {
        self.0.push(Finding {
            ok: false,
            text: text.into(),
        });
    }

    pub fn healthy(&self) -> bool {
        self.0.iter().all(|f| f.ok)
    }
}

impl fmt::Display for Diagnosis {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for finding in &self.0 {
            writeln!(
                f,
                "{} {}",
                if finding.ok { "ok  " } else { "FAIL" },
                finding.text
            )?;
        }
        Ok(())
    }
}

fn mode(live: bool) -> &'static str {
    if live { "live" } else { "test" }
}

fn unreachable_or_refused(settings: &StripeSettings, e: &ProviderError) -> String {
    match e {
        ProviderError::Unavailable(reason) => format!(
            "could not reach Stripe at {} ({reason}): check the network and STRIPE_API_BASE",
            settings.api_base
        ),
        other => format!("Stripe refused the secret key or the request: {other}"),
    }
}

/// Checks the keys and the webhook endpoint for `public_url`.
pub async fn doctor(
    stripe: &StripeProvider,
    settings: &StripeSettings,
    public_url: &str,
) -> Diagnosis {
    let mut found = Diagnosis::default();
    found.ok(format!(
        "Stripe API version in use: {} (pinned by async-stripe; every request sends it)",
        api_version()
    ));
    let live = settings.livemode();
    let account = match stripe.account().await {
        Ok(account) => account,
        Err(e) => {
            found.problem(unreachable_or_refused(settings, &e));
            return found;
        }
    };
    found.ok(format!(
        "the secret key works: account {}{}, charges {}",
        account.id,
        account
            .name
            .as_deref()
            .map(|n| format!(" ({n})"))
            .unwrap_or_default(),
        if account.charges_enabled {
            "enabled"
        } else {
            "NOT enabled yet (finish the account's activation)"
        }
    ));
    if account.livemode == live {
        found.ok(format!("the secret key is a {} key", mode(live)));
    } else {
        found.problem(format!(
            "the secret key looks like a {} key but Stripe answers in {} mode",
            mode(live),
            mode(account.livemode)
        ));
    }
    if settings.publishable_key.starts_with("pk_live_") == live {
        found.ok(format!("the publishable key is a {} key too", mode(live)));
    } else {
        found.problem("the publishable key is of the other mode than the secret key");
    }
    check_endpoint(&mut found, stripe, settings, public_url).await;
    found
}

async fn check_endpoint(
    found: &mut Diagnosis,
    stripe: &StripeProvider,
    settings: &StripeSettings,
    public_url: &str,
) {
    let url = webhook_url(public_url);
    let endpoints = match stripe.webhook_endpoints().await {
        Ok(endpoints) => endpoints,
        Err(e) => {
            found.problem(unreachable_or_refused(settings, &e));
            return;
        }
    };
    let Some(endpoint) = endpoints.iter().find(|e| e.url == url) else {
        let local = url.contains("://127.") || url.contains("://localhost");
        found.problem(format!(
            "no webhook endpoint for {url}: run `kasir stripe webhook-endpoint create`{}",
            if local {
                " (a loopback address is unreachable for Stripe: in development, forward with \
                 `stripe listen --forward-to <PUBLIC_URL>/webhooks/stripe` instead)"
            } else {
                ""
            }
        ));
        return;
    };
    if endpoint.status != "enabled" {
        found.problem(format!(
            "the endpoint {} for {url} is {}: enable it in the dashboard",
            endpoint.id, endpoint.status
        ));
    }
    let missing = missing_events(endpoint);
    if missing.is_empty() {
        found.ok(format!(
            "the endpoint {} for {url} listens to all {} event types kasir handles",
            endpoint.id,
            handled_events().len()
        ));
    } else {
        found.problem(format!(
            "the endpoint {} for {url} does not listen to: {}",
            endpoint.id,
            missing.join(", ")
        ));
    }
    if let Some(version) = &endpoint.api_version
        && *version != api_version()
    {
        found.ok(format!(
            "the endpoint renders events in {version}; kasir reads the fields it needs from any \
             version, and creates its endpoints with {}",
            api_version()
        ));
    }
}

/// The handled event types the endpoint does not receive.
pub fn missing_events(endpoint: &WebhookEndpoint) -> Vec<&'static str> {
    if endpoint.enabled_events.contains("*") {
        return Vec::new();
    }
    handled_events()
        .into_iter()
        .filter(|e| !endpoint.enabled_events.contains(*e))
        .collect()
}

/// What creating the endpoint came to.
pub enum Created {
    New(WebhookEndpoint),
    /// One exists for this URL already; nothing was created.
    Exists(WebhookEndpoint),
}

/// Creates the endpoint for `public_url` with exactly the events kasir
/// handles, unless one exists for the URL.
pub async fn create_webhook_endpoint(
    stripe: &StripeProvider,
    public_url: &str,
    installation: &str,
) -> Result<Created, ProviderError> {
    let url = webhook_url(public_url);
    if let Some(existing) = stripe
        .webhook_endpoints()
        .await?
        .into_iter()
        .find(|e| e.url == url)
    {
        return Ok(Created::Exists(existing));
    }
    let events = handled_events();
    let key = format!("{installation}-webhook-endpoint-{}", events.len());
    Ok(Created::New(
        stripe.create_webhook_endpoint(&url, &events, &key).await?,
    ))
}
