//! Settings from the environment (and `.env`), validated once at start.
//! Secrets are never printed: `Debug` on [`Settings`] redacts them.

use std::fmt;
use std::net::SocketAddr;
use std::path::Path;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use rand::RngCore;

use crate::db::DatabaseUrl;
use crate::domain::Currency;

pub const DEFAULT_DATABASE_URL: &str = "sqlite://data/kasir.db";
pub const DEFAULT_BIND_ADDR: &str = "127.0.0.1:8080";
pub const DEFAULT_STRIPE_API_BASE: &str = "https://api.stripe.com";
pub const DEFAULT_STRIPE_JS_URL: &str = "https://js.stripe.com/v3/";
/// Where the generated session key is kept when `SECRET_KEY` is unset.
pub const GENERATED_SECRET_KEY_FILE: &str = "data/secret_key";
/// actix-session's cookie key needs at least this many bytes.
pub const SECRET_KEY_MIN_BYTES: usize = 64;

#[derive(Clone)]
pub struct Settings {
    pub database_url: DatabaseUrl,
    pub bind_addr: SocketAddr,
    /// The address students reach the shop at, without a trailing slash.
    pub public_url: String,
    pub secret_key: SecretKey,
    pub currency: Currency,
    pub payments: PaymentSettings,
    /// Seed the demo catalog when the database has no course yet.
    pub seed_demo_on_empty: bool,
    pub db_pool_size: u32,
}

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

/// Key material for signing session cookies.
#[derive(Clone)]
pub struct SecretKey(Vec<u8>);

impl SecretKey {
    pub fn from_bytes(bytes: Vec<u8>) -> Result<Self, String> {
        if bytes.len() < SECRET_KEY_MIN_BYTES {
            return Err(format!(
                "SECRET_KEY must be at least {SECRET_KEY_MIN_BYTES} bytes (it is {}); \
                 generate one with `openssl rand -base64 64`",
                bytes.len()
            ));
        }
        Ok(Self(bytes))
    }

    pub fn generate() -> Self {
        let mut bytes = vec![0u8; SECRET_KEY_MIN_BYTES];
        rand::rngs::OsRng.fill_bytes(&mut bytes);
        Self(bytes)
    }

    pub fn expose(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretKey(***)")
    }
}

