//! Promo codes: the rules, each rejection with its reason, and the
//! reservation that keeps limits under concurrency.

use chrono::NaiveDateTime;

use crate::db::DbConnection;
use crate::domain::{Currency, Money, PromoKind, RedemptionStatus};
use crate::i18n::Message;
use crate::models::promo_code::{PromoCode, PromoRedemption};
use crate::models::{CourseId, OrderId, UserId};
use crate::msg;
use crate::services::pricing::Discount;

pub const MAX_CODE_LEN: usize = 40;

/// Why a code does not apply, in words for the student.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PromoRejection {
    #[error("We don't know the promo code {0}.")]
    Unknown(String),
    #[error("The promo code {0} is no longer active.")]
    Inactive(String),
    #[error("The promo code {0} is not valid yet.")]
    NotStarted(String),
    #[error("The promo code {0} has expired.")]
    Expired(String),
    #[error("The promo code {0} has been used up.")]
    UsedUp(String),
    #[error("The promo code {code} needs a subtotal of at least {minimum}.")]
    BelowMinimum { code: String, minimum: Money },
    #[error("The promo code {0} does not apply to the courses in your cart.")]
    NotForTheseCourses(String),
    #[error("You have already used the promo code {0}.")]
    AlreadyUsedByYou(String),
    #[error("The promo code {0} is for another currency.")]
    WrongCurrency(String),
}

impl PromoRejection {
    /// The refusal, for the reader's language.
    pub fn message(&self) -> Message {
        match self {
            Self::Unknown(code) => msg!("promo-rejected-unknown", code = code.as_str()),
            Self::Inactive(code) => msg!("promo-rejected-inactive", code = code.as_str()),
            Self::NotStarted(code) => msg!("promo-rejected-not-started", code = code.as_str()),
            Self::Expired(code) => msg!("promo-rejected-expired", code = code.as_str()),
            Self::UsedUp(code) => msg!("promo-rejected-used-up", code = code.as_str()),
            Self::BelowMinimum { code, minimum } => {
                msg!(
                    "promo-rejected-minimum",
                    code = code.as_str(),
                    minimum = *minimum
                )
            }
            Self::NotForTheseCourses(code) => msg!("promo-rejected-courses", code = code.as_str()),
            Self::AlreadyUsedByYou(code) => {
                msg!("promo-rejected-used-by-you", code = code.as_str())
            }
            Self::WrongCurrency(code) => msg!("promo-rejected-currency", code = code.as_str()),
        }
    }
}

/// A code that passed every rule for this cart: what it takes off, and from which courses.
pub struct ApplicablePromo {
    pub promo: PromoCode,
    pub discount: Discount,
    /// Empty: every course.
    pub courses: Vec<CourseId>,
}

impl ApplicablePromo {
    pub fn applies_to(&self, course: CourseId) -> bool {
        self.courses.is_empty() || self.courses.contains(&course)
    }

    /// The code and its terms as they were, kept on the order.
    pub fn snapshot(&self) -> String {
        serde_json::json!({
            "code": self.promo.code,
            "kind": self.promo.kind.as_str(),
            "percent_bps": self.promo.percent_bps,
            "amount_cents": self.promo.amount_cents,
            "currency": self.promo.currency.map(|c| c.code()),
            "courses": self.courses.iter().map(|c| c.0).collect::<Vec<_>>(),
        })
        .to_string()
    }
}

/// Codes are case-insensitive: stored and compared upper-cased.
pub fn normalize_code(raw: &str) -> Option<String> {
    let code = raw.trim().to_uppercase();
    (!code.is_empty()).then_some(code)
}

pub struct Cart<'a> {
    /// None: a guest (their own limits are checked at checkout).
    pub user_id: Option<UserId>,
    pub courses: &'a [CourseId],
    pub subtotal_cents: i64,
    pub currency: Currency,
}

