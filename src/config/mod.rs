//! Settings from the environment (and `.env`), validated once at start.
//! Secrets are never printed: `Debug` on [`Settings`] redacts them.

use std::fmt;
use std::net::SocketAddr;
use std::path::Path;

use crate::db::DatabaseUrl;
use crate::domain::Currency;
use crate::startup::cores;

pub const DEFAULT_DATABASE_URL: &str = "sqlite://data/kasir.db";
pub const DEFAULT_UPLOADS_DIR: &str = "data/uploads";
pub const DEFAULT_BIND_ADDR: &str = "127.0.0.1:8080";
pub const DEFAULT_STRIPE_API_BASE: &str = "https://api.stripe.com";
pub const DEFAULT_STRIPE_JS_URL: &str = "https://js.stripe.com/v3/";
/// Where the generated session key is kept when `SECRET_KEY` is unset.
pub const GENERATED_SECRET_KEY_FILE: &str = "data/secret_key";
/// Where the generated journal sealing key is kept when `JOURNAL_KEY` is unset.
pub const GENERATED_JOURNAL_KEY_FILE: &str = "data/journal_key";
/// actix-session's cookie key needs at least this many bytes.
pub const SECRET_KEY_MIN_BYTES: usize = 64;

mod lms;
mod mail;
mod payments;
mod proxies;
mod secret_key;
mod seller;
mod url;

pub use lms::LmsWebhook;
use lms::parse_lms_webhook;
use mail::parse_mail;
pub use mail::{MailSettings, MailTransport};
use payments::parse_payments;
pub use payments::{PaymentSettings, StripeSettings};
pub use proxies::client_address;
use proxies::parse_trusted_proxies;
pub use secret_key::SecretKey;
use secret_key::load_or_generate_key;
pub use seller::{Seller, TaxLabel, TaxSettings};
pub(crate) use url::origin_of;
use url::parse_public_url;

#[derive(Clone)]
pub struct Settings {
    pub database_url: DatabaseUrl,
    pub bind_addr: SocketAddr,
    /// The address students reach the shop at, without a trailing slash.
    pub public_url: String,
    pub secret_key: SecretKey,
    /// Seals the journal (`JOURNAL_KEY`): never stored in the database.
    pub journal_key: SecretKey,
    pub currency: Currency,
    pub payments: PaymentSettings,
    /// Seed the demo catalog when the database has no course yet.
    pub seed_demo_on_empty: bool,
    pub db_pool_size: u32,
    /// Reverse proxies whose `X-Forwarded-For` is believed (`TRUSTED_PROXIES`).
    pub trusted_proxies: Vec<ipnet::IpNet>,
    /// A login lasts at most this long (`SESSION_MAX_SECONDS`, 30 days) ...
    pub session_max: chrono::TimeDelta,
    /// ... and ends after this long without a visit (`SESSION_IDLE_SECONDS`, 7 days).
    pub session_idle: chrono::TimeDelta,
    /// Accounts one address may make per hour (`SIGN_UPS_PER_HOUR`, 10).
    pub sign_ups_per_hour: i64,
    /// Where uploaded cover images are kept (`UPLOADS_DIR`, `data/uploads`).
    pub uploads_dir: std::path::PathBuf,
    /// `STATIC_DIR`: serve static/ from here, not the binary (development).
    pub static_dir: Option<std::path::PathBuf>,
    /// Who invoices are from (`SELLER_*`, `INVOICE_FOOTER`).
    pub seller: Seller,
    /// The sales tax (`TAX_RATE_BPS`, `TAX_INCLUSIVE`, `TAX_NAME`); none: untaxed.
    pub tax: Option<TaxSettings>,
    /// Where LMS events go (`LMS_WEBHOOK_*`); none: they wait in the outbox.
    pub lms_webhook: Option<LmsWebhook>,
    /// Pages' language when neither reader nor browser chose (`DEFAULT_LOCALE`).
    pub default_locale: crate::domain::Locale,
    pub mail: MailSettings,
    /// Where Prometheus scrapes `/metrics` (`METRICS_ADDR`); none: not
    /// served. Never the shop's own port.
    pub metrics_addr: Option<SocketAddr>,
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
        let [secret_key, journal_key] = [
            ("SECRET_KEY", GENERATED_SECRET_KEY_FILE),
            ("JOURNAL_KEY", GENERATED_JOURNAL_KEY_FILE),
        ]
        .map(|(name, file)| {
            check.ok(match var(name) {
                Some(key) => SecretKey::from_bytes(name, key.into_bytes()),
                None => load_or_generate_key(name, Path::new(file)),
            })
        });
        let payments = check.ok(parse_payments(&var));
        let seed_demo_on_empty = check.ok(parse_bool(
            "SEED_DEMO_ON_EMPTY",
            var("SEED_DEMO_ON_EMPTY"),
            true,
        ));
        let db_pool_size = check.ok(match var("DB_POOL_SIZE") {
            None => Ok(database_url
                .as_ref()
                .map_or(2, |url| url.default_pool_size(cores()))),
            Some(v) => match v.trim().parse::<u32>() {
                Ok(n) if (1..=256).contains(&n) => Ok(n),
                _ => Err(format!(
                    "DB_POOL_SIZE must be a number from 1 to 256, not {v:?}"
                )),
            },
        });

        let trusted_proxies = check.ok(parse_trusted_proxies(var("TRUSTED_PROXIES")));
        let sign_ups_per_hour = check.ok(match var("SIGN_UPS_PER_HOUR") {
            None => Ok(10),
            Some(v) => v
                .trim()
                .parse::<i64>()
                .ok()
                .filter(|n| (1..=1_000_000).contains(n))
                .ok_or_else(|| format!("SIGN_UPS_PER_HOUR must be a number from 1, not {v:?}")),
        });
        let session_max = check.ok(parse_seconds(
            "SESSION_MAX_SECONDS",
            var("SESSION_MAX_SECONDS"),
            30 * 86_400,
        ));
        let session_idle = check.ok(parse_seconds(
            "SESSION_IDLE_SECONDS",
            var("SESSION_IDLE_SECONDS"),
            7 * 86_400,
        ));

