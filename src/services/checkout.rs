//! Checkout as the student lives it: the cart becomes a pending order (in
//! the order lifecycle), older pending orders are settled at the provider
//! first, and the order gets its PaymentIntent for the student's Customer.
//! Provider calls happen outside database transactions.

use crate::config::{Seller, TaxSettings};
use crate::db::{self, DbPool};
use crate::domain::{Currency, IntentStatus, OrderStatus, StripeEvent};
use crate::models::installation::Installation;
use crate::models::order::Order;
use crate::models::user::User;
use crate::models::{OrderId, UserId};
use crate::payments::{
    CancelReason, CustomerRequest, IntentRequest, Payments, ProviderError, ProviderIntent,
};
use crate::services::order_lifecycle::{
    self as lifecycle, CheckoutError, CheckoutOutcome, CheckoutRequest, FulfillOutcome, PlacedOrder,
};
use crate::services::webhook_inbox::{self, InboxSettings};

/// Why a checkout or a payment could not be started.
#[derive(Debug, thiserror::Error)]
pub enum StartPaymentError {
    #[error(transparent)]
    Checkout(#[from] CheckoutError),
    #[error(transparent)]
    Provider(#[from] ProviderError),
    #[error(transparent)]
    Database(#[from] diesel::result::Error),
    #[error(transparent)]
    Unavailable(#[from] db::Unavailable),
    #[error("the order is not awaiting payment")]
    NotPending,
}

impl From<lifecycle::EventError> for StartPaymentError {
    fn from(e: lifecycle::EventError) -> Self {
        match e {
            lifecycle::EventError::Database(e) => Self::Database(e),
            other => Self::Provider(ProviderError::Rejected(other.to_string())),
        }
    }
}

/// What a checkout came to.
pub enum Checkout {
    EmptyCart {
        removed_owned: Vec<String>,
    },
    Placed(Box<PlacedOrder>),
    /// An older order's payment is being processed (a bank debit): the
    /// student waits for it instead of paying twice.
    PaymentInProgress(Box<Order>),
}

/// Places the order for the user's cart. An older pending order whose
/// PaymentIntent may still be paid is canceled at the provider first; if
/// it was paid meanwhile it is fulfilled (and the cart checked out again
/// without its courses), if it is processing the checkout waits for it.
pub async fn check_out(
    payments: &Payments,
    pool: &DbPool,
    user_id: UserId,
    promo_code: Option<String>,
    currency: Currency,
    (seller, tax): (&Seller, Option<&TaxSettings>),
) -> Result<Checkout, StartPaymentError> {
    let mut settled = Vec::new();
    // Each round settles every older order it is shown; a third is only
    // needed if the student checks out in another tab at the same moment.
    for _ in 0..3 {
        let request = CheckoutRequest {
            user_id,
            promo_code: promo_code.clone(),
            currency,
            provider: payments.provider(),
            settled: settled.clone(),
            seller: seller.clone(),
            tax: tax.cloned(),
        };
        let outcome = db::run(pool, move |conn| lifecycle::place_order(conn, &request)).await??;
        match outcome {
            CheckoutOutcome::EmptyCart { removed_owned } => {
                return Ok(Checkout::EmptyCart { removed_owned });
            }
            CheckoutOutcome::Placed(placed) => return Ok(Checkout::Placed(placed)),
            CheckoutOutcome::MustSettle(orders) => {
                for order in orders {
                    match settle(payments, pool, &order).await? {
                        Settled::Canceled => settled.push(order.id),
                        Settled::Paid => {}
                        Settled::Processing => {
                            return Ok(Checkout::PaymentInProgress(Box::new(order)));
                        }
                    }
                }
            }
        }
    }
    Err(StartPaymentError::Provider(ProviderError::Unavailable(
        "the cart kept changing during checkout".into(),
    )))
}

/// Where an older order's PaymentIntent stands once we tried to cancel it.
enum Settled {
    /// Nobody can pay it any more.
    Canceled,
    /// It had been paid: the order is fulfilled now.
    Paid,
    /// A payment is settling (bank debits take days).
    Processing,
}

async fn settle(
    payments: &Payments,
    pool: &DbPool,
    order: &Order,
) -> Result<Settled, StartPaymentError> {
    let Some(intent_id) = &order.payment_intent_id else {
        return Ok(Settled::Canceled);
    };
    let intent = match payments
        .cancel_intent(intent_id, CancelReason::Duplicate)
        .await
    {
        Ok(intent) => intent,
        // Refused: it is past canceling; ask what it is.
        Err(ProviderError::Rejected(_)) => payments.retrieve_intent(intent_id).await?,
        Err(e) => return Err(e.into()),
    };
    Ok(match intent.status {
        IntentStatus::Canceled => Settled::Canceled,
        IntentStatus::Succeeded => {
            let outcome = db::run(pool, move |conn| {
                lifecycle::fulfill_payment(conn, &(&intent).into())
            })
            .await??;
            tracing::info!(order.id = %order.id, outcome = %outcome, "an older order was paid before a new checkout");
            match outcome {
                FulfillOutcome::Fulfilled | FulfillOutcome::AlreadyPaid => Settled::Paid,
                // Flagged for staff; it will not be paid through kasir.
                FulfillOutcome::Mismatch(_) | FulfillOutcome::NotSucceeded => Settled::Canceled,
            }
        }
        IntentStatus::Processing | IntentStatus::RequiresCapture => Settled::Processing,
        // Could not be canceled and is not paid: it must not be superseded.
        _ => {
            return Err(ProviderError::Rejected(format!(
                "PaymentIntent {intent_id} could not be canceled ({})",
                intent.status
            ))
            .into());
        }
    })
}

/// Makes sure the pending order has a PaymentIntent and returns it: the
/// stored one, or a new one (created outside any database transaction,
/// with an idempotency key from the order id), for the student's Customer.
pub async fn ensure_payment_intent(
    payments: &Payments,
    pool: &DbPool,
    order: &Order,
) -> Result<ProviderIntent, StartPaymentError> {
    if order.status != OrderStatus::Pending {
        return Err(StartPaymentError::NotPending);
    }
    if let Some(id) = &order.payment_intent_id {
        return Ok(payments.retrieve_intent(id).await?);
    }
    let user_id = order.user_id;
    let (user, installation) = db::run(pool, move |conn| {
        let user = User::find(conn, user_id)?.ok_or(diesel::result::Error::NotFound)?;
        Ok::<_, diesel::result::Error>((user, Installation::id(conn)?))
    })
    .await??;
    let mut request = IntentRequest {
        amount: order.total_cents,
        currency: order.currency.code().to_lowercase(),
        order_id: order.id,
        order_number: order.number.clone(),
        installation: installation.clone(),
        customer: ensure_customer(payments, pool, &user, &installation).await?,
        receipt_email: Some(user.email.clone()),
    };
    let intent = match payments.create_intent(&request).await {
        // A Customer of the other mode (test keys swapped for live ones):
        // forget it and make one this mode knows.
        Err(ProviderError::NotFound(_)) if request.customer.is_some() => {
            let stale = request.customer.take().unwrap_or_default();
            db::run(pool, move |conn| {
                db::write_transaction(conn, |conn| {
                    User::forget_stripe_customer(conn, user_id, &stale)
                })
            })
            .await??;
            let user = User {
                stripe_customer_id: None,
                ..user
            };
            request.customer = ensure_customer(payments, pool, &user, &installation).await?;
            payments.create_intent(&request).await?
        }
        other => other?,
    };
    let (order_id, attached) = (order.id, intent.clone());
    if db::run(pool, move |conn| {
        lifecycle::attach_payment_intent(conn, order_id, &attached)
    })
    .await??
    {
        return Ok(intent);
    }
    stored_intent(payments, pool, order_id, &intent).await
}

/// Another request stored its intent first. With the idempotency key it
/// is the same intent; a provider that ignored the key made a second one,
/// which is canceled, and only then (never the stored one).
async fn stored_intent(
    payments: &Payments,
    pool: &DbPool,
    order_id: OrderId,
    ours: &ProviderIntent,
) -> Result<ProviderIntent, StartPaymentError> {
    let stored = db::run(pool, move |conn| Order::find(conn, order_id)).await??;
    let Some(stored_id) = stored.and_then(|o| o.payment_intent_id) else {
        return Err(StartPaymentError::NotPending);
    };
    if stored_id != ours.id
        && let Err(e) = payments
            .cancel_intent(&ours.id, CancelReason::Duplicate)
            .await
    {
        tracing::warn!(stripe.payment_intent = %ours.id, error = %e, "could not cancel a duplicate PaymentIntent");
    }
    Ok(payments.retrieve_intent(&stored_id).await?)
}

/// The student's Customer at the provider: the stored one, or a new one
/// stored by compare-and-set (two tabs at once keep the first).
async fn ensure_customer(
    payments: &Payments,
    pool: &DbPool,
    user: &User,
    installation: &str,
) -> Result<Option<String>, StartPaymentError> {
    if let Some(customer) = &user.stripe_customer_id {
        return Ok(Some(customer.clone()));
    }
    let request = CustomerRequest {
        user_id: user.id,
        email: user.email.clone(),
        name: user.name.clone(),
        installation: installation.to_owned(),
    };
    let Some(created) = payments.create_customer(&request).await? else {
        return Ok(None);
    };
    let user_id = user.id;
    // On the writer's turn, as every write of a checkout (see the sandbox's).
    Ok(db::run(pool, move |conn| {
        db::write_transaction(conn, |conn| {
            User::set_stripe_customer(conn, user_id, &created)
        })
    })
    .await??)
}

/// The sandbox's card form submitted: the intent is confirmed with the
/// test card, and the shop hears of the outcome the way it hears of
/// Stripe's: a signed event through the webhook inbox. A delivery that
/// fails is only logged: the return page and the sweep fulfil from the
/// intent itself.
pub async fn pay_in_sandbox(
    sandbox: &crate::payments::sandbox::SandboxProvider,
    pool: &DbPool,
    inbox: &InboxSettings,
    intent_id: &str,
    step: SandboxStep<'_>,
) -> Result<ProviderIntent, ProviderError> {
    let intent = match step {
        SandboxStep::Card(number) => sandbox.confirm_with_card(intent_id, number).await?,
        SandboxStep::Authenticate { approve } => sandbox.authenticate(intent_id, approve).await?,
    };
    let kind = match intent.status {
        IntentStatus::Succeeded => Some(StripeEvent::PaymentIntentSucceeded),
        IntentStatus::RequiresPaymentMethod if intent.last_error.is_some() => {
            Some(StripeEvent::PaymentIntentFailed)
        }
        _ => None,
    };
    if let Some(kind) = kind {
        let body = crate::payments::sandbox::event_for(&intent, kind);
        match webhook_inbox::deliver_signed(pool, inbox, &body).await {
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "sandbox event not applied"),
        }
    }
    Ok(intent)
}

/// What the student did on the sandbox's pages.
pub enum SandboxStep<'a> {
    /// Paid with this (validated) test card number.
    Card(&'a str),
    /// Completed or failed the simulated 3-D Secure challenge.
    Authenticate { approve: bool },
}
