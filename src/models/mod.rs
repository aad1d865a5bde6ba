//! Row structs, insert structs and the reusable queries over them. Every
//! query takes `&mut DbConnection`, so a service can run several inside one
//! transaction.
//!
//! Insert structs say `treat_none_as_default_value = false`: every field is
//! a bound parameter, `None` a NULL (their optional columns are nullable
//! with no default), never the `DEFAULT` keyword, which makes diesel decline
//! to keep the INSERT prepared on PostgreSQL; with it, the payment's journal,
//! mail and LMS rows were parsed and planned at every payment.

pub mod api_token;
pub mod billing;
pub mod cart;
pub mod course;
pub mod course_change;
pub mod credit_note;
pub mod document_sequence;
pub mod ids;
pub mod installation;
pub mod journal;
pub mod lms_outbox;
pub mod login_attempt;
pub mod mail_outbox;
pub mod order;
pub mod order_item;
pub mod order_lookup;
mod order_paid;
mod outbox;
pub mod promo_code;
pub mod refund;
pub mod sandbox_intent;
pub mod seller_settings;
pub mod user;
pub mod user_course;
pub mod webhook_event;

pub use ids::{CartId, CourseId, OrderId, PromoCodeId, UserId};

/// Is this the unique constraint saying "already there"? Retries and races
/// rely on it instead of a check-then-write.
pub fn is_unique_violation(e: &diesel::result::Error) -> bool {
    use diesel::result::{DatabaseErrorKind, Error};
    matches!(
        e,
        Error::DatabaseError(DatabaseErrorKind::UniqueViolation, _)
    )
}
