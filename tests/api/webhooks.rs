//! The webhook endpoint and fulfilment: signatures, the inbox, idempotency
//! under concurrency, failures, refunds, disputes, reconciliation.

use diesel::prelude::*;
use kasir::db::schema::{
    financial_journals, order_items, orders, promo_redemptions, sandbox_payment_intents,
    user_courses, webhook_events,
};
use kasir::db::{self, DbConnection};
use stripe_webhook::Webhook;

use crate::both_backends;
use crate::helpers::events::{charge_refunded, dispute_event, intent_event, now};
use crate::helpers::shop::{Promo, all_orders, course_id, insert_promo};
use crate::helpers::{Backend, TestApp, localstripe_url, location, select_all};

fn journal(conn: &mut DbConnection, order: i64) -> Vec<(String, i64)> {
    financial_journals::table
        .filter(financial_journals::reference_id.eq(order))
        .order(financial_journals::id.asc())
        .select((financial_journals::type_, financial_journals::amount_cents))
        .load(conn)
        .unwrap()
}

fn status_of(conn: &mut DbConnection, order: i64) -> String {
    orders::table
        .find(order)
        .select(orders::status)
        .first(conn)
        .unwrap()
}

fn active_grants(conn: &mut DbConnection) -> i64 {
    user_courses::table
        .filter(user_courses::revoked_at.is_null())
        .count()
        .get_result(conn)
        .unwrap()
}

fn inbox_count(conn: &mut DbConnection) -> i64 {
    webhook_events::table.count().get_result(conn).unwrap()
}

