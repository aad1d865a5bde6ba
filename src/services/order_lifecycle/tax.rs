//! Sales tax in the journal: the tax a payment holds, and the tax part of
//! each refund, beside the money rows they belong to.

use crate::db::DbConnection;
use crate::domain::{JournalKind, JournalStatus};
use crate::models::order::Order;
use crate::services::journal::{JournalEntry, record_journal_entry};
use crate::services::pricing;

/// The tax part of the order's refunded total going from `before` to
/// `after`: the share of the order's tax each total holds, rounded, so
/// the parts add up to the whole tax once everything is refunded.
pub(super) fn refunded_tax(order: &Order, before: i64, after: i64) -> i64 {
    let unit = order.currency.rounding_unit();
    let share = |refunded| pricing::share_of(refunded, order.tax_cents, order.total_cents, unit);
    share(after) - share(before)
}

/// A tax row beside a money row: what of it is owed to (or back from) the
/// state. Nothing for an untaxed order.
pub(super) fn record_tax(
    conn: &mut DbConnection,
    order: &Order,
    kind: JournalKind,
    amount: i64,
    description: &str,
    idempotency_key: &str,
) -> diesel::QueryResult<()> {
    if amount <= 0 {
        return Ok(());
    }
    record_journal_entry(
        conn,
        &JournalEntry {
            kind,
            status: JournalStatus::Success,
            amount_cents: amount,
            currency: order.currency,
            description,
            order_id: Some(order.id),
            metadata: "{}",
            provider_event_id: None,
            idempotency_key,
        },
    )
    .map(drop)
}
