//! Order numbers from checkout, invoice numbers only at payment: gap-free,
//! in payment order, found by either number.

use chrono::Datelike;
use diesel::prelude::*;
use kasir::db::DbConnection;
use kasir::db::schema::orders;

use crate::both_backends;
use crate::helpers::{Backend, TestApp, location, select_all};

/// The numbers a gap-free yearly sequence gives documents issued at
/// `dates`, in that order (tests may straddle New Year).
fn yearly_numbers(prefix: &str, dates: &[chrono::NaiveDateTime]) -> Vec<String> {
    let mut counts = std::collections::BTreeMap::new();
    dates
        .iter()
        .map(|d| {
            let n = counts.entry(d.year()).or_insert(0);
            *n += 1;
            format!("{prefix}-{}-{n:06}", d.year())
        })
        .collect()
}

fn paid_at(conn: &mut DbConnection, number: &str) -> chrono::NaiveDateTime {
    orders::table
        .filter(orders::number.eq(number))
        .select(orders::paid_at.assume_not_null())
        .first(conn)
        .unwrap()
}

/// (status, invoice number) of the order with this order number.
fn invoice_of(conn: &mut DbConnection, number: &str) -> (String, Option<String>) {
    orders::table
        .filter(orders::number.eq(number))
        .select((orders::status, orders::invoice_number))
        .first(conn)
        .unwrap()
}

both_backends! {
    async fn invoices_are_numbered_at_payment_in_payment_order_and_canceled_orders_leave_no_gap(app: TestApp) {
        let mut conn = app.db.connect();
        app.student("ada@example.com").await;
        // Ada's first checkout is superseded by a changed cart: canceled, never invoiced.
        app.add_course("rust-for-web-developers").await;
        let first = location(&app.checkout("").await).trim_start_matches("/checkout/").to_owned();
        assert!(first.starts_with("ORD-"), "{first}");
        assert_eq!(invoice_of(&mut conn, &first), ("pending".into(), None), "no invoice before payment");
        let pending_page = app.get_html(&format!("/orders/{first}")).await;
        assert_eq!(select_all(&pending_page, "h1[data-document]"), vec!["Order"], "a pending order is not an invoice");
        assert!(select_all(&pending_page, "[data-invoice-number]").is_empty());

        app.add_course("modern-javascript").await;
        let second = location(&app.checkout("").await);
        assert_eq!(invoice_of(&mut conn, &first).0, "canceled");

        // Eve places her order after Ada's but pays first: she gets number 1.
        let eve = TestApp::with_client_of(&app);
        eve.student("eve@example.com").await;
        let eves = eve.bought(&["ux-design-foundations"], "").await;
        app.pay_in_sandbox(&second, "4242424242424242").await;
        let second = second.trim_start_matches("/checkout/").to_owned();
        let expected = yearly_numbers("INV", &[paid_at(&mut conn, &eves), paid_at(&mut conn, &second)]);
        assert!(expected[0].ends_with("-000001"));
        assert_eq!(invoice_of(&mut conn, &eves), ("paid".into(), Some(expected[0].clone())));
        assert_eq!(invoice_of(&mut conn, &second), ("paid".into(), Some(expected[1].clone())));
        assert_eq!(invoice_of(&mut conn, &first).1, None, "the canceled order took no number");

        // The invoice shows both numbers, and is found by either.
        let invoice_number = expected[1].clone();
        for path in [format!("/orders/{second}"), format!("/orders/{invoice_number}")] {
            let page = app.get_html(&path).await;
            assert_eq!(select_all(&page, "h1[data-document]"), vec!["Invoice"], "{path}");
            assert_eq!(select_all(&page, "[data-invoice-number]"), vec![invoice_number.clone()]);
            assert_eq!(select_all(&page, "[data-order-number]"), vec![second.clone()]);
        }
        assert_eq!(eve.get(&format!("/orders/{invoice_number}")).await.status(), 404, "not Eve's");
        let listed = app.get_html("/orders").await;
        assert_eq!(select_all(&listed, "[data-invoice-number]"), vec![invoice_number.clone()]);

        // Staff find it by its invoice number, and its journal by either number.
        let boss = TestApp::with_client_of(&app);
        boss.staff("boss@example.com").await;
        let found = boss.get_html(&format!("/staff/orders?number={invoice_number}")).await;
        assert_eq!(
            select_all(&found, "tbody td code"),
            vec![second.clone()]
        );
        assert_eq!(select_all(&found, "tbody [data-invoice-number]"), vec![invoice_number.clone()]);
        let journal = boss.get_html(&format!("/staff/journal?order={invoice_number}")).await;
        assert_eq!(select_all(&journal, "tr[data-journal-type]").len(), 2, "payment started and income");
    }

    async fn a_free_order_is_invoiced_too(app: TestApp) {
        let mut conn = app.db.connect();
        crate::helpers::shop::insert_promo(
            &mut conn,
            crate::helpers::shop::Promo { code: "FREE", percent_bps: Some(10_000), ..crate::helpers::shop::Promo::default() },
        );
        app.student("ada@example.com").await;
        app.add_course("rust-for-web-developers").await;
        let done = location(&app.checkout("free").await);
        let number = done.trim_start_matches("/checkout/").trim_end_matches("/complete").to_owned();
        let (status, invoice) = invoice_of(&mut conn, &number);
        assert_eq!(status, "paid");
        assert!(invoice.unwrap().ends_with("-000001"));
    }
}

