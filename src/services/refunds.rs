//! Staff refunds: the request is checked and sent to the provider with an
//! idempotency key; the refund's effect on the order (status, journal row,
//! end of access) comes from the provider's `charge.refunded` event, like
//! any refund made elsewhere (the sandbox delivers its own).

use crate::db::{self, DbConnection, DbPool};
use crate::domain::{Locale, Money};
use crate::i18n::Message;
use crate::models::UserId;
use crate::models::installation::Installation;
use crate::models::order::Order;
use crate::models::refund::{NewRefundRequest, RefundRequestRow};
use crate::models::user::User;
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
    /// In the shop's currency, as the staff member's language types it
    /// (`79.00`, `79,00`); empty: everything that is left.
    pub amount: String,
    pub reason: String,
    pub staff: UserId,
    /// The form's own id, made when it was shown: the same form sent twice
    /// (a double click) is one refund; two forms are two refunds, even of
    /// the same amount.
    pub request_id: Option<String>,
    pub locale: Locale,
}

/// What a refund will do, checked and shown before it is made.
#[derive(Clone, Debug)]
pub struct RefundPlan {
    pub order: Order,
    pub customer_email: String,
    pub amount: Money,
    /// The order ends fully refunded: its courses leave the student.
    pub full: bool,
    pub courses: Vec<String>,
    pub reason: String,
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

/// Checks a refund request against the order: what it would do, or why
/// it cannot be made.
pub fn plan(conn: &mut DbConnection, request: &RefundRequest) -> Result<RefundPlan, RefundError> {
    let order = Order::find_by_number(conn, &request.number)?.ok_or(RefundError::NotFound)?;
    let reason = request.reason.trim();
    if reason.is_empty() || reason.chars().count() > 500 {
        return Err(RefundError::Invalid(msg!("refund-reason-needed")));
    }
    let left = refundable(&order);
    if left.minor <= 0 {
        return Err(RefundError::NotRefundable(msg!("refund-nothing-left")));
    }
    if order.payment_intent_id.is_none() {
        return Err(RefundError::NotRefundable(msg!("refund-free-order")));
    }
    let amount = match request.amount.trim() {
        "" => left,
        typed => Money::parse_major_in(typed, order.currency, request.locale)
            .map_err(RefundError::Invalid)?,
    };
    if amount.minor <= 0 {
        return Err(RefundError::Invalid(msg!("refund-zero")));
    }
    if amount.minor > left.minor {
        return Err(RefundError::Invalid(msg!("refund-too-much", left = left)));
    }
    let customer_email = User::find(conn, order.user_id)?.map_or_else(String::new, |u| u.email);
    let courses = order.items(conn)?.into_iter().map(|i| i.title).collect();
    Ok(RefundPlan {
        full: amount.minor == left.minor,
        customer_email,
        amount,
        courses,
        reason: reason.to_owned(),
        order,
    })
}

/// Asks the provider to refund. Returns the amount asked for.
pub async fn request_refund(
    payments: &Payments,
    pool: &DbPool,
    inbox: &InboxSettings,
    request: RefundRequest,
) -> Result<Money, RefundError> {
    let (plan, installation) = db::run(pool, move |conn| {
        let plan = plan(conn, &request)?;
        let installation = Installation::id(conn)?;
        Ok::<_, RefundError>(((plan, request), installation))
    })
    .await??;
    let (plan, request) = plan;
    let order = &plan.order;
    let amount = plan.amount.minor;
    let reason = plan.reason.as_str();
    let intent = order
        .payment_intent_id
        .clone()
        .ok_or_else(|| RefundError::NotRefundable(msg!("refund-free-order")))?;
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
    // Written before the provider is asked: its `charge.refunded` may
    // arrive before its answer, and its journal row says why.
    let noted = NewRefundRequest {
        order_id: order.id,
        amount_cents: amount,
        currency: order.currency,
        reason: reason.to_owned(),
        requested_by: request.staff,
        idempotency_key: key.clone(),
    };
    db::run(pool, move |conn| {
        RefundRequestRow::note(conn, &noted, db::now())
    })
    .await??;
    let refund = match payments.refund(&intent, amount, &key, reason).await {
        Ok(refund) => refund,
        Err(e) => {
            if matches!(e, ProviderError::Rejected(_) | ProviderError::NotFound(_)) {
                let key = key.clone();
                db::run(pool, move |conn| RefundRequestRow::forget(conn, &key)).await??;
            }
            return Err(e.into());
        }
    };
    let (answered, refund_id) = (key.clone(), refund.id.clone());
    db::run(pool, move |conn| {
        RefundRequestRow::answered(conn, &answered, &refund_id)
    })
    .await??;
    if let Some(event) = refund.event {
        // The sandbox's own `charge.refunded`, delivered as Stripe would.
        if let Err(e) = webhook_inbox::deliver_signed(pool, inbox, &event).await {
            tracing::warn!(order.id = %order.id, error = %e, "sandbox refund event not applied");
        }
    }
    Ok(Money::new(amount, order.currency))
}
