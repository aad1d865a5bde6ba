//! Languages: every word a page, a flash message, an error page or a mail
//! shows comes from the Fluent files in `locales/{en,id}/` (compiled into
//! the binary). Amounts and dates are written the way each locale writes
//! them: CLDR grouping and separators (`icu_decimal`), localised month
//! names.
//!
//! Code says *which* message ([`Message`]: an id and its arguments); the
//! words are chosen where the reader's language is known: when a page or a
//! mail is rendered ([`I18n`]).

#[cfg(test)]
mod files_test;
mod format;
mod message;

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::{LazyLock, PoisonError, RwLock};

use fluent_templates::fluent_bundle::FluentValue;
use fluent_templates::{LanguageIdentifier, langid, static_loader};

pub use format::{format_date, format_datetime, format_money};
pub use message::{Arg, Message};

use crate::domain::{Locale, Money};

static_loader! {
    static LOCALES = {
        locales: "./locales",
        fallback_language: "en",
        // No Unicode isolation marks around arguments: pages and mails are
        // left-to-right, and the marks would show in plain-text mail.
        customise: |bundle| bundle.set_use_isolating(false),
    };
}

/// Messages without arguments, formatted, per locale (indexed by
/// `Locale as usize`): the message ids are the code's, a few hundred.
static PLAIN: [LazyLock<RwLock<HashMap<String, String>>>; Locale::ALL.len()] =
    [const { LazyLock::new(Default::default) }; Locale::ALL.len()];

static EN: LanguageIdentifier = langid!("en");
static ID: LanguageIdentifier = langid!("id");

fn language(locale: Locale) -> &'static LanguageIdentifier {
    match locale {
        Locale::En => &EN,
        Locale::Id => &ID,
    }
}

/// The best of our languages for an `Accept-Language` header, if any fits
/// (`id-ID,id;q=0.9,en;q=0.8` → Indonesian).
pub fn negotiate(accept_language: &str) -> Option<Locale> {
    let mut offers: Vec<(f32, Locale)> = accept_language
        .split(',')
        .filter_map(|part| {
            let mut pieces = part.trim().split(';');
            let tag = pieces.next()?.trim().to_ascii_lowercase();
            let quality = pieces
                .find_map(|p| p.trim().strip_prefix("q="))
                .and_then(|q| q.trim().parse::<f32>().ok())
                .unwrap_or(1.0);
            let primary = tag.split(['-', '_']).next()?;
            // "in" is the old code for Indonesian, still sent by some phones.
            let locale = match primary {
                "id" | "in" => Locale::Id,
                "en" => Locale::En,
                _ => return None,
            };
            (quality > 0.0).then_some((quality, locale))
        })
        .collect();
    // Highest quality first; among equals, the header's order.
    offers.sort_by(|a, b| b.0.total_cmp(&a.0));
    offers.first().map(|(_, locale)| *locale)
}

/// A value or a reference to one, however deep: askama hands methods and
/// filters `&field`, and a value bound in a pattern becomes `&&value`.
pub trait Fetch<T: Copy> {
    fn fetch(&self) -> T;
}

macro_rules! fetch_self {
    ($($t:ty),+) => {$(
        impl Fetch<$t> for $t {
            fn fetch(&self) -> $t {
                *self
            }
        }
    )+};
}

fetch_self!(Money, chrono::NaiveDateTime, i32);

impl<T: Copy, R: Fetch<T> + ?Sized> Fetch<T> for &R {
    fn fetch(&self) -> T {
        (**self).fetch()
    }
}

/// Words, amounts and dates in one language. Templates reach it as
/// `layout`: `{{ layout.t("cart-title") }}`, `{{ layout.money(total) }}`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct I18n {
    pub locale: Locale,
}

impl I18n {
    pub fn new(locale: Locale) -> Self {
        Self { locale }
    }