// PostgreSQL numbers in SQL (one statement with the UPDATE), SQLite in
// Rust: the same number on both, past six digits too.
both_backends! {
    async fn the_millionth_invoice_of_a_year_has_seven_digits(app: TestApp) {
        use kasir::db::schema::document_sequences;
        let mut conn = app.db.connect();
        let year = kasir::db::now().year();
        diesel::insert_into(document_sequences::table)
            .values((
                document_sequences::kind.eq("invoice"),
                document_sequences::year.eq(year),
                document_sequences::last_number.eq(999_999_i64),
            ))
            .execute(&mut conn)
            .unwrap();
        app.student("ada@example.com").await;
        let number = app.bought(&["rust-for-web-developers"], "").await;
        let paid_year = paid_at(&mut conn, &number).year();
        assert_eq!(paid_year, year, "paid in the year it was numbered for");
        assert_eq!(
            invoice_of(&mut conn, &number),
            ("paid".into(), Some(format!("INV-{year}-1000000")))
        );
    }
}

/// Takes the schema back to before migration `name` (every later
/// migration's down, newest first, then its own) on a database holding
/// data, runs `between`, then every up again: as the migrations ran on
/// shops that had data before them. Each file in its own transaction, as
/// the migration harness runs them.
fn remigrate(
    conn: &mut DbConnection,
    url: &str,
    name: &str,
    between: impl FnOnce(&mut DbConnection),
) {
    use diesel::connection::SimpleConnection;
    let engine = if url.starts_with("postgres") {
        "postgres"
    } else {
        "sqlite"
    };
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("migrations")
        .join(engine);
    let mut names: Vec<String> = std::fs::read_dir(&root)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.as_str() >= name)
        .collect();
    names.sort();
    let run = |conn: &mut DbConnection, name: &str, file: &str| {
        let sql = std::fs::read_to_string(root.join(name).join(file)).unwrap();
        conn.transaction(|c| c.batch_execute(&sql))
            .unwrap_or_else(|e| panic!("{name}/{file}: {e}"));
    };
    for name in names.iter().rev() {
        run(conn, name, "down.sql");
    }
    between(conn);
    for name in &names {
        run(conn, name, "up.sql");
    }
}

