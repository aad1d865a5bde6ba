//! Leaks and bad input that money must survive: orders nobody pays, totals
//! the provider will not charge, courses in another currency, secrets in
//! the journal, refunds asked twice.

use diesel::prelude::*;
use kasir::db::DbConnection;
use kasir::db::schema::{
    courses, financial_journals, orders, promo_codes, promo_redemptions, sandbox_payment_intents,
    webhook_events,
};

use crate::both_backends;
use crate::helpers::shop::{Promo, all_orders, course_id, insert_promo};
use crate::helpers::stripe::{StripeToday, pay_with_test_card_at};
use crate::helpers::{Backend, TestApp, location, select_all, stripe_overrides};

fn insert_course(conn: &mut DbConnection, slug: &str, price: i64, currency: &str) -> i64 {
    let now = kasir::db::now();
    diesel::insert_into(courses::table)
        .values((
            courses::slug.eq(slug),
            courses::title.eq(format!("Course {slug}")),
            courses::summary.eq("s"),
            courses::description.eq("d"),
            courses::price_cents.eq(price),
            courses::currency.eq(currency),
            courses::published.eq(true),
            courses::created_at.eq(now),
            courses::updated_at.eq(now),
        ))
        .returning(courses::id)
        .get_result(conn)
        .unwrap()
}

fn age_order(conn: &mut DbConnection, order: i64, hours: i64) {
    let then = kasir::db::now() - chrono::TimeDelta::hours(hours);
    diesel::update(orders::table.find(order))
        .set((orders::created_at.eq(then), orders::updated_at.eq(then)))
        .execute(conn)
        .unwrap();
}

fn reserved_count(conn: &mut DbConnection, code: &str) -> i64 {
    promo_codes::table
        .filter(promo_codes::code.eq(code))
        .select(promo_codes::reserved_count)
        .first(conn)
        .unwrap()
}

fn reconcile(app: &TestApp) -> String {
    app.kasir(&["reconcile", "--older-than-minutes", "0"])
}

both_backends! {
    async fn courses_priced_in_another_currency_are_refused_with_a_reason(app: TestApp) {
        let mut conn = app.db.connect();
        let yen = insert_course(&mut conn, "yen-course", 8_900, "JPY");
        app.student("ada@example.com").await;
        let refused = app.submit("/cart/items", &[("course_id", &yen.to_string())]).await;
        assert_eq!(refused.status(), 409);
        assert!(select_all(&refused.text().await.unwrap(), "p.lead")[0].contains("priced in another currency"));
        // One that got into the cart anyway (repriced after it was added).
        app.add_course("rust-for-web-developers").await;
        let usd = course_id(&mut conn, "rust-for-web-developers");
        diesel::update(courses::table.find(usd)).set(courses::currency.eq("JPY")).execute(&mut conn).unwrap();
        let refusal = app.checkout_rejected("").await;
        assert!(refusal.iter().any(|f| f.contains("Rust for Web Developers cannot be bought here")), "{refusal:?}");
        assert!(all_orders(&mut conn).is_empty(), "$89 is not charged as ¥8,900 or $0.89");
    }

    async fn a_total_below_the_providers_minimum_charge_is_refused_at_checkout(app: TestApp) {
        let mut conn = app.db.connect();
        insert_course(&mut conn, "tiny", 100, "USD");
        insert_promo(&mut conn, Promo { code: "ALMOST", kind: "fixed", percent_bps: None, amount_cents: Some(70), ..Promo::default() });
        insert_promo(&mut conn, Promo { code: "EXACT", kind: "fixed", percent_bps: None, amount_cents: Some(50), ..Promo::default() });
        app.student("ada@example.com").await;
        app.add_course("tiny").await;
        let refusal = app.checkout_rejected("ALMOST").await;
        assert!(refusal.iter().any(|f| f.contains("Payments start at $0.50")), "{refusal:?}");
        assert!(all_orders(&mut conn).is_empty());
        assert_eq!(reserved_count(&mut conn, "ALMOST"), 0, "no promo use is held");
        // At exactly the minimum it goes through.
        let placed = app.checkout("EXACT").await;
        assert!(location(&placed).starts_with("/checkout/ORD-"));
        assert_eq!(all_orders(&mut conn)[0].total_cents, 50);
    }

    async fn the_sweep_gives_up_orders_nobody_pays_and_gives_their_promo_uses_back(app: TestApp) {
        let mut conn = app.db.connect();
        insert_promo(&mut conn, Promo { code: "LIMITED", max_redemptions: Some(2), ..Promo::default() });
        // Left on the payment page for two hours.
        app.student("ada@example.com").await;
        app.add_course("rust-for-web-developers").await;
        app.checkout("LIMITED").await;
        let left = all_orders(&mut conn).pop().unwrap();
        age_order(&mut conn, left.id, 2);
        // Another still looking at the page (placed two hours ago, seen now).
        let looking = TestApp::with_client_of(&app);
        looking.student("grace@example.com").await;
        looking.add_course("modern-javascript").await;
        let pay = location(&looking.checkout("LIMITED").await);
        let active = all_orders(&mut conn).pop().unwrap();
        age_order(&mut conn, active.id, 2);
        assert_eq!(looking.get(&pay).await.status(), 200);
        assert_eq!(reserved_count(&mut conn, "LIMITED"), 2, "the code is used up");

        let report = reconcile(&app);
        assert!(report.contains("1 canceled"), "{report}");
        let state = |conn: &mut DbConnection, id: i64| -> String {
            orders::table.find(id).select(orders::status).first(conn).unwrap()
        };
        assert_eq!(state(&mut conn, left.id), "canceled");
        assert_eq!(state(&mut conn, active.id), "pending", "someone is paying: left alone");
        let intent: String = sandbox_payment_intents::table
            .filter(sandbox_payment_intents::id.eq(left.payment_intent_id.unwrap()))
            .select(sandbox_payment_intents::status)
            .first(&mut conn)
            .unwrap();
        assert_eq!(intent, "canceled", "canceled at the provider first");
        assert_eq!(reserved_count(&mut conn, "LIMITED"), 1, "its use is free again");
        let released: i64 = promo_redemptions::table
            .filter(promo_redemptions::order_id.eq(left.id))
            .filter(promo_redemptions::status.eq("released"))
            .count()
            .get_result(&mut conn)
            .unwrap();
        assert_eq!(released, 1);
    }
}

