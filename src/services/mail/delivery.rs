//! Sending the outbox: after commit, by a worker inside `serve`, each
//! mail rendered in its reader's language (the language they chose, or
//! the shop's default), with retries until the server takes it. Several
//! instances on one database share the work: a mail is leased to one
//! worker at a time.

use std::sync::Arc;

use chrono::TimeDelta;
use lettre::message::header::{HeaderName, HeaderValue};
use lettre::message::{Mailbox, MultiPart};
use lettre::{FileTransport, Message, SmtpTransport, Transport};

use super::queue::Details;
use super::render::{self, DisputeMail, ReceiptMail, RefundMail, Rendered};
use crate::config::{MailSettings, MailTransport};
use crate::db::{self, DbConnection, DbPool};
use crate::domain::{Locale, MailKind, Money};
use crate::i18n::I18n;
use crate::models::mail_outbox::QueuedMail;
use crate::models::order::Order;
use crate::models::user::User;
use crate::services::orders::OrderView;
use crate::services::retry;

/// A worker holds the mails it took this long; another instance may take
/// them after that.
const LEASE: TimeDelta = TimeDelta::minutes(5);
const BATCH: i64 = 20;

/// Where mail goes, and what it is sent as.
pub struct Mailer {
    transport: Sender,
    from: Mailbox,
    first_retry: TimeDelta,
    /// Links in mail point here (`PUBLIC_URL`).
    public_url: String,
    default_locale: Locale,
}

enum Sender {
    Smtp(Box<SmtpTransport>),
    Files(FileTransport, std::path::PathBuf),
}

/// What one pass did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Pass {
    pub sent: usize,
    pub failed: usize,
}

impl Mailer {
    pub fn new(
        settings: &MailSettings,
        public_url: &str,
        default_locale: Locale,
    ) -> anyhow::Result<Self> {
        let transport = match &settings.transport {
            MailTransport::Smtp { url } => Sender::Smtp(Box::new(
                SmtpTransport::from_url(url)?
                    .timeout(Some(std::time::Duration::from_secs(20)))
                    .build(),
            )),
            MailTransport::Files { dir } => {
                std::fs::create_dir_all(dir)?;
                Sender::Files(FileTransport::new(dir), dir.clone())
            }
        };
        Ok(Self {
            transport,
            from: settings.from.clone(),
            first_retry: settings.first_retry,
            public_url: public_url.trim_end_matches('/').to_owned(),
            default_locale,
        })
    }

    /// Leases the due mails and sends each once.
    pub async fn send_due(self: &Arc<Self>, pool: &DbPool) -> anyhow::Result<Pass> {
        let now = db::now();
        let mails = db::run(pool, move |conn| {
            db::write_transaction(conn, |conn| {
                QueuedMail::lease_due(conn, now, now + LEASE, BATCH)
            })
        })
        .await??;
        let mut pass = Pass::default();
        for mail in mails {
            let id = mail.id;
            let attempts = mail.attempts + 1;
            let mailer = Arc::clone(self);
            let outcome = db::run(pool, move |conn| mailer.send_one(conn, &mail))
                .await
                .map_err(|e| e.to_string())
                .and_then(|sent| sent);
            let next = db::now() + retry::backoff(self.first_retry, attempts);
            let failed = outcome.is_err();
            db::run(pool, move |conn| match &outcome {
                Ok(()) => QueuedMail::mark_sent(conn, id, db::now()),
                Err(error) => {
                    tracing::warn!(mail.id = id, error = %error, "mail not sent; it is retried");
                    QueuedMail::mark_failed(conn, id, error, next)
                }
            })
            .await??;
            if failed {
                pass.failed += 1;
            } else {
                pass.sent += 1;
            }
        }
        Ok(pass)
    }