both_backends! {
    async fn only_correctly_signed_recent_events_are_accepted(app: TestApp) {
        let mut conn = app.db.connect();
        let body = intent_event("evt_sig", "payment_intent.processing", "pi_x", 100, 1, None);
        let t = now();
        let good = Webhook::generate_test_header(&body, &app.webhook_secret, Some(t));
        let v1 = good.split("v1=").nth(1).unwrap().to_owned();
        let refused = [
            ("wrong secret", Some(Webhook::generate_test_header(&body, "whsec_wrong", Some(t)))),
            ("no header", None),
            ("malformed", Some("not a signature".to_owned())),
            ("only v0", Some(format!("t={t},v0={v1}"))),
            ("old", Some(Webhook::generate_test_header(&body, &app.webhook_secret, Some(t - 400)))),
            ("future", Some(Webhook::generate_test_header(&body, &app.webhook_secret, Some(t + 400)))),
        ];
        for (case, header) in refused {
            let response = app.deliver_with(&body, header.as_deref()).await;
            assert_eq!(response.status(), 400, "{case}");
        }
        let tampered = body.replace("\"amount\":100", "\"amount\":1");
        assert_eq!(app.deliver_with(&tampered, Some(&good)).await.status(), 400, "tampered body");
        assert_eq!(inbox_count(&mut conn), 0, "nothing written for a refused delivery");

        let rotated = format!("t={t},v1={},v1={v1}", "0".repeat(64));
        assert_eq!(app.deliver_with(&body, Some(&rotated)).await.status(), 200, "one valid v1 among others");
        assert_eq!(inbox_count(&mut conn), 1);
    }

    async fn fifty_concurrent_deliveries_of_one_event_fulfil_once(app: TestApp) {
        let mut conn = app.db.connect();
        let (order, intent, total) = app.pending_order("ada@example.com", &["rust-for-web-developers"]).await;
        // Added while the order waits for its payment: not the order's.
        app.add_course("ux-design-foundations").await;
        let body = intent_event("evt_burst", "payment_intent.succeeded", &intent, total, order, None);
        let deliveries = (0..50).map(|_| app.deliver(&body));
        for response in futures_util::future::join_all(deliveries).await {
            assert_eq!(response.status(), 200);
        }
        assert_eq!(status_of(&mut conn, order), "paid");
        assert_eq!(journal(&mut conn, order), vec![("payment_initiated".into(), total), ("income".into(), total)]);
        assert_eq!(active_grants(&mut conn), 1);
        let processed: Option<chrono::NaiveDateTime> =
            webhook_events::table.find("evt_burst").select(webhook_events::processed_at).first(&mut conn).unwrap();
        assert!(processed.is_some());
        assert_eq!(select_all(&app.get_html("/my-courses").await, ".list-title"), vec!["Rust for Web Developers"]);
        assert_eq!(app.cart_count_json().await, 1);
        let cart = app.get_html("/cart").await;
        assert_eq!(select_all(&cart, ".cart-line-title"), vec!["UX Design Foundations"], "the paid course left the cart, the one added since stayed");
    }

    async fn two_events_for_one_intent_and_the_return_page_at_once_fulfil_once(app: TestApp) {
        let mut conn = app.db.connect();
        let (order, intent, total) = app.pending_order("ada@example.com", &["modern-javascript"]).await;
        // The provider says succeeded (the return page asks it).
        diesel::update(sandbox_payment_intents::table.find(&intent))
            .set(sandbox_payment_intents::status.eq("succeeded"))
            .execute(&mut conn)
            .unwrap();
        let number: String = orders::table.find(order).select(orders::number).first(&mut conn).unwrap();
        let first = intent_event("evt_a", "payment_intent.succeeded", &intent, total, order, None);
        let second = intent_event("evt_b", "payment_intent.succeeded", &intent, total, order, None);
        let complete = format!("/checkout/{number}/complete");
        let (a, b, page) = futures_util::join!(app.deliver(&first), app.deliver(&second), app.get_html(&complete));
        assert_eq!((a.status(), b.status()), (reqwest::StatusCode::OK, reqwest::StatusCode::OK));
        assert_eq!(select_all(&page, ".outcome h1"), vec!["You're in!"]);
        let incomes = journal(&mut conn, order).into_iter().filter(|(k, _)| k == "income").count();
        assert_eq!(incomes, 1);
        assert_eq!(active_grants(&mut conn), 1);
    }

    async fn a_failure_then_a_success_pays_and_a_late_failure_changes_nothing(app: TestApp) {
        let mut conn = app.db.connect();
        insert_promo(&mut conn, Promo { code: "TEN", ..Promo::default() });
        app.student("ada@example.com").await;
        app.add_course("rust-for-web-developers").await;
        let response = app.checkout("ten").await;
        let number = location(&response).trim_start_matches("/checkout/").to_owned();
        let (order, intent, total): (i64, Option<String>, i64) = orders::table
            .filter(orders::number.eq(&number))
            .select((orders::id, orders::payment_intent_id, orders::total_cents))
            .first(&mut conn)
            .unwrap();
        let intent = intent.unwrap();

        let failed = intent_event("evt_f1", "payment_intent.payment_failed", &intent, total, order, Some("Your card was declined."));
        assert_eq!(app.deliver(&failed).await.status(), 200);
        assert_eq!(status_of(&mut conn, order), "pending", "the student may try again");
        let reservation: String = promo_redemptions::table.select(promo_redemptions::status).first(&mut conn).unwrap();
        assert_eq!(reservation, "reserved", "a failed attempt keeps the promo use");

        assert_eq!(app.deliver(&intent_event("evt_s", "payment_intent.succeeded", &intent, total, order, None)).await.status(), 200);
        assert_eq!(status_of(&mut conn, order), "paid");
        let reservation: String = promo_redemptions::table.select(promo_redemptions::status).first(&mut conn).unwrap();
        assert_eq!(reservation, "redeemed");

        let late = intent_event("evt_f2", "payment_intent.payment_failed", &intent, total, order, Some("Late."));
        assert_eq!(app.deliver(&late).await.status(), 200);
        assert_eq!(status_of(&mut conn, order), "paid", "never backwards");
        let kinds: Vec<String> = journal(&mut conn, order).into_iter().map(|(k, _)| k).collect();
        assert_eq!(kinds, vec!["payment_initiated", "failed_payment", "income", "failed_payment"]);
        let message: String = financial_journals::table
            .filter(financial_journals::type_.eq("failed_payment"))
            .select(financial_journals::description)
            .first(&mut conn)
            .unwrap();
        assert!(message.contains("Your card was declined."), "{message}");
    }

    async fn an_amount_mismatch_never_marks_the_order_paid(app: TestApp) {
        let mut conn = app.db.connect();
        let (order, intent, total) = app.pending_order("ada@example.com", &["rust-for-web-developers"]).await;
        let short = intent_event("evt_short", "payment_intent.succeeded", &intent, total - 1, order, None);
        assert_eq!(app.deliver(&short).await.status(), 200, "acknowledged: redelivery would not help");
        assert_eq!(status_of(&mut conn, order), "pending");
        assert_eq!(active_grants(&mut conn), 0);
        let kinds: Vec<String> = journal(&mut conn, order).into_iter().map(|(k, _)| k).collect();
        assert_eq!(kinds, vec!["payment_initiated", "payment_mismatch"]);
        let note: Option<String> = orders::table.find(order).select(orders::review_note).first(&mut conn).unwrap();
        assert!(note.unwrap().contains(&format!("is for {} USD", total - 1)));
    }

    async fn unknown_types_are_acknowledged_and_unknown_orders_are_retried(app: TestApp) {
        let mut conn = app.db.connect();
        let unknown = r#"{"id":"evt_new","object":"event","type":"v2.core.account.created","data":{}}"#;
        assert_eq!(app.deliver(unknown).await.status(), 200);
        let thin = r#"{"id":"evt_thin","object":"v2.core.event","type":"payment_intent.succeeded"}"#;
        let response = app.deliver(thin).await;
        assert_eq!(response.status(), 200, "a thin event is recorded, never a 500");
        // Both kept in the inbox, neither touched the money.
        let recorded = |conn: &mut DbConnection, id: &str| -> (String, bool, Option<String>) {
            webhook_events::table
                .find(id)
                .select((webhook_events::type_, webhook_events::processed_at.is_not_null(), webhook_events::last_error))
                .first(conn)
                .unwrap()
        };
        assert_eq!(recorded(&mut conn, "evt_new"), ("v2.core.account.created".into(), true, None));
        // A thin event carries no object to apply: kept, with why, for staff.
        let (kind, processed, error) = recorded(&mut conn, "evt_thin");
        assert_eq!((kind.as_str(), processed), ("payment_intent.succeeded", false));
        assert!(error.unwrap().starts_with("unreadable event: payment_intent.succeeded object"));
        let journal_rows = |conn: &mut DbConnection| -> i64 {
            kasir::db::schema::financial_journals::table.count().get_result(conn).unwrap()
        };
        assert_eq!(journal_rows(&mut conn), 0);

        let (order, intent, total) = app.pending_order("ada@example.com", &["ux-design-foundations"]).await;
        // An event for an intent we do not know yet, but that is ours.
        diesel::update(orders::table.find(order))
            .set(orders::payment_intent_id.eq(None::<String>))
            .execute(&mut conn)
            .unwrap();
        let installation: String = kasir::db::schema::installation::table
            .select(kasir::db::schema::installation::installation_id)
            .first(&mut conn)
            .unwrap();
        let mut early: serde_json::Value = serde_json::from_str(&intent_event("evt_early", "payment_intent.succeeded", &intent, total, order, None)).unwrap();
        early["data"]["object"]["metadata"]["kasir_installation"] = installation.into();
        let body = early.to_string();
        assert_eq!(app.deliver(&body).await.status(), 409);
        let (attempts, error): (i32, Option<String>) = webhook_events::table
            .find("evt_early")
            .select((webhook_events::attempts, webhook_events::last_error))
            .first(&mut conn)
            .unwrap();
        assert_eq!(attempts, 1);
        assert!(error.unwrap().contains("no order has PaymentIntent"));

        diesel::update(orders::table.find(order))
            .set(orders::payment_intent_id.eq(&intent))
            .execute(&mut conn)
            .unwrap();
        assert_eq!(app.deliver(&body).await.status(), 200, "Stripe's retry succeeds");
        assert_eq!(status_of(&mut conn, order), "paid");

        // Someone else's PaymentIntent on the same account: acknowledged, ignored.
        let foreign = serde_json::json!({"id":"evt_foreign","type":"payment_intent.succeeded","data":{"object":{"id":"pi_other","amount":5,"currency":"usd","status":"succeeded"}}}).to_string();
        let before = journal_rows(&mut conn);
        assert_eq!(app.deliver(&foreign).await.status(), 200);
        assert_eq!(recorded(&mut conn, "evt_foreign"), ("payment_intent.succeeded".into(), true, None));
        assert_eq!(journal_rows(&mut conn), before, "nothing journalled for another application's payment");
        assert_eq!(status_of(&mut conn, order), "paid");
    }

    async fn refunds_partial_full_and_repeated(app: TestApp) {
        let mut conn = app.db.connect();
        let (order, intent, total) = app.pending_order("ada@example.com", &["rust-for-web-developers", "modern-javascript"]).await;
        app.deliver(&intent_event("evt_paid", "payment_intent.succeeded", &intent, total, order, None)).await;
        assert_eq!(active_grants(&mut conn), 2);

        assert_eq!(app.deliver(&charge_refunded("evt_r1", &intent, total, 1_000)).await.status(), 200);
        assert_eq!(status_of(&mut conn, order), "partially_refunded");
        assert_eq!(active_grants(&mut conn), 2, "a partial refund keeps access");
        // The same refund again (a new event id, the same cumulative amount).
        app.deliver(&charge_refunded("evt_r1_again", &intent, total, 1_000)).await;
        app.deliver(&charge_refunded("evt_r2", &intent, total, total)).await;
        assert_eq!(status_of(&mut conn, order), "refunded");
        let refunds: Vec<i64> = journal(&mut conn, order).into_iter().filter(|(k, _)| k == "refund").map(|(_, a)| a).collect();
        assert_eq!(refunds, vec![1_000, total - 1_000], "one row per new amount, summing to the total");
        assert_eq!(active_grants(&mut conn), 0, "a full refund ends the access");
        let refunded: i64 = orders::table.find(order).select(orders::refunded_cents).first(&mut conn).unwrap();
        assert_eq!(refunded, total);
    }

    async fn a_full_refund_keeps_access_held_through_another_paid_order(app: TestApp) {
        let mut conn = app.db.connect();
        let (order, intent, total) = app.pending_order("ada@example.com", &["rust-for-web-developers"]).await;
        app.deliver(&intent_event("evt_paid", "payment_intent.succeeded", &intent, total, order, None)).await;
        // A second paid order of the same student with the same course (a
        // gift, a repurchase): it keeps the access alive.
        let user: i64 = orders::table.find(order).select(orders::user_id).first(&mut conn).unwrap();
        let now = db::now();
        let second: i64 = diesel::insert_into(orders::table)
            .values((
                orders::number.eq("INV-TEST-2"),
                orders::user_id.eq(user),
                orders::status.eq("paid"),
                orders::subtotal_cents.eq(8_900_i64),
                orders::total_cents.eq(8_900_i64),
                orders::currency.eq("USD"),
                orders::provider.eq("sandbox"),
                orders::created_at.eq(now),
                orders::updated_at.eq(now),
            ))
            .returning(orders::id)
            .get_result(&mut conn)
            .unwrap();
        diesel::insert_into(order_items::table)
            .values((
                order_items::order_id.eq(second),
                order_items::course_id.eq(course_id(&mut conn, "rust-for-web-developers")),
                order_items::title.eq("Rust for Web Developers"),
                order_items::unit_price_cents.eq(8_900_i64),
                order_items::total_cents.eq(8_900_i64),
            ))
            .execute(&mut conn)
            .unwrap();
        app.deliver(&charge_refunded("evt_refund", &intent, total, total)).await;
        assert_eq!(status_of(&mut conn, order), "refunded");
        let granted_by: Vec<Option<i64>> = user_courses::table
            .filter(user_courses::revoked_at.is_null())
            .select(user_courses::order_id)
            .load(&mut conn)
            .unwrap();
        assert_eq!(granted_by, vec![Some(second)]);
    }

    async fn disputes_suspend_access_and_a_won_dispute_restores_it(app: TestApp) {
        let mut conn = app.db.connect();
        let (order, intent, total) = app.pending_order("ada@example.com", &["rust-for-web-developers"]).await;
        app.deliver(&intent_event("evt_paid", "payment_intent.succeeded", &intent, total, order, None)).await;
        app.deliver(&dispute_event("evt_d1", "charge.dispute.created", &intent, total, "needs_response")).await;
        assert_eq!(active_grants(&mut conn), 0, "suspended");
        app.deliver(&dispute_event("evt_d2", "charge.dispute.closed", &intent, total, "won")).await;
        assert_eq!(active_grants(&mut conn), 1, "restored");
        let disputes: Vec<String> = financial_journals::table
            .filter(financial_journals::type_.eq("dispute"))
            .order(financial_journals::id.asc())
            .select(financial_journals::status)
            .load(&mut conn)
            .unwrap();
        assert_eq!(disputes, vec!["pending", "success"]);
    }

    async fn a_lost_dispute_keeps_access_revoked(app: TestApp) {
        let mut conn = app.db.connect();
        let (order, intent, total) = app.pending_order("ada@example.com", &["modern-javascript"]).await;
        app.deliver(&intent_event("evt_paid", "payment_intent.succeeded", &intent, total, order, None)).await;
        app.deliver(&dispute_event("evt_d1", "charge.dispute.created", &intent, total, "needs_response")).await;
        app.deliver(&dispute_event("evt_d2", "charge.dispute.closed", &intent, total, "lost")).await;
        assert_eq!(active_grants(&mut conn), 0);
        assert!(select_all(&app.get_html("/my-courses").await, ".list-title").is_empty());
    }

    async fn paying_in_the_sandbox_fulfils_through_a_signed_event(app: TestApp) {
        let mut conn = app.db.connect();
        let (order, _, _) = app.pending_order("ada@example.com", &["postgresql-in-practice"]).await;
        let number: String = orders::table.find(order).select(orders::number).first(&mut conn).unwrap();
        let paid = app
            .submit(&format!("/checkout/{number}/sandbox"), &[("card_number", "4242424242424242"), ("expiry", "12/40"), ("cvc", "123")])
            .await;
        assert_eq!(location(&paid), format!("/checkout/{number}/complete"));
        assert_eq!(status_of(&mut conn, order), "paid", "paid before the return page loads");
        let event: Option<String> = financial_journals::table
            .filter(financial_journals::type_.eq("income"))
            .select(financial_journals::provider_event_id)
            .first(&mut conn)
            .unwrap();
        assert!(event.unwrap().starts_with("evt_sandbox_"));
        let page = app.get_html(&format!("/checkout/{number}/complete")).await;
        assert_eq!(select_all(&page, ".outcome h1"), vec!["You're in!"]);
    }

    async fn the_sweep_fulfils_a_paid_order_whose_webhook_never_came(app: TestApp) {
        let mut conn = app.db.connect();
        let (order, intent, _) = app.pending_order("ada@example.com", &["rust-for-web-developers"]).await;
        diesel::update(sandbox_payment_intents::table.find(&intent))
            .set(sandbox_payment_intents::status.eq("succeeded"))
            .execute(&mut conn)
            .unwrap();
        let output = std::process::Command::new(env!("CARGO_BIN_EXE_kasir"))
            .args(["reconcile", "--older-than-minutes", "0"])
            .env("DATABASE_URL", &app.db.url)
            .env("SECRET_KEY", "k".repeat(64))
            .env("JOURNAL_KEY", crate::helpers::TEST_JOURNAL_KEY)
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
        assert!(stdout.starts_with("checked 1 pending order(s): 1 fulfilled"), "{stdout}");
        assert_eq!(status_of(&mut conn, order), "paid");
        assert_eq!(active_grants(&mut conn), 1);
    }
}