/// Checks every rule for this cart and user.
pub fn check(
    conn: &mut DbConnection,
    code: &str,
    cart: &Cart<'_>,
    now: NaiveDateTime,
) -> Result<Result<ApplicablePromo, PromoRejection>, diesel::result::Error> {
    if code.chars().count() > MAX_CODE_LEN {
        // Echoed back to the student: never more than a code's length.
        let shown: String = code.chars().take(MAX_CODE_LEN).collect();
        return Ok(Err(PromoRejection::Unknown(format!("{shown}…"))));
    }
    let shown = code.to_owned();
    let Some(promo) = PromoCode::find_by_code(conn, code)? else {
        return Ok(Err(PromoRejection::Unknown(shown)));
    };
    if !promo.active {
        return Ok(Err(PromoRejection::Inactive(shown)));
    }
    if promo.starts_at.is_some_and(|start| now < start) {
        return Ok(Err(PromoRejection::NotStarted(shown)));
    }
    if promo.ends_at.is_some_and(|end| now >= end) {
        return Ok(Err(PromoRejection::Expired(shown)));
    }
    if promo
        .max_redemptions
        .is_some_and(|max| promo.reserved_count >= max)
    {
        return Ok(Err(PromoRejection::UsedUp(shown)));
    }
    let discount = match (promo.kind, promo.percent_bps, promo.amount_cents) {
        (PromoKind::Percent, Some(bps), _) => Discount::PercentBps(bps),
        (PromoKind::Fixed, _, Some(amount)) => {
            if promo.currency != Some(cart.currency) {
                return Ok(Err(PromoRejection::WrongCurrency(shown)));
            }
            Discount::Fixed(amount)
        }
        _ => return Ok(Err(PromoRejection::Inactive(shown))),
    };
    if cart.subtotal_cents < promo.min_subtotal_cents {
        return Ok(Err(PromoRejection::BelowMinimum {
            code: shown,
            minimum: Money::new(promo.min_subtotal_cents, cart.currency),
        }));
    }
    let courses = PromoCode::course_ids(conn, promo.id)?;
    if !courses.is_empty() && !cart.courses.iter().any(|c| courses.contains(c)) {
        return Ok(Err(PromoRejection::NotForTheseCourses(shown)));
    }
    if let (Some(limit), Some(user)) = (promo.per_user_limit, cart.user_id)
        && PromoRedemption::live_count_for_user(conn, promo.id, user)? >= limit
    {
        return Ok(Err(PromoRejection::AlreadyUsedByYou(shown)));
    }
    Ok(Ok(ApplicablePromo {
        promo,
        discount,
        courses,
    }))
}

/// Reserves one use of the code for this order, inside the order's
/// transaction. The global limit is a conditional increment; the per-user
/// limit is counted after it, while the code's row is held.
pub fn reserve_promo_redemption(
    conn: &mut DbConnection,
    applicable: &ApplicablePromo,
    order_id: OrderId,
    user_id: UserId,
    now: NaiveDateTime,
) -> Result<Result<(), PromoRejection>, diesel::result::Error> {
    let promo = &applicable.promo;
    if !PromoCode::take_one_use(conn, promo.id, now)? {
        return Ok(Err(PromoRejection::UsedUp(promo.code.clone())));
    }
    if let Some(limit) = promo.per_user_limit
        && PromoRedemption::live_count_for_user(conn, promo.id, user_id)? >= limit
    {
        return Ok(Err(PromoRejection::AlreadyUsedByYou(promo.code.clone())));
    }
    PromoRedemption::reserve(conn, promo.id, order_id, user_id, now)?;
    Ok(Ok(()))
}

/// Gives the order's reserved use back (payment failed for good, order
/// canceled or superseded). Does nothing for a redeemed or released one.
pub fn release_promo_redemption(
    conn: &mut DbConnection,
    order_id: OrderId,
    promo_code_id: Option<crate::models::PromoCodeId>,
    now: NaiveDateTime,
) -> diesel::QueryResult<bool> {
    let Some(code_id) = promo_code_id else {
        return Ok(false);
    };
    if PromoRedemption::transition(
        conn,
        order_id,
        RedemptionStatus::Reserved,
        RedemptionStatus::Released,
        now,
    )? {
        PromoCode::give_back_one_use(conn, code_id, now)?;
        return Ok(true);
    }
    Ok(false)
}