    /// Renders (when not rendered yet) and sends one mail: blocking work,
    /// on the blocking pool.
    fn send_one(&self, conn: &mut DbConnection, mail: &QueuedMail) -> Result<(), String> {
        let rendered = match (&mail.subject, &mail.text_body, &mail.html_body) {
            (Some(subject), Some(text), Some(html)) => Rendered {
                subject: subject.clone(),
                text: text.clone(),
                html: html.clone(),
            },
            _ => self.render(conn, mail)?,
        };
        let message = self.message(mail, rendered)?;
        match &self.transport {
            Sender::Smtp(smtp) => smtp.send(&message).map(drop).map_err(|e| e.to_string()),
            Sender::Files(files, dir) => {
                let id = files.send(&message).map_err(|e| e.to_string())?;
                tracing::info!(
                    mail.kind = %mail.kind,
                    to = %mail.recipient,
                    file = %dir.join(format!("{id}.eml")).display(),
                    "mail written (no SMTP_URL)"
                );
                Ok(())
            }
        }
    }

    fn message(&self, mail: &QueuedMail, rendered: Rendered) -> Result<Message, String> {
        let to: Mailbox = mail
            .recipient
            .parse()
            .map_err(|e| format!("bad recipient {:?}: {e}", mail.recipient))?;
        let domain = self.from.email.domain().to_owned();
        Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(rendered.subject)
            .message_id(Some(format!("<{}@{domain}>", mail.message_id)))
            // Transactional: no auto-replies, no vacation notices.
            .raw_header(HeaderValue::new(
                HeaderName::new_from_ascii_str("Auto-Submitted"),
                "auto-generated".into(),
            ))
            .raw_header(HeaderValue::new(
                HeaderName::new_from_ascii_str("X-Auto-Response-Suppress"),
                "All".into(),
            ))
            .multipart(MultiPart::alternative_plain_html(
                rendered.text,
                rendered.html,
            ))
            .map_err(|e| format!("could not build the mail: {e}"))
    }

    /// A mail about an order, made now in its reader's language.
    fn render(&self, conn: &mut DbConnection, mail: &QueuedMail) -> Result<Rendered, String> {
        let fail = |e: &dyn std::fmt::Display| format!("could not render the mail: {e}");
        let reader = match mail.user_id {
            Some(id) => User::find(conn, id).map_err(|e| fail(&e))?,
            None => None,
        };
        let i18n = I18n::new(
            reader
                .as_ref()
                .and_then(|u| u.locale)
                .unwrap_or(self.default_locale),
        );
        let order_id = mail.order_id.ok_or_else(|| fail(&"no order"))?;
        let order = Order::find(conn, order_id)
            .map_err(|e| fail(&e))?
            .ok_or_else(|| fail(&"the order is gone"))?;
        let view = OrderView::load(conn, order).map_err(|e| fail(&e))?;
        let details: Details = serde_json::from_str(&mail.details).unwrap_or_default();
        let name = reader.as_ref().map_or("", |u| u.name.as_str());
        let invoice_url = format!("{}/orders/{}", self.public_url, view.order.number);
        let amount = Money::new(details.amount, view.order.currency);
        let rendered = match mail.kind {
            MailKind::Receipt => render::receipt(
                i18n,
                &ReceiptMail {
                    name,
                    view: &view,
                    paid_on: view.order.paid_at.unwrap_or(view.order.created_at),
                    invoice_url,
                    courses_url: format!("{}/my-courses", self.public_url),
                },
            ),
            MailKind::RefundNotice => render::refund(
                i18n,
                &RefundMail {
                    name,
                    view: &view,
                    amount,
                    full: details.full,
                    invoice_url,
                },
            ),
            MailKind::DisputeNotice => {
                let customer = User::find(conn, view.order.user_id)
                    .map_err(|e| fail(&e))?
                    .map_or_else(String::new, |u| u.email);
                render::dispute(
                    i18n,
                    &DisputeMail {
                        view: &view,
                        customer: &customer,
                        amount,
                        status: details
                            .dispute_status
                            .unwrap_or(crate::domain::DisputeStatus::NeedsResponse),
                        order_url: format!(
                            "{}/staff/orders/{}",
                            self.public_url, view.order.number
                        ),
                    },
                )
            }
            MailKind::PasswordReset => return Err(fail(&"a reset mail has no body")),
        };
        rendered.map_err(|e| fail(&e))
    }
}
