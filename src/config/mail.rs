//! How mail leaves (`SMTP_URL`, `MAIL_FROM`, `MAIL_DIR`).

use std::path::PathBuf;

use chrono::TimeDelta;

/// Where mail goes.
#[derive(Clone)]
pub enum MailTransport {
    /// A mail server: `smtp://user:pass@host:587` (STARTTLS, required),
    /// `smtps://user:pass@host:465` (TLS), or `smtp://host:25?tls=none`
    /// for a relay on the same machine (no TLS: say so explicitly). Kept
    /// in lettre's URL form.
    Smtp { url: String },
    /// No server configured: each mail is written as an `.eml` file here
    /// (and logged), so a development shop still shows what it sends.
    Files { dir: PathBuf },
}

impl std::fmt::Debug for MailTransport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            // The URL may hold the password.
            Self::Smtp { .. } => f.write_str("Smtp { url: <redacted> }"),
            Self::Files { dir } => f.debug_struct("Files").field("dir", dir).finish(),
        }
    }
}

#[derive(Clone, Debug)]
pub struct MailSettings {
    pub transport: MailTransport,
    /// `Shop Name <receipts@shop.example>`.
    pub from: lettre::message::Mailbox,
    /// The wait before the first retry; doubled on each failure, up to an hour.
    pub first_retry: TimeDelta,
}

pub const DEFAULT_MAIL_DIR: &str = "data/outbox";
const DEFAULT_FROM: &str = "kasir <kasir@localhost>";

/// `smtp://` means STARTTLS unless `?tls=none` says otherwise (lettre's
/// own default is no TLS at all, which would send the password in clear).
fn lettre_url(raw: &str) -> Result<String, String> {
    let mut url =
        reqwest::Url::parse(raw).map_err(|e| format!("SMTP_URL is not a mail server URL ({e})"))?;
    if url.scheme() != "smtp" {
        return Ok(raw.to_owned());
    }
    let pairs: Vec<(String, String)> = url.query_pairs().into_owned().collect();
    let tls = pairs
        .iter()
        .find(|(k, _)| k == "tls")
        .map(|(_, v)| v.clone());
    let others: Vec<&(String, String)> = pairs.iter().filter(|(k, _)| k != "tls").collect();
    url.set_query(None);
    {
        let mut query = url.query_pairs_mut();
        for (k, v) in &others {
            query.append_pair(k, v);
        }
        match tls.as_deref() {
            None => {
                query.append_pair("tls", "required");
            }
            Some("none") => {}
            Some(other) => {
                query.append_pair("tls", other);
            }
        }
    }
    let mut url = url.to_string();
    if url.ends_with('?') {
        url.pop();
    }
    Ok(url)
}

pub(super) fn parse_mail(var: &impl Fn(&str) -> Option<String>) -> Result<MailSettings, String> {
    let transport = match var("SMTP_URL") {
        Some(url) => {
            let url = lettre_url(url.trim())?;
            // lettre reads the URL the same way when it connects; checking
            // here names a typo at start instead of at the first mail.
            lettre::SmtpTransport::from_url(&url)
                .map_err(|e| format!("SMTP_URL is not a mail server URL ({e})"))?;
            MailTransport::Smtp { url }
        }
        None => MailTransport::Files {
            dir: PathBuf::from(var("MAIL_DIR").unwrap_or_else(|| DEFAULT_MAIL_DIR.into())),
        },
    };
    let from = match (var("MAIL_FROM"), &transport) {
        (Some(from), _) => from.trim().parse().map_err(|e| {
            format!("MAIL_FROM must be an address like \"Shop <shop@example.com>\" ({e})")
        })?,
        (None, MailTransport::Smtp { .. }) => {
            return Err("SMTP_URL needs MAIL_FROM, the address mail is sent from".into());
        }
        (None, MailTransport::Files { .. }) => DEFAULT_FROM.parse().expect("a valid address"),
    };
    let first_retry = match var("MAIL_RETRY_SECONDS") {
        None => TimeDelta::seconds(30),
        Some(v) => v
            .trim()
            .parse::<i64>()
            .ok()
            .filter(|s| (1..=3600).contains(s))
            .map(TimeDelta::seconds)
            .ok_or_else(|| {
                format!("MAIL_RETRY_SECONDS must be a number from 1 to 3600, not {v:?}")
            })?,
    };
    Ok(MailSettings {
        transport,
        from,
        first_retry,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(pairs: &[(&str, &str)]) -> Result<MailSettings, String> {
        let pairs: Vec<(String, String)> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        parse_mail(&|name: &str| {
            pairs
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.clone())
        })
    }

    #[test]
    fn without_a_server_mail_goes_to_files() {
        let mail = parse(&[]).unwrap();
        assert!(
            matches!(mail.transport, MailTransport::Files { ref dir } if dir == &PathBuf::from("data/outbox"))
        );
        assert_eq!(mail.from.email.to_string(), "kasir@localhost");
    }

    #[test]
    fn smtp_means_starttls_unless_told_otherwise() {
        let url = |raw: &str| match parse(&[("SMTP_URL", raw), ("MAIL_FROM", "a@b.co")])
            .unwrap()
            .transport
        {
            MailTransport::Smtp { url } => url,
            MailTransport::Files { .. } => unreachable!(),
        };
        assert_eq!(
            url("smtp://u:p@mail.example.com:587"),
            "smtp://u:p@mail.example.com:587?tls=required"
        );
        assert_eq!(
            url("smtp://127.0.0.1:2525?tls=none"),
            "smtp://127.0.0.1:2525"
        );
        assert_eq!(
            url("smtps://u:p@mail.example.com"),
            "smtps://u:p@mail.example.com"
        );
        assert_eq!(
            url("smtp://h:25?tls=opportunistic"),
            "smtp://h:25?tls=opportunistic"
        );
    }

    #[test]
    fn a_server_needs_a_sender_and_a_readable_url() {
        assert!(
            parse(&[("SMTP_URL", "smtp://mail.example.com:587")])
                .unwrap_err()
                .contains("MAIL_FROM")
        );
        let ok = parse(&[
            ("SMTP_URL", "smtp://user:secret@mail.example.com:587"),
            ("MAIL_FROM", "Kasir Shop <shop@example.com>"),
        ])
        .unwrap();
        assert!(
            !format!("{ok:?}").contains("secret"),
            "the password stays out of logs"
        );
        assert!(
            parse(&[("SMTP_URL", "http://x"), ("MAIL_FROM", "a@b.c")])
                .unwrap_err()
                .contains("SMTP_URL")
        );
        assert!(
            parse(&[("MAIL_FROM", "not an address")])
                .unwrap_err()
                .contains("MAIL_FROM")
        );
    }
}
