use diesel::prelude::*;
use kasir::db::schema::{
    cart_items, courses, order_items, orders, promo_codes, promo_redemptions,
    sandbox_payment_intents, user_courses, users,
};
use kasir::db::{self, DbConnection};

use crate::both_backends;
use crate::helpers::shop::{Promo, all_orders, course_id, insert_promo, journal_kinds};
use crate::helpers::{Backend, TestApp, location, select_all};

both_backends! {
    async fn checkout_turns_the_cart_into_a_pending_order_with_snapshot_prices(app: TestApp) {
        let mut conn = app.db.connect();
        app.student("ada@example.com").await;
        app.add_course("rust-for-web-developers").await;
        app.add_course("postgresql-in-practice").await;

        let response = app.checkout("").await;
        assert_eq!(response.status(), 303);
        let orders = all_orders(&mut conn);
        assert_eq!(orders.len(), 1);
        let order = &orders[0];
        assert_eq!(location(&response), format!("/checkout/{}", order.number));
        let placed: chrono::NaiveDateTime = orders::table.find(order.id).select(orders::created_at).first(&mut conn).unwrap();
        assert_eq!(order.number, format!("ORD-{}-{:06}", placed.format("%Y"), order.id));
        assert_eq!(order.status, "pending");
        assert_eq!((order.subtotal_cents, order.discount_cents, order.total_cents), (15_800, 0, 15_800));
        assert_eq!(order.provider, "sandbox");
        let intent = order.payment_intent_id.clone().expect("a PaymentIntent");

        let items: Vec<(String, i64, i64)> = order_items::table
            .filter(order_items::order_id.eq(order.id))
            .order(order_items::id.asc())
            .select((order_items::title, order_items::unit_price_cents, order_items::total_cents))
            .load(&mut conn)
            .unwrap();
        assert_eq!(
            items,
            vec![("Rust for Web Developers".into(), 8_900, 8_900), ("PostgreSQL in Practice".into(), 6_900, 6_900)]
        );
        // A later price change does not touch the order.
        diesel::update(courses::table.filter(courses::slug.eq("rust-for-web-developers")))
            .set(courses::price_cents.eq(1_i64))
            .execute(&mut conn)
            .unwrap();
        let snapshot: i64 = order_items::table
            .filter(order_items::order_id.eq(order.id))
            .select(order_items::unit_price_cents)
            .first(&mut conn)
            .unwrap();
        assert_eq!(snapshot, 8_900);

        let journal = journal_kinds(&mut conn, order.id);
        assert_eq!(journal.len(), 1);
        assert_eq!(journal[0].0, "payment_initiated");
        assert_eq!(journal[0].1, 15_800);
        let metadata: serde_json::Value = serde_json::from_str(&journal[0].2).unwrap();
        assert_eq!(metadata["id"], intent.as_str());
        assert_eq!(metadata["amount"], 15_800);

        let page = app.get_html(&location(&response)).await;
        assert_eq!(select_all(&page, "[data-order-total]"), vec!["$158.00"]);
        assert!(page.contains(r#"action="/checkout/"#), "the sandbox card form");
    }

    async fn submitting_twice_reuses_the_pending_order(app: TestApp) {
        let mut conn = app.db.connect();
        app.student("ada@example.com").await;
        app.add_course("rust-for-web-developers").await;
        let first = app.checkout("").await;
        let second = app.checkout("").await;
        assert_eq!(location(&first), location(&second));
        let orders = all_orders(&mut conn);
        assert_eq!(orders.len(), 1);
        let intents: i64 = sandbox_payment_intents::table.count().get_result(&mut conn).unwrap();
        assert_eq!(intents, 1, "one PaymentIntent");
        assert_eq!(journal_kinds(&mut conn, orders[0].id).len(), 1, "one payment_initiated row");
        // Loading the payment page again creates nothing either.
        app.get(&location(&first)).await;
        let intents: i64 = sandbox_payment_intents::table.count().get_result(&mut conn).unwrap();
        assert_eq!(intents, 1);
    }

    async fn a_changed_cart_supersedes_the_older_pending_order(app: TestApp) {
        let mut conn = app.db.connect();
        insert_promo(&mut conn, Promo { max_redemptions: Some(1), ..Promo::default() });
        app.student("ada@example.com").await;
        app.add_course("rust-for-web-developers").await;
        app.checkout("save10").await;
        app.add_course("modern-javascript").await;
        let response = app.checkout("SAVE10").await;
        let orders = all_orders(&mut conn);
        assert_eq!(orders.len(), 2);
        assert_eq!(orders[0].status, "canceled");
        assert_eq!(orders[1].status, "pending");
        assert_eq!(location(&response), format!("/checkout/{}", orders[1].number));
        assert_eq!(orders[1].discount_cents, 1_380, "the freed use went to the new order");
        let kinds: Vec<String> = journal_kinds(&mut conn, orders[0].id).into_iter().map(|j| j.0).collect();
        assert_eq!(kinds, vec!["payment_initiated", "canceled"]);
        let old_intent: String = sandbox_payment_intents::table
            .find(orders[0].payment_intent_id.clone().unwrap())
            .select(sandbox_payment_intents::status)
            .first(&mut conn)
            .unwrap();
        assert_eq!(old_intent, "canceled", "the old PaymentIntent cannot be paid any more");
        let statuses: Vec<String> = promo_redemptions::table
            .order(promo_redemptions::id.asc())
            .select(promo_redemptions::status)
            .load(&mut conn)
            .unwrap();
        assert_eq!(statuses, vec!["released", "reserved"]);
        let old_page = app.get_html(&format!("/checkout/{}", orders[0].number)).await;
        assert_eq!(select_all(&old_page, ".panel h2"), vec!["This order is closed"]);
    }

    async fn a_payment_still_processing_is_not_superseded_by_a_changed_cart(app: TestApp) {
        let mut conn = app.db.connect();
        app.student("ada@example.com").await;
        app.add_course("rust-for-web-developers").await;
        app.checkout("").await;
        // The student paid by bank debit: it settles in days, and cannot be canceled.
        let first = &all_orders(&mut conn)[0];
        diesel::update(sandbox_payment_intents::table.find(first.payment_intent_id.clone().unwrap()))
            .set(sandbox_payment_intents::status.eq("processing"))
            .execute(&mut conn)
            .unwrap();
        app.add_course("modern-javascript").await;
        let response = app.checkout("").await;
        let complete = format!("/checkout/{}/complete", first.number);
        assert_eq!(location(&response), complete, "sent to the payment that is settling");
        let orders = all_orders(&mut conn);
        assert_eq!(orders.len(), 1, "no second order for the same courses");
        assert_eq!(orders[0].status, "pending");
        let page = app.get_html(&complete).await;
        assert!(
            select_all(&page, ".flash-info").iter().any(|f| f.contains(&format!("A payment for order {} is still being processed", first.number))),
            "{page}"
        );
    }

    async fn prices_sent_by_the_client_are_ignored(app: TestApp) {
        let mut conn = app.db.connect();
        app.student("ada@example.com").await;
        app.add_course("rust-for-web-developers").await;
        app.submit(
            "/checkout",
            &[("promo_code", ""), ("total_cents", "1"), ("price_cents", "1"), ("amount", "0.01"), ("discount_cents", "8899")],
        )
        .await;
        let order = &all_orders(&mut conn)[0];
        assert_eq!((order.subtotal_cents, order.discount_cents, order.total_cents), (8_900, 0, 8_900));
    }

    async fn owned_courses_are_taken_out_at_checkout(app: TestApp) {
        let mut conn = app.db.connect();
        app.student("ada@example.com").await;
        app.add_course("rust-for-web-developers").await;
        app.add_course("modern-javascript").await;
        let ada: i64 = users::table.select(users::id).first(&mut conn).unwrap();
        diesel::insert_into(user_courses::table)
            .values((
                user_courses::user_id.eq(ada),
                user_courses::course_id.eq(course_id(&mut conn, "modern-javascript")),
                user_courses::granted_at.eq(db::now()),
            ))
            .execute(&mut conn)
            .unwrap();
        let response = app.checkout("").await;
        let order = &all_orders(&mut conn)[0];
        assert_eq!(order.total_cents, 8_900);
        let page = app.get_html(&location(&response)).await;
        assert!(select_all(&page, ".flash-info")[0].contains("You already own Modern JavaScript"));
    }

    async fn an_empty_cart_or_a_visitor_cannot_check_out(app: TestApp) {
        let mut conn = app.db.connect();
        app.add_course("rust-for-web-developers").await;
        let guest = app.checkout("").await;
        assert_eq!(location(&guest), "/register?next=%2Fcart");
        app.student("ada@example.com").await;
        app.submit(&format!("/cart/items/{}/delete", course_id(&mut conn, "rust-for-web-developers")), &[]).await;
        let empty = app.checkout("").await;
        assert_eq!(location(&empty), "/cart");
        assert!(all_orders(&mut conn).is_empty());
        assert_eq!(app.post_form("/checkout", &[]).await.status(), 403, "CSRF");
    }

    async fn every_promo_rule_says_why_it_refuses(app: TestApp) {
        let mut conn = app.db.connect();
        let now = db::now();
        let day = chrono::TimeDelta::days(1);
        let js = course_id(&mut conn, "modern-javascript");
        insert_promo(&mut conn, Promo { code: "OFF", active: false, ..Promo::default() });
        insert_promo(&mut conn, Promo { code: "SOON", starts_at: Some(now + day), ..Promo::default() });
        insert_promo(&mut conn, Promo { code: "OLD", ends_at: Some(now - day), ..Promo::default() });
        insert_promo(&mut conn, Promo { code: "GONE", max_redemptions: Some(0), ..Promo::default() });
        insert_promo(&mut conn, Promo { code: "BIG", min_subtotal_cents: 20_000, ..Promo::default() });
        insert_promo(&mut conn, Promo { code: "JSONLY", courses: vec![js], ..Promo::default() });
        insert_promo(&mut conn, Promo { code: "ONCE", per_user_limit: Some(1), ..Promo::default() });
        app.student("ada@example.com").await;
        app.add_course("rust-for-web-developers").await;

        let cases = [
            ("nope", "We don't know the promo code NOPE."),
            ("off", "The promo code OFF is no longer active."),
            ("soon", "The promo code SOON is not valid yet."),
            ("old", "The promo code OLD has expired."),
            ("gone", "The promo code GONE has been used up."),
            ("big", "The promo code BIG needs a subtotal of at least $200.00."),
            ("jsonly", "The promo code JSONLY does not apply to the courses in your cart."),
        ];
        for (code, message) in cases {
            assert_eq!(app.checkout_rejected(code).await, vec![message.to_owned()], "{code}");
        }
        assert!(all_orders(&mut conn).is_empty(), "a refused code makes no order");

        // ONCE works once; a second order by the same student is refused.
        let first = app.checkout("once").await;
        assert!(location(&first).starts_with("/checkout/ORD-"));
        // Pretend the first order was paid (fulfilment is the webhook's
        // job): its use is redeemed, and a new cart no longer supersedes it.
        app.add_course("modern-javascript").await;
        let orders = all_orders(&mut conn);
        diesel::update(promo_redemptions::table)
            .set(promo_redemptions::status.eq("redeemed"))
            .execute(&mut conn)
            .unwrap();
        diesel::update(orders::table.find(orders[0].id))
            .set(orders::status.eq("paid"))
            .execute(&mut conn)
            .unwrap();
        assert_eq!(
            app.checkout_rejected("ONCE").await,
            vec!["You have already used the promo code ONCE.".to_owned()]
        );
    }

    async fn percent_fixed_and_restricted_codes_discount_the_right_lines(app: TestApp) {
        let mut conn = app.db.connect();
        let js = course_id(&mut conn, "modern-javascript");
        insert_promo(&mut conn, Promo { code: "TEN", ..Promo::default() });
        insert_promo(&mut conn, Promo { code: "FIVER", kind: "fixed", percent_bps: None, amount_cents: Some(500), ..Promo::default() });
        insert_promo(&mut conn, Promo { code: "HALFJS", percent_bps: Some(5_000), courses: vec![js], ..Promo::default() });
        app.student("ada@example.com").await;
        app.add_course("rust-for-web-developers").await; // 89.00
        app.add_course("modern-javascript").await; // 49.00

        app.checkout("ten").await;
        app.checkout(" Fiver ").await;
        app.checkout("HALFJS").await;
        let orders = all_orders(&mut conn);
        let totals: Vec<(i64, i64, Option<String>)> =
            orders.iter().map(|o| (o.discount_cents, o.total_cents, o.promo_code.clone())).collect();
        assert_eq!(
            totals,
            vec![
                (1_380, 12_420, Some("TEN".into())),
                (500, 13_300, Some("FIVER".into())),
                (2_450, 11_350, Some("HALFJS".into())),
            ]
        );
        let lines: Vec<(i64, i64)> = order_items::table
            .filter(order_items::order_id.eq(orders[2].id))
            .order(order_items::id.asc())
            .select((order_items::discount_cents, order_items::total_cents))
            .load(&mut conn)
            .unwrap();
        assert_eq!(lines, vec![(0, 8_900), (2_450, 2_450)], "only the JS line is discounted");
        // Each order keeps the code's terms as they were, for the record.
        let snapshots: Vec<serde_json::Value> = orders::table
            .order(orders::id.asc())
            .select(orders::promo_snapshot)
            .load::<Option<String>>(&mut conn)
            .unwrap()
            .into_iter()
            .map(|s| serde_json::from_str(&s.expect("a snapshot")).unwrap())
            .collect();
        assert_eq!(
            snapshots,
            vec![
                serde_json::json!({"code": "TEN", "kind": "percent", "percent_bps": 1_000, "amount_cents": null, "currency": null, "courses": []}),
                serde_json::json!({"code": "FIVER", "kind": "fixed", "percent_bps": null, "amount_cents": 500, "currency": "USD", "courses": []}),
                serde_json::json!({"code": "HALFJS", "kind": "percent", "percent_bps": 5_000, "amount_cents": null, "currency": null, "courses": [js]}),
            ]
        );
        let page = app.get_html(&format!("/checkout/{}", orders[2].number)).await;
        assert_eq!(select_all(&page, "[data-order-discount]"), vec!["-$24.50"]);
    }

    async fn thirty_concurrent_checkouts_get_one_last_use_of_a_code(app: TestApp) {
        let mut conn = app.db.connect();
        let code = insert_promo(&mut conn, Promo { code: "LAST", max_redemptions: Some(1), ..Promo::default() });
        let mut students = Vec::new();
        for i in 0..30 {
            let student = TestApp::with_client_of(&app);
            student.student(&format!("s{i}@example.com")).await;
            student.add_course("rust-for-web-developers").await;
            let token = student.csrf_token().await;
            students.push((student, token));
        }
        let attempts = students.iter().map(|(student, token)| {
            student
                .client
                .post(student.url("/checkout"))
                .form(&[("promo_code", "LAST"), ("csrf_token", token.as_str())])
                .send()
        });
        let responses = futures_util::future::join_all(attempts).await;
        let mut placed = 0;
        for response in responses {
            let response = response.unwrap();
            assert_eq!(response.status(), 303);
            if location(&response).starts_with("/checkout/") {
                placed += 1;
            }
        }
        let reserved: i64 = promo_redemptions::table
            .filter(promo_redemptions::promo_code_id.eq(code))
            .count()
            .get_result(&mut conn)
            .unwrap();
        let counter: i64 = promo_codes::table.find(code).select(promo_codes::reserved_count).first(&mut conn).unwrap();
        assert_eq!((placed, reserved, counter), (1, 1, 1));
        let discounted = all_orders(&mut conn).iter().filter(|o| o.discount_cents > 0).count();
        assert_eq!(discounted, 1);
    }

    async fn a_free_order_is_fulfilled_at_once_without_a_provider(app: TestApp) {
        let mut conn = app.db.connect();
        insert_promo(&mut conn, Promo { code: "GIFT", percent_bps: Some(10_000), ..Promo::default() });
        app.student("ada@example.com").await;
        app.add_course("ux-design-foundations").await;
        let response = app.checkout("gift").await;
        let order = &all_orders(&mut conn)[0];
        assert_eq!(location(&response), format!("/checkout/{}/complete", order.number));
        assert_eq!((order.status.as_str(), order.total_cents, order.provider.as_str()), ("paid", 0, "free"));
        assert_eq!(order.payment_intent_id, None);
        let intents: i64 = sandbox_payment_intents::table.count().get_result(&mut conn).unwrap();
        assert_eq!(intents, 0, "no provider call");
        let grants: i64 = user_courses::table.count().get_result(&mut conn).unwrap();
        assert_eq!(grants, 1);
        let items: i64 = cart_items::table.count().get_result(&mut conn).unwrap();
        assert_eq!(items, 0, "cart emptied");
        let redemption: String = promo_redemptions::table.select(promo_redemptions::status).first(&mut conn).unwrap();
        assert_eq!(redemption, "redeemed");
        let journal: Vec<String> = journal_kinds(&mut conn, order.id).into_iter().map(|j| j.0).collect();
        assert_eq!(journal, vec!["income"]);
        let page = app.get_html(&location(&response)).await;
        assert_eq!(select_all(&page, ".outcome h1"), vec!["You're in!"]);
        let mine = app.get_html("/my-courses").await;
        assert_eq!(select_all(&mine, ".list-title"), vec!["UX Design Foundations"]);
    }

    async fn the_sandbox_takes_test_cards_like_stripe(app: TestApp) {
        app.student("ada@example.com").await;
        app.add_course("rust-for-web-developers").await;
        let pay_url = location(&app.checkout("").await);
        let sandbox = format!("{pay_url}/sandbox");
        let mut conn = app.db.connect();

        // A challenge answered that was never asked (a replayed form): the
        // intent still waits for a card, nothing failed, nothing is told.
        let unasked = app.submit(&format!("{sandbox}/authenticate"), &[("decision", "fail")]).await;
        assert_eq!(location(&unasked), pay_url);
        let order = &all_orders(&mut conn)[0];
        let kinds: Vec<String> = journal_kinds(&mut conn, order.id).into_iter().map(|j| j.0).collect();
        assert_eq!(kinds, vec!["payment_initiated"], "no payment failed");

        let bad = app.submit(&sandbox, &[("card_number", "4242"), ("expiry", "12/40"), ("cvc", "123")]).await;
        assert_eq!(bad.status(), 400);
        assert_eq!(select_all(&bad.text().await.unwrap(), "#card-errors"), vec!["Your card number is incomplete."]);

        let declined = app.submit(&sandbox, &[("card_number", "4000 0000 0000 0002"), ("expiry", "12/40"), ("cvc", "123")]).await;
        assert_eq!(location(&declined), pay_url);
        let page = app.get_html(&pay_url).await;
        assert_eq!(select_all(&page, "#card-errors"), vec!["Your card was declined."]);
        // The shop heard of the decline the way it hears of Stripe's: a
        // signed payment_failed event, journalled; the order stays payable.
        let order = &all_orders(&mut conn)[0];
        let kinds: Vec<String> = journal_kinds(&mut conn, order.id).into_iter().map(|j| j.0).collect();
        assert_eq!(kinds, vec!["payment_initiated", "failed_payment"]);
        assert_eq!(order.status, "pending");

        let three_ds = app.submit(&sandbox, &[("card_number", "4000002760003184"), ("expiry", "12/40"), ("cvc", "123")]).await;
        assert_eq!(location(&three_ds), pay_url);
        let page = app.get_html(&pay_url).await;
        assert_eq!(select_all(&page, ".panel h2"), vec!["Confirm this payment"]);
        let approved = app.submit(&format!("{sandbox}/authenticate"), &[("decision", "approve")]).await;
        assert_eq!(location(&approved), format!("{pay_url}/complete"));
        let done = app.get_html(&format!("{pay_url}/complete")).await;
        assert_eq!(select_all(&done, ".outcome h1"), vec!["You're in!"]);
        // A paid intent sends the payment page on to the result.
        assert_eq!(location(&app.get(&pay_url).await), format!("{pay_url}/complete"));
    }

    async fn another_students_order_is_not_found(app: TestApp) {
        app.student("ada@example.com").await;
        app.add_course("rust-for-web-developers").await;
        let pay_url = location(&app.checkout("").await);
        let eve = TestApp::with_client_of(&app);
        eve.student("eve@example.com").await;
        assert_eq!(eve.get(&pay_url).await.status(), 404);
        assert_eq!(eve.get(&format!("{pay_url}/complete")).await.status(), 404);
        let steal = eve.submit(&format!("{pay_url}/sandbox"), &[("card_number", "4242424242424242"), ("expiry", "12/40"), ("cvc", "123")]).await;
        assert_eq!(steal.status(), 404);
        assert_eq!(app.get("/checkout/ORD-1999-000001").await.status(), 404);
    }
}

#[actix_web::test]
async fn zero_decimal_currencies_are_priced_and_discounted_in_whole_units() {
    let app = TestApp::spawn_with(Backend::Sqlite, &[("CURRENCY", "JPY")]).await;
    let mut conn = app.db.connect();
    insert_promo(
        &mut conn,
        Promo {
            code: "JP15",
            percent_bps: Some(1_500),
            ..Promo::default()
        },
    );
    app.student("ken@example.com").await;
    app.add_course("modern-javascript").await; // ¥49
    app.add_course("public-speaking-for-engineers").await; // ¥39
    let pay_url = location(&app.checkout("jp15").await);
    let order = &all_orders(&mut conn)[0];
    // 15 % of ¥88 = ¥13.2 -> ¥13.
    assert_eq!(
        (
            order.subtotal_cents,
            order.discount_cents,
            order.total_cents
        ),
        (88, 13, 75)
    );
    let page = app.get_html(&pay_url).await;
    assert_eq!(select_all(&page, "[data-order-total]"), vec!["¥75"]);
}

/// The reservation itself, with two transactions held open on purpose:
/// the second checks the code while the first has reserved the last use but
/// not yet committed. It must still come away empty-handed.
fn second_reservation_while_first_is_uncommitted(app: &TestApp) -> (bool, bool, i64) {
    use kasir::models::{OrderId, UserId};
    use kasir::services::promo;
    use std::sync::{Arc, Barrier};

    let mut conn = app.db.connect();
    insert_promo(
        &mut conn,
        Promo {
            code: "LAST",
            max_redemptions: Some(1),
            ..Promo::default()
        },
    );
    let now = db::now();
    let mut order_for = |email: &str| -> (UserId, OrderId) {
        let user: i64 = diesel::insert_into(users::table)
            .values((
                users::email.eq(email),
                users::password_hash.eq("x"),
                users::name.eq("x"),
                users::created_at.eq(now),
                users::updated_at.eq(now),
            ))
            .returning(users::id)
            .get_result(&mut conn)
            .unwrap();
        let order: i64 = diesel::insert_into(orders::table)
            .values((
                orders::number.eq(format!("T-{email}")),
                orders::user_id.eq(user),
                orders::subtotal_cents.eq(100_i64),
                orders::total_cents.eq(100_i64),
                orders::currency.eq("USD"),
                orders::provider.eq("sandbox"),
                orders::created_at.eq(now),
                orders::updated_at.eq(now),
            ))
            .returning(orders::id)
            .get_result(&mut conn)
            .unwrap();
        (UserId(user), OrderId(order))
    };
    let first = order_for("a@example.com");
    let second = order_for("b@example.com");

    let reserve =
        |conn: &mut DbConnection, (user, order): (UserId, OrderId), hold: Option<&Barrier>| {
            db::write_transaction(conn, |conn| {
                let cart = promo::Cart {
                    user_id: Some(user),
                    courses: &[],
                    subtotal_cents: 100,
                    currency: kasir::domain::Currency::parse("USD").unwrap(),
                };
                let outcome = match promo::check(conn, "LAST", &cart, db::now())? {
                    Ok(applicable) => {
                        promo::reserve_promo_redemption(conn, &applicable, order, user, db::now())?
                    }
                    Err(rejection) => Err(rejection),
                };
                if let Some(barrier) = hold {
                    barrier.wait(); // the other transaction starts now
                    std::thread::sleep(std::time::Duration::from_millis(300));
                }
                Ok::<_, diesel::result::Error>(outcome.is_ok())
            })
            .unwrap()
        };
    let barrier = Arc::new(Barrier::new(2));
    let (url_a, barrier_a) = (app.db.url.clone(), barrier.clone());
    let holder = std::thread::spawn(move || {
        let mut conn = kasir::db::DatabaseUrl::parse(&url_a)
            .unwrap()
            .connect()
            .unwrap();
        reserve(&mut conn, first, Some(&barrier_a))
    });
    barrier.wait();
    let mut conn_b = app.db.connect();
    let second_won = reserve(&mut conn_b, second, None);
    let first_won = holder.join().unwrap();
    let reserved: i64 = promo_redemptions::table
        .count()
        .get_result(&mut conn)
        .unwrap();
    (first_won, second_won, reserved)
}

both_backends! {
    async fn a_use_reserved_by_an_open_transaction_is_not_handed_out_twice(app: TestApp) {
        let result = actix_web::web::block(move || second_reservation_while_first_is_uncommitted(&app)).await.unwrap();
        assert_eq!(result, (true, false, 1));
    }
}