impl Settings {
    /// Reads the process environment. Every invalid setting is reported,
    /// not just the first, so one restart fixes them all.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok().filter(|v| !v.trim().is_empty()))
    }

    pub fn from_lookup(var: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let mut problems = Vec::new();
        let mut check = Collector(&mut problems);

        let database_url = check.ok(DatabaseUrl::parse(
            &var("DATABASE_URL").unwrap_or_else(|| DEFAULT_DATABASE_URL.into()),
        ));
        let bind_addr = check.ok(var("BIND_ADDR")
            .unwrap_or_else(|| DEFAULT_BIND_ADDR.into())
            .parse::<SocketAddr>()
            .map_err(|e| format!("BIND_ADDR must be host:port like 127.0.0.1:8080 ({e})")));
        let public_url = check.ok(parse_public_url(var("PUBLIC_URL"), bind_addr));
        let currency = check.ok(
            Currency::parse(&var("CURRENCY").unwrap_or_else(|| "USD".into()))
                .map_err(|e| format!("CURRENCY: {e}")),
        );
        let secret_key = check.ok(match var("SECRET_KEY") {
            Some(key) => SecretKey::from_bytes(key.into_bytes()),
            None => load_or_generate_secret_key(Path::new(GENERATED_SECRET_KEY_FILE)),
        });
        let payments = check.ok(parse_payments(&var));
        let seed_demo_on_empty = check.ok(parse_bool(
            "SEED_DEMO_ON_EMPTY",
            var("SEED_DEMO_ON_EMPTY"),
            true,
        ));
        let db_pool_size = check.ok(match var("DB_POOL_SIZE") {
            None => Ok(8),
            Some(v) => match v.trim().parse::<u32>() {
                Ok(n) if (1..=256).contains(&n) => Ok(n),
                _ => Err(format!(
                    "DB_POOL_SIZE must be a number from 1 to 256, not {v:?}"
                )),
            },
        });

        match (
            database_url,
            bind_addr,
            public_url,
            secret_key,
            currency,
            payments,
            seed_demo_on_empty,
            db_pool_size,
        ) {
            (
                Some(database_url),
                Some(bind_addr),
                Some(public_url),
                Some(secret_key),
                Some(currency),
                Some(payments),
                Some(seed_demo_on_empty),
                Some(db_pool_size),
            ) => Ok(Self {
                database_url,
                bind_addr,
                public_url,
                secret_key,
                currency,
                payments,
                seed_demo_on_empty,
                db_pool_size,
            }),
            _ => Err(ConfigError(problems)),
        }
    }

    /// Cookies are marked `Secure` when students reach the shop over https.
    pub fn cookies_secure(&self) -> bool {
        self.public_url.starts_with("https://")
    }

    pub fn is_sandbox(&self) -> bool {
        matches!(self.payments, PaymentSettings::Sandbox)
    }

    /// The secret webhook signatures are checked with: Stripe's, or for the
    /// sandbox one derived from `SECRET_KEY` (the sandbox signs with it).
    pub fn webhook_secret(&self) -> String {
        match &self.payments {
            PaymentSettings::Stripe(stripe) => stripe.webhook_secret.clone(),
            PaymentSettings::Sandbox => {
                use hmac::{Hmac, Mac};
                let mut mac = Hmac::<sha2::Sha256>::new_from_slice(self.secret_key.expose())
                    .expect("HMAC takes keys of any length");
                mac.update(b"kasir sandbox webhook signing");
                format!("whsec_sandbox_{}", hex::encode(mac.finalize().into_bytes()))
            }
        }
    }

    /// The origin Stripe.js is loaded from, for the Content-Security-Policy.
    pub fn stripe_js_origin(&self) -> String {
        let url = match &self.payments {
            PaymentSettings::Stripe(stripe) => stripe.js_url.as_str(),
            PaymentSettings::Sandbox => DEFAULT_STRIPE_JS_URL,
        };
        origin_of(url).unwrap_or_else(|| "https://js.stripe.com".into())
    }
}

impl fmt::Debug for Settings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Settings")
            .field("database_url", &self.database_url.redacted())
            .field("bind_addr", &self.bind_addr)
            .field("public_url", &self.public_url)
            .field("secret_key", &self.secret_key)
            .field("currency", &self.currency.code())
            .field(
                "payments",
                &if self.is_sandbox() {
                    "sandbox"
                } else {
                    "stripe"
                },
            )
            .field("seed_demo_on_empty", &self.seed_demo_on_empty)
            .field("db_pool_size", &self.db_pool_size)
            .finish()
    }
}

/// Keeps each setting's value, or its problem for the report.
struct Collector<'a>(&'a mut Vec<String>);

impl Collector<'_> {
    fn ok<T>(&mut self, result: Result<T, String>) -> Option<T> {
        result.map_err(|problem| self.0.push(problem)).ok()
    }
}