        let lms_webhook = check.ok(parse_lms_webhook(&var));
        let default_locale = check.ok(crate::domain::Locale::parse(
            var("DEFAULT_LOCALE").as_deref().unwrap_or("en"),
        )
        .map_err(|_| "DEFAULT_LOCALE must be en or id".to_owned()));
        let mail = check.ok(parse_mail(&var));
        let static_dir = var("STATIC_DIR").map(std::path::PathBuf::from);
        let seller = Seller::from_vars(&var);
        let tax = check.ok(TaxSettings::from_vars(&var)).flatten();
        let uploads_dir = std::path::PathBuf::from(
            var("UPLOADS_DIR").unwrap_or_else(|| DEFAULT_UPLOADS_DIR.into()),
        );
        let metrics_addr = check
            .ok(var("METRICS_ADDR")
                .map(|v| v.trim().parse::<SocketAddr>())
                .transpose()
                .map_err(|e| format!("METRICS_ADDR must be host:port like 127.0.0.1:9090 ({e})")))
            .flatten();
        // Settings that are optional (tax, metrics) are not in the match
        // below: a wrong one must still stop the start, not be ignored.
        if !problems.is_empty() {
            return Err(ConfigError(problems));
        }

        match (
            (default_locale, mail),
            lms_webhook,
            (session_max, session_idle, sign_ups_per_hour),
            trusted_proxies,
            database_url,
            bind_addr,
            public_url,
            (secret_key, journal_key),
            currency,
            payments,
            seed_demo_on_empty,
            db_pool_size,
        ) {
            (
                (Some(default_locale), Some(mail)),
                Some(lms_webhook),
                (Some(session_max), Some(session_idle), Some(sign_ups_per_hour)),
                Some(trusted_proxies),
                Some(database_url),
                Some(bind_addr),
                Some(public_url),
                (Some(secret_key), Some(journal_key)),
                Some(currency),
                Some(payments),
                Some(seed_demo_on_empty),
                Some(db_pool_size),
            ) => Ok(Self {
                database_url,
                bind_addr,
                public_url,
                secret_key,
                journal_key,
                currency,
                payments,
                seed_demo_on_empty,
                db_pool_size,
                trusted_proxies,
                session_max,
                session_idle,
                sign_ups_per_hour,
                uploads_dir,
                static_dir,
                seller,
                tax,
                lms_webhook,
                default_locale,
                mail,
                metrics_addr,
            }),
            _ => Err(ConfigError(problems)),
        }
    }

    /// Cookies are marked `Secure` when students reach the shop over https.
    pub fn cookies_secure(&self) -> bool {
        self.public_url.starts_with("https://")
    }

    /// Whether the keys move real money (the sandbox never does).
    pub fn livemode(&self) -> bool {
        match &self.payments {
            PaymentSettings::Stripe(stripe) => stripe.livemode(),
            PaymentSettings::Sandbox => false,
        }
    }

    /// Who takes the payments.
    pub fn provider(&self) -> crate::domain::Provider {
        match self.payments {
            PaymentSettings::Stripe(_) => crate::domain::Provider::Stripe,
            PaymentSettings::Sandbox => crate::domain::Provider::Sandbox,
        }
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
            .field("journal_key", &self.journal_key)
            .field("currency", &self.currency.code())
            .field("payments", &self.provider())
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

/// A whole number of seconds, at least one.
fn parse_seconds(
    name: &str,
    raw: Option<String>,
    default: i64,
) -> Result<chrono::TimeDelta, String> {
    match raw {
        None => Ok(chrono::TimeDelta::seconds(default)),
        Some(v) => v
            .trim()
            .parse::<i64>()
            .ok()
            .filter(|s| (1..=10 * 365 * 86_400).contains(s))
            .map(chrono::TimeDelta::seconds)
            .ok_or_else(|| format!("{name} must be a number of seconds, not {v:?}")),
    }
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

#[cfg(test)]
pub(crate) mod tests {
    use std::collections::HashMap;

    use super::*;

    pub(crate) fn settings(vars: &[(&str, &str)]) -> Result<Settings, ConfigError> {
        let mut map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        map.entry("SECRET_KEY".into())
            .or_insert_with(|| "k".repeat(64));
        map.entry("JOURNAL_KEY".into())
            .or_insert_with(|| "j".repeat(64));
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
    fn a_wrong_optional_setting_stops_the_start_too() {
        for (name, value) in [("TAX_RATE_BPS", "11%"), ("METRICS_ADDR", "everywhere")] {
            let err = settings(&[(name, value)]).unwrap_err();
            assert!(err.0.iter().any(|p| p.contains(name)), "{name}: {err}");
        }
        let s = settings(&[("METRICS_ADDR", "127.0.0.1:9090")]).unwrap();
        assert_eq!(s.metrics_addr, Some("127.0.0.1:9090".parse().unwrap()));
        assert_eq!(settings(&[]).unwrap().metrics_addr, None);
    }

    #[test]
    fn https_public_url_makes_cookies_secure() {
        let s = settings(&[("PUBLIC_URL", "https://shop.example.com/")]).unwrap();
        assert!(s.cookies_secure());
        assert_eq!(s.public_url, "https://shop.example.com");
        assert!(settings(&[("PUBLIC_URL", "shop.example.com")]).is_err());
    }
}
