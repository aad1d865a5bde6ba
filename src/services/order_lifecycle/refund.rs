//! Refunds: `paid -> partially_refunded -> refunded` as the charge's
//! refunded amount grows, and back down when a refund fails or is
//! canceled after it was counted (a correcting journal row, never an edit).
//!
//! Stripe's `charge.refunded` carries the charge as it was when the event
//! was made: a cumulative `amount_refunded`. Events may arrive in any
//! order, so each refund's own status is kept too, and a snapshot taken
//! before a refund failed is read without that refund.

use chrono::NaiveDateTime;

use super::access::{restore_order_access, revoke_order_access};
use super::notes::{Note, issue_note};
use super::tax::{record_tax, refunded_tax};
use super::unapplied::apply_unapplied_refund;
use super::{EventError, EventMeta};
use crate::db::{self, DbConnection};
use crate::domain::{
    AccessEnd, JournalKind, JournalStatus, Money, NoteCause, OrderStatus, RefundStatus,
};
use crate::models::order::Order;
use crate::models::refund::{ObservedRefund, RefundRequestRow, RefundRow};
use crate::payments::webhook::{ChargeObject, RefundObject};
use crate::services::journal::{JournalEntry, record_journal_entry};

/// `charge.refunded`: the order's refunded amount rises to the charge's,
/// less the refunds known to have failed since the snapshot was taken.
pub fn apply_charge_refunded(
    conn: &mut DbConnection,
    order: &Order,
    charge: &ChargeObject,
    event: EventMeta<'_>,
) -> Result<String, EventError> {
    if order.status == OrderStatus::Pending {
        return Err(EventError::NotReady(format!(
            "order {} is not paid yet",
            order.number
        )));
    }
    if let Some(problem) = foreign_money(order, &charge.currency, charge.amount) {
        return flag(
            conn,
            order,
            &problem,
            &format!("charge-{}-mismatch", charge.id),
            event,
        );
    }
    let now = db::now();
    for listed in charge.refunds.iter().flat_map(|list| &list.data) {
        let reversed_as_of = listed.status()?.is_reversed().then_some(event.created);
        RefundRow::record(conn, &observed(order, listed)?, reversed_as_of, now)?;
    }
    if order.paid_at.is_none() {
        return apply_unapplied_refund(conn, order, charge, event);
    }
    // Refunds made before this snapshot that failed after it are in its
    // cumulative amount, but no longer refunded.
    let failed_since: i64 = RefundRow::reversed_for_order(conn, order.id)?
        .iter()
        .filter(|r| {
            r.provider_created_at <= event.created
                && r.reversed_as_of.is_some_and(|at| at > event.created)
        })
        .map(|r| r.amount_cents)
        .sum();
    let refunded = (charge.amount_refunded - failed_since).clamp(0, order.total_cents);
    let as_of = Some(
        order
            .refunds_as_of
            .map_or(event.created, |t| t.max(event.created)),
    );
    if refunded <= order.refunded_cents {
        if refunded == order.refunded_cents {
            Order::set_refunded(conn, order.id, refunded, order.status, as_of, now)?;
        }
        return Ok("refund already recorded".into());
    }
    let full = refunded >= order.total_cents;
    let status = if full {
        OrderStatus::Refunded
    } else {
        OrderStatus::PartiallyRefunded
    };
    Order::set_refunded(conn, order.id, refunded, status, as_of, now)?;
    let delta = refunded - order.refunded_cents;
    // Staff's reasons for the refunds this amount counts; none for a
    // refund made in the provider's dashboard.
    let reasons: Vec<String> = RefundRequestRow::explain(conn, order.id, delta, now)?
        .into_iter()
        .map(|r| r.reason)
        .collect();
    // The tax part of what was refunded.
    let tax_part = refunded_tax(order, order.refunded_cents, refunded);
    // The document for the accountant, in the same transaction.
    let reason = (!reasons.is_empty()).then(|| reasons.join("; "));
    let note = issue_note(
        conn,
        order,
        &Note {
            cause: NoteCause::Refund,
            source_id: None,
            amount_cents: delta,
            tax_cents: tax_part,
            reason: reason.as_deref(),
        },
        now,
    )?;
    let invoice = &note.invoice_number;
    let mut description = format!(
        "Refund on order {} ({} of {} refunded), credit note {} on invoice {invoice}",
        order.number,
        Money::new(refunded, order.currency),
        Money::new(order.total_cents, order.currency),
        note.number,
    );
    if let Some(reason) = &reason {
        description = format!("{description}: {reason}");
    }
    record_journal_entry(
        conn,
        &JournalEntry {
            kind: JournalKind::Refund,
            status: JournalStatus::Success,
            amount_cents: delta,
            currency: order.currency,
            description: &description,
            order_id: Some(order.id),
            metadata: event.raw,
            provider_event_id: Some(event.id),
            idempotency_key: &format!("charge-{}-refund-{}", charge.id, event.id),
        },
    )?;
    record_tax(
        conn,
        order,
        JournalKind::TaxRefunded,
        tax_part,
        &format!("Tax part of credit note {}", note.number),
        &format!("charge-{}-refund-{}-tax", charge.id, event.id),
    )?;
    crate::services::mail::queue::refund_notice(conn, order, delta, full, now)?;
    if full {
        let revoked = revoke_order_access(conn, order, AccessEnd::Refunded, now)?;
        return Ok(format!("full refund: access ended for {revoked} course(s)"));
    }
    Ok(format!("partial refund of {delta}"))
}