/// Every problem found in the configuration.
#[derive(Debug)]
pub struct ConfigError(pub Vec<String>);

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "invalid configuration:")?;
        for problem in &self.0 {
            writeln!(f, "  - {problem}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigError {}

fn parse_public_url(raw: Option<String>, bind_addr: Option<SocketAddr>) -> Result<String, String> {
    let url = match raw {
        Some(url) => url.trim().trim_end_matches('/').to_owned(),
        None => format!(
            "http://{}",
            bind_addr.map_or_else(|| DEFAULT_BIND_ADDR.into(), |a| a.to_string())
        ),
    };
    match origin_of(&url) {
        Some(_) => Ok(url),
        None => Err(format!(
            "PUBLIC_URL must start with http:// or https:// and name a host, not {url:?}"
        )),
    }
}

/// `scheme://host[:port]` of an http(s) URL.
fn origin_of(url: &str) -> Option<String> {
    let (scheme, rest) = url.split_once("://")?;
    if scheme != "http" && scheme != "https" {
        return None;
    }
    let host = rest.split(['/', '?', '#']).next()?;
    if host.is_empty() || host.contains(char::is_whitespace) {
        return None;
    }
    Some(format!("{scheme}://{host}"))
}

fn parse_bool(name: &str, raw: Option<String>, default: bool) -> Result<bool, String> {
    match raw
        .as_deref()
        .map(str::trim)
        .map(str::to_ascii_lowercase)
        .as_deref()
    {
        None => Ok(default),
        Some("1" | "true" | "yes" | "on") => Ok(true),
        Some("0" | "false" | "no" | "off") => Ok(false),
        Some(other) => Err(format!("{name} must be true or false, not {other:?}")),
    }
}

fn parse_payments(var: &impl Fn(&str) -> Option<String>) -> Result<PaymentSettings, String> {
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

/// Reads the key kept at `path`, or creates one there (readable by the
/// owner only) so sessions survive restarts without any set-up.
fn load_or_generate_secret_key(path: &Path) -> Result<SecretKey, String> {
    match std::fs::read_to_string(path) {
        Ok(text) => {
            let bytes = BASE64.decode(text.trim()).map_err(|e| {
                format!(
                    "{} is not valid base64 ({e}); delete it to generate a new key",
                    path.display()
                )
            })?;
            SecretKey::from_bytes(bytes).map_err(|e| format!("{}: {e}", path.display()))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let key = SecretKey::generate();
            write_private_file(path, &BASE64.encode(key.expose())).map_err(|e| {
                format!(
                    "could not save a generated SECRET_KEY to {}: {e}",
                    path.display()
                )
            })?;
            Ok(key)
        }
        Err(e) => Err(format!("could not read {}: {e}", path.display())),
    }
}

fn write_private_file(path: &Path, contents: &str) -> std::io::Result<()> {
    use std::io::Write;
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path)?;
    file.write_all(contents.as_bytes())?;
    file.write_all(b"\n")
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn settings(vars: &[(&str, &str)]) -> Result<Settings, ConfigError> {
        let mut map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        map.entry("SECRET_KEY".into())
            .or_insert_with(|| "k".repeat(64));
        Settings::from_lookup(|name| map.get(name).cloned())
    }

    #[test]
    fn defaults_to_sqlite_and_sandbox_payments() {
        let s = settings(&[]).unwrap();
        assert_eq!(
            s.database_url,
            DatabaseUrl::parse(DEFAULT_DATABASE_URL).unwrap()
        );
        assert!(s.is_sandbox());
        assert_eq!(s.public_url, "http://127.0.0.1:8080");
        assert!(!s.cookies_secure());
        assert_eq!(s.currency.code(), "USD");
    }

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

    #[test]
    fn every_problem_is_reported_at_once() {
        let err = settings(&[
            ("SECRET_KEY", "too-short"),
            ("CURRENCY", "XYZ"),
            ("BIND_ADDR", "nowhere"),
            ("DATABASE_URL", "mysql://x"),
        ])
        .unwrap_err();
        assert_eq!(err.0.len(), 4, "{err}");
    }

    #[test]
    fn https_public_url_makes_cookies_secure() {
        let s = settings(&[("PUBLIC_URL", "https://shop.example.com/")]).unwrap();
        assert!(s.cookies_secure());
        assert_eq!(s.public_url, "https://shop.example.com");
        assert!(settings(&[("PUBLIC_URL", "shop.example.com")]).is_err());
    }

    #[test]
    fn generated_secret_key_is_kept_and_reused() {
        let dir = std::env::temp_dir().join(format!("kasir-key-{}", std::process::id()));
        let path = dir.join("secret_key");
        let _ = std::fs::remove_dir_all(&dir);
        let first = load_or_generate_secret_key(&path).unwrap();
        let second = load_or_generate_secret_key(&path).unwrap();
        assert_eq!(first.expose(), second.expose());
        assert!(first.expose().len() >= SECRET_KEY_MIN_BYTES);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
