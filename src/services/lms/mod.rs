//! The learning platform's side of the shop: it must learn who has access
//! to which course. Two ways, both documented in the README ("The LMS
//! hand-off"):
//!
//! - **push**: every grant and revoke writes an `enrollment.granted` /
//!   `enrollment.revoked` event to an outbox in the same transaction
//!   ([`outbox`]); a worker delivers it after commit, signed like Stripe's
//!   webhooks, with retries ([`delivery`]);
//! - **pull**: a read API over the enrollments ([`enrollments`]) for
//!   bearer tokens made with `kasir api-token create` ([`tokens`]).

pub mod delivery;
pub mod enrollments;
pub mod outbox;
pub mod tokens;
