//! Stripe's counterparts in tests: localstripe behind the contract proxy
//! of `tests/stripe/stripe_today.py`, and paying through its API.

/// The secret key the tests' apps use with localstripe.
pub const SECRET: &str = "sk_test_kasir";

/// localstripe behind the contract proxy of `tests/stripe/stripe_today.py`:
/// a stateful fake Stripe that answers 400, as Stripe does, to any
/// parameter stripe-python (today's API) does not define, and records every
/// request. The proxy binds its own free port and reports it; it exits when
/// this process ends (its standard input closes).
pub struct StripeToday {
    pub url: String,
    /// The stripe-python release that holds the contract, and its API version.
    pub stripe_python: String,
    pub api_version: String,
    _child: std::sync::Mutex<std::process::Child>,
}

impl StripeToday {
    /// A new instance (its own state and records); `settle_seconds` keeps
    /// bank debits `processing` that long.
    pub fn start(settle_seconds: Option<f64>) -> Self {
        use std::io::BufRead;
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/stripe/stripe_today.py");
        let mut command = std::process::Command::new("python3");
        command.arg(script);
        if let Some(seconds) = settle_seconds {
            command.args(["--settle-seconds", &seconds.to_string()]);
        }
        let mut child = command
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::inherit())
            .spawn()
            .expect("start tests/stripe/stripe_today.py (pip install localstripe stripe)");
        let stdout = child.stdout.take().expect("piped stdout");
        let mut line = String::new();
        std::io::BufReader::new(stdout)
            .read_line(&mut line)
            .expect("stripe_today.py reports its address");
        let ready: serde_json::Value = serde_json::from_str(&line)
            .unwrap_or_else(|e| panic!("stripe_today.py did not start ({e}): {line:?}"));
        Self {
            url: ready["url"].as_str().expect("url").to_owned(),
            stripe_python: ready["stripe_python"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
            api_version: ready["api_version"].as_str().unwrap_or_default().to_owned(),
            _child: std::sync::Mutex::new(child),
        }
    }

    /// Every request the proxy saw, in order.
    pub async fn requests(&self) -> Vec<serde_json::Value> {
        reqwest::get(format!("{}/_contract/requests", self.url))
            .await
            .expect("contract proxy answers")
            .json()
            .await
            .expect("JSON")
    }

    /// `Stripe-Signature` for `payload`, made by stripe-python's own signer.
    pub async fn sign(&self, payload: &str, secret: &str) -> String {
        let answer: serde_json::Value = reqwest::Client::new()
            .post(format!("{}/_contract/sign", self.url))
            .json(&serde_json::json!({ "payload": payload, "secret": secret }))
            .send()
            .await
            .expect("contract proxy answers")
            .json()
            .await
            .expect("JSON");
        answer["header"].as_str().expect("header").to_owned()
    }
}

/// The instance this test process shares.
pub fn stripe_today() -> &'static StripeToday {
    static SHARED: std::sync::OnceLock<StripeToday> = std::sync::OnceLock::new();
    SHARED.get_or_init(|| StripeToday::start(None))
}

/// The shared instance's address.
pub fn localstripe_url() -> &'static str {
    &stripe_today().url
}

pub fn stripe_overrides(api_base: &str) -> Vec<(&'static str, String)> {
    vec![
        ("STRIPE_SECRET_KEY", "sk_test_kasir".to_owned()),
        ("STRIPE_PUBLISHABLE_KEY", "pk_test_kasir".to_owned()),
        ("STRIPE_WEBHOOK_SECRET", "whsec_kasir".to_owned()),
        ("STRIPE_API_BASE", api_base.to_owned()),
        ("STRIPE_JS_URL", format!("{api_base}/js.stripe.com/v3/")),
    ]
}

/// Pays the intent with 4242 through localstripe's API (a payment method,
/// attached, then confirm), as a browser with real Stripe.js would.
pub async fn pay_with_test_card(intent_id: &str) -> serde_json::Value {
    pay_with_test_card_at(localstripe_url(), intent_id).await
}

/// [`pay_with_test_card`] on the instance at `base`.
pub async fn pay_with_test_card_at(base: &str, intent_id: &str) -> serde_json::Value {
    let post = |path: String, form: Vec<(&'static str, String)>| async move {
        let response = reqwest::Client::new()
            .post(format!("{base}{path}"))
            .bearer_auth(SECRET)
            .form(&form)
            .send()
            .await
            .unwrap();
        assert!(
            response.status().is_success(),
            "{path}: {}",
            response.status()
        );
        response.json::<serde_json::Value>().await.unwrap()
    };
    let method = post(
        "/v1/payment_methods".into(),
        vec![
            ("type", "card".into()),
            ("card[number]", "4242424242424242".into()),
            ("card[exp_month]", "12".into()),
            ("card[exp_year]", "2040".into()),
            ("card[cvc]", "123".into()),
        ],
    )
    .await;
    let method_id = method["id"].as_str().unwrap().to_owned();
    post(
        format!("/v1/payment_intents/{intent_id}"),
        vec![("payment_method", method_id)],
    )
    .await;
    post(
        format!("/v1/payment_intents/{intent_id}/confirm"),
        Vec::new(),
    )
    .await
}
