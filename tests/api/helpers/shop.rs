//! The shop as a test drives it: courses, students, carts, checkouts,
//! staff, and paying in the sandbox.

use diesel::prelude::*;
use kasir::db::schema::{courses, financial_journals, orders, promo_code_courses, promo_codes};
use kasir::db::{self, DbConnection};

use super::{PASSWORD, TestApp, location, select_all};

pub fn course_id(conn: &mut DbConnection, slug: &str) -> i64 {
    courses::table
        .filter(courses::slug.eq(slug))
        .select(courses::id)
        .first(conn)
        .unwrap()
}

/// A promo code row, with the defaults of an open, unlimited 10 % code.
pub struct Promo {
    pub code: &'static str,
    pub kind: &'static str,
    pub percent_bps: Option<i32>,
    pub amount_cents: Option<i64>,
    pub starts_at: Option<chrono::NaiveDateTime>,
    pub ends_at: Option<chrono::NaiveDateTime>,
    pub max_redemptions: Option<i64>,
    pub per_user_limit: Option<i64>,
    pub min_subtotal_cents: i64,
    pub active: bool,
    pub courses: Vec<i64>,
}

impl Default for Promo {
    fn default() -> Self {
        Self {
            code: "SAVE10",
            kind: "percent",
            percent_bps: Some(1_000),
            amount_cents: None,
            starts_at: None,
            ends_at: None,
            max_redemptions: None,
            per_user_limit: None,
            min_subtotal_cents: 0,
            active: true,
            courses: Vec::new(),
        }
    }
}

pub fn insert_promo(conn: &mut DbConnection, promo: Promo) -> i64 {
    let now = db::now();
    let id: i64 = diesel::insert_into(promo_codes::table)
        .values((
            promo_codes::code.eq(promo.code),
            promo_codes::kind.eq(promo.kind),
            promo_codes::percent_bps.eq(promo.percent_bps),
            promo_codes::amount_cents.eq(promo.amount_cents),
            promo_codes::currency.eq(promo.amount_cents.map(|_| "USD")),
            promo_codes::starts_at.eq(promo.starts_at),
            promo_codes::ends_at.eq(promo.ends_at),
            promo_codes::max_redemptions.eq(promo.max_redemptions),
            promo_codes::per_user_limit.eq(promo.per_user_limit),
            promo_codes::min_subtotal_cents.eq(promo.min_subtotal_cents),
            promo_codes::active.eq(promo.active),
            promo_codes::created_at.eq(now),
            promo_codes::updated_at.eq(now),
        ))
        .returning(promo_codes::id)
        .get_result(conn)
        .unwrap();
    for course in promo.courses {
        diesel::insert_into(promo_code_courses::table)
            .values((
                promo_code_courses::promo_code_id.eq(id),
                promo_code_courses::course_id.eq(course),
            ))
            .execute(conn)
            .unwrap();
    }
    id
}

#[derive(Queryable, Debug)]
pub struct OrderRow {
    pub id: i64,
    pub number: String,
    pub status: String,
    pub subtotal_cents: i64,
    pub discount_cents: i64,
    pub total_cents: i64,
    pub provider: String,
    pub payment_intent_id: Option<String>,
    pub promo_code: Option<String>,
}

pub fn all_orders(conn: &mut DbConnection) -> Vec<OrderRow> {
    orders::table
        .order(orders::id.asc())
        .select((
            orders::id,
            orders::number,
            orders::status,
            orders::subtotal_cents,
            orders::discount_cents,
            orders::total_cents,
            orders::provider,
            orders::payment_intent_id,
            orders::promo_code,
        ))
        .load(conn)
        .unwrap()
}

pub fn journal_kinds(conn: &mut DbConnection, order_id: i64) -> Vec<(String, i64, String)> {
    financial_journals::table
        .filter(financial_journals::reference_id.eq(order_id))
        .order(financial_journals::id.asc())
        .select((
            financial_journals::type_,
            financial_journals::amount_cents,
            financial_journals::metadata,
        ))
        .load(conn)
        .unwrap()
}

impl TestApp {
    pub async fn add_course(&self, slug: &str) {
        let id = course_id(&mut self.db.connect(), slug);
        let response = self
            .submit("/cart/items", &[("course_id", &id.to_string())])
            .await;
        assert_eq!(response.status(), 303, "add {slug}");
    }

    pub async fn checkout(&self, promo: &str) -> reqwest::Response {
        self.submit("/checkout", &[("promo_code", promo)]).await
    }

    /// Checks out and returns the flash messages the cart page then shows.
    pub async fn checkout_rejected(&self, promo: &str) -> Vec<String> {
        let response = self.checkout(promo).await;
        assert_eq!(
            location(&response),
            "/cart",
            "promo {promo:?} should be refused"
        );
        select_all(&self.get_html("/cart").await, ".flash")
    }

    pub async fn student(&self, email: &str) {
        assert_eq!(
            self.register(email, "Student", PASSWORD).await.status(),
            303
        );
    }
}

impl TestApp {
    pub async fn staff(&self, email: &str) {
        self.kasir(&["create-staff", "--email", email, "--password", PASSWORD]);
        assert_eq!(self.login(email, PASSWORD).await.status(), 303);
    }
}

impl TestApp {
    /// Checks out `slugs` with `promo` and pays with 4242 in the sandbox;
    /// returns the order number.
    pub async fn bought(&self, slugs: &[&str], promo: &str) -> String {
        for slug in slugs {
            self.add_course(slug).await;
        }
        let pay = location(&self.checkout(promo).await);
        self.pay_in_sandbox(&pay, "4242424242424242").await;
        pay.trim_start_matches("/checkout/").to_owned()
    }

    /// Pays on the sandbox's payment page `pay` (`/checkout/<number>`) with
    /// a test card; the answer's `Location`.
    pub async fn pay_in_sandbox(&self, pay: &str, card: &str) -> String {
        let paid = self
            .submit(
                &format!("{pay}/sandbox"),
                &[("card_number", card), ("expiry", "12/40"), ("cvc", "123")],
            )
            .await;
        let next = location(&paid);
        if card == "4242424242424242" {
            assert!(next.ends_with("/complete"), "{next}");
        }
        next
    }

    /// A staff refund of `amount` (in major units, as typed; empty: all
    /// that is left), confirmed.
    pub async fn refund(&self, number: &str, amount: &str, reason: &str) -> reqwest::Response {
        self.submit(
            &format!("/staff/orders/{number}/refund"),
            &[("amount", amount), ("reason", reason), ("confirm", "yes")],
        )
        .await
    }
}
