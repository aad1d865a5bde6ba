//! Staff management of promo codes: list with usage, create, deactivate.

use std::str::FromStr;

use bigdecimal::{BigDecimal, ToPrimitive};
use chrono::NaiveDateTime;

use crate::db::{self, DbConnection};
use crate::domain::{Currency, Locale, Money, PromoKind};
use crate::i18n::Message;
use crate::models::course::Course;
use crate::models::promo_code::{NewPromoCode, PromoCode};
use crate::models::{CourseId, PromoCodeId, is_unique_violation};
use crate::msg;
use crate::services::promo::{MAX_CODE_LEN, normalize_code};

/// The create form as typed; every field is checked here.
#[derive(Debug)]
pub struct PromoInput {
    pub code: String,
    pub kind: String,
    pub percent: String,
    pub amount: String,
    pub starts_at: String,
    pub ends_at: String,
    pub max_redemptions: String,
    pub per_user_limit: String,
    pub min_subtotal: String,
    pub course_ids: Vec<String>,
    /// The language the form was typed in (its amounts' separators).
    pub locale: Locale,
}

#[derive(Debug, thiserror::Error)]
pub enum PromoAdminError {
    #[error("{}", .0.id)]
    Invalid(Message),
    #[error(transparent)]
    Database(#[from] diesel::result::Error),
}

fn optional(input: &str) -> Option<&str> {
    let trimmed = input.trim();
    (!trimmed.is_empty()).then_some(trimmed)
}

/// `datetime-local` input (`2026-12-01T09:00`), read as UTC.
/// `datetime-local` input (`2026-12-01T09:00`), read as UTC; `refusal`
/// names the field.
fn parse_time(refusal: &'static str, input: &str) -> Result<Option<NaiveDateTime>, Message> {
    optional(input)
        .map(|value| {
            NaiveDateTime::parse_from_str(value, "%Y-%m-%dT%H:%M")
                .or_else(|_| NaiveDateTime::parse_from_str(value, "%Y-%m-%dT%H:%M:%S"))
                .map_err(|_| Message::new(refusal))
        })
        .transpose()
}

fn parse_count(refusal: &'static str, input: &str) -> Result<Option<i64>, Message> {
    optional(input)
        .map(|value| {
            value
                .parse::<i64>()
                .ok()
                .filter(|n| (1..=1_000_000_000).contains(n))
                .ok_or_else(|| Message::new(refusal))
        })
        .transpose()
}

/// "20" or "12.5" (percent; "12,5" in Indonesian) into basis points.
fn parse_percent(input: &str) -> Result<i32, Message> {
    let bps = BigDecimal::from_str(&input.trim().replace(',', "."))
        .ok()
        .map(|p| p * BigDecimal::from(100))
        .filter(BigDecimal::is_integer)
        .and_then(|b| b.to_i32())
        .filter(|b| (1..=10_000).contains(b));
    bps.ok_or_else(|| msg!("promo-bad-percent"))
}

pub fn create_promo_code(
    conn: &mut DbConnection,
    input: &PromoInput,
    currency: Currency,
) -> Result<PromoCodeId, PromoAdminError> {
    let invalid = PromoAdminError::Invalid;
    let code = normalize_code(&input.code).ok_or_else(|| invalid(msg!("promo-enter-code")))?;
    if code.chars().count() > MAX_CODE_LEN
        || !code
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        return Err(invalid(msg!("promo-bad-code", max = MAX_CODE_LEN)));
    }
    let kind = PromoKind::parse(&input.kind).map_err(|_| invalid(msg!("promo-choose-kind")))?;
    let (percent_bps, amount_cents, code_currency) = match kind {
        PromoKind::Percent => (
            Some(parse_percent(&input.percent).map_err(invalid)?),
            None,
            None,
        ),
        PromoKind::Fixed => {
            let amount =
                Money::parse_major_in(&input.amount, currency, input.locale).map_err(invalid)?;
            if amount.minor == 0 {
                return Err(invalid(msg!("promo-zero-amount")));
            }
            (None, Some(amount.minor), Some(currency))
        }
    };
    let starts_at = parse_time("promo-bad-start", &input.starts_at).map_err(invalid)?;
    let ends_at = parse_time("promo-bad-end", &input.ends_at).map_err(invalid)?;
    if let (Some(start), Some(end)) = (starts_at, ends_at)
        && end <= start
    {
        return Err(invalid(msg!("promo-end-before-start")));
    }
    let max_redemptions =
        parse_count("promo-bad-total-uses", &input.max_redemptions).map_err(invalid)?;
    let per_user_limit =
        parse_count("promo-bad-per-student", &input.per_user_limit).map_err(invalid)?;
    let min_subtotal_cents = match optional(&input.min_subtotal) {
        None => 0,
        Some(value) => {
            Money::parse_major_in(value, currency, input.locale)
                .map_err(invalid)?
                .minor
        }
    };
    let mut courses = Vec::new();
    for raw in &input.course_ids {
        let id = raw
            .trim()
            .parse::<i64>()
            .map(CourseId)
            .map_err(|_| invalid(msg!("promo-unknown-course")))?;
        if Course::find(conn, id)?.is_none() {
            return Err(invalid(msg!("promo-unknown-course")));
        }
        courses.push(id);
    }
    courses.sort();
    courses.dedup();
    let now = db::now();
    let new = NewPromoCode {
        code: &code,
        kind,
        percent_bps,
        amount_cents,
        currency: code_currency,
        starts_at,
        ends_at,
        max_redemptions,
        per_user_limit,
        min_subtotal_cents,
        active: true,
        created_at: now,
        updated_at: now,
    };
    db::write_transaction(conn, |conn| new.insert(conn, &courses)).map_err(|e| {
        if is_unique_violation(&e) {
            PromoAdminError::Invalid(msg!("promo-exists", code = code.clone()))
        } else {
            e.into()
        }
    })
}

pub fn deactivate(conn: &mut DbConnection, id: PromoCodeId) -> diesel::QueryResult<bool> {
    Ok(PromoCode::deactivate(conn, id, db::now())? == 1)
}

/// A code as the staff list shows it.
pub struct PromoRow {
    pub promo: PromoCode,
    /// How many courses it is limited to (0: every course).
    pub course_count: usize,
    /// The shop's currency, which minimum subtotals are in.
    pub currency: Currency,
}

impl PromoRow {
    /// A fixed discount, as money.
    pub fn fixed_amount(&self) -> Option<Money> {
        self.promo
            .amount_cents
            .zip(self.promo.currency)
            .map(|(minor, currency)| Money::new(minor, currency))
    }

    pub fn min_subtotal(&self) -> Option<Money> {
        (self.promo.min_subtotal_cents > 0)
            .then(|| Money::new(self.promo.min_subtotal_cents, self.currency))
    }
}

pub fn list(conn: &mut DbConnection, currency: Currency) -> diesel::QueryResult<Vec<PromoRow>> {
    let mut rows = Vec::new();
    for promo in PromoCode::list(conn)? {
        let course_count = PromoCode::course_ids(conn, promo.id)?.len();
        rows.push(PromoRow {
            promo,
            course_count,
            currency,
        });
    }
    Ok(rows)
}
