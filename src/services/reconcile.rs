//! The reconciliation sweep: pending orders whose webhook never came are
//! asked about at the provider, then fulfilled or canceled; orders whose
//! provider side disagrees with ours are reported.

use chrono::TimeDelta;

use crate::db::{self, DbPool};
use crate::domain::IntentStatus;
use crate::models::order::Order;
use crate::payments::{CancelReason, Payments};
use crate::services::order_lifecycle::{self as lifecycle, FulfillOutcome};

/// A pending order whose payment page has been left alone this long is
/// given up: its PaymentIntent is canceled at the provider and its promo
/// use given back. An hour: longer than anyone takes to pay, short enough
/// that a limited code is not held by people who left.
pub const ABANDONED_AFTER: TimeDelta = TimeDelta::hours(1);

#[derive(Debug, Default)]
pub struct ReconcileReport {
    pub checked: usize,
    pub fulfilled: Vec<String>,
    pub canceled: Vec<String>,
    /// Orders staff must look at, with the reason.
    pub disagreements: Vec<String>,
    /// Orders the provider could not be asked about this time.
    pub unreachable: Vec<String>,
}

impl std::fmt::Display for ReconcileReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(
            f,
            "checked {} pending order(s): {} fulfilled, {} canceled, {} to review, {} not reachable",
            self.checked,
            self.fulfilled.len(),
            self.canceled.len(),
            self.disagreements.len(),
            self.unreachable.len()
        )?;
        for line in &self.disagreements {
            writeln!(f, "  review: {line}")?;
        }
        for line in &self.unreachable {
            writeln!(f, "  unreachable: {line}")?;
        }
        Ok(())
    }
}

/// Cancels the order in the database (its intent is canceled already).
async fn cancel_order(pool: &DbPool, order: Order, reason: &'static str) -> anyhow::Result<bool> {
    Ok(db::run(pool, move |conn| {
        db::write_transaction(conn, |conn| {
            lifecycle::cancel_pending_order(conn, &order, reason, db::now())
        })
    })
    .await??)
}

/// Sweeps pending orders with a PaymentIntent older than `older_than`.
pub async fn reconcile(
    payments: &Payments,
    pool: &DbPool,
    older_than: TimeDelta,
) -> anyhow::Result<ReconcileReport> {
    let now = db::now();
    let (pending, unstarted) = db::run(pool, move |conn| {
        Ok::<_, diesel::result::Error>((
            Order::pending_with_intent_before(conn, now - older_than)?,
            Order::pending_without_intent_idle_since(conn, now - ABANDONED_AFTER)?,
        ))
    })
    .await??;
    let mut report = ReconcileReport {
        checked: pending.len() + unstarted.len(),
        ..ReconcileReport::default()
    };
    // No intent: nothing to ask the provider; the promo use is given back.
    for order in unstarted {
        let number = order.number.clone();
        if cancel_order(pool, order, "no payment was started within an hour").await? {
            report.canceled.push(number);
        }
    }
    for order in pending {
        let Some(intent_id) = order.payment_intent_id.clone() else {
            continue;
        };
        let intent = match payments.retrieve_intent(&intent_id).await {
            Ok(intent) => intent,
            Err(e) => {
                report
                    .unreachable
                    .push(format!("{} ({intent_id}): {e}", order.number));
                continue;
            }
        };
        match intent.status {
            IntentStatus::Succeeded => {
                let observed = intent.clone();
                let outcome = db::run(pool, move |conn| {
                    lifecycle::fulfill_payment(conn, &(&observed).into())
                })
                .await??;
                match outcome {
                    FulfillOutcome::Fulfilled => report.fulfilled.push(order.number.clone()),
                    FulfillOutcome::Mismatch(problem) => report.disagreements.push(problem),
                    FulfillOutcome::AlreadyPaid | FulfillOutcome::NotSucceeded => {}
                }
            }
            IntentStatus::Canceled => {
                let number = order.number.clone();
                if cancel_order(pool, order, "payment canceled at the provider").await? {
                    report.canceled.push(number);
                }
            }
            status if status.is_unpaid() && now - order.updated_at > ABANDONED_AFTER => {
                if let Err(e) = payments
                    .cancel_intent(&intent_id, CancelReason::Abandoned)
                    .await
                {
                    report.unreachable.push(format!(
                        "{} ({intent_id}): could not cancel: {e}",
                        order.number
                    ));
                    continue;
                }
                let number = order.number.clone();
                if cancel_order(pool, order, "the payment page was left for an hour").await? {
                    report.canceled.push(number);
                }
            }
            IntentStatus::Unknown => report.disagreements.push(format!(
                "{}: PaymentIntent {intent_id} has a status this shop does not know",
                order.number
            )),
            _ => {}
        }
    }
    Ok(report)
}