both_backends! {
    async fn orders_paid_before_the_migration_are_numbered_in_payment_order_and_keep_their_old_numbers(app: TestApp) {
        let mut conn = app.db.connect();
        app.student("ada@example.com").await;
        app.add_course("rust-for-web-developers").await;
        let first = location(&app.checkout("").await);
        let eve = TestApp::with_client_of(&app);
        eve.student("eve@example.com").await;
        let eves = eve.bought(&["ux-design-foundations"], "").await; // paid first
        app.pay_in_sandbox(&first, "4242424242424242").await; // paid second
        let first = first.trim_start_matches("/checkout/").to_owned();
        app.add_course("modern-javascript").await;
        let pending = location(&app.checkout("").await).trim_start_matches("/checkout/").to_owned();

        remigrate(&mut conn, &app.db.url, "2026-11-30-000005_invoice_numbers", |conn| {
            let legacy: Vec<String> = orders::table.select(orders::number).order(orders::id.asc()).load(conn).unwrap();
            assert!(legacy.iter().all(|n| n.starts_with("INV-")), "{legacy:?}");
        });
        let numbered = yearly_numbers("INV", &[paid_at(&mut conn, &eves), paid_at(&mut conn, &first)]);

        let rows: Vec<(String, Option<String>, Option<String>)> = orders::table
            .order(orders::id.asc())
            .select((orders::number, orders::invoice_number, orders::legacy_number))
            .load(&mut conn)
            .unwrap();
        let legacy = |n: &str| format!("INV-{}", n.trim_start_matches("ORD-"));
        assert_eq!(
            rows,
            vec![
                (first.clone(), Some(numbered[1].clone()), Some(legacy(&first))),
                (eves.clone(), Some(numbered[0].clone()), Some(legacy(&eves))),
                (pending.clone(), None, Some(legacy(&pending))),
            ]
        );
        // An old link still opens the order, though its old number is now
        // Eve's invoice number (when both fell in one year): for Eve it is
        // her invoice, and staff searching it see both.
        if legacy(&first) == numbered[0] {
            let old = app.get_html(&format!("/orders/{}", legacy(&first))).await;
            assert_eq!(select_all(&old, "[data-order-number]"), vec![first.clone()]);
            let hers = eve.get_html(&format!("/orders/{}", numbered[0])).await;
            assert_eq!(select_all(&hers, "[data-order-number]"), vec![eves.clone()]);
            // Staff searching the old number see both.
            let boss = TestApp::with_client_of(&app);
            boss.staff("boss@example.com").await;
            let found = boss.get_html(&format!("/staff/orders?number={}", legacy(&first))).await;
            let mut listed = select_all(&found, "tbody td code");
            listed.sort();
            assert_eq!(listed, vec![first.clone(), eves.clone()]);
        }
        // The sequence goes on after the migrated numbers.
        app.pay_in_sandbox(&format!("/checkout/{pending}"), "4242424242424242").await;
        let all = yearly_numbers(
            "INV",
            &[paid_at(&mut conn, &eves), paid_at(&mut conn, &first), paid_at(&mut conn, &pending)],
        );
        assert_eq!(invoice_of(&mut conn, &pending).1, Some(all[2].clone()));
    }
}

