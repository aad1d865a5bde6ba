//! Where the learning platform's events go (`LMS_WEBHOOK_*`).

use chrono::TimeDelta;

/// The receiver of `enrollment.*` events.
#[derive(Clone)]
pub struct LmsWebhook {
    pub url: String,
    /// Signs every delivery (`Kasir-Signature`); the receiver checks it.
    pub secret: String,
    /// The wait before the first retry; each further failure doubles it,
    /// up to an hour.
    pub first_retry: TimeDelta,
}

impl std::fmt::Debug for LmsWebhook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LmsWebhook")
            .field("url", &self.url)
            .field("secret", &"<redacted>")
            .field("first_retry", &self.first_retry)
            .finish()
    }
}

/// Secrets shorter than this are guessable.
const MIN_SECRET_CHARS: usize = 16;

pub(super) fn parse_lms_webhook(
    var: &impl Fn(&str) -> Option<String>,
) -> Result<Option<LmsWebhook>, String> {
    let first_retry = match var("LMS_WEBHOOK_RETRY_SECONDS") {
        None => TimeDelta::seconds(10),
        Some(v) => v
            .trim()
            .parse::<i64>()
            .ok()
            .filter(|s| (1..=3600).contains(s))
            .map(TimeDelta::seconds)
            .ok_or_else(|| {
                format!("LMS_WEBHOOK_RETRY_SECONDS must be a number from 1 to 3600, not {v:?}")
            })?,
    };
    let (url, secret) = match (var("LMS_WEBHOOK_URL"), var("LMS_WEBHOOK_SECRET")) {
        (None, None) => return Ok(None),
        (None, Some(_)) => {
            return Err("LMS_WEBHOOK_SECRET is set but LMS_WEBHOOK_URL is not".into());
        }
        (Some(_), None) => {
            return Err("LMS_WEBHOOK_URL needs LMS_WEBHOOK_SECRET to sign its events".into());
        }
        (Some(url), Some(secret)) => (url.trim().to_owned(), secret.trim().to_owned()),
    };
    match reqwest::Url::parse(&url) {
        Ok(parsed) if matches!(parsed.scheme(), "http" | "https") && parsed.has_host() => {}
        _ => {
            return Err(format!(
                "LMS_WEBHOOK_URL must be an http(s) URL, not {url:?}"
            ));
        }
    }
    if secret.chars().count() < MIN_SECRET_CHARS {
        return Err(format!(
            "LMS_WEBHOOK_SECRET must be at least {MIN_SECRET_CHARS} characters"
        ));
    }
    Ok(Some(LmsWebhook {
        url,
        secret,
        first_retry,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(pairs: &[(&str, &str)]) -> Result<Option<LmsWebhook>, String> {
        let pairs: Vec<(String, String)> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        parse_lms_webhook(&|name: &str| {
            pairs
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.clone())
        })
    }

    #[test]
    fn unset_is_off_and_half_set_is_an_error() {
        assert!(parse(&[]).unwrap().is_none());
        assert!(parse(&[("LMS_WEBHOOK_URL", "https://lms.example/hooks")]).is_err());
        assert!(parse(&[("LMS_WEBHOOK_SECRET", "s".repeat(20).as_str())]).is_err());
        let hook = parse(&[
            ("LMS_WEBHOOK_URL", "https://lms.example/hooks"),
            ("LMS_WEBHOOK_SECRET", "0123456789abcdef"),
        ])
        .unwrap()
        .unwrap();
        assert_eq!(hook.first_retry, TimeDelta::seconds(10));
    }

    #[test]
    fn bad_values_are_named() {
        let secret = ("LMS_WEBHOOK_SECRET", "0123456789abcdef");
        for url in ["lms.example/hooks", "ftp://lms.example", "https://"] {
            let e = parse(&[("LMS_WEBHOOK_URL", url), secret]).unwrap_err();
            assert!(e.contains("LMS_WEBHOOK_URL"), "{url}: {e}");
        }
        let e = parse(&[
            ("LMS_WEBHOOK_URL", "https://lms.example"),
            ("LMS_WEBHOOK_SECRET", "short"),
        ])
        .unwrap_err();
        assert!(e.contains("at least 16"));
        let e = parse(&[("LMS_WEBHOOK_RETRY_SECONDS", "0")]).unwrap_err();
        assert!(e.contains("LMS_WEBHOOK_RETRY_SECONDS"));
    }
}