#[actix_web::test]
async fn signatures_made_by_stripe_python_verify_and_tampered_bodies_do_not() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let body = r#"{"id":"evt_py","object":"event","type":"v2.core.account.created","data":{}}"#;
    let header = crate::helpers::stripe_today()
        .sign(body, &app.webhook_secret)
        .await;
    assert!(
        header.starts_with("t=") && header.contains(",v1="),
        "{header}"
    );
    assert_eq!(app.deliver_with(body, Some(&header)).await.status(), 200);
    let tampered = body.replace("evt_py", "evt_pz");
    assert_eq!(
        app.deliver_with(&tampered, Some(&header)).await.status(),
        400
    );
}

#[actix_web::test]
async fn an_oversized_webhook_body_is_refused_before_any_work() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let body = format!(
        r#"{{"id":"evt_big","type":"x","pad":"{}"}}"#,
        "x".repeat(300 * 1024)
    );
    let response = app.deliver(&body).await;
    assert_eq!(response.status(), 413);
    assert_eq!(inbox_count(&mut app.db.connect()), 0);
}

#[actix_web::test]
async fn localstripe_delivers_a_signed_success_that_fulfils_the_order() {
    let app = TestApp::spawn_stripe(Backend::Sqlite).await;
    let mut conn = app.db.connect();
    let (order, intent, _) = app
        .pending_order("ada@example.com", &["data-analysis-with-python"])
        .await;
    let ls = localstripe_url();
    let http = reqwest::Client::new();
    let hook = format!(
        "{ls}/_config/webhooks/kasir_{}",
        uuid::Uuid::new_v4().simple()
    );
    let registered = http
        .post(&hook)
        .form(&[
            ("url", app.url("/webhooks/stripe")),
            ("secret", app.webhook_secret.clone()),
        ])
        .send()
        .await
        .unwrap();
    assert!(registered.status().is_success());

    crate::helpers::stripe::pay_with_test_card(&intent).await;

    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while status_of(&mut conn, order) != "paid" {
        assert!(
            std::time::Instant::now() < deadline,
            "localstripe's webhook never fulfilled the order"
        );
        actix_web::rt::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let event: Option<String> = financial_journals::table
        .filter(financial_journals::type_.eq("income"))
        .select(financial_journals::provider_event_id)
        .first(&mut conn)
        .unwrap();
    assert!(
        event.unwrap().starts_with("evt_"),
        "fulfilled by the webhook, not the return page"
    );
    assert_eq!(all_orders(&mut conn)[0].status, "paid");
}
