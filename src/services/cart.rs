//! The shopping cart: one per user, or per guest token until the guest logs
//! in. Prices are the courses' current prices; nothing is snapshotted until
//! checkout.

use chrono::TimeDelta;

use crate::config::TaxSettings;
use crate::db::{self, DbConnection};
use crate::domain::{Currency, Money};
use crate::models::cart::{Cart, CartItem, CartOf, LineCourse};
use crate::models::course::Course;
use crate::models::user_course::UserCourse;
use crate::models::{CourseId, UserId};
use crate::services::pricing::{self, PriceLine};
use crate::services::promo::{self, PromoRejection};

/// More than anyone buys at once; keeps a scripted client from growing a
/// cart without bound.
pub const MAX_ITEMS: i64 = 100;

/// Whose cart a request is about.
#[derive(Clone, Debug)]
pub enum CartOwner {
    User(UserId),
    /// A visitor who is not logged in; `None` until they first add something.
    Guest(Option<String>),
}

#[derive(Debug, thiserror::Error)]
pub enum CartError {
    #[error("no such course")]
    UnknownCourse,
    /// Unpublished: staff took it off sale, or never put it on sale.
    #[error("this course is not on sale")]
    NotOnSale,
    #[error("you already own this course")]
    AlreadyOwned { title: String, slug: String },
    /// Priced in another currency than the shop's.
    #[error("this course is priced in another currency")]
    OtherCurrency { title: String },
    #[error("the cart is full")]
    Full,
    #[error(transparent)]
    Database(#[from] diesel::result::Error),
}

/// One line of the cart page.
#[derive(Clone, Debug)]
pub struct CartLine {
    pub course: LineCourse,
    pub price: Money,
    /// The price when the course went into the cart, when it has changed
    /// since.
    pub was: Option<Money>,
    /// Still on sale (published, in the shop's currency): only these count
    /// in the subtotal and can be checked out.
    pub available: bool,
}

#[derive(Clone, Debug)]
pub struct CartView {
    pub lines: Vec<CartLine>,
    pub subtotal: Money,
    /// The code applied in the cart, and what it takes off now.
    pub promo: Option<AppliedPromo>,
    /// The sales tax checking out would charge, in or on top of the total.
    pub tax: Option<CartTax>,
    /// What checking out would charge.
    pub total: Money,
}

/// The sales tax in a cart's total, as the cart page names it.
#[derive(Clone, Debug)]
pub struct CartTax {
    pub amount: Money,
    /// `PPN`.
    pub name: String,
    /// Added on top of the prices (else they include it).
    pub added: bool,
}

/// A promo code applied in the cart.
#[derive(Clone, Debug)]
pub struct AppliedPromo {
    pub code: String,
    pub discount: Money,
}

impl CartView {
    pub fn count(&self) -> usize {
        self.lines.len()
    }

    /// The courses in the cart, in the order added (the viewer's cart ids).
    pub fn course_ids(&self) -> Vec<CourseId> {
        self.lines.iter().map(|l| l.course.id).collect()
    }
}

/// What an add or remove leaves behind, for the navbar counter and the
/// cart page's subtotal.
#[derive(Clone, Debug)]
pub struct CartChange {
    pub count: i64,
    pub subtotal: Money,
    /// The guest token to keep in the session (a new guest cart was made).
    pub guest_token: Option<String>,
    pub course_title: String,
}

fn find_cart(conn: &mut DbConnection, owner: &CartOwner) -> diesel::QueryResult<Option<Cart>> {
    match owner {
        CartOwner::User(user_id) => Cart::find_for_user(conn, *user_id),
        CartOwner::Guest(Some(token)) => Cart::find_guest(conn, token),
        CartOwner::Guest(None) => Ok(None),
    }
}

/// The owner's cart as a subquery, if they can have one.
fn cart_of(owner: &CartOwner) -> Option<CartOf<'_>> {
    match owner {
        CartOwner::User(user_id) => Some(CartOf::User(*user_id)),
        CartOwner::Guest(Some(token)) => Some(CartOf::Guest(token)),
        CartOwner::Guest(None) => None,
    }
}

/// The ids of the courses in the cart, in the order they were added.
pub fn course_ids(
    conn: &mut DbConnection,
    owner: &CartOwner,
) -> diesel::QueryResult<Vec<CourseId>> {
    match cart_of(owner) {
        Some(cart) => CartItem::course_ids(conn, cart),
        None => Ok(Vec::new()),
    }
}