#[actix_web::test]
async fn an_order_whose_payment_never_started_is_swept_too() {
    // Stripe was down at checkout: the order has no PaymentIntent.
    let unreachable = stripe_overrides("http://127.0.0.1:1");
    let pairs: Vec<(&str, &str)> = unreachable.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let app = TestApp::spawn_with(Backend::Postgres, &pairs).await;
    let mut conn = app.db.connect();
    insert_promo(
        &mut conn,
        Promo {
            code: "ONCE",
            max_redemptions: Some(1),
            ..Promo::default()
        },
    );
    app.student("ada@example.com").await;
    app.add_course("rust-for-web-developers").await;
    app.checkout("ONCE").await;
    let order = all_orders(&mut conn).pop().unwrap();
    assert_eq!(order.payment_intent_id, None);
    assert_eq!(reserved_count(&mut conn, "ONCE"), 1);
    // Within the hour it is kept.
    assert!(reconcile(&app).contains("0 canceled"));
    age_order(&mut conn, order.id, 2);
    let report = reconcile(&app);
    assert!(report.contains("1 canceled"), "{report}");
    assert_eq!(
        reserved_count(&mut conn, "ONCE"),
        0,
        "a use no longer leaks forever"
    );
}

#[actix_web::test]
async fn the_journal_keeps_no_secrets_and_the_inbox_forgets_old_payloads() {
    let stripe = StripeToday::start(None);
    let overrides = stripe_overrides(&stripe.url);
    let pairs: Vec<(&str, &str)> = overrides.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let app = TestApp::spawn_with(Backend::Sqlite, &pairs).await;
    let mut conn = app.db.connect();
    app.student("ada@example.com").await;
    app.add_course("rust-for-web-developers").await;
    let pay = location(&app.checkout("").await);
    let order = all_orders(&mut conn).pop().unwrap();
    let intent = order.payment_intent_id.clone().unwrap();
    pay_with_test_card_at(&stripe.url, &intent).await;
    // The payment's event, with what Stripe puts in it, through the webhook.
    let event = crate::helpers::events::intent_event(
        "evt_secret",
        "payment_intent.succeeded",
        &intent,
        order.total_cents,
        order.id,
        None,
    );
    let mut event: serde_json::Value = serde_json::from_str(&event).unwrap();
    event["data"]["object"]["client_secret"] = format!("{intent}_secret_leak").into();
    event["data"]["object"]["receipt_email"] = "ada@example.com".into();
    event["data"]["object"]["shipping"] = serde_json::json!({ "name": "Ada Lovelace" });
    assert_eq!(app.deliver(&event.to_string()).await.status(), 200);
    assert_eq!(app.get(&format!("{pay}/complete")).await.status(), 200);
    let metadata: Vec<String> = financial_journals::table
        .select(financial_journals::metadata)
        .load(&mut conn)
        .unwrap();
    assert!(metadata.len() >= 2);
    for row in &metadata {
        assert!(
            !row.contains("_secret_"),
            "a client secret in the journal: {row}"
        );
        assert!(
            !row.contains("ada@example.com") && !row.contains("Ada Lovelace"),
            "{row}"
        );
    }
    assert!(
        metadata.iter().any(|m| m.contains(&intent)),
        "the facts stay"
    );
    let payload: String = webhook_events::table
        .find("evt_secret")
        .select(webhook_events::payload)
        .first(&mut conn)
        .unwrap();
    assert!(
        payload.contains("ada@example.com"),
        "the inbox keeps the event as it came"
    );

    // A retention: processed events older than N days go, others stay.
    let old = kasir::db::now() - chrono::TimeDelta::days(120);
    diesel::update(webhook_events::table)
        .set(webhook_events::received_at.eq(old))
        .execute(&mut conn)
        .unwrap();
    diesel::insert_into(webhook_events::table)
        .values((
            webhook_events::id.eq("evt_waiting"),
            webhook_events::type_.eq("charge.refunded"),
            webhook_events::payload.eq("{}"),
            webhook_events::received_at.eq(old),
        ))
        .execute(&mut conn)
        .unwrap();
    let output = app.kasir(&["prune-events", "--older-than-days", "90"]);
    assert!(
        output.starts_with("1 processed webhook event(s)"),
        "{output}"
    );
    let left: Vec<String> = webhook_events::table
        .select(webhook_events::id)
        .load(&mut conn)
        .unwrap();
    assert_eq!(
        left,
        vec!["evt_waiting"],
        "an event still to be applied is kept"
    );
}

