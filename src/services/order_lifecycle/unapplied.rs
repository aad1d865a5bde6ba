//! Refunds of payments that never reached their order.

use super::{EventError, EventMeta};
use crate::db::DbConnection;
use crate::domain::{Currency, JournalKind, JournalStatus};
use crate::models::journal::JournalRow;
use crate::models::order::Order;
use crate::payments::webhook::ChargeObject;
use crate::services::journal::{JournalEntry, record_journal_entry};

/// A refund on an order that was canceled before its payment was applied
/// (a payment that succeeds after that is flagged, never income): the
/// money still went back, so it is journalled, as its own kind that
/// revenue does not count, and the order is left as it is.
pub(super) fn apply_unapplied_refund(
    conn: &mut DbConnection,
    order: &Order,
    charge: &ChargeObject,
    event: EventMeta<'_>,
) -> Result<String, EventError> {
    let earlier: i64 = JournalRow::for_order(conn, order.id)?
        .iter()
        .filter(|row| row.kind == JournalKind::UnappliedRefund)
        .map(|row| match row.status {
            JournalStatus::Failed => -row.amount_cents,
            _ => row.amount_cents,
        })
        .sum();
    let refunded = charge.amount_refunded;
    if refunded <= earlier {
        return Ok("refund already recorded".into());
    }
    let delta = refunded - earlier;
    record_journal_entry(
        conn,
        &JournalEntry {
            kind: JournalKind::UnappliedRefund,
            status: JournalStatus::Success,
            amount_cents: delta,
            currency: Currency::parse(&charge.currency).unwrap_or(order.currency),
            description: &format!(
                "Refund of a payment never applied to order {} ({refunded} refunded)",
                order.number
            ),
            order_id: Some(order.id),
            metadata: event.raw,
            provider_event_id: Some(event.id),
            idempotency_key: &format!("charge-{}-refund-{}", charge.id, event.id),
        },
    )?;
    tracing::warn!(order.id = %order.id, delta, "refund of a payment that was never applied");
    Ok(format!("refund of an unapplied payment: {delta}"))
}