pub fn view(
    conn: &mut DbConnection,
    owner: &CartOwner,
    currency: Currency,
) -> diesel::QueryResult<CartView> {
    let items = match cart_of(owner) {
        Some(cart) => CartItem::lines(conn, cart)?,
        None => Vec::new(),
    };
    let lines: Vec<CartLine> = items
        .into_iter()
        .map(|(course, added_price)| CartLine {
            price: Money::new(course.price_cents, course.currency),
            was: added_price
                .filter(|was| *was != course.price_cents)
                .map(|was| Money::new(was, course.currency)),
            available: is_on_sale(course.published, course.currency, currency),
            course,
        })
        .collect();
    let subtotal = Money::new(
        lines
            .iter()
            .filter(|l| l.available)
            .map(|l| l.price.minor)
            .sum(),
        currency,
    );
    Ok(CartView {
        lines,
        subtotal,
        promo: None,
        tax: None,
        total: subtotal,
    })
}

/// The cart priced as checkout would price it: `code` applied (the
/// code's own rules; a student's own limit on it too) and the sales tax.
/// The `Err` says why the code does not apply to this cart now.
pub fn view_with_promo(
    conn: &mut DbConnection,
    owner: &CartOwner,
    currency: Currency,
    code: &str,
    tax: Option<&TaxSettings>,
) -> diesel::QueryResult<(CartView, Result<(), PromoRejection>)> {
    let mut cart = view(conn, owner, currency)?;
    let lines: Vec<PriceLine> = cart
        .lines
        .iter()
        .filter(|l| l.available)
        .map(|l| PriceLine {
            course_id: l.course.id,
            title: l.course.title.clone(),
            unit_price_cents: l.price.minor,
        })
        .collect();
    let (applicable, outcome) = match promo::normalize_code(code) {
        None => (None, Ok(())),
        Some(code) => {
            let courses: Vec<CourseId> = lines.iter().map(|l| l.course_id).collect();
            let user_id = match owner {
                CartOwner::User(id) => Some(*id),
                CartOwner::Guest(_) => None,
            };
            let check = promo::check(
                conn,
                &code,
                &promo::Cart {
                    user_id,
                    courses: &courses,
                    subtotal_cents: cart.subtotal.minor,
                    currency,
                },
                db::now(),
            )?;
            match check {
                Ok(applicable) => (Some(applicable), Ok(())),
                Err(rejection) => (None, Err(rejection)),
            }
        }
    };
    let unit = currency.rounding_unit();
    let quote = pricing::with_tax(
        pricing::quote(
            &lines,
            applicable.as_ref().map(|a| a.discount),
            |course| applicable.as_ref().is_some_and(|a| a.applies_to(course)),
            unit,
        ),
        tax.map(|t| t.rate),
        unit,
    );
    cart.promo = applicable.map(|applicable| AppliedPromo {
        code: applicable.promo.code,
        discount: Money::new(quote.discount_cents, currency),
    });
    cart.tax = tax.filter(|_| quote.tax_cents > 0).map(|t| CartTax {
        amount: Money::new(quote.tax_cents, currency),
        name: t.name.clone(),
        added: !t.rate.inclusive,
    });
    cart.total = Money::new(quote.total_cents, currency);
    Ok((cart, outcome))
}

/// Whether the course can be bought in this shop now.
fn is_on_sale(published: bool, course_currency: Currency, currency: Currency) -> bool {
    published && course_currency == currency
}

fn subtotal(
    conn: &mut DbConnection,
    cart: &Cart,
    currency: Currency,
) -> diesel::QueryResult<Money> {
    let courses = CartItem::courses(conn, cart.id)?;
    Ok(Money::new(
        courses
            .iter()
            .filter(|c| is_on_sale(c.published, c.currency, currency))
            .map(|c| c.price_cents)
            .sum(),
        currency,
    ))
}

