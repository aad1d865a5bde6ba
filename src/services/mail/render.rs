//! The mails' words: askama templates (`templates/mail/`), HTML and plain
//! text, in the reader's language.

use askama::Template;

use crate::domain::{DisputeStatus, Money};
use crate::i18n::I18n;
use crate::services::orders::OrderView;

/// A mail ready to send.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rendered {
    pub subject: String,
    pub text: String,
    pub html: String,
}

/// One mail's data, its two templates, and its subject's message: the
/// function `$render(layout, &data)` makes the mail.
macro_rules! mail_templates {
    (
        $render:ident, $data:ident, $html:ident, $html_path:literal, $text:ident,
        $text_path:literal, |$layout:ident, $mail:ident| $subject:expr
    ) => {
        #[derive(Template)]
        #[template(path = $html_path)]
        struct $html<'a> {
            layout: I18n,
            mail: &'a $data<'a>,
        }

        #[derive(Template)]
        #[template(path = $text_path)]
        struct $text<'a> {
            layout: I18n,
            mail: &'a $data<'a>,
        }

        pub fn $render($layout: I18n, $mail: &$data<'_>) -> askama::Result<Rendered> {
            Ok(Rendered {
                subject: $subject,
                text: $text {
                    layout: $layout,
                    mail: $mail,
                }
                .render()?,
                html: $html {
                    layout: $layout,
                    mail: $mail,
                }
                .render()?,
            })
        }
    };
}

pub struct ReceiptMail<'a> {
    pub name: &'a str,
    pub view: &'a OrderView,
    /// When it was paid (when the order was placed, for an order that
    /// needed no payment).
    pub paid_on: chrono::NaiveDateTime,
    pub invoice_url: String,
    pub courses_url: String,
}
mail_templates!(
    receipt,
    ReceiptMail,
    ReceiptHtml,
    "mail/receipt.html",
    ReceiptText,
    "mail/receipt.txt",
    |layout, mail| layout.t1("mail-receipt-subject", "number", &mail.view.order.number)
);

pub struct RefundMail<'a> {
    pub name: &'a str,
    pub view: &'a OrderView,
    pub amount: Money,
    pub full: bool,
    pub invoice_url: String,
}
mail_templates!(
    refund,
    RefundMail,
    RefundHtml,
    "mail/refund.html",
    RefundText,
    "mail/refund.txt",
    |layout, mail| layout.t1("mail-refund-subject", "number", &mail.view.order.number)
);

pub struct DisputeMail<'a> {
    pub view: &'a OrderView,
    pub customer: &'a str,
    pub amount: Money,
    pub status: DisputeStatus,
    pub order_url: String,
}
mail_templates!(
    dispute,
    DisputeMail,
    DisputeHtml,
    "mail/dispute.html",
    DisputeText,
    "mail/dispute.txt",
    |layout, mail| layout.t1("mail-dispute-subject", "number", &mail.view.order.number)
);

pub struct ResetMail<'a> {
    pub name: &'a str,
    pub reset_url: &'a str,
    pub minutes: i64,
}
mail_templates!(
    password_reset,
    ResetMail,
    ResetHtml,
    "mail/password_reset.html",
    ResetText,
    "mail/password_reset.txt",
    |layout, _mail| layout.t("mail-reset-subject")
);
