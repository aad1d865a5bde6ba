//! Sales tax added on top of the prices (`TAX_INCLUSIVE=false`, as B2B and
//! most EU shops quote): the buyer is charged the prices, less the promo,
//! plus the tax, and every paper shows which.

use diesel::prelude::*;
use kasir::db::DbConnection;
use kasir::db::schema::{
    credit_notes, financial_journals, order_items, orders, sandbox_payment_intents,
};

use crate::helpers::shop::{Promo, insert_promo};
use crate::helpers::{Backend, TestApp, select_all};

const VAT_ON_TOP: &[(&str, &str)] = &[
    ("TAX_RATE_BPS", "1900"),
    ("TAX_INCLUSIVE", "false"),
    ("TAX_NAME", "VAT"),
];

async fn tax_on_top_is_charged_shown_journalled_and_credited(backend: Backend) {
    let app = TestApp::spawn_with(backend, VAT_ON_TOP).await;
    let mut conn = app.db.connect();
    insert_promo(&mut conn, Promo::default());
    app.student("ada@example.com").await;
    for slug in [
        "rust-for-web-developers",
        "postgresql-in-practice",
        "ux-design-foundations",
    ] {
        app.add_course(slug).await;
    }

    // 89 + 69 + 59 = 217.00, less 10 % = 195.30 net; 19 % of that is
    // 37.107 -> 37.11 of VAT, spread over the lines' nets 80.10, 62.10 and
    // 53.10 by largest remainder: 15.22 + 11.80 + 10.09. Total 232.41.
    app.submit("/cart/promo", &[("promo_code", "SAVE10")]).await;
    let cart = app.get_html("/cart").await;
    assert_eq!(select_all(&cart, "[data-cart-tax]"), vec!["$37.11"]);
    assert_eq!(select_all(&cart, "[data-cart-total]"), vec!["$232.41"]);
    assert!(
        cart.contains("Plus VAT"),
        "the cart says the tax comes on top"
    );

    let number = app.bought(&[], "SAVE10").await;
    let (subtotal, discount, tax, total, inclusive): (i64, i64, i64, i64, bool) = orders::table
        .filter(orders::number.eq(&number))
        .select((
            orders::subtotal_cents,
            orders::discount_cents,
            orders::tax_cents,
            orders::total_cents,
            orders::tax_inclusive,
        ))
        .first(&mut conn)
        .unwrap();
    assert_eq!(
        (subtotal, discount, tax, total, inclusive),
        (21_700, 2_170, 3_711, 23_241, false)
    );
    let lines: Vec<(i64, i64)> = order_items::table
        .inner_join(orders::table)
        .filter(orders::number.eq(&number))
        .order(order_items::id.asc())
        .select((order_items::total_cents, order_items::tax_cents))
        .load(&mut conn)
        .unwrap();
    assert_eq!(lines, vec![(8_010, 1_522), (6_210, 1_180), (5_310, 1_009)]);
    let charged: i64 = sandbox_payment_intents::table
        .select(sandbox_payment_intents::amount)
        .first(&mut conn)
        .unwrap();
    assert_eq!(charged, 23_241, "the payment provider is charged the gross");
    assert_eq!(
        journal(&mut conn),
        vec![
            ("payment_initiated".into(), 23_241),
            ("income".into(), 23_241),
            ("tax_collected".into(), 3_711)
        ]
    );

    // The invoice adds the tax before the total, line by line and in all.
    let invoice = app.get_html(&format!("/orders/{number}")).await;
    assert_eq!(
        select_all(&invoice, "[data-line-tax]"),
        vec!["$15.22", "$11.80", "$10.09"]
    );
    assert_eq!(select_all(&invoice, "[data-invoice-tax]"), vec!["$37.11"]);
    assert_eq!(
        select_all(&invoice, "[data-invoice-total]"),
        vec!["$232.41"]
    );
    let added = invoice
        .find("Plus VAT 19%")
        .expect("the tax row is named with its rate");
    let total_row = invoice.find("data-invoice-total").unwrap();
    assert!(added < total_row, "the tax is added before the total");
    assert!(!invoice.contains("Of which VAT"));

    // Refunded in full: the credit notes give back the gross and all the tax.
    let boss = TestApp::with_client_of(&app);
    boss.staff("boss@example.com").await;
    boss.refund(&number, "100.00", "partial").await;
    boss.refund(&number, "", "the rest").await;
    let notes: Vec<(i64, i64)> = credit_notes::table
        .order(credit_notes::id.asc())
        .select((credit_notes::amount_cents, credit_notes::tax_cents))
        .load(&mut conn)
        .unwrap();
    // 100.00 × 3711 / 23241 = 15.967 -> 15.97; the rest 21.14.
    assert_eq!(notes, vec![(10_000, 1_597), (13_241, 2_114)]);

    let body = boss.get("/staff/documents.csv").await.text().await.unwrap();
    let mut reader = csv::Reader::from_reader(body.as_bytes());
    let records: Vec<Vec<String>> = reader
        .records()
        .map(|r| r.unwrap().iter().map(str::to_owned).collect())
        .collect();
    let invoice_row = records.iter().find(|r| r[0] == "invoice").unwrap();
    assert_eq!(invoice_row[9..], ["232.41", "USD", "37.11", "195.30"]);
}

fn journal(conn: &mut DbConnection) -> Vec<(String, i64)> {
    financial_journals::table
        .order(financial_journals::id.asc())
        .select((financial_journals::type_, financial_journals::amount_cents))
        .load(conn)
        .unwrap()
}

#[actix_web::test]
async fn tax_on_top_on_sqlite() {
    tax_on_top_is_charged_shown_journalled_and_credited(Backend::Sqlite).await;
}

#[actix_web::test]
async fn tax_on_top_on_postgres() {
    tax_on_top_is_charged_shown_journalled_and_credited(Backend::Postgres).await;
}

/// The database holds every order to its own rule: a total that is not
/// subtotal - discount (+ tax, when added on top) is refused.
async fn an_order_total_must_add_up_under_its_tax_rule(backend: Backend) {
    let app = TestApp::spawn_with(backend, VAT_ON_TOP).await;
    let mut conn = app.db.connect();
    app.student("ada@example.com").await;
    let number = app.bought(&["modern-javascript"], "").await;
    let mine = orders::table.filter(orders::number.eq(&number));
    // 49.00 + 9.31 of VAT.
    let total: i64 = mine.select(orders::total_cents).first(&mut conn).unwrap();
    assert_eq!(total, 5_831);
    // Named by constraint (PostgreSQL) or by its expression (SQLite).
    let refused = diesel::update(mine)
        .set(orders::tax_inclusive.eq(true))
        .execute(&mut conn)
        .unwrap_err()
        .to_string();
    assert!(
        refused.contains("orders_total_adds_up") || refused.contains("CASE WHEN tax_inclusive"),
        "{refused}"
    );
    let refused = diesel::update(mine)
        .set((
            orders::tax_inclusive.eq(true),
            orders::subtotal_cents.eq(5_831),
            orders::tax_cents.eq(5_832),
        ))
        .execute(&mut conn)
        .unwrap_err()
        .to_string();
    assert!(
        refused.contains("orders_tax_within_total") || refused.contains("tax_cents <= total_cents"),
        "{refused}"
    );
}

#[actix_web::test]
async fn order_totals_checked_on_sqlite() {
    an_order_total_must_add_up_under_its_tax_rule(Backend::Sqlite).await;
}

#[actix_web::test]
async fn order_totals_checked_on_postgres() {
    an_order_total_must_add_up_under_its_tax_rule(Backend::Postgres).await;
}
