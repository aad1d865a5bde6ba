//! Mail: a receipt after paying, a notice when money goes back, a notice
//! to staff when a dispute opens, and password reset links. In the
//! reader's language, as HTML and plain text.
//!
//! A mail is queued in the transaction of what caused it ([`queue`]), so
//! it exists exactly when that committed; a worker inside `serve` sends it
//! after commit, with retries, leased so two instances never send one
//! twice ([`delivery`]). Without `SMTP_URL` mail is written to files.

pub mod delivery;
pub mod queue;
pub mod render;