both_backends! {
    async fn each_refund_issues_a_credit_note_against_the_invoice_that_nobody_can_change(app: TestApp) {
        use kasir::db::schema::{credit_notes, document_sequences, webhook_events};
        let mut conn = app.db.connect();
        app.student("ada@example.com").await;
        let number = app.bought(&["rust-for-web-developers"], "").await;
        let invoice = yearly_numbers("INV", &[paid_at(&mut conn, &number)]).remove(0);
        let boss = TestApp::with_client_of(&app);
        boss.staff("boss@example.com").await;
        boss.refund(&number, "10.00", "late start").await;
        boss.refund(&number, "", "course cancelled").await;

        let notes: Vec<(String, String, i64, i64, Option<String>)> = credit_notes::table
            .order(credit_notes::id.asc())
            .select((
                credit_notes::number,
                credit_notes::invoice_number,
                credit_notes::amount_cents,
                credit_notes::credited_cents,
                credit_notes::reason,
            ))
            .load(&mut conn)
            .unwrap();
        let issued: Vec<chrono::NaiveDateTime> = credit_notes::table
            .order(credit_notes::id.asc())
            .select(credit_notes::issued_at)
            .load(&mut conn)
            .unwrap();
        let (first, second) = match yearly_numbers("CN", &issued).as_slice() {
            [a, b] => (a.clone(), b.clone()),
            other => panic!("{other:?}"),
        };
        assert_eq!(
            notes,
            vec![
                (first.clone(), invoice.clone(), 1_000, 1_000, Some("late start".into())),
                (second.clone(), invoice.clone(), 7_900, 8_900, Some("course cancelled".into())),
            ]
        );

        // The same refund event delivered again issues nothing.
        let payloads: Vec<String> = webhook_events::table
            .filter(webhook_events::type_.eq("charge.refunded"))
            .select(webhook_events::payload)
            .load(&mut conn)
            .unwrap();
        for payload in &payloads {
            assert!(app.deliver(payload).await.status().is_success());
        }
        let count: i64 = credit_notes::table.count().get_result(&mut conn).unwrap();
        assert_eq!(count, 2, "a redelivery is not a refund");

        // The invoice lists them; each is its own printable document.
        let page = app.get_html(&format!("/orders/{number}")).await;
        assert_eq!(select_all(&page, "tr[data-credit-note] td.num"), vec!["-$10.00", "-$79.00"]);
        assert_eq!(select_all(&page, "[data-invoice-balance]"), vec!["$0.00"]);
        let path = format!("/orders/{number}/credit-notes/{first}");
        let note = app.get_html(&path).await;
        assert_eq!(select_all(&note, "h1[data-document]"), vec!["Credit note"]);
        assert_eq!(select_all(&note, "[data-credits-invoice]"), vec![invoice.clone()]);
        assert_eq!(select_all(&note, "[data-credited]"), vec!["-$10.00"]);
        assert_eq!(select_all(&note, "[data-remaining]"), vec!["$79.00"]);
        assert!(select_all(&note, "[data-credit-reason]")[0].contains("late start"));
        assert_eq!(app.get(&format!("/orders/{invoice}/credit-notes/{second}")).await.status(), 200, "by the invoice number too");
        assert_eq!(boss.get(&path).await.status(), 200, "staff see it");
        let eve = TestApp::with_client_of(&app);
        eve.student("eve@example.com").await;
        assert_eq!(eve.get(&path).await.status(), 404, "not Eve's");
        let eves = eve.bought(&["modern-javascript"], "").await;
        assert_eq!(eve.get(&format!("/orders/{eves}/credit-notes/{first}")).await.status(), 404, "not this order's");
        assert_eq!(app.get(&format!("/orders/{number}/credit-notes/CN-1999-000001")).await.status(), 404);
        let staff_page = boss.get_html(&format!("/staff/orders/{number}")).await;
        assert_eq!(select_all(&staff_page, "[data-documents] [data-credit-note] code"), vec![first.clone(), second.clone()]);

        // The accountant's list: every document, newest first, and as CSV.
        let docs = boss.get_html("/staff/documents").await;
        let eves_invoice = invoice_of(&mut conn, &eves).1.unwrap();
        assert_eq!(
            select_all(&docs, "tr[data-document-row] td:nth-child(2) code"),
            vec![eves_invoice.clone(), second.clone(), first.clone(), invoice.clone()]
        );
        let notes_only = boss.get_html("/staff/documents?type=credit_note").await;
        assert_eq!(select_all(&notes_only, "tr[data-document-row] td:nth-child(2) code"), vec![second.clone(), first.clone()]);
        assert_eq!(boss.get("/staff/documents?type=receipt").await.status(), 400);
        assert_eq!(app.get("/staff/documents").await.status(), 403);
        let body = boss.get("/staff/documents.csv").await.text().await.unwrap();
        let mut reader = csv::Reader::from_reader(body.as_bytes());
        let records: Vec<Vec<String>> =
            reader.records().map(|r| r.unwrap().iter().map(str::to_owned).collect()).collect();
        assert_eq!(records.len(), 4);
        let cn = records.iter().find(|r| r[1] == first).expect("the first credit note");
        assert_eq!(
            (cn[0].as_str(), cn[3].as_str(), cn[4].as_str(), cn[6].as_str(), cn[9].as_str(), cn[10].as_str()),
            ("credit_note", number.as_str(), invoice.as_str(), "ada@example.com", "-10.00", "USD")
        );
        let inv = records.iter().find(|r| r[1] == invoice).expect("the invoice");
        assert_eq!((inv[0].as_str(), inv[9].as_str()), ("invoice", "89.00"));

        // Issued documents are not edited or deleted, even by SQL.
        let edit = diesel::update(credit_notes::table).set(credit_notes::amount_cents.eq(1_i64)).execute(&mut conn);
        assert!(format!("{:?}", edit.unwrap_err()).contains("immutable"));
        let delete = diesel::delete(credit_notes::table).execute(&mut conn);
        assert!(format!("{:?}", delete.unwrap_err()).contains("immutable"));

        // Shops with refunds from before credit notes: the migration issues
        // theirs, in journal order, and the sequence goes on from there.
        remigrate(&mut conn, &app.db.url, "2026-11-30-000006_credit_notes", |_| {});
        let migrated: Vec<(String, i64, i64, Option<String>)> = credit_notes::table
            .order(credit_notes::id.asc())
            .select((credit_notes::number, credit_notes::amount_cents, credit_notes::credited_cents, credit_notes::reason))
            .load(&mut conn)
            .unwrap();
        assert_eq!(migrated, vec![(first.clone(), 1_000, 1_000, None), (second.clone(), 7_900, 8_900, None)]);
        let counted: Vec<i64> = document_sequences::table
            .filter(document_sequences::kind.eq("credit_note"))
            .select(document_sequences::last_number)
            .load(&mut conn)
            .unwrap();
        assert_eq!(counted.iter().sum::<i64>(), 2, "the sequence goes on from the migrated notes");
    }
}