/// `refund.created`, `refund.updated`, `refund.failed`,
/// `charge.refund.updated`: the refund's status is kept; one that failed
/// or was canceled after it was counted takes its amount back off the
/// order, with a correcting journal row, and gives access back when the
/// refund had ended it and nothing else did.
pub fn apply_refund_update(
    conn: &mut DbConnection,
    order: &Order,
    refund: &RefundObject,
    event: EventMeta<'_>,
) -> Result<String, EventError> {
    if let Some(problem) = foreign_money(order, &refund.currency, refund.amount) {
        return flag(
            conn,
            order,
            &problem,
            &format!("refund-{}-mismatch", refund.id),
            event,
        );
    }
    let status = refund.status()?;
    let now = db::now();
    let before = RefundRow::find(conn, &refund.id)?;
    let reversed_as_of = status.is_reversed().then_some(event.created);
    let row = RefundRow::record(conn, &observed(order, refund)?, reversed_as_of, now)?;
    if !status.is_reversed() || before.is_some_and(|b| b.status.is_reversed()) {
        return Ok(format!("refund {} is {}", refund.id, row.status));
    }
    if order.paid_at.is_none() {
        // A refund of a payment never applied: journalled outside revenue.
        record_reversal(
            conn,
            order,
            refund,
            JournalKind::UnappliedRefund,
            refund.amount,
            event,
        )?;
        return Ok(format!(
            "refund {} of an unapplied payment {status}",
            refund.id
        ));
    }
    // Counted: the snapshot our amount comes from was taken after the
    // refund was made and before it failed.
    let counted = order
        .refunds_as_of
        .is_some_and(|as_of| row.provider_created_at <= as_of && as_of < event.created);
    let taken_back = if counted {
        refund.amount.min(order.refunded_cents)
    } else {
        0
    };
    record_reversal(
        conn,
        order,
        refund,
        JournalKind::RefundReversed,
        taken_back,
        event,
    )?;
    if taken_back == 0 {
        return Ok(format!(
            "refund {} {status} before it was counted",
            refund.id
        ));
    }
    let refunded = order.refunded_cents - taken_back;
    // The tax part of a refund that did not happen is owed again.
    let tax_back = refunded_tax(order, refunded, order.refunded_cents);
    // The credit note stays as issued; a debit note puts the money back.
    let reason = format!("Refund {} {status} after it was counted", refund.id);
    let note = issue_note(
        conn,
        order,
        &Note {
            cause: NoteCause::RefundReversed,
            source_id: Some(&refund.id),
            amount_cents: taken_back,
            tax_cents: tax_back,
            reason: Some(&reason),
        },
        now,
    )?;
    record_tax(
        conn,
        order,
        JournalKind::Tax,
        tax_back,
        &format!("Tax owed again with debit note {}", note.number),
        &format!("refund-{}-reversed-tax", refund.id),
    )?;
    let new_status = if refunded == 0 {
        OrderStatus::Paid
    } else {
        OrderStatus::PartiallyRefunded
    };
    Order::set_refunded(
        conn,
        order.id,
        refunded,
        new_status,
        order.refunds_as_of,
        now,
    )?;
    let order = Order::find(conn, order.id)?.ok_or(diesel::result::Error::NotFound)?;
    let restored = restore_order_access(conn, &order, now)?;
    Ok(format!(
        "refund {} {status}: {taken_back} back on the order, access restored for {restored} course(s)",
        refund.id
    ))
}

