//! The financial journal: the only writer of `financial_journals`. Rows are
//! appended inside the caller's transaction, next to the change they record,
//! and keyed so that a retried step cannot write twice.

use crate::db::{self, DbConnection};
use crate::models::OrderId;
use crate::models::journal::{JournalRow, NewJournalRow};

/// Journal `type` values.
pub mod kind {
    pub const PAYMENT_INITIATED: &str = "payment_initiated";
    pub const INCOME: &str = "income";
    pub const CANCELED: &str = "canceled";
}

/// Journal `status` values.
pub mod status {
    pub const PENDING: &str = "pending";
    pub const SUCCESS: &str = "success";
}

pub struct JournalEntry<'a> {
    pub kind: &'a str,
    pub status: &'a str,
    pub amount_cents: i64,
    pub currency: &'a str,
    pub description: &'a str,
    pub order_id: Option<OrderId>,
    /// The provider's JSON as it came, or our own JSON describing the step.
    pub metadata: &'a str,
    pub provider_event_id: Option<&'a str>,
    pub idempotency_key: &'a str,
}

/// Appends the entry unless one with its idempotency key exists; returns
/// whether it wrote. Call it inside the transaction that makes the change.
pub fn record_journal_entry(
    conn: &mut DbConnection,
    entry: &JournalEntry<'_>,
) -> diesel::QueryResult<bool> {
    if JournalRow::exists(conn, entry.idempotency_key)? {
        return Ok(false);
    }
    NewJournalRow {
        kind: entry.kind,
        amount_cents: entry.amount_cents,
        currency: entry.currency,
        status: entry.status,
        description: entry.description,
        reference_id: entry.order_id,
        metadata: entry.metadata,
        provider_event_id: entry.provider_event_id,
        idempotency_key: entry.idempotency_key,
        created_at: db::now(),
    }
    .insert(conn)?;
    Ok(true)
}
