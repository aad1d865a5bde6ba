//! Deterministic edge cases that the property tests reach only by chance:
//! a payment for a canceled order, money in another currency, canceled
//! intents, the sweep's canceled arm, each promo rule at its boundary and
//! on its own, refunds beyond the total or of unpaid orders, refunds of a
//! payment never applied. Each asserts
//! the rows it leaves, not just a status code.

use diesel::prelude::*;
use kasir::db::schema::{
    financial_journals, orders, promo_codes, refund_requests, sandbox_payment_intents,
    user_courses, users,
};
use kasir::db::{self, DbConnection};
use kasir::domain::Currency;
use kasir::models::{CourseId, UserId};
use kasir::services::promo::{self, PromoRejection};

use crate::both_backends;
use crate::helpers::events::{charge_refunded_at, intent_event, now, refund_event};
use crate::helpers::shop::{Promo, course_id, insert_promo};
use crate::helpers::{Backend, TestApp};
use crate::stripe_events::outcome;

fn status(conn: &mut DbConnection, order: i64) -> String {
    orders::table
        .find(order)
        .select(orders::status)
        .first(conn)
        .unwrap()
}

fn review_note(conn: &mut DbConnection, order: i64) -> Option<String> {
    orders::table
        .find(order)
        .select(orders::review_note)
        .first(conn)
        .unwrap()
}

/// (kind, status, amount, currency) of the order's journal rows, in order.
fn journal(conn: &mut DbConnection, order: i64) -> Vec<(String, String, i64, String)> {
    financial_journals::table
        .filter(financial_journals::reference_id.eq(order))
        .order(financial_journals::id.asc())
        .select((
            financial_journals::type_,
            financial_journals::status,
            financial_journals::amount_cents,
            financial_journals::currency,
        ))
        .load(conn)
        .unwrap()
}

fn grants(conn: &mut DbConnection, order: i64) -> i64 {
    user_courses::table
        .filter(user_courses::order_id.eq(order))
        .filter(user_courses::revoked_at.is_null())
        .count()
        .get_result(conn)
        .unwrap()
}

fn user(conn: &mut DbConnection, email: &str) -> UserId {
    UserId(
        users::table
            .filter(users::email.eq(email))
            .select(users::id)
            .first(conn)
            .unwrap(),
    )
}

fn row(kind: &str, status: &str, amount: i64, currency: &str) -> (String, String, i64, String) {
    (kind.into(), status.into(), amount, currency.into())
}

