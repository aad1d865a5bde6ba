//! Payment settings: the sandbox, or Stripe with its keys.

use super::{DEFAULT_STRIPE_API_BASE, DEFAULT_STRIPE_JS_URL, origin_of};

#[derive(Clone)]
pub enum PaymentSettings {
    /// Built-in provider: no keys, no network, no real money.
    Sandbox,
    Stripe(StripeSettings),
}

#[derive(Clone)]
pub struct StripeSettings {
    pub secret_key: String,
    pub publishable_key: String,
    pub webhook_secret: String,
    pub api_base: String,
    pub js_url: String,
    /// `STRIPE_PAYMENT_METHODS`: when set, PaymentIntents allow only these
    /// (`allowed_payment_method_types`); otherwise Stripe chooses from what
    /// the account enabled (dynamic payment methods).
    pub payment_methods: Vec<String>,
}

impl StripeSettings {
    /// A live key moves real money; its events say `livemode: true`.
    pub fn livemode(&self) -> bool {
        self.secret_key.starts_with("sk_live_") || self.secret_key.starts_with("rk_live_")
    }
}

/// Reads the Stripe settings; none at all means the sandbox.
pub(super) fn parse_payments(
    var: &impl Fn(&str) -> Option<String>,
) -> Result<PaymentSettings, String> {
    let secret_key = var("STRIPE_SECRET_KEY");
    let publishable_key = var("STRIPE_PUBLISHABLE_KEY");
    let webhook_secret = var("STRIPE_WEBHOOK_SECRET");
    let Some(secret_key) = secret_key else {
        if publishable_key.is_some() || webhook_secret.is_some() {
            return Err("STRIPE_PUBLISHABLE_KEY / STRIPE_WEBHOOK_SECRET are set but STRIPE_SECRET_KEY is not: \
                 set all three to use Stripe, or none for sandbox payments"
                .into());
        }
        return Ok(PaymentSettings::Sandbox);
    };
    let mut problems = Vec::new();
    if !(secret_key.starts_with("sk_") || secret_key.starts_with("rk_")) {
        problems.push("STRIPE_SECRET_KEY must start with sk_ (or rk_ for a restricted key)");
    }
    let publishable_key = publishable_key.unwrap_or_default();
    if !publishable_key.starts_with("pk_") {
        problems.push(
            "STRIPE_PUBLISHABLE_KEY must be set and start with pk_ when STRIPE_SECRET_KEY is set",
        );
    }
    let webhook_secret = webhook_secret.unwrap_or_default();
    if !webhook_secret.starts_with("whsec_") {
        problems.push(
            "STRIPE_WEBHOOK_SECRET must be set and start with whsec_ when STRIPE_SECRET_KEY is set \
             (`stripe listen` prints one)",
        );
    }
    let api_base = var("STRIPE_API_BASE")
        .unwrap_or_else(|| DEFAULT_STRIPE_API_BASE.into())
        .trim_end_matches('/')
        .to_owned();
    if origin_of(&api_base).is_none() {
        problems.push("STRIPE_API_BASE must be an http(s) URL");
    }
    let js_url = var("STRIPE_JS_URL").unwrap_or_else(|| DEFAULT_STRIPE_JS_URL.into());
    if origin_of(&js_url).is_none() {
        problems.push("STRIPE_JS_URL must be an http(s) URL");
    }
    let payment_methods: Vec<String> = var("STRIPE_PAYMENT_METHODS")
        .unwrap_or_default()
        .split(',')
        .map(|m| m.trim().to_ascii_lowercase())
        .filter(|m| !m.is_empty())
        .collect();
    if payment_methods
        .iter()
        .any(|m| m.len() > 40 || !m.chars().all(|c| c.is_ascii_lowercase() || c == '_'))
    {
        problems.push(
            "STRIPE_PAYMENT_METHODS is a comma-separated list of Stripe payment method types, like card,link",
        );
    }
    let live_secret = secret_key.starts_with("sk_live_") || secret_key.starts_with("rk_live_");
    if publishable_key.starts_with("pk_") && live_secret != publishable_key.starts_with("pk_live_")
    {
        problems.push(
            "STRIPE_PUBLISHABLE_KEY and STRIPE_SECRET_KEY are of different modes (one live, one test)",
        );
    }
    if !problems.is_empty() {
        return Err(problems.join("; "));
    }
    Ok(PaymentSettings::Stripe(StripeSettings {
        secret_key,
        publishable_key,
        webhook_secret,
        api_base,
        js_url,
        payment_methods,
    }))
}

#[cfg(test)]
mod tests {
    use super::super::tests::settings;
    use super::*;

    #[test]
    fn stripe_secret_key_without_webhook_secret_is_refused() {
        let err = settings(&[
            ("STRIPE_SECRET_KEY", "sk_test_123"),
            ("STRIPE_PUBLISHABLE_KEY", "pk_test_1"),
        ])
        .unwrap_err()
        .to_string();
        assert!(err.contains("STRIPE_WEBHOOK_SECRET"), "{err}");
    }

    #[test]
    fn complete_stripe_settings_select_stripe() {
        let s = settings(&[
            ("STRIPE_SECRET_KEY", "sk_test_123"),
            ("STRIPE_PUBLISHABLE_KEY", "pk_test_1"),
            ("STRIPE_WEBHOOK_SECRET", "whsec_abc"),
            ("STRIPE_JS_URL", "http://127.0.0.1:8420/js.stripe.com/v3/"),
        ])
        .unwrap();
        assert!(!s.is_sandbox());
        assert_eq!(s.stripe_js_origin(), "http://127.0.0.1:8420");
    }

    #[test]
    fn payment_methods_and_key_modes_are_checked() {
        let keys = [
            ("STRIPE_SECRET_KEY", "sk_test_123"),
            ("STRIPE_PUBLISHABLE_KEY", "pk_test_1"),
            ("STRIPE_WEBHOOK_SECRET", "whsec_abc"),
        ];
        let mut vars = keys.to_vec();
        vars.push(("STRIPE_PAYMENT_METHODS", " card, Link ,"));
        let PaymentSettings::Stripe(stripe) = settings(&vars).unwrap().payments else {
            panic!("stripe expected");
        };
        assert_eq!(stripe.payment_methods, ["card", "link"]);
        assert!(!stripe.livemode());

        let mut vars = keys.to_vec();
        vars.push(("STRIPE_PAYMENT_METHODS", "card;drop table"));
        assert!(settings(&vars).is_err());

        let mixed = settings(&[
            ("STRIPE_SECRET_KEY", "sk_live_123"),
            ("STRIPE_PUBLISHABLE_KEY", "pk_test_1"),
            ("STRIPE_WEBHOOK_SECRET", "whsec_abc"),
        ]);
        assert!(mixed.unwrap_err().to_string().contains("different modes"));
    }
}
