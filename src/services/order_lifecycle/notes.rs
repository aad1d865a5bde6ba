//! The notes that correct an invoice after it was issued: a credit note
//! when a refund or a chargeback takes money back, a debit note when
//! either is undone (a refund that failed, a chargeback the shop won).
//! Each is issued in the transaction that applies its event, with the tax
//! part of its amount, and once per dispute or refund.

use chrono::NaiveDateTime;

use super::tax::{record_tax, refunded_tax};
use crate::db::DbConnection;
use crate::domain::{DisputeStatus, JournalKind, NoteCause};
use crate::models::credit_note::{CreditNote, NewCreditNote};
use crate::models::order::Order;

/// A note on `order`'s invoice.
pub(super) struct Note<'a> {
    pub cause: NoteCause,
    pub source_id: Option<&'a str>,
    pub amount_cents: i64,
    pub tax_cents: i64,
    pub reason: Option<&'a str>,
}

pub(super) fn issue_note(
    conn: &mut DbConnection,
    order: &Order,
    note: &Note<'_>,
    now: NaiveDateTime,
) -> diesel::QueryResult<CreditNote> {
    CreditNote::issue(
        conn,
        &NewCreditNote {
            order_id: order.id,
            invoice_number: order.invoice_number.as_deref().unwrap_or(&order.number),
            amount_cents: note.amount_cents,
            currency: order.currency,
            reason: note.reason,
            tax_cents: note.tax_cents,
            cause: note.cause,
            source_id: note.source_id,
        },
        now,
    )
}

/// A chargeback takes its amount back with a credit note the first time
/// the dispute is seen as one (open or already lost); a dispute won (or
/// prevented) after that puts it back with a debit note. Inquiries move
/// no money and issue nothing. Returns the note issued, if any.
pub(super) fn dispute_note(
    conn: &mut DbConnection,
    order: &Order,
    dispute_id: &str,
    amount: i64,
    status: DisputeStatus,
    now: NaiveDateTime,
) -> diesel::QueryResult<Option<CreditNote>> {
    let opened = CreditNote::find_for(conn, NoteCause::Dispute, dispute_id)?;
    match status {
        DisputeStatus::NeedsResponse | DisputeStatus::UnderReview | DisputeStatus::Lost => {
            if opened.is_some() {
                return Ok(None);
            }
            let before = CreditNote::credited_total(conn, order.id)?;
            let tax = refunded_tax(order, before, before + amount);
            let reason = format!("Chargeback {dispute_id}");
            let note = issue_note(
                conn,
                order,
                &Note {
                    cause: NoteCause::Dispute,
                    source_id: Some(dispute_id),
                    amount_cents: amount,
                    tax_cents: tax,
                    reason: Some(&reason),
                },
                now,
            )?;
            record_tax(
                conn,
                order,
                JournalKind::TaxRefunded,
                tax,
                &format!("Tax part of credit note {} ({reason})", note.number),
                &format!("dispute-{dispute_id}-tax"),
            )?;
            Ok(Some(note))
        }
        DisputeStatus::Won | DisputeStatus::Prevented => {
            let Some(opened) = opened else {
                return Ok(None);
            };
            if CreditNote::find_for(conn, NoteCause::DisputeWon, dispute_id)?.is_some() {
                return Ok(None);
            }
            let reason = format!("Chargeback {dispute_id} decided for the shop ({status})");
            let note = issue_note(
                conn,
                order,
                &Note {
                    cause: NoteCause::DisputeWon,
                    source_id: Some(dispute_id),
                    amount_cents: opened.amount_cents,
                    tax_cents: opened.tax_cents,
                    reason: Some(&reason),
                },
                now,
            )?;
            record_tax(
                conn,
                order,
                JournalKind::Tax,
                opened.tax_cents,
                &format!("Tax owed again with debit note {}", note.number),
                &format!("dispute-{dispute_id}-won-tax"),
            )?;
            Ok(Some(note))
        }
        DisputeStatus::WarningNeedsResponse
        | DisputeStatus::WarningUnderReview
        | DisputeStatus::WarningClosed => Ok(None),
    }
}
