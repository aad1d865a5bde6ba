//! Checkout: the cart becomes a pending order with snapshot prices, a
//! promo reservation and, once the transaction has committed, a
//! PaymentIntent. A free order is fulfilled at once, with no provider.

use chrono::NaiveDateTime;

use crate::db::{self, DbConnection, DbPool};
use crate::domain::{Currency, Money};
use crate::models::cart::{Cart, CartItem};
use crate::models::course::Course;
use crate::models::installation::Installation;
use crate::models::order::{NewOrder, NewOrderItem, Order, PENDING};
use crate::models::user::User;
use crate::models::user_course::UserCourse;
use crate::models::{CourseId, OrderId, UserId};
use crate::payments::{
    CancelReason, CustomerRequest, IntentRequest, Payments, ProviderError, ProviderIntent,
};
use crate::services::journal::{self, JournalEntry, record_journal_entry};
use crate::services::pricing::{self, PriceLine};
use crate::services::promo::{self, PromoRejection};

/// The provider name stored on orders that needed no payment.
pub const FREE_PROVIDER: &str = "free";

#[derive(Debug, thiserror::Error)]
pub enum CheckoutError {
    #[error("{0}")]
    Promo(#[from] PromoRejection),
    #[error(transparent)]
    Database(#[from] diesel::result::Error),
}

pub struct CheckoutRequest {
    pub user_id: UserId,
    pub promo_code: Option<String>,
    pub currency: Currency,
    /// `stripe` or `sandbox`: who will take the payment.
    pub provider: &'static str,
}

pub enum CheckoutOutcome {
    /// Nothing left to buy (the cart was empty, or held only owned courses).
    EmptyCart {
        removed_owned: Vec<String>,
    },
    Placed(Box<PlacedOrder>),
}

pub struct PlacedOrder {
    pub order: Order,
    /// An unchanged cart found its earlier pending order.
    pub reused: bool,
    /// Titles taken out of the cart because the student owns them now.
    pub removed_owned: Vec<String>,
    /// Older pending orders this one replaced, with their PaymentIntents
    /// to cancel at the provider once the transaction has committed.
    pub superseded_intents: Vec<String>,
}

/// What the order is made of; equal fingerprints mean "same cart".
fn fingerprint(lines: &[PriceLine], promo_code: Option<&str>, currency: Currency) -> String {
    let mut parts: Vec<String> = lines
        .iter()
        .map(|l| format!("{}:{}", l.course_id.0, l.unit_price_cents))
        .collect();
    parts.sort();
    format!(
        "{}|{}|{}",
        currency.code(),
        parts.join(","),
        promo_code.unwrap_or("")
    )
}

/// Turns the user's cart into a pending order (or finds the pending order
/// this same cart already made), in one write transaction.
pub fn place_order(
    conn: &mut DbConnection,
    request: &CheckoutRequest,
) -> Result<CheckoutOutcome, CheckoutError> {
    db::write_transaction(conn, |conn| place_order_in_transaction(conn, request))
}

fn place_order_in_transaction(
    conn: &mut DbConnection,
    request: &CheckoutRequest,
) -> Result<CheckoutOutcome, CheckoutError> {
    let now = db::now();
    let user_id = request.user_id;
    let Some(cart) = Cart::find_for_user(conn, user_id)? else {
        return Ok(CheckoutOutcome::EmptyCart {
            removed_owned: Vec::new(),
        });
    };
    let mut removed_owned = Vec::new();
    let mut courses: Vec<Course> = Vec::new();
    for course in CartItem::courses(conn, cart.id)? {
        if UserCourse::owns(conn, user_id, course.id)? {
            CartItem::remove(conn, cart.id, course.id)?;
            removed_owned.push(course.title);
        } else if !course.published {
            CartItem::remove(conn, cart.id, course.id)?;
        } else {
            courses.push(course);
        }
    }
    if courses.is_empty() {
        return Ok(CheckoutOutcome::EmptyCart { removed_owned });
    }
    let currency = request.currency;
    let lines: Vec<PriceLine> = courses
        .iter()
        .map(|c| PriceLine {
            course_id: c.id,
            title: c.title.clone(),
            unit_price_cents: c.price_cents,
        })
        .collect();
    let code = request
        .promo_code
        .as_deref()
        .and_then(promo::normalize_code);
    let print = fingerprint(&lines, code.as_deref(), currency);

    // Double click, two tabs: the same cart gets the same order back.
    let pending = Order::pending_for_user(conn, user_id)?;
    if let Some(same) = pending
        .iter()
        .find(|o| o.cart_fingerprint.as_deref() == Some(print.as_str()))
    {
        return Ok(CheckoutOutcome::Placed(Box::new(PlacedOrder {
            order: same.clone(),
            reused: true,
            removed_owned,
            superseded_intents: Vec::new(),
        })));
    }
    // A changed cart replaces the older pending orders (and frees their
    // promo uses) before the new order checks the promo's limits.
    let mut superseded_intents = Vec::new();
    for old in &pending {
        if cancel_pending_order(conn, old, "superseded by a newer checkout", now)?
            && let Some(intent) = &old.payment_intent_id
        {
            superseded_intents.push(intent.clone());
        }
    }

    let subtotal: i64 = lines.iter().map(|l| l.unit_price_cents).sum();
    let applicable = match &code {
        None => None,
        Some(code) => {
            let course_ids: Vec<CourseId> = lines.iter().map(|l| l.course_id).collect();
            let format_money = |minor: i64| Money::new(minor, currency).to_string();
            let cart_view = promo::Cart {
                user_id,
                courses: &course_ids,
                subtotal_cents: subtotal,
                currency: currency.code(),
                format_money: &format_money,
            };
            Some(promo::check(conn, code, &cart_view, now)??)
        }
    };
    let quote = pricing::quote(&lines, applicable.as_ref().map(|a| a.discount), |course| {
        applicable.as_ref().is_some_and(|a| a.applies_to(course))
    });
    let snapshot = applicable.as_ref().map(promo::ApplicablePromo::snapshot);
    let free = quote.total_cents == 0;
    let items: Vec<NewOrderItem> = quote
        .lines
        .iter()
        .map(|l| NewOrderItem {
            course_id: l.course_id,
            title: l.title.clone(),
            unit_price_cents: l.unit_price_cents,
            discount_cents: l.discount_cents,
            total_cents: l.total_cents,
        })
        .collect();
    let placeholder = format!("new-{}", crate::session::new_token());
    let order = NewOrder {
        number: &placeholder,
        user_id,
        status: PENDING,
        subtotal_cents: quote.subtotal_cents,
        discount_cents: quote.discount_cents,
        total_cents: quote.total_cents,
        currency: currency.code(),
        promo_code_id: applicable.as_ref().map(|a| a.promo.id),
        promo_code: applicable.as_ref().map(|a| a.promo.code.as_str()),
        promo_snapshot: snapshot.as_deref(),
        provider: if free {
            FREE_PROVIDER
        } else {
            request.provider
        },
        cart_fingerprint: Some(&print),
        created_at: now,
        updated_at: now,
    }
    .insert(conn, &items)?;
    if let Some(applicable) = &applicable {
        promo::reserve_promo_redemption(conn, applicable, order.id, user_id, now)??;
    }
    let order = if free {
        fulfill_free_order(conn, &order, now)?
    } else {
        order
    };
    Ok(CheckoutOutcome::Placed(Box::new(PlacedOrder {
        order,
        reused: false,
        removed_owned,
        superseded_intents,
    })))
}

/// `pending -> canceled` with its promo use given back and a journal row,
/// all in the caller's transaction. Returns whether it moved.
pub fn cancel_pending_order(
    conn: &mut DbConnection,
    order: &Order,
    reason: &str,
    now: NaiveDateTime,
) -> diesel::QueryResult<bool> {
    if !Order::cancel_if_pending(conn, order.id, now)? {
        return Ok(false);
    }
    promo::release_promo_redemption(conn, order.id, order.promo_code_id, now)?;
    let metadata =
        serde_json::json!({ "reason": reason, "payment_intent": order.payment_intent_id })
            .to_string();
    record_journal_entry(
        conn,
        &JournalEntry {
            kind: journal::kind::CANCELED,
            status: journal::status::SUCCESS,
            amount_cents: order.total_cents,
            currency: &order.currency,
            description: &format!("Order {} canceled: {reason}", order.number),
            order_id: Some(order.id),
            metadata: &metadata,
            provider_event_id: None,
            idempotency_key: &format!("order-{}-canceled", order.id.0),
        },
    )?;
    Ok(true)
}

/// A total of zero needs no payment: paid, granted, promo redeemed, cart
/// emptied and journalled in the checkout's own transaction.
fn fulfill_free_order(
    conn: &mut DbConnection,
    order: &Order,
    now: NaiveDateTime,
) -> diesel::QueryResult<Order> {
    Order::mark_paid_if_pending(conn, order.id, FREE_PROVIDER, now)?;
    crate::services::fulfillment::deliver_paid_order(conn, order, now)?;
    let metadata =
        serde_json::json!({ "free_order": true, "promo_code": order.promo_code }).to_string();
    record_journal_entry(
        conn,
        &JournalEntry {
            kind: journal::kind::INCOME,
            status: journal::status::SUCCESS,
            amount_cents: 0,
            currency: &order.currency,
            description: &format!("Order {} fulfilled at no charge", order.number),
            order_id: Some(order.id),
            metadata: &metadata,
            provider_event_id: None,
            idempotency_key: &format!("order-{}-income", order.id.0),
        },
    )?;
    Order::find_by_number(conn, &order.number)?.ok_or(diesel::result::Error::NotFound)
}

/// Stores a new PaymentIntent on its order and journals the attempt, once:
/// the compare-and-set on the order decides who records it. Returns whether
/// this intent is the order's (false: another one was attached first).
pub fn attach_payment_intent(
    conn: &mut DbConnection,
    order_id: OrderId,
    intent: &ProviderIntent,
) -> diesel::QueryResult<bool> {
    db::write_transaction(conn, |conn| {
        let Some(order) = crate::models::order::Order::find(conn, order_id)? else {
            return Ok(false);
        };
        if order.payment_intent_id.as_deref() == Some(intent.id.as_str()) {
            return Ok(true);
        }
        if !Order::attach_payment_intent(conn, order_id, &intent.id)? {
            return Ok(false);
        }
        record_journal_entry(
            conn,
            &JournalEntry {
                kind: journal::kind::PAYMENT_INITIATED,
                status: journal::status::PENDING,
                amount_cents: intent.amount,
                currency: &order.currency,
                description: &format!("Payment started for order {}", order.number),
                order_id: Some(order_id),
                metadata: &intent.raw_json,
                provider_event_id: None,
                idempotency_key: &format!("pi-{}-initiated", intent.id),
            },
        )?;
        Ok(true)
    })
}

/// Why a payment could not be started; the order is untouched either way.
#[derive(Debug, thiserror::Error)]
pub enum StartPaymentError {
    #[error(transparent)]
    Provider(#[from] ProviderError),
    #[error(transparent)]
    Database(#[from] diesel::result::Error),
    #[error("the order is not awaiting payment")]
    NotPending,
}

/// Runs database work for the async payment steps on the blocking pool.
async fn on_blocking_pool<T: Send + 'static>(
    pool: &DbPool,
    work: impl FnOnce(&mut DbConnection) -> diesel::QueryResult<T> + Send + 'static,
) -> Result<T, StartPaymentError> {
    let pool = pool.clone();
    actix_web::web::block(move || {
        let mut conn = pool.get().map_err(|e| {
            StartPaymentError::Provider(ProviderError::Unavailable(format!("database: {e}")))
        })?;
        work(&mut conn).map_err(StartPaymentError::from)
    })
    .await
    .map_err(|e| StartPaymentError::Provider(ProviderError::Unavailable(e.to_string())))?
}

/// Makes sure the pending order has a PaymentIntent and returns it: the
/// stored one, or a new one (created outside any database transaction,
/// with an idempotency key from the order id), for the student's Customer.
pub async fn ensure_payment_intent(
    payments: &Payments,
    pool: &DbPool,
    order: &Order,
) -> Result<ProviderIntent, StartPaymentError> {
    if order.status != PENDING {
        return Err(StartPaymentError::NotPending);
    }
    if let Some(id) = &order.payment_intent_id {
        return Ok(payments.retrieve_intent(id).await?);
    }
    let user_id = order.user_id;
    let (user, installation) = on_blocking_pool(pool, move |conn| {
        let user = User::find(conn, user_id)?.ok_or(diesel::result::Error::NotFound)?;
        Ok((user, Installation::id(conn)?))
    })
    .await?;
    let mut request = IntentRequest {
        amount: order.total_cents,
        currency: order.currency.to_lowercase(),
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
            on_blocking_pool(pool, move |conn| {
                User::forget_stripe_customer(conn, user_id, &stale)
            })
            .await?;
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
    if on_blocking_pool(pool, move |conn| {
        attach_payment_intent(conn, order_id, &attached)
    })
    .await?
    {
        return Ok(intent);
    }
    // Another request attached its intent first (a provider that ignores
    // idempotency keys): keep that one and cancel ours.
    if let Err(e) = payments
        .cancel_intent(&intent.id, CancelReason::Duplicate)
        .await
    {
        tracing::warn!(stripe.payment_intent = %intent.id, error = %e, "could not cancel a duplicate PaymentIntent");
    }
    let stored = on_blocking_pool(pool, move |conn| Order::find(conn, order_id)).await?;
    match stored.and_then(|o| o.payment_intent_id) {
        Some(id) => Ok(payments.retrieve_intent(&id).await?),
        None => Err(StartPaymentError::NotPending),
    }
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
    on_blocking_pool(pool, move |conn| {
        User::set_stripe_customer(conn, user_id, &created)
    })
    .await
}

/// An order ready to show: lines and totals formatted in its currency.
#[derive(Clone, Debug)]
pub struct OrderView {
    pub order: Order,
    pub lines: Vec<OrderLineView>,
    pub subtotal: String,
    pub discount: Option<String>,
    pub total: String,
}

#[derive(Clone, Debug)]
pub struct OrderLineView {
    pub title: String,
    pub unit_price: String,
    pub discount: Option<String>,
    pub total: String,
}

impl OrderView {
    pub fn load(conn: &mut DbConnection, order: Order) -> diesel::QueryResult<Self> {
        let items = order.items(conn)?;
        let money = |minor: i64| match Currency::parse(&order.currency) {
            Ok(currency) => Money::new(minor, currency).to_string(),
            Err(_) => format!("{minor} {}", order.currency),
        };
        Ok(Self {
            lines: items
                .iter()
                .map(|item| OrderLineView {
                    title: item.title.clone(),
                    unit_price: money(item.unit_price_cents),
                    discount: (item.discount_cents > 0).then(|| money(-item.discount_cents)),
                    total: money(item.total_cents),
                })
                .collect(),
            subtotal: money(order.subtotal_cents),
            discount: (order.discount_cents > 0).then(|| money(-order.discount_cents)),
            total: money(order.total_cents),
            order,
        })
    }

    /// The order of this user with this number; `None` for anyone else's.
    pub fn load_for_user(
        conn: &mut DbConnection,
        number: &str,
        user_id: UserId,
    ) -> diesel::QueryResult<Option<Self>> {
        match Order::find_by_number(conn, number)? {
            Some(order) if order.user_id == user_id => Self::load(conn, order).map(Some),
            _ => Ok(None),
        }
    }
}