const SELLER: &[(&str, &str)] = &[
    ("SELLER_NAME", "PT Kursus Maju"),
    ("SELLER_ADDRESS", "Jl. Sudirman 1\\nJakarta 10220"),
    ("SELLER_TAX_ID", "01.234.567.8-901.000"),
    ("INVOICE_FOOTER", "Bank BCA 123-456-789"),
];

async fn billing_details_are_checked_remembered_and_kept_as_they_were(backend: Backend) {
    let app = TestApp::spawn_with(backend, SELLER).await;
    app.student("ada@example.com").await;
    app.add_course("rust-for-web-developers").await;
    let cart = app.get_html("/cart").await;
    assert_eq!(
        select_all(&cart, "[data-billing] summary"),
        vec!["Invoice to a company?"]
    );

    // A VAT number that is not one: refused on the cart page, typing kept.
    let bad = app
        .submit(
            "/cart/billing",
            &[
                ("company", "Acme GmbH"),
                ("address", ""),
                ("tax_id", "DE12345678"),
            ],
        )
        .await;
    assert_eq!(bad.status(), 400);
    let page = bad.text().await.unwrap();
    assert!(select_all(&page, "#billing-error")[0].contains("not a valid DE VAT number"));
    assert_eq!(
        crate::helpers::select_attr(&page, "#company", "value"),
        vec!["Acme GmbH"]
    );
    assert_eq!(
        crate::helpers::select_attr(&page, "#tax_id", "value"),
        vec!["DE12345678"]
    );

    let saved = app
        .submit(
            "/cart/billing",
            &[
                ("company", "Acme GmbH"),
                ("address", "Hauptstr. 1\n10115 Berlin"),
                ("tax_id", "de 123 456 789"),
            ],
        )
        .await;
    assert_eq!(location(&saved), "/cart");
    let cart = app.get_html("/cart").await;
    assert_eq!(
        crate::helpers::select_attr(&cart, "#tax_id", "value"),
        vec!["DE123456789"],
        "kept bare"
    );
    let pay = location(&app.checkout("").await);
    app.pay_in_sandbox(&pay, "4242424242424242").await;
    let number = pay.trim_start_matches("/checkout/").to_owned();

    let invoice = app.get_html(&format!("/orders/{number}")).await;
    assert_eq!(
        select_all(&invoice, "[data-buyer-company]"),
        vec!["Acme GmbH"]
    );
    assert_eq!(
        select_all(&invoice, "[data-buyer-tax-id]"),
        vec!["Tax number: DE123456789"]
    );
    assert!(select_all(&invoice, "[data-buyer]")[0].contains("10115 Berlin"));
    let seller = select_all(&invoice, "[data-seller]")[0].clone();
    assert!(
        seller.contains("PT Kursus Maju") && seller.contains("Jakarta 10220"),
        "{seller}"
    );
    assert_eq!(
        select_all(&invoice, "[data-seller-tax-id]"),
        vec!["Tax number: 01.234.567.8-901.000"]
    );
    assert_eq!(
        select_all(&invoice, "[data-invoice-footer]"),
        vec!["Bank BCA 123-456-789"]
    );

    // Ada changes her details, the shop moves: the issued invoice does not change.
    app.submit(
        "/cart/billing",
        &[("company", "Other Ltd"), ("address", ""), ("tax_id", "")],
    )
    .await;
    let moved = TestApp::spawn_on(
        app.db.clone(),
        &[
            ("SELLER_NAME", "PT Kursus Baru"),
            ("SELLER_ADDRESS", "Bandung"),
        ],
    )
    .await;
    assert_eq!(
        moved
            .login("ada@example.com", crate::helpers::PASSWORD)
            .await
            .status(),
        303
    );
    let again = moved.get_html(&format!("/orders/{number}")).await;
    assert_eq!(
        select_all(&again, "[data-buyer-company]"),
        vec!["Acme GmbH"]
    );
    assert!(select_all(&again, "[data-seller]")[0].contains("PT Kursus Maju"));
    assert!(!again.contains("PT Kursus Baru"));
    // An order placed now carries the new details.
    let next = moved.bought(&["modern-javascript"], "").await;
    let new_invoice = moved.get_html(&format!("/orders/{next}")).await;
    assert_eq!(
        select_all(&new_invoice, "[data-buyer-company]"),
        vec!["Other Ltd"]
    );
    assert!(select_all(&new_invoice, "[data-seller]")[0].contains("PT Kursus Baru"));
    assert!(select_all(&new_invoice, "[data-buyer-tax-id]").is_empty());
}