fn observed<'a>(order: &Order, refund: &'a RefundObject) -> Result<ObservedRefund<'a>, EventError> {
    Ok(ObservedRefund {
        provider_refund_id: &refund.id,
        order_id: order.id,
        amount_cents: refund.amount,
        currency: order.currency,
        status: refund.status()?,
        provider_created_at: refund.created_at(),
    })
}

/// Money in another currency than the order's, or more than it: not this
/// order's to apply.
fn foreign_money(order: &Order, currency: &str, amount: i64) -> Option<String> {
    let same_currency = currency.eq_ignore_ascii_case(order.currency.code());
    (!same_currency || amount > order.total_cents).then(|| {
        format!(
            "a charge or refund of {amount} {} does not match order {} ({} {})",
            currency.to_uppercase(),
            order.number,
            order.total_cents,
            order.currency
        )
    })
}

fn flag(
    conn: &mut DbConnection,
    order: &Order,
    problem: &str,
    key: &str,
    event: EventMeta<'_>,
) -> Result<String, EventError> {
    Order::flag_for_review(conn, order.id, problem, db::now())?;
    record_journal_entry(
        conn,
        &JournalEntry {
            kind: JournalKind::PaymentMismatch,
            status: JournalStatus::Failed,
            amount_cents: 0,
            currency: order.currency,
            description: problem,
            order_id: Some(order.id),
            metadata: event.raw,
            provider_event_id: Some(event.id),
            idempotency_key: key,
        },
    )?;
    tracing::error!(order.id = %order.id, "{problem}");
    Ok(format!("not applied: {problem}"))
}

fn record_reversal(
    conn: &mut DbConnection,
    order: &Order,
    refund: &RefundObject,
    kind: JournalKind,
    amount: i64,
    event: EventMeta<'_>,
) -> diesel::QueryResult<bool> {
    record_journal_entry(
        conn,
        &JournalEntry {
            kind,
            status: JournalStatus::Failed,
            amount_cents: amount,
            currency: order.currency,
            description: &format!(
                "Refund {} of {} on order {} {}: the money stayed with the shop",
                refund.id,
                refund.amount,
                order.number,
                refund.status.as_deref().unwrap_or("reversed")
            ),
            order_id: Some(order.id),
            metadata: event.raw,
            provider_event_id: Some(event.id),
            idempotency_key: &format!("refund-{}-reversed", refund.id),
        },
    )
}

impl RefundObject {
    fn status(&self) -> Result<RefundStatus, EventError> {
        RefundStatus::parse(
            self.status
                .as_deref()
                .unwrap_or(RefundStatus::Succeeded.as_str()),
        )
        .map_err(|e| EventError::Unreadable(e.to_string()))
    }

    fn created_at(&self) -> NaiveDateTime {
        self.created
            .and_then(|t| chrono::DateTime::from_timestamp(t, 0))
            .map_or_else(db::now, |t| t.naive_utc())
    }
}
