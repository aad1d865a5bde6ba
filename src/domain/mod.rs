//! Validated values: each is built only through `parse`, so holding one
//! proves the check passed.

mod email;
mod money;
mod user_input;

pub use email::Email;
pub use money::{Currency, Money};
pub use user_input::{DisplayName, NewPassword, Role};
