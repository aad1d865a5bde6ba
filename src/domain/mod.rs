//! Validated values: each is built only through `parse`, so holding one
//! proves the check passed.

mod email;
mod money;
mod note;
mod status;
mod tax_id;
pub(crate) mod text_enum;
mod user_input;

pub use email::Email;
pub use money::{Currency, Money};
pub use note::NoteCause;
pub use status::{
    AccessEnd, DisputeStatus, EnrollmentReason, IntentStatus, JournalKind, JournalStatus, LmsEvent,
    Locale, MailKind, OrderStatus, PromoKind, Provider, RedemptionStatus, RefundStatus, Role,
    StripeEvent, UnknownValue,
};
pub use tax_id::TaxId;
pub use user_input::{DisplayName, NewPassword};