#[actix_web::test]
async fn billing_details_on_sqlite() {
    billing_details_are_checked_remembered_and_kept_as_they_were(Backend::Sqlite).await;
}

#[actix_web::test]
async fn billing_details_on_postgres() {
    billing_details_are_checked_remembered_and_kept_as_they_were(Backend::Postgres).await;
}

/// PPN 11 % in the prices, as Indonesian consumer prices include it.
async fn tax_in_the_prices_is_spread_journalled_credited_and_reported(backend: Backend) {
    use kasir::db::schema::{credit_notes, financial_journals, order_items};
    let app = TestApp::spawn_with(backend, &[("TAX_RATE_BPS", "1100"), ("TAX_NAME", "PPN")]).await;
    let mut conn = app.db.connect();
    crate::helpers::shop::insert_promo(
        &mut conn,
        crate::helpers::shop::Promo {
            code: "TEN",
            ..crate::helpers::shop::Promo::default()
        },
    );
    app.student("ada@example.com").await;
    let number = app
        .bought(&["rust-for-web-developers", "modern-javascript"], "TEN")
        .await;

    // 89.00 + 49.00 - 10 % = 124.20, which holds 124.20 × 11/111 = 12.3081 -> 12.31
    // of PPN, spread 7.94 + 4.37 by the lines' shares (largest remainder).
    let (total, tax): (i64, i64) = orders::table
        .filter(orders::number.eq(&number))
        .select((orders::total_cents, orders::tax_cents))
        .first(&mut conn)
        .unwrap();
    assert_eq!(
        (total, tax),
        (12_420, 1_231),
        "the price paid does not change"
    );
    let line_taxes: Vec<i64> = order_items::table
        .inner_join(orders::table)
        .filter(orders::number.eq(&number))
        .order(order_items::id.asc())
        .select(order_items::tax_cents)
        .load(&mut conn)
        .unwrap();
    assert_eq!(line_taxes, vec![794, 437]);
    let journal = |conn: &mut DbConnection| -> Vec<(String, i64)> {
        financial_journals::table
            .order(financial_journals::id.asc())
            .select((financial_journals::type_, financial_journals::amount_cents))
            .load(conn)
            .unwrap()
    };
    assert_eq!(
        journal(&mut conn),
        vec![
            ("payment_initiated".into(), 12_420),
            ("income".into(), 12_420),
            ("tax_collected".into(), 1_231)
        ]
    );
    let invoice = app.get_html(&format!("/orders/{number}")).await;
    assert_eq!(
        select_all(&invoice, "[data-line-tax]"),
        vec!["$7.94", "$4.37"]
    );
    assert_eq!(select_all(&invoice, "[data-invoice-tax]"), vec!["$12.31"]);
    assert!(invoice.contains("Of which PPN 11%"), "named with its rate");

    // A partial refund carries its share of the tax; the rest carries the rest.
    let boss = TestApp::with_client_of(&app);
    boss.staff("boss@example.com").await;
    boss.refund(&number, "10.00", "late start").await;
    let reports = boss.get_html("/staff/reports").await;
    let kpi = |page: &str, name: &str| select_all(page, &format!("[data-kpi={name}]"))[0].clone();
    assert_eq!(
        kpi(&reports, "tax"),
        "$11.32",
        "12.31 collected, 0.99 refunded"
    );
    assert_eq!(kpi(&reports, "net-of-tax"), "$102.88");
    let first_note: (String, i64) = credit_notes::table
        .select((credit_notes::number, credit_notes::tax_cents))
        .first(&mut conn)
        .unwrap();
    assert_eq!(first_note.1, 99, "10.00 × 1231/12420 = 0.9911");
    let note = app
        .get_html(&format!("/orders/{number}/credit-notes/{}", first_note.0))
        .await;
    assert_eq!(select_all(&note, "[data-credited-tax]"), vec!["-$0.99"]);
    boss.refund(&number, "", "cancelled").await;
    let taxes: i64 = credit_notes::table
        .select(credit_notes::tax_cents)
        .load::<i64>(&mut conn)
        .unwrap()
        .iter()
        .sum();
    assert_eq!(
        taxes, 1_231,
        "refunded in full, the tax is credited in full"
    );
    let reports = boss.get_html("/staff/reports").await;
    assert_eq!(kpi(&reports, "tax"), "$0.00");
    let rows = journal(&mut conn);
    assert_eq!(
        rows.iter()
            .filter(|r| r.0 == "tax_refunded")
            .map(|r| r.1)
            .collect::<Vec<_>>(),
        vec![99, 1_132]
    );

    // The accountant's CSV: gross, tax and net of tax per document.
    let body = boss.get("/staff/documents.csv").await.text().await.unwrap();
    let mut reader = csv::Reader::from_reader(body.as_bytes());
    let records: Vec<Vec<String>> = reader
        .records()
        .map(|r| r.unwrap().iter().map(str::to_owned).collect())
        .collect();
    let invoice_row = records.iter().find(|r| r[0] == "invoice").unwrap();
    assert_eq!(invoice_row[9..], ["124.20", "USD", "12.31", "111.89"]);
    let note_row = records.iter().find(|r| r[1] == first_note.0).unwrap();
    assert_eq!(note_row[9..], ["-10.00", "USD", "-0.99", "-9.01"]);
}

#[actix_web::test]
async fn tax_on_sqlite() {
    tax_in_the_prices_is_spread_journalled_credited_and_reported(Backend::Sqlite).await;
}

#[actix_web::test]
async fn tax_on_postgres() {
    tax_in_the_prices_is_spread_journalled_credited_and_reported(Backend::Postgres).await;
}