    /// `<html lang>`.
    pub fn lang(&self) -> &'static str {
        self.locale.as_str()
    }

    /// The message `id`, without arguments.
    pub fn t(&self, id: &str) -> String {
        self.lookup(id, None)
    }

    /// The message `id` with one argument.
    pub fn t1(&self, id: &str, name: &'static str, value: impl Into<Arg>) -> String {
        self.message(&Message::new(id).arg(name, value))
    }

    /// The message `id` with two arguments.
    pub fn t2(
        &self,
        id: &str,
        name: &'static str,
        value: impl Into<Arg>,
        name2: &'static str,
        value2: impl Into<Arg>,
    ) -> String {
        self.message(&Message::new(id).arg(name, value).arg(name2, value2))
    }

    /// A message made elsewhere (a flash, an error).
    pub fn message(&self, message: &Message) -> String {
        let args: HashMap<Cow<'static, str>, FluentValue> = message
            .args
            .iter()
            .map(|(name, arg)| {
                let value = match arg {
                    Arg::Text(text) => FluentValue::from(text.clone()),
                    // Numbers stay numbers: plural rules choose by them.
                    Arg::Number(n) => FluentValue::from(*n),
                    Arg::Money(money) => FluentValue::from(format_money(*money, self.locale)),
                    Arg::Date(at) => FluentValue::from(format_date(*at, self.locale)),
                    Arg::Message(inner) => FluentValue::from(self.message(inner)),
                };
                (Cow::Owned(name.clone()), value)
            })
            .collect();
        self.lookup(&message.id, Some(&args))
    }

    /// The words of a status or kind (`order-status-paid`).
    pub fn label(&self, message_id: impl AsRef<str>) -> String {
        self.t(message_id.as_ref())
    }

    pub fn money(&self, money: impl Fetch<Money>) -> String {
        format_money(money.fetch(), self.locale)
    }

    pub fn date(&self, at: impl Fetch<chrono::NaiveDateTime>) -> String {
        format_date(at.fetch(), self.locale)
    }

    pub fn datetime(&self, at: impl Fetch<chrono::NaiveDateTime>) -> String {
        format_datetime(at.fetch(), self.locale)
    }

    /// Basis points as a percentage: 1250 → `12.5%` / `12,5%`.
    pub fn percent(&self, basis_points: impl Fetch<i32>) -> String {
        let bps =
            bigdecimal::BigDecimal::from(basis_points.fetch()) / bigdecimal::BigDecimal::from(100);
        let number = bps.normalized().to_string();
        match self.locale {
            Locale::En => format!("{number}%"),
            Locale::Id => format!("{}%", number.replace('.', ",")),
        }
    }

    /// The message in this locale's bundle, else in English's. A message
    /// without arguments is the same every time: it is formatted once per
    /// language and kept (a catalog page asks for the same labels on every
    /// card; looking them up through the loader's language negotiation was
    /// a third of the page's time).
    fn lookup(&self, id: &str, args: Option<&HashMap<Cow<'static, str>, FluentValue>>) -> String {
        let plain = &PLAIN[self.locale as usize];
        if args.is_none()
            && let Some(text) = plain.read().unwrap_or_else(PoisonError::into_inner).get(id)
        {
            return text.clone();
        }
        let found = LOCALES
            .lookup_single_language(language(self.locale), id, args)
            .or_else(|_| LOCALES.lookup_single_language(&EN, id, args));
        match found {
            Ok(text) => {
                if args.is_none() {
                    plain
                        .write()
                        .unwrap_or_else(PoisonError::into_inner)
                        .insert(id.to_owned(), text.clone());
                }
                text
            }
            Err(_) => {
                // The message-file test keeps this from happening.
                tracing::error!(message.id = id, locale = %self.locale, "no such message");
                id.to_owned()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_language_picks_our_best_language() {
        assert_eq!(negotiate("id-ID,id;q=0.9,en-US;q=0.8"), Some(Locale::Id));
        assert_eq!(negotiate("en-GB,en;q=0.9"), Some(Locale::En));
        assert_eq!(
            negotiate("fr-FR,fr;q=0.9,id;q=0.5,en;q=0.4"),
            Some(Locale::Id)
        );
        assert_eq!(negotiate("en;q=0.5, id;q=0.8"), Some(Locale::Id));
        assert_eq!(negotiate("in-ID"), Some(Locale::Id));
        assert_eq!(negotiate("fr, de;q=0.5"), None);
        assert_eq!(negotiate("id;q=0, en;q=0.1"), Some(Locale::En));
        assert_eq!(negotiate(""), None);
        assert_eq!(negotiate(";;;,q=,id;q=abc"), Some(Locale::Id));
    }

    #[test]
    fn plurals_follow_each_language_s_rules() {
        let en = I18n::new(Locale::En);
        let id = I18n::new(Locale::Id);
        assert_eq!(en.t1("cart-course-count", "count", 1), "1 course");
        assert_eq!(en.t1("cart-course-count", "count", 3), "3 courses");
        assert_eq!(id.t1("cart-course-count", "count", 1), "1 kursus");
        assert_eq!(id.t1("cart-course-count", "count", 3), "3 kursus");
    }
}