/// Adds a published course. Adding it again changes nothing (the unique
/// (cart, course) pair decides, so concurrent adds make one line).
pub fn add(
    conn: &mut DbConnection,
    owner: &CartOwner,
    course_id: CourseId,
    currency: Currency,
) -> Result<CartChange, CartError> {
    let course = Course::find(conn, course_id)?.ok_or(CartError::UnknownCourse)?;
    if !course.published {
        return Err(CartError::NotOnSale);
    }
    if course.currency != currency {
        return Err(CartError::OtherCurrency {
            title: course.title,
        });
    }
    if let CartOwner::User(user_id) = owner
        && UserCourse::owns(conn, *user_id, course_id)?
    {
        return Err(CartError::AlreadyOwned {
            title: course.title,
            slug: course.slug,
        });
    }
    let now = db::now();
    // One write transaction: concurrent adds to one cart take turns on its
    // row, so the count below is exact and the cap holds.
    db::write_transaction(conn, |conn| {
        let (cart, guest_token) = match owner {
            CartOwner::User(user_id) => (
                Cart::find_or_create(conn, Some(*user_id), &crate::session::new_token(), now)?,
                None,
            ),
            CartOwner::Guest(token) => {
                let token = token.clone().unwrap_or_else(crate::session::new_token);
                (Cart::find_or_create(conn, None, &token, now)?, Some(token))
            }
        };
        Cart::touch(conn, cart.id, now)?;
        if !CartItem::contains(conn, cart.id, course_id)? {
            if CartItem::count(conn, cart.id)? >= MAX_ITEMS {
                return Err(CartError::Full);
            }
            CartItem::add(conn, cart.id, course_id, course.price_cents, now)?;
        }
        Ok(CartChange {
            count: CartItem::count(conn, cart.id)?,
            subtotal: subtotal(conn, &cart, currency)?,
            guest_token,
            course_title: course.title.clone(),
        })
    })
}

/// Removes a course; removing one that is not there is not an error.
pub fn remove(
    conn: &mut DbConnection,
    owner: &CartOwner,
    course_id: CourseId,
    currency: Currency,
) -> Result<CartChange, CartError> {
    let title = Course::find(conn, course_id)?
        .map(|c| c.title)
        .unwrap_or_default();
    let Some(cart) = find_cart(conn, owner)? else {
        return Ok(CartChange {
            count: 0,
            subtotal: Money::new(0, currency),
            guest_token: None,
            course_title: title,
        });
    };
    let now = db::now();
    db::write_transaction(conn, |conn| {
        if CartItem::remove(conn, cart.id, course_id)? > 0 {
            Cart::touch(conn, cart.id, now)?;
        }
        Ok(CartChange {
            count: CartItem::count(conn, cart.id)?,
            subtotal: subtotal(conn, &cart, currency)?,
            guest_token: None,
            course_title: title,
        })
    })
}

/// What merging a guest cart at login did.
#[derive(Clone, Debug, Default)]
pub struct MergeOutcome {
    pub added: usize,
    /// Titles of guest-cart courses the user already owns, left out.
    pub already_owned: Vec<String>,
    /// Titles left out because the cart was full.
    pub over_limit: Vec<String>,
}

/// Moves the guest cart's courses into the user's cart, in one transaction,
/// leaving out courses the user owns; the guest cart is then deleted.
pub fn merge_guest_cart(
    conn: &mut DbConnection,
    token: &str,
    user_id: UserId,
) -> Result<MergeOutcome, CartError> {
    db::write_transaction(conn, |conn| {
        let Some(guest) = Cart::find_guest(conn, token)? else {
            return Ok(MergeOutcome::default());
        };
        let now = db::now();
        let cart = Cart::find_or_create(conn, Some(user_id), &crate::session::new_token(), now)?;
        let mut outcome = MergeOutcome::default();
        let mut count = CartItem::count(conn, cart.id)?;
        for (course, added_price) in CartItem::lines(conn, CartOf::Guest(token))? {
            if UserCourse::owns(conn, user_id, course.id)? {
                outcome.already_owned.push(course.title);
            } else if CartItem::contains(conn, cart.id, course.id)? {
                // Already in the user's cart: one line, as ever.
            } else if count >= MAX_ITEMS {
                outcome.over_limit.push(course.title);
            } else {
                let price = added_price.unwrap_or(course.price_cents);
                CartItem::add(conn, cart.id, course.id, price, now)?;
                count += 1;
                outcome.added += 1;
            }
        }
        Cart::delete(conn, guest.id)?;
        Cart::touch(conn, cart.id, now)?;
        Ok(outcome)
    })
}

/// Deletes guest carts nobody touched for `older_than`; returns how many.
pub fn prune_guest_carts(
    conn: &mut DbConnection,
    older_than: TimeDelta,
) -> diesel::QueryResult<usize> {
    db::write_transaction(conn, |conn| {
        Cart::prune_guest_carts(conn, db::now() - older_than)
    })
}
