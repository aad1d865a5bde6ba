//! `cart -> pending order`: snapshot prices, the promo reservation, the
//! orders this one supersedes; a free order is paid at once.

use chrono::NaiveDateTime;

use super::payment::{cancel_without_journal, deliver_paid_order, journal_cancellation};
use crate::config::{Seller, TaxSettings};
use crate::db::{self, DbConnection};
use crate::domain::{Currency, JournalKind, JournalStatus, Money, OrderStatus, Provider};
use crate::i18n::Message;
use crate::models::billing::Billing;
use crate::models::cart::{Cart, CartItem};
use crate::models::course::Course;
use crate::models::order::{NewOrder, Order, OrderItem};
use crate::models::seller_settings::SellerSettings;
use crate::models::user_course::UserCourse;
use crate::models::{CourseId, OrderId, UserId};
use crate::msg;
use crate::services::journal::{JournalEntry, record_journal_entry};
use crate::services::pricing::{self, PriceLine};
use crate::services::promo::{self, PromoRejection};

#[derive(Debug, thiserror::Error)]
pub enum CheckoutError {
    #[error("{0}")]
    Promo(#[from] PromoRejection),
    /// Courses priced in another currency than the shop's: charging their
    /// number in the shop's currency would be a wrong price (¥89 is not $0.89).
    #[error("{} cannot be bought here: priced in another currency than the shop's. Remove it from your cart.", .0.join(", "))]
    OtherCurrency(Vec<String>),
    /// Courses staff took off sale since they went into the cart.
    #[error("{} is no longer on sale: remove it from your cart to check out.", .0.join(", "))]
    Withdrawn(Vec<String>),
    /// A total above zero that the provider will not charge.
    #[error("Payments start at {0}: add a course, or check out without the promo code.")]
    BelowMinimumCharge(Money),
    #[error(transparent)]
    Database(#[from] diesel::result::Error),
}

impl CheckoutError {
    /// The refusal, for the reader's language (a database error has none
    /// to show: it is a 5xx).
    pub fn message(&self) -> Message {
        match self {
            Self::Promo(rejection) => rejection.message(),
            Self::OtherCurrency(titles) => {
                msg!("checkout-other-currency", titles = titles.join(", "))
            }
            Self::Withdrawn(titles) => msg!("checkout-withdrawn", titles = titles.join(", ")),
            Self::BelowMinimumCharge(minimum) => {
                msg!("checkout-below-minimum", minimum = *minimum)
            }
            Self::Database(_) => msg!("error-internal"),
        }
    }
}

pub struct CheckoutRequest {
    pub user_id: UserId,
    pub promo_code: Option<String>,
    pub currency: Currency,
    /// Who will take the payment.
    pub provider: Provider,
    /// Older pending orders whose PaymentIntent is known to be canceled at
    /// the provider (or that have none): only these may be superseded.
    pub settled: Vec<OrderId>,
    /// The seller as configured; what staff set on the settings page is
    /// read over it when the order is placed, and the order keeps a copy.
    pub seller: Seller,
    /// The sales tax the prices include, if any.
    pub tax: Option<TaxSettings>,
}

pub enum CheckoutOutcome {
    /// Nothing left to buy (the cart was empty, or held only owned courses).
    EmptyCart {
        removed_owned: Vec<String>,
    },
    /// Older pending orders have a PaymentIntent that may still be paid:
    /// cancel them at the provider first, then check out again with them
    /// in `settled`.
    MustSettle(Vec<Order>),
    Placed(Box<PlacedOrder>),
}

pub struct PlacedOrder {
    pub order: Order,
    /// An unchanged cart found its earlier pending order.
    pub reused: bool,
    /// Titles taken out of the cart because the student owns them now.
    pub removed_owned: Vec<String>,
    /// Older pending orders this one replaced.
    pub superseded: Vec<Superseded>,
}

/// A pending order a newer checkout canceled.
pub struct Superseded {
    pub number: String,
    pub payment_intent_id: Option<String>,
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
/// this same cart already made), in one write transaction that holds the
/// cart: two checkouts of one cart take turns.
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
    let Some(cart) = Cart::lock_for_user(conn, user_id)? else {
        return Ok(CheckoutOutcome::EmptyCart {
            removed_owned: Vec::new(),
        });
    };
    let (courses, removed_owned) = buyable_courses(conn, &cart, user_id)?;
    let withdrawn: Vec<String> = courses
        .iter()
        .filter(|c| !c.published)
        .map(|c| c.title.clone())
        .collect();
    if !withdrawn.is_empty() {
        return Err(CheckoutError::Withdrawn(withdrawn));
    }
    if courses.is_empty() {
        return Ok(CheckoutOutcome::EmptyCart { removed_owned });
    }
    let currency = request.currency;
    let foreign: Vec<String> = courses
        .iter()
        .filter(|c| c.currency != currency)
        .map(|c| c.title.clone())
        .collect();
    if !foreign.is_empty() {
        return Err(CheckoutError::OtherCurrency(foreign));
    }
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
            superseded: Vec::new(),
        })));
    }
    // An older order whose intent might still be paid is settled at the
    // provider first: superseding it here could cancel a paid order.
    let unsettled: Vec<Order> = pending
        .iter()
        .filter(|o| o.payment_intent_id.is_some() && !request.settled.contains(&o.id))
        .cloned()
        .collect();
    if !unsettled.is_empty() {
        return Ok(CheckoutOutcome::MustSettle(unsettled));
    }
    // A changed cart replaces the older pending orders (and frees their
    // promo uses) before the new order checks the promo's limits. Their
    // journal rows are appended last, like every journal row.
    let mut superseded = Vec::new();
    for old in &pending {
        if cancel_without_journal(conn, old, now)? {
            superseded.push(old);
        }
    }

    let subtotal: i64 = lines.iter().map(|l| l.unit_price_cents).sum();
    let applicable = match &code {
        None => None,
        Some(code) => {
            let course_ids: Vec<CourseId> = lines.iter().map(|l| l.course_id).collect();
            let cart_view = promo::Cart {
                user_id: Some(user_id),
                courses: &course_ids,
                subtotal_cents: subtotal,
                currency,
            };
            Some(promo::check(conn, code, &cart_view, now)??)
        }
    };
    let quote = pricing::with_tax(
        pricing::quote(
            &lines,
            applicable.as_ref().map(|a| a.discount),
            |course| applicable.as_ref().is_some_and(|a| a.applies_to(course)),
            currency.rounding_unit(),
        ),
        request.tax.as_ref().map(|t| t.rate),
        currency.rounding_unit(),
    );
    let snapshot = applicable.as_ref().map(promo::ApplicablePromo::snapshot);
    let free = quote.total_cents == 0;
    if !free && quote.total_cents < currency.minimum_charge() {
        return Err(CheckoutError::BelowMinimumCharge(Money::new(
            currency.minimum_charge(),
            currency,
        )));
    }
    let items: Vec<OrderItem> = quote
        .lines
        .iter()
        .map(|l| OrderItem {
            course_id: l.course_id,
            title: l.title.clone(),
            unit_price_cents: l.unit_price_cents,
            discount_cents: l.discount_cents,
            total_cents: l.total_cents,
            tax_cents: l.tax_cents,
        })
        .collect();
    let placeholder = format!("new-{}", crate::session::new_token());
    let seller_details = request
        .seller
        .with_overrides(&SellerSettings::load(conn)?)
        .snapshot(request.tax.as_ref());
    // Who the invoice will be to, as remembered now.
    let buyer = Billing::for_user(conn, user_id)?;
    let order = NewOrder {
        number: &placeholder,
        user_id,
        status: OrderStatus::Pending,
        subtotal_cents: quote.subtotal_cents,
        discount_cents: quote.discount_cents,
        total_cents: quote.total_cents,
        currency,
        promo_code_id: applicable.as_ref().map(|a| a.promo.id),
        promo_code: applicable.as_ref().map(|a| a.promo.code.as_str()),
        promo_snapshot: snapshot.as_deref(),
        provider: if free {
            Provider::Free
        } else {
            request.provider
        },
        cart_fingerprint: Some(&print),
        created_at: now,
        updated_at: now,
        seller_details: Some(&seller_details),
        buyer_company: buyer.company.as_deref(),
        buyer_address: buyer.address.as_deref(),
        buyer_tax_id: buyer.tax_id.as_deref(),
        tax_cents: quote.tax_cents,
        tax_inclusive: request.tax.as_ref().is_none_or(|t| t.rate.inclusive),
    }
    .insert(conn, &items)?;
    if let Some(applicable) = &applicable {
        promo::reserve_promo_redemption(conn, applicable, order.id, user_id, now)??;
    }
    for old in &superseded {
        journal_cancellation(conn, old, "superseded by a newer checkout")?;
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
        superseded: superseded
            .into_iter()
            .map(|o| Superseded {
                number: o.number.clone(),
                payment_intent_id: o.payment_intent_id.clone(),
            })
            .collect(),
    })))
}

