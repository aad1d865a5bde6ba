//! Disputes, with Stripe's statuses mapped exactly: a chargeback that is
//! open (`needs_response`, `under_review`) suspends the access the order
//! gave, `lost` ends it and counts as a loss, `won` and `prevented` give it
//! back; inquiries (`warning_*`) take nothing and change no access. The
//! dispute's state is kept on the order, where the access rule reads it; the
//! invoice gets a credit note when a chargeback takes the money, a debit
//! note when it is won back (see `notes`).

use super::access::{restore_order_access, revoke_order_access};
use super::notes::dispute_note;
use super::{EventError, EventMeta};
use crate::db::{self, DbConnection};
use crate::domain::{AccessEnd, DisputeStatus, JournalKind, JournalStatus};
use crate::models::order::Order;
use crate::payments::webhook::DisputeObject;
use crate::services::journal::{JournalEntry, record_journal_entry};

/// Which dispute event this is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DisputePhase {
    Created,
    Updated,
    Closed,
}

/// Applies a dispute event to its (paid, locked) order.
pub fn apply_dispute(
    conn: &mut DbConnection,
    order: &Order,
    dispute: &DisputeObject,
    phase: DisputePhase,
    event: EventMeta<'_>,
) -> Result<String, EventError> {
    let status =
        DisputeStatus::parse(&dispute.status).map_err(|e| EventError::Unreadable(e.to_string()))?;
    let same_currency = dispute.currency.eq_ignore_ascii_case(order.currency.code());
    if !same_currency || dispute.amount > order.total_cents {
        let problem = format!(
            "dispute {} of {} {} does not match order {} ({} {})",
            dispute.id,
            dispute.amount,
            dispute.currency.to_uppercase(),
            order.number,
            order.total_cents,
            order.currency
        );
        Order::flag_for_review(conn, order.id, &problem, db::now())?;
        journal(
            conn,
            order,
            dispute,
            JournalKind::PaymentMismatch,
            JournalStatus::Failed,
            &problem,
            &format!("dispute-{}-mismatch", dispute.id),
            event,
        )?;
        return Ok(format!("not applied: {problem}"));
    }
    let now = db::now();
    // Deliveries come in any order: a late one (an inquiry's status after
    // its chargeback, anything after the decision) is recorded and changes
    // nothing.
    let stale = order.dispute_id.as_deref() == Some(dispute.id.as_str())
        && order
            .dispute_status
            .is_some_and(|current| !current.can_become(status));
    match phase {
        DisputePhase::Created => {
            journal(
                conn,
                order,
                dispute,
                JournalKind::Dispute,
                JournalStatus::Pending,
                &format!(
                    "Dispute {} opened ({status}) on order {}",
                    dispute.id, order.number
                ),
                &format!("dispute-{}-created", dispute.id),
                event,
            )?;
            if !stale {
                crate::services::mail::queue::dispute_notice(
                    conn,
                    order,
                    dispute.amount,
                    status,
                    now,
                )?;
            }
        }
        DisputePhase::Updated => {}
        DisputePhase::Closed => {
            let lost = status == DisputeStatus::Lost;
            journal(
                conn,
                order,
                dispute,
                JournalKind::Dispute,
                if lost {
                    JournalStatus::Failed
                } else {
                    JournalStatus::Success
                },
                &format!(
                    "Dispute {} closed ({status}) on order {}",
                    dispute.id, order.number
                ),
                &format!("dispute-{}-closed", dispute.id),
                event,
            )?;
        }
    }
    if stale {
        return Ok(format!(
            "dispute {} is already past {status} ({}): unchanged",
            dispute.id,
            order.dispute_status.map_or("", DisputeStatus::as_str)
        ));
    }
    Order::set_dispute(conn, order.id, &dispute.id, status, now)?;
    let note = dispute_note(conn, order, &dispute.id, dispute.amount, status, now)?;
    // The order as the access rule reads it: with its new status.
    let order = Order {
        dispute_status: Some(status),
        ..order.clone()
    };
    let outcome = match status {
        DisputeStatus::NeedsResponse | DisputeStatus::UnderReview => {
            let suspended = revoke_order_access(conn, &order, AccessEnd::DisputeOpened, now)?;
            format!("dispute {status}: access suspended for {suspended} course(s)")
        }
        DisputeStatus::Lost => {
            // Also when the "created" delivery has not come.
            let ended = revoke_order_access(conn, &order, AccessEnd::DisputeLost, now)?;
            format!("dispute lost: access ended for {ended} course(s)")
        }
        DisputeStatus::Won | DisputeStatus::Prevented | DisputeStatus::WarningClosed => {
            let restored = restore_order_access(conn, &order, now)?;
            format!("dispute {status}: nothing taken, access restored for {restored} course(s)")
        }
        DisputeStatus::WarningNeedsResponse | DisputeStatus::WarningUnderReview => {
            format!("inquiry {status}: recorded, access unchanged")
        }
    };
    Ok(match note {
        Some(note) => format!("{outcome}; {} issued", note.number),
        None => outcome,
    })
}

#[expect(
    clippy::too_many_arguments,
    reason = "one journal row's fields, named at each call"
)]
fn journal(
    conn: &mut DbConnection,
    order: &Order,
    dispute: &DisputeObject,
    kind: JournalKind,
    status: JournalStatus,
    description: &str,
    key: &str,
    event: EventMeta<'_>,
) -> diesel::QueryResult<bool> {
    record_journal_entry(
        conn,
        &JournalEntry {
            kind,
            status,
            amount_cents: dispute.amount,
            currency: order.currency,
            description,
            order_id: Some(order.id),
            metadata: event.raw,
            provider_event_id: Some(event.id),
            idempotency_key: key,
        },
    )
}
