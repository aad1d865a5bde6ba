//! Staff refunds: the request is checked and sent to the provider with an
//! idempotency key; the refund's effect on the order (status, journal row,
//! end of access) comes from the provider's `charge.refunded` event, like
//! any refund made elsewhere (the sandbox delivers its own).

use crate::db::{self, DbPool};
use crate::domain::Money;
use crate::i18n::Message;
use crate::models::UserId;
use crate::models::installation::Installation;
use crate::models::order::Order;
use crate::msg;
use crate::payments::{Payments, ProviderError};
use crate::services::webhook_inbox::{self, InboxSettings};

/// What is left to refund on an order (0 when it cannot be refunded).
pub fn refundable(order: &Order) -> Money {
    let left = if order.status.is_refundable() {
        order.total_cents - order.refunded_cents
    } else {
        0
    };
    Money::new(left.max(0), order.currency)
}

/// The refund form as typed.
pub struct RefundRequest {
    pub number: String,
    /// Minor units; empty: everything that is left.
    pub amount_cents: String,
    pub reason: String,
    pub staff: UserId,
    /// The form's own id, made when it was shown: the same form sent twice
    /// (a double click) is one refund; two forms are two refunds, even of
    /// the same amount.
    pub request_id: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum RefundError {
    #[error("no such order")]
    NotFound,
    /// Bad input: the message says what to fix.
    #[error("{}", .0.id)]
    Invalid(Message),
    /// The order is in no state to refund.
    #[error("{}", .0.id)]
    NotRefundable(Message),
    #[error("the provider did not refund: {0}")]
    Provider(#[from] ProviderError),
    #[error(transparent)]
    Database(#[from] diesel::result::Error),
    #[error(transparent)]
    Unavailable(#[from] db::Unavailable),
}

/// Asks the provider to refund. Returns the amount asked for.
pub async fn request_refund(
    payments: &Payments,
    pool: &DbPool,
    inbox: &InboxSettings,
    request: RefundRequest,
) -> Result<Money, RefundError> {
    let number = request.number.clone();
    let (order, installation) = db::run(pool, move |conn| {
        Ok::<_, diesel::result::Error>((
            Order::find_by_number(conn, &number)?,
            Installation::id(conn)?,
        ))
    })
    .await??;
    let order = order.ok_or(RefundError::NotFound)?;
    let reason = request.reason.trim();
    if reason.is_empty() || reason.chars().count() > 500 {
        return Err(RefundError::Invalid(msg!("refund-reason-needed")));
    }
    let left = refundable(&order);
    if left.minor <= 0 {
        return Err(RefundError::NotRefundable(msg!("refund-nothing-left")));
    }
    let amount = match request.amount_cents.trim() {
        "" => left.minor,
        raw => raw
            .parse::<i64>()
            .ok()
            .filter(|a| *a > 0)
            .ok_or_else(|| RefundError::Invalid(msg!("refund-bad-amount")))?,
    };
    if amount > left.minor {
        return Err(RefundError::Invalid(msg!("refund-too-much", left = left)));
    }
    let Some(intent) = order.payment_intent_id.clone() else {
        return Err(RefundError::NotRefundable(msg!("refund-free-order")));
    };
    let key = match request.request_id.as_deref().map(str::trim) {
        Some(id)
            if (8..=64).contains(&id.len())
                && id
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_') =>
        {
            format!("{installation}-order-{}-refund-{id}", order.id.0)
        }
        _ => format!(
            "{installation}-order-{}-refund-{}-{amount}",
            order.id.0, order.refunded_cents
        ),
    };
    tracing::info!(order.id = %order.id, amount, staff.id = %request.staff, reason = %reason, "refund requested");
    let refund = payments.refund(&intent, amount, &key, reason).await?;
    if let Some(event) = refund.event {
        // The sandbox's own `charge.refunded`, delivered as Stripe would.
        if let Err(e) = webhook_inbox::deliver_signed(pool, inbox, &event).await {
            tracing::warn!(order.id = %order.id, error = %e, "sandbox refund event not applied");
        }
    }
    Ok(Money::new(amount, order.currency))
}