#[actix_web::test]
async fn two_refunds_of_one_amount_are_two_and_a_resent_form_is_one() {
    let stripe = StripeToday::start(None);
    let overrides = stripe_overrides(&stripe.url);
    let pairs: Vec<(&str, &str)> = overrides.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let app = TestApp::spawn_with(Backend::Sqlite, &pairs).await;
    let mut conn = app.db.connect();
    app.student("ada@example.com").await;
    app.add_course("rust-for-web-developers").await;
    let pay = location(&app.checkout("").await);
    let order = all_orders(&mut conn).pop().unwrap();
    pay_with_test_card_at(&stripe.url, order.payment_intent_id.as_deref().unwrap()).await;
    app.get(&format!("{pay}/complete")).await;
    let staff = TestApp::with_client_of(&app);
    staff.staff("boss@example.com").await;
    let form_id = |html: &str| -> String {
        let doc = scraper::Html::parse_document(html);
        let input = scraper::Selector::parse("input[name=request_id]").unwrap();
        doc.select(&input)
            .next()
            .unwrap()
            .value()
            .attr("value")
            .unwrap()
            .to_owned()
    };
    let page = format!("/staff/orders/{}", order.number);
    let first = form_id(&staff.get_html(&page).await);
    let second = form_id(&staff.get_html(&page).await);
    assert_ne!(first, second, "each form shown is its own request");
    for id in [&first, &first, &second] {
        let refund = staff
            .submit(
                &format!("{page}/refund"),
                &[
                    ("amount", "10.00"),
                    ("confirm", "yes"),
                    ("reason", "goodwill"),
                    ("request_id", id),
                ],
            )
            .await;
        assert_eq!(refund.status(), 303);
    }
    let keys: Vec<String> = stripe
        .requests()
        .await
        .into_iter()
        .filter(|r| r["endpoint"] == "POST /v1/refunds")
        .map(|r| r["idempotency_key"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(keys.len(), 3);
    assert_eq!(keys[0], keys[1], "the same form sent twice asks once");
    assert_ne!(keys[0], keys[2], "another form is another refund");
    assert!(
        keys.iter().all(|k| k.starts_with(&app.installation())),
        "{keys:?}"
    );
}