/// The cart's courses the student does not own; owned ones leave the cart
/// (and are named).
fn buyable_courses(
    conn: &mut DbConnection,
    cart: &Cart,
    user_id: UserId,
) -> diesel::QueryResult<(Vec<Course>, Vec<String>)> {
    let mut removed_owned = Vec::new();
    let mut courses = Vec::new();
    for course in CartItem::courses(conn, cart.id)? {
        if UserCourse::owns(conn, user_id, course.id)? {
            CartItem::remove(conn, cart.id, course.id)?;
            removed_owned.push(course.title);
        } else {
            courses.push(course);
        }
    }
    Ok((courses, removed_owned))
}

/// A total of zero needs no payment: paid, granted, promo redeemed, cart
/// emptied and journalled in the checkout's own transaction.
fn fulfill_free_order(
    conn: &mut DbConnection,
    order: &Order,
    now: NaiveDateTime,
) -> diesel::QueryResult<Order> {
    deliver_paid_order(conn, order, now)?;
    let metadata =
        serde_json::json!({ "free_order": true, "promo_code": order.promo_code }).to_string();
    record_journal_entry(
        conn,
        &JournalEntry {
            kind: JournalKind::Income,
            status: JournalStatus::Success,
            amount_cents: 0,
            currency: order.currency,
            description: &format!("Order {} fulfilled at no charge", order.number),
            order_id: Some(order.id),
            metadata: &metadata,
            provider_event_id: None,
            idempotency_key: &format!("order-{}-income", order.id.0),
        },
    )?;
    Order::mark_paid(conn, order.id, Provider::Free, None, now)?;
    Order::find(conn, order.id)?.ok_or(diesel::result::Error::NotFound)
}