both_backends! {
    async fn a_payment_that_succeeds_for_a_canceled_order_is_flagged_never_applied(app: TestApp) {
        let mut conn = app.db.connect();
        let (order, intent, total) = app.pending_order("ada@example.com", &["rust-for-web-developers"]).await;
        let canceled = intent_event("evt_c", "payment_intent.canceled", &intent, total, order, None);
        assert_eq!(outcome(app.deliver(&canceled).await).await, (200, "order canceled".into()));
        assert_eq!(status(&mut conn, order), "canceled");

        // The card went through anyway (a race at the provider).
        let paid = intent_event("evt_s", "payment_intent.succeeded", &intent, total, order, None);
        let (code, said) = outcome(app.deliver(&paid).await).await;
        assert_eq!(code, 200, "acknowledged: redelivery would not help");
        assert!(said.starts_with("payment not applied") && said.contains("which was canceled"), "{said}");
        assert_eq!(status(&mut conn, order), "canceled", "never paid");
        assert_eq!(grants(&mut conn, order), 0);
        assert!(review_note(&mut conn, order).unwrap().contains("refund it or fulfil it by hand"));
        assert_eq!(
            journal(&mut conn, order),
            vec![
                row("payment_initiated", "pending", total, "USD"),
                row("canceled", "success", total, "USD"),
                row("payment_mismatch", "failed", total, "USD"),
            ]
        );
        // The same cancellation again changes nothing.
        let again = intent_event("evt_c2", "payment_intent.canceled", &intent, total, order, None);
        assert_eq!(outcome(app.deliver(&again).await).await.1, "order not pending: unchanged");
        assert_eq!(journal(&mut conn, order).len(), 3);
    }

    async fn a_canceled_intent_leaves_a_paid_order_alone(app: TestApp) {
        let mut conn = app.db.connect();
        let (order, intent, total) = app.pending_order("ada@example.com", &["modern-javascript"]).await;
        let paid = intent_event("evt_s", "payment_intent.succeeded", &intent, total, order, None);
        assert_eq!(outcome(app.deliver(&paid).await).await.1, "order paid, access granted");
        let canceled = intent_event("evt_c", "payment_intent.canceled", &intent, total, order, None);
        assert_eq!(outcome(app.deliver(&canceled).await).await, (200, "order not pending: unchanged".into()));
        assert_eq!(status(&mut conn, order), "paid");
        assert_eq!(grants(&mut conn, order), 1);
        assert!(!journal(&mut conn, order).iter().any(|r| r.0 == "canceled"));
    }

    async fn a_payment_in_another_currency_is_flagged_even_for_the_right_amount(app: TestApp) {
        let mut conn = app.db.connect();
        let (order, intent, total) = app.pending_order("ada@example.com", &["ux-design-foundations"]).await;
        let mut paid: serde_json::Value =
            serde_json::from_str(&intent_event("evt_eur", "payment_intent.succeeded", &intent, total, order, None)).unwrap();
        paid["data"]["object"]["currency"] = "eur".into();
        let (code, said) = outcome(app.deliver(&paid.to_string()).await).await;
        assert_eq!(code, 200);
        assert!(said.starts_with("payment not applied"), "{said}");
        assert_eq!(status(&mut conn, order), "pending");
        assert_eq!(grants(&mut conn, order), 0);
        assert!(review_note(&mut conn, order).unwrap().contains(&format!("is for {total} EUR")));
        assert_eq!(journal(&mut conn, order).last().unwrap(), &row("payment_mismatch", "failed", total, "EUR"));
    }

    async fn the_sweep_cancels_an_order_whose_intent_was_canceled_at_the_provider(app: TestApp) {
        let mut conn = app.db.connect();
        let (order, intent, total) = app.pending_order("ada@example.com", &["rust-for-web-developers"]).await;
        // Canceled in the provider's dashboard; the webhook never came.
        diesel::update(sandbox_payment_intents::table.find(&intent))
            .set(sandbox_payment_intents::status.eq("canceled"))
            .execute(&mut conn)
            .unwrap();
        let report = app.kasir(&["reconcile", "--older-than-minutes", "0"]);
        assert!(report.contains("1 canceled"), "{report}");
        assert_eq!(status(&mut conn, order), "canceled");
        let last = financial_journals::table
            .filter(financial_journals::reference_id.eq(order))
            .order(financial_journals::id.desc())
            .select((financial_journals::type_, financial_journals::amount_cents, financial_journals::description))
            .first::<(String, i64, String)>(&mut conn)
            .unwrap();
        assert_eq!((last.0.as_str(), last.1), ("canceled", total));
        assert!(last.2.contains("payment canceled at the provider"), "{}", last.2);
    }

    async fn each_promo_rule_holds_at_its_boundary_and_on_its_own(app: TestApp) {
        let mut conn = app.db.connect();
        let rust = CourseId(course_id(&mut conn, "rust-for-web-developers"));
        let usd = Currency::parse("USD").unwrap();
        let check = |conn: &mut DbConnection, code: &str, user: Option<UserId>, subtotal: i64| {
            let cart = promo::Cart { user_id: user, courses: &[rust], subtotal_cents: subtotal, currency: usd };
            promo::check(conn, code, &cart, db::now()).unwrap().map(|a| a.promo.code)
        };

        // The minimum is reached at equality.
        insert_promo(&mut conn, Promo { code: "MIN", min_subtotal_cents: 8_900, ..Promo::default() });
        assert_eq!(check(&mut conn, "MIN", None, 8_900), Ok("MIN".into()));
        assert!(matches!(check(&mut conn, "MIN", None, 8_899), Err(PromoRejection::BelowMinimum { .. })));

        // Used up exactly when the reserved uses reach the limit.
        insert_promo(&mut conn, Promo { code: "TWO", max_redemptions: Some(2), ..Promo::default() });
        let set_reserved = |conn: &mut DbConnection, n: i64| {
            diesel::update(promo_codes::table.filter(promo_codes::code.eq("TWO")))
                .set(promo_codes::reserved_count.eq(n))
                .execute(conn)
                .unwrap();
        };
        set_reserved(&mut conn, 1);
        assert_eq!(check(&mut conn, "TWO", None, 8_900), Ok("TWO".into()));
        set_reserved(&mut conn, 2);
        assert_eq!(check(&mut conn, "TWO", None, 8_900), Err(PromoRejection::UsedUp("TWO".into())));

        // A fixed amount is money in one currency.
        insert_promo(&mut conn, Promo { code: "FIVE", kind: "fixed", percent_bps: None, amount_cents: Some(500), ..Promo::default() });
        assert_eq!(check(&mut conn, "FIVE", None, 8_900), Ok("FIVE".into()));
        diesel::update(promo_codes::table.filter(promo_codes::code.eq("FIVE")))
            .set(promo_codes::currency.eq("EUR"))
            .execute(&mut conn)
            .unwrap();
        assert_eq!(check(&mut conn, "FIVE", None, 8_900), Err(PromoRejection::WrongCurrency("FIVE".into())));

        // A per-student limit on its own (no overall limit): Ada's reserved
        // use counts for her, not for Bob; released, it counts for nobody.
        insert_promo(&mut conn, Promo { code: "ONCE", per_user_limit: Some(1), ..Promo::default() });
        let (order, intent, total) = {
            app.student("ada@example.com").await;
            app.add_course("rust-for-web-developers").await;
            let pay = crate::helpers::location(&app.checkout("ONCE").await);
            let number = pay.trim_start_matches("/checkout/").to_owned();
            orders::table
                .filter(orders::number.eq(number))
                .select((orders::id, orders::payment_intent_id.assume_not_null(), orders::total_cents))
                .first::<(i64, String, i64)>(&mut conn)
                .unwrap()
        };
        let ada = user(&mut conn, "ada@example.com");
        let bob = TestApp::with_client_of(&app);
        bob.student("bob@example.com").await;
        let bob = user(&mut conn, "bob@example.com");
        assert_eq!(check(&mut conn, "ONCE", Some(ada), 8_900), Err(PromoRejection::AlreadyUsedByYou("ONCE".into())));
        assert_eq!(check(&mut conn, "ONCE", Some(bob), 8_900), Ok("ONCE".into()));
        assert_eq!(check(&mut conn, "ONCE", None, 8_900), Ok("ONCE".into()), "a guest is checked at checkout");
        let canceled = intent_event("evt_c", "payment_intent.canceled", &intent, total, order, None);
        assert_eq!(outcome(app.deliver(&canceled).await).await.1, "order canceled");
        assert_eq!(check(&mut conn, "ONCE", Some(ada), 8_900), Ok("ONCE".into()), "a released use is not counted");

        // An overall limit on its own: Ada's use leaves none for Bob.
        insert_promo(&mut conn, Promo { code: "SOLO", max_redemptions: Some(1), ..Promo::default() });
        app.checkout("SOLO").await;
        assert_eq!(check(&mut conn, "SOLO", Some(bob), 8_900), Err(PromoRejection::UsedUp("SOLO".into())));

        // Valid from its first instant to just before its last.
        let start = chrono::NaiveDate::from_ymd_opt(2026, 3, 1).unwrap().and_hms_opt(9, 0, 0).unwrap();
        let end = start + chrono::TimeDelta::days(7);
        insert_promo(&mut conn, Promo { code: "WEEK", starts_at: Some(start), ends_at: Some(end), ..Promo::default() });
        let at = |conn: &mut DbConnection, code: &str, now: chrono::NaiveDateTime| {
            let cart = promo::Cart { user_id: None, courses: &[rust], subtotal_cents: 8_900, currency: usd };
            promo::check(conn, code, &cart, now).unwrap().map(|a| a.promo.code)
        };
        let second = chrono::TimeDelta::seconds(1);
        assert_eq!(at(&mut conn, "WEEK", start - second), Err(PromoRejection::NotStarted("WEEK".into())));
        assert_eq!(at(&mut conn, "WEEK", start), Ok("WEEK".into()));
        assert_eq!(at(&mut conn, "WEEK", end - second), Ok("WEEK".into()));
        assert_eq!(at(&mut conn, "WEEK", end), Err(PromoRejection::Expired("WEEK".into())));

        // A code of the longest length is looked up; a longer one is not,
        // and is echoed cut to that length.
        let longest = "L".repeat(promo::MAX_CODE_LEN);
        insert_promo(&mut conn, Promo { code: longest.clone().leak(), ..Promo::default() });
        assert_eq!(check(&mut conn, &longest, None, 8_900), Ok(longest.clone()));
        let longer = format!("{longest}XY");
        assert_eq!(check(&mut conn, &longer, None, 8_900), Err(PromoRejection::Unknown(format!("{longest}…"))));
    }

    async fn refunds_beyond_what_is_left_or_of_unpaid_orders_are_refused(app: TestApp) {
        let mut conn = app.db.connect();
        app.student("ada@example.com").await;
        let paid = app.bought(&["rust-for-web-developers"], "").await;
        app.add_course("modern-javascript").await;
        let pending = crate::helpers::location(&app.checkout("").await).trim_start_matches("/checkout/").to_owned();
        let boss = TestApp::with_client_of(&app);
        boss.staff("boss@example.com").await;
        let requests = |conn: &mut DbConnection| -> i64 { refund_requests::table.count().get_result(conn).unwrap() };
        let refunded = |conn: &mut DbConnection, number: &str| -> i64 {
            orders::table.filter(orders::number.eq(number)).select(orders::refunded_cents).first(conn).unwrap()
        };

        // One cent more than the order holds.
        assert_eq!(boss.refund(&paid, "89.01", "too much").await.status(), 400);
        // A pending order has taken no money; the refund is not offered.
        assert_eq!(boss.refund(&pending, "", "not paid").await.status(), 409);
        assert_eq!(boss.refund(&pending, "1.00", "not paid").await.status(), 409);
        assert_eq!(requests(&mut conn), 0, "nothing was asked of the provider");
        assert_eq!(refunded(&mut conn, &paid), 0);

        // Exactly what it holds is allowed, and then nothing is left.
        assert_eq!(boss.refund(&paid, "89.00", "all of it").await.status(), 303);
        assert_eq!(refunded(&mut conn, &paid), 8_900);
        assert_eq!(boss.refund(&paid, "0.01", "more").await.status(), 409);
        assert_eq!(requests(&mut conn), 1);
    }

    async fn refunds_of_a_payment_never_applied_are_journalled_once_by_what_changed(app: TestApp) {
        let mut conn = app.db.connect();
        let (order, intent, total) = app.pending_order("ada@example.com", &["rust-for-web-developers"]).await;
        assert!(total > 2_000, "room for two refunds of 1,000: {total}");
        // Canceled, then paid anyway: flagged, never income.
        let canceled = intent_event("evt_c", "payment_intent.canceled", &intent, total, order, None);
        assert_eq!(outcome(app.deliver(&canceled).await).await.1, "order canceled");
        let paid = intent_event("evt_s", "payment_intent.succeeded", &intent, total, order, None);
        assert!(outcome(app.deliver(&paid).await).await.1.starts_with("payment not applied"));
        let unapplied = |conn: &mut DbConnection| -> Vec<_> {
            journal(conn, order).into_iter().filter(|r| r.0 == "unapplied_refund").collect()
        };
        let refunded = |id: &str, cumulative: i64, at: i64| charge_refunded_at(id, &intent, total, cumulative, at);
        let t = now();

        // Staff give 1,000 back: the charge says so.
        assert_eq!(
            outcome(app.deliver(&refunded("evt_r1", 1_000, t)).await).await,
            (200, "refund of an unapplied payment: 1000".into())
        );
        assert_eq!(unapplied(&mut conn), [row("unapplied_refund", "success", 1_000, "USD")]);
        // The same cumulative amount in another event: nothing new.
        assert_eq!(
            outcome(app.deliver(&refunded("evt_r1b", 1_000, t + 1)).await).await,
            (200, "refund already recorded".into())
        );
        assert_eq!(unapplied(&mut conn).len(), 1);

        // That refund fails at the bank: the money stayed with the shop.
        let failed = refund_event("evt_f", "refund.failed", "re_1", &intent, 1_000, "failed", t, t + 2);
        assert_eq!(
            outcome(app.deliver(&failed).await).await,
            (200, "refund re_1 of an unapplied payment failed".into())
        );
        // Given back again, then the rest: each journalled once, by what
        // changed since what was journalled (the failed one counted out).
        assert_eq!(
            outcome(app.deliver(&refunded("evt_r2", 1_000, t + 3)).await).await,
            (200, "refund of an unapplied payment: 1000".into())
        );
        assert_eq!(
            outcome(app.deliver(&refunded("evt_r3", total, t + 4)).await).await,
            (200, format!("refund of an unapplied payment: {}", total - 1_000))
        );
        assert_eq!(
            unapplied(&mut conn),
            [
                row("unapplied_refund", "success", 1_000, "USD"),
                row("unapplied_refund", "failed", 1_000, "USD"),
                row("unapplied_refund", "success", 1_000, "USD"),
                row("unapplied_refund", "success", total - 1_000, "USD"),
            ]
        );
        assert_eq!(status(&mut conn, order), "canceled");
        assert_eq!(grants(&mut conn, order), 0);
        assert!(!journal(&mut conn, order).iter().any(|r| r.0 == "income" || r.0 == "refund"));
    }
}

/// Stripe's tolerance is inclusive: a signature exactly 300 s old or
/// ahead verifies, one second more does not.
#[actix_web::test]
async fn the_signature_tolerance_is_three_hundred_seconds_each_way() {
    use kasir::payments::webhook::{SignatureError, TOLERANCE_SECONDS, verify_signature};
    let app = TestApp::spawn(Backend::Sqlite).await;
    let body = br#"{"id":"evt_t"}"#;
    let now = 1_800_000_000;
    let header = |at: i64| {
        stripe_webhook::Webhook::generate_test_header(
            std::str::from_utf8(body).unwrap(),
            &app.webhook_secret,
            Some(at),
        )
    };
    assert_eq!(TOLERANCE_SECONDS, 300);
    for skew in [-300, 300, 0] {
        assert_eq!(
            verify_signature(Some(&header(now + skew)), body, &app.webhook_secret, now),
            Ok(()),
            "{skew}"
        );
    }
    for skew in [-301, 301] {
        assert_eq!(
            verify_signature(Some(&header(now + skew)), body, &app.webhook_secret, now),
            Err(SignatureError::OutsideTolerance),
            "{skew}"
        );
    }
}
