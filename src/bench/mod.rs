//! What `bench/run.sh` needs from the application itself (hidden
//! `kasir bench ...` commands, built with the `bench` feature): a large
//! history seeded in batches, signed webhook events for the pending orders
//! it left, and the money invariants checked after a load run. Nothing here
//! is in the shop's own build.

mod check;
mod events;
mod history;
mod seed;

pub use check::check_invariants;
pub use events::write_webhook_events;
pub use seed::seed;

/// Every seeded account's password (students and the staff account).
pub const PASSWORD: &str = "bench-password";
pub const STAFF_EMAIL: &str = "bench-staff@example.com";
/// The launch promo code: 20 % off, used by every 8th historical order.
pub const PROMO_CODE: &str = "BENCH20";
pub(crate) const PROMO_BPS: i64 = 2_000;
/// Rows per INSERT: orders have 14 columns, so 500 rows stay well under
/// SQLite's 32,766 and PostgreSQL's 65,535 bind parameters.
pub(crate) const BATCH: usize = 500;

pub fn user_email(n: u32) -> String {
    format!("bench-user-{n}@example.com")
}

/// How much history to make.
#[derive(Clone, Copy, Debug)]
pub struct SeedPlan {
    pub courses: u32,
    pub users: u32,
    /// Paid historical orders spread over the past year (every 50th refunded).
    pub orders: u32,
    /// Pending orders with a PaymentIntent, waiting for their webhook.
    pub pending: u32,
    /// Users (the first ones) who get a cart with three courses.
    pub carts: u32,
}

#[derive(Debug, Default)]
pub struct SeedReport {
    pub orders: u64,
    pub journal_rows: u64,
    pub grants: u64,
}

/// `ORD-<year>-<id>`-style number of a seeded order.
fn order_number(created: chrono::NaiveDateTime, id: crate::models::OrderId) -> String {
    format!("ORD-{}-{:06}", created.format("%Y"), id.0)
}
