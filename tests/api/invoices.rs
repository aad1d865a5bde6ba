//! Order numbers from checkout, invoice numbers only at payment: gap-free,
//! in payment order, found by either number.

use chrono::Datelike;
use diesel::prelude::*;
use kasir::db::DbConnection;
use kasir::db::schema::orders;

use crate::both_backends;
use crate::helpers::{Backend, TestApp, location, select_all};

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
        let year = chrono::Utc::now().year();
        app.student("ada@example.com").await;
        // Ada's first checkout is superseded by a changed cart: canceled, never invoiced.
        app.add_course("rust-for-web-developers").await;
        let first = location(&app.checkout("").await).trim_start_matches("/checkout/").to_owned();
        assert!(first.starts_with(&format!("ORD-{year}-")), "{first}");
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
        assert_eq!(invoice_of(&mut conn, &eves), ("paid".into(), Some(format!("INV-{year}-000001"))));
        assert_eq!(invoice_of(&mut conn, &second), ("paid".into(), Some(format!("INV-{year}-000002"))));
        assert_eq!(invoice_of(&mut conn, &first).1, None, "the canceled order took no number");

        // The invoice shows both numbers, and is found by either.
        let invoice_number = format!("INV-{year}-000002");
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

/// Runs the invoice-number migration's down and up again on a database
/// holding orders: as it ran on shops that had orders before it.
fn remigrate(conn: &mut DbConnection, url: &str) {
    use diesel::connection::SimpleConnection;
    let (down, up) = if url.starts_with("postgres") {
        (
            include_str!("../../migrations/postgres/2026-11-30-000005_invoice_numbers/down.sql"),
            include_str!("../../migrations/postgres/2026-11-30-000005_invoice_numbers/up.sql"),
        )
    } else {
        (
            include_str!("../../migrations/sqlite/2026-11-30-000005_invoice_numbers/down.sql"),
            include_str!("../../migrations/sqlite/2026-11-30-000005_invoice_numbers/up.sql"),
        )
    };
    conn.batch_execute(down).unwrap();
    let legacy: Vec<String> = orders::table
        .select(orders::number)
        .order(orders::id.asc())
        .load(conn)
        .unwrap();
    assert!(legacy.iter().all(|n| n.starts_with("INV-")), "{legacy:?}");
    conn.batch_execute(up).unwrap();
}

both_backends! {
    async fn orders_paid_before_the_migration_are_numbered_in_payment_order_and_keep_their_old_numbers(app: TestApp) {
        let mut conn = app.db.connect();
        let year = chrono::Utc::now().year();
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

        remigrate(&mut conn, &app.db.url);

        let rows: Vec<(String, Option<String>, Option<String>)> = orders::table
            .order(orders::id.asc())
            .select((orders::number, orders::invoice_number, orders::legacy_number))
            .load(&mut conn)
            .unwrap();
        let legacy = |n: &str| format!("INV-{}", n.trim_start_matches("ORD-"));
        assert_eq!(
            rows,
            vec![
                (first.clone(), Some(format!("INV-{year}-000002")), Some(legacy(&first))),
                (eves.clone(), Some(format!("INV-{year}-000001")), Some(legacy(&eves))),
                (pending.clone(), None, Some(legacy(&pending))),
            ]
        );
        // An old link still opens the order, though its old number is now
        // Eve's invoice number: for Eve it is her invoice.
        assert_eq!(legacy(&first), format!("INV-{year}-000001"));
        let old = app.get_html(&format!("/orders/{}", legacy(&first))).await;
        assert_eq!(select_all(&old, "[data-order-number]"), vec![first.clone()]);
        let hers = eve.get_html(&format!("/orders/INV-{year}-000001")).await;
        assert_eq!(select_all(&hers, "[data-order-number]"), vec![eves.clone()]);
        // Staff searching the old number see both.
        let boss = TestApp::with_client_of(&app);
        boss.staff("boss@example.com").await;
        let found = boss.get_html(&format!("/staff/orders?number={}", legacy(&first))).await;
        let mut listed = select_all(&found, "tbody td code");
        listed.sort();
        assert_eq!(listed, vec![first.clone(), eves.clone()]);
        // The sequence goes on after the migrated numbers.
        app.pay_in_sandbox(&format!("/checkout/{pending}"), "4242424242424242").await;
        assert_eq!(invoice_of(&mut conn, &pending).1, Some(format!("INV-{year}-000003")));
    }
}
