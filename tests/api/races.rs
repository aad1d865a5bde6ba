//! Races that PostgreSQL's READ COMMITTED lets through and SQLite's
//! one-writer-at-a-time hides: each test holds a row in a transaction of
//! its own (as a concurrent request would) or fires requests at once, and
//! checks what money and access look like after.

use std::time::Duration;

use diesel::prelude::*;
use diesel::{Connection, PgConnection};
use kasir::db::DbConnection;
use kasir::db::schema::{
    financial_journals, orders, promo_codes, sandbox_payment_intents, user_courses,
};

use crate::helpers::events::{charge_refunded_at, intent_event, now};
use crate::helpers::shop::{Promo, all_orders, insert_promo};
use crate::helpers::stripe::{StripeToday, pay_with_test_card_at};
use crate::helpers::{Backend, TestApp, location, stripe_overrides};

/// A transaction on its own connection that holds rows until dropped
/// (committing), as a concurrent request in the middle of its work would.
struct Holder(PgConnection);

impl Holder {
    fn begin(url: &str, statements: &[&str]) -> Self {
        let mut conn = PgConnection::establish(url).unwrap();
        diesel::sql_query("BEGIN").execute(&mut conn).unwrap();
        for statement in statements {
            diesel::sql_query(*statement).execute(&mut conn).unwrap();
        }
        Self(conn)
    }

    fn commit(mut self) {
        diesel::sql_query("COMMIT").execute(&mut self.0).unwrap();
    }
}

fn journal_kinds(conn: &mut DbConnection, order: i64) -> Vec<String> {
    financial_journals::table
        .filter(financial_journals::reference_id.eq(order))
        .order(financial_journals::id.asc())
        .select(financial_journals::type_)
        .load(conn)
        .unwrap()
}

/// Lets a request that was just sent reach the row it waits for.
async fn settle() {
    tokio::time::sleep(Duration::from_millis(400)).await;
}

/// Delivers two events at once while another transaction holds `order`
/// (as a concurrent fulfilment would), then lets it commit; both answers.
async fn deliver_two_while_held(
    app: &TestApp,
    order: i64,
    first: &str,
    second: &str,
) -> (reqwest::Response, reqwest::Response) {
    let held = Holder::begin(
        &app.db.url,
        &[&format!(
            "SELECT id FROM orders WHERE id = {order} FOR UPDATE"
        )],
    );
    let both = async { tokio::join!(app.deliver(first), app.deliver(second)) };
    let commit = async {
        settle().await;
        held.commit();
    };
    let (answers, ()) = tokio::join!(both, commit);
    answers
}

#[actix_web::test]
async fn a_payment_that_lands_while_its_order_is_canceled_is_flagged_never_lost() {
    let app = TestApp::spawn(Backend::Postgres).await;
    let mut conn = app.db.connect();
    let (order, intent, total) = app
        .pending_order("ada@example.com", &["rust-for-web-developers"])
        .await;
    // The sweep cancels the order; its transaction has not committed yet.
    let cancel = Holder::begin(
        &app.db.url,
        &[&format!(
            "UPDATE orders SET status = 'canceled', canceled_at = now() WHERE id = {order}"
        )],
    );
    let body = intent_event(
        "evt_late",
        "payment_intent.succeeded",
        &intent,
        total,
        order,
        None,
    );
    let delivery = async {
        let response = app.deliver(&body).await;
        let outcome: serde_json::Value = response.json().await.unwrap();
        outcome["outcome"].as_str().unwrap_or_default().to_owned()
    };
    let commit = async {
        settle().await;
        cancel.commit();
    };
    let (outcome, ()) = tokio::join!(delivery, commit);
    assert!(outcome.starts_with("payment not applied"), "{outcome}");
    let (status, note): (String, Option<String>) = orders::table
        .find(order)
        .select((orders::status, orders::review_note))
        .first(&mut conn)
        .unwrap();
    assert_eq!(status, "canceled");
    assert!(
        note.unwrap().contains("which was canceled"),
        "staff are told to refund it"
    );
    assert!(journal_kinds(&mut conn, order).contains(&"payment_mismatch".to_owned()));
}

#[actix_web::test]
async fn two_requests_starting_one_payment_keep_the_intent_alive() {
    use kasir::domain::{Currency, Provider};
    use kasir::services::order_lifecycle::{self as lifecycle, CheckoutOutcome, CheckoutRequest};
    let app = TestApp::spawn(Backend::Postgres).await;
    let mut conn = app.db.connect();
    app.student("ada@example.com").await;
    app.add_course("rust-for-web-developers").await;
    let user: i64 = kasir::db::schema::users::table
        .select(kasir::db::schema::users::id)
        .first(&mut conn)
        .unwrap();
    let request = CheckoutRequest {
        user_id: kasir::models::UserId(user),
        promo_code: None,
        currency: Currency::parse("USD").unwrap(),
        provider: Provider::Sandbox,
        settled: Vec::new(),
        seller: kasir::config::Seller::default(),
        tax: None,
    };
    let CheckoutOutcome::Placed(placed) = lifecycle::place_order(&mut conn, &request).unwrap()
    else {
        panic!("an order");
    };
    let order = placed.order;
    let pool = kasir::db::open(&kasir::db::DatabaseUrl::parse(&app.db.url).unwrap(), 2).unwrap();
    let payments = kasir::payments::Payments::Sandbox(
        kasir::payments::sandbox::SandboxProvider::new(pool.clone()),
    );
    // The other request created the intent (same idempotency key, same
    // intent) and is storing it: its transaction holds the order.
    let intent = payments
        .create_intent(&kasir::payments::IntentRequest {
            amount: order.total_cents,
            currency: "usd".into(),
            order_id: order.id,
            order_number: order.number.clone(),
            installation: app.installation(),
            customer: None,
            receipt_email: Some("ada@example.com".into()),
        })
        .await
        .unwrap();
    let other = Holder::begin(
        &app.db.url,
        &[&format!(
            "UPDATE orders SET payment_intent_id = '{}' WHERE id = {}",
            intent.id, order.id
        )],
    );
    let ours = kasir::services::checkout::ensure_payment_intent(&payments, &pool, &order);
    let commit = async {
        settle().await;
        other.commit();
    };
    let (ours, ()) = tokio::join!(ours, commit);
    assert_eq!(
        ours.unwrap().id,
        intent.id,
        "both requests pay the one intent"
    );
    let status: String = sandbox_payment_intents::table
        .find(&intent.id)
        .select(sandbox_payment_intents::status)
        .first(&mut conn)
        .unwrap();
    assert_eq!(
        status, "requires_payment_method",
        "the loser did not cancel the winner's intent"
    );
}

#[actix_web::test]
async fn a_double_clicked_checkout_makes_one_order_one_intent_one_promo_use() {
    let app = TestApp::spawn(Backend::Postgres).await;
    let mut conn = app.db.connect();
    insert_promo(
        &mut conn,
        Promo {
            code: "CLICK",
            max_redemptions: Some(10),
            ..Promo::default()
        },
    );
    app.student("ada@example.com").await;
    let token = app.csrf_token().await;
    let form = [("promo_code", "CLICK"), ("csrf_token", token.as_str())];
    // Three carts, each checked out by eight clicks at once.
    for (round, slug) in [
        "rust-for-web-developers",
        "modern-javascript",
        "postgresql-in-practice",
    ]
    .into_iter()
    .enumerate()
    {
        app.add_course(slug).await;
        let clicks = (0..8).map(|_| app.post_form("/checkout", &form));
        let answers = futures_util::future::join_all(clicks).await;
        let places: Vec<String> = answers.iter().map(location).collect();
        assert!(
            places.iter().all(|p| p == &places[0]),
            "round {round}: one order: {places:?}"
        );
        let pending: Vec<_> = all_orders(&mut conn)
            .into_iter()
            .filter(|o| o.status == "pending")
            .collect();
        assert_eq!(pending.len(), 1, "round {round}: {pending:?}");
        assert!(pending[0].payment_intent_id.is_some());
        let used: i64 = promo_codes::table
            .select(promo_codes::reserved_count)
            .first(&mut conn)
            .unwrap();
        assert_eq!(used, 1, "round {round}: one promo use held");
    }
    let orders = all_orders(&mut conn);
    assert_eq!(
        orders.len(),
        3,
        "one order per cart, the older ones superseded"
    );
    let live_intents: i64 = sandbox_payment_intents::table
        .filter(sandbox_payment_intents::status.ne("canceled"))
        .count()
        .get_result(&mut conn)
        .unwrap();
    assert_eq!(
        live_intents, 1,
        "the superseded orders' intents were canceled"
    );
}

#[actix_web::test]
async fn concurrent_refunds_of_an_unapplied_payment_journal_what_was_refunded() {
    let app = TestApp::spawn(Backend::Postgres).await;
    let mut conn = app.db.connect();
    let (order, intent, total) = app
        .pending_order("ada@example.com", &["rust-for-web-developers"])
        .await;
    // The order is canceled, then its payment succeeds anyway (flagged).
    diesel::update(orders::table.find(order))
        .set(orders::status.eq("canceled"))
        .execute(&mut conn)
        .unwrap();
    app.deliver(&intent_event(
        "evt_late",
        "payment_intent.succeeded",
        &intent,
        total,
        order,
        None,
    ))
    .await;
    // Staff refund it in two steps; Stripe's two events arrive at once,
    // while another transaction holds the order.
    let first = charge_refunded_at("evt_r1", &intent, total, 1_000, now());
    let second = charge_refunded_at("evt_r2", &intent, total, 3_000, now() + 1);
    let (a, b) = deliver_two_while_held(&app, order, &first, &second).await;
    assert_eq!((a.status().as_u16(), b.status().as_u16()), (200, 200));
    let journalled: i64 = financial_journals::table
        .filter(financial_journals::reference_id.eq(order))
        .filter(financial_journals::type_.eq("unapplied_refund"))
        .select(financial_journals::amount_cents)
        .load::<i64>(&mut conn)
        .unwrap()
        .iter()
        .sum();
    assert_eq!(journalled, 3_000, "3,000 went back, not 4,000");
}

#[actix_web::test]
async fn two_payments_granting_one_course_at_once_both_succeed() {
    let app = TestApp::spawn(Backend::Postgres).await;
    let mut conn = app.db.connect();
    // Two open orders with the same course (two tabs), paid at once.
    let (first, pi_a, total) = app
        .pending_order("ada@example.com", &["rust-for-web-developers"])
        .await;
    let user: i64 = orders::table
        .find(first)
        .select(orders::user_id)
        .first(&mut conn)
        .unwrap();
    let second_pi = "pi_second_tab";
    let second: i64 = diesel::insert_into(orders::table)
        .values((
            orders::number.eq("ORD-SECOND-TAB"),
            orders::user_id.eq(user),
            orders::status.eq("pending"),
            orders::subtotal_cents.eq(total),
            orders::total_cents.eq(total),
            orders::currency.eq("USD"),
            orders::provider.eq("sandbox"),
            orders::payment_intent_id.eq(second_pi),
            orders::created_at.eq(kasir::db::now()),
            orders::updated_at.eq(kasir::db::now()),
        ))
        .returning(orders::id)
        .get_result(&mut conn)
        .unwrap();
    diesel::sql_query(format!(
        "INSERT INTO order_items (order_id, course_id, title, unit_price_cents, total_cents) \
         SELECT {second}, course_id, title, unit_price_cents, total_cents FROM order_items WHERE order_id = {first}"
    ))
    .execute(&mut conn)
    .unwrap();
    let a = intent_event(
        "evt_a",
        "payment_intent.succeeded",
        &pi_a,
        total,
        first,
        None,
    );
    let b = intent_event(
        "evt_b",
        "payment_intent.succeeded",
        second_pi,
        total,
        second,
        None,
    );
    let (ra, rb) = tokio::join!(app.deliver(&a), app.deliver(&b));
    assert_eq!(
        (ra.status().as_u16(), rb.status().as_u16()),
        (200, 200),
        "no aborted transaction, no 500"
    );
    let active: i64 = user_courses::table
        .filter(user_courses::user_id.eq(user))
        .filter(user_courses::revoked_at.is_null())
        .count()
        .get_result(&mut conn)
        .unwrap();
    assert_eq!(active, 1, "one active grant");
}

#[actix_web::test]
async fn superseding_checkouts_and_free_orders_on_one_code_never_deadlock() {
    let app = TestApp::spawn(Backend::Postgres).await;
    let mut conn = app.db.connect();
    insert_promo(
        &mut conn,
        Promo {
            code: "SHARED",
            percent_bps: Some(10_000),
            max_redemptions: Some(1_000),
            ..Promo::default()
        },
    );
    insert_promo(
        &mut conn,
        Promo {
            code: "HALF",
            percent_bps: Some(5_000),
            max_redemptions: Some(1_000),
            ..Promo::default()
        },
    );
    // Superseders hold a pending order with SHARED... no: with HALF, and
    // change their cart; free buyers use SHARED (100 %). Each round
    // superseding checkouts (old code: chain head, then promo row) race
    // free orders (old code: promo row, then chain head) on SHARED.
    let mut superseders = Vec::new();
    let mut free = Vec::new();
    for n in 0..4 {
        let s = TestApp::with_client_of(&app);
        s.student(&format!("s{n}@example.com")).await;
        s.add_course("rust-for-web-developers").await;
        s.checkout("SHARED").await;
        superseders.push(s);
        let f = TestApp::with_client_of(&app);
        f.student(&format!("f{n}@example.com")).await;
        free.push(f);
    }
    for round in 0..3 {
        let courses = [
            "modern-javascript",
            "postgresql-in-practice",
            "ux-design-foundations",
        ];
        for (s, f) in superseders.iter().zip(&free) {
            s.add_course(courses[round]).await;
            f.add_course(courses[round]).await;
        }
        let checkouts = superseders
            .iter()
            .map(|s| s.checkout("SHARED"))
            .chain(free.iter().map(|f| f.checkout("SHARED")));
        let answers = futures_util::future::join_all(checkouts).await;
        for answer in answers {
            assert_eq!(answer.status(), 303, "round {round}: no deadlock, no 503");
        }
    }
}

#[actix_web::test]
async fn a_superseding_checkout_keeps_an_order_paid_in_another_tab() {
    let stripe = StripeToday::start(None);
    let overrides = stripe_overrides(&stripe.url);
    let pairs: Vec<(&str, &str)> = overrides.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let app = TestApp::spawn_with(Backend::Postgres, &pairs).await;
    let mut conn = app.db.connect();
    app.student("ada@example.com").await;
    app.add_course("rust-for-web-developers").await;
    app.checkout("").await;
    let first = all_orders(&mut conn).pop().unwrap();
    // Paid in another tab; its webhook has not come.
    pay_with_test_card_at(&stripe.url, first.payment_intent_id.as_deref().unwrap()).await;
    // Here the student adds a course and checks out again.
    app.add_course("modern-javascript").await;
    let answer = app.checkout("").await;
    let orders = all_orders(&mut conn);
    assert_eq!(
        orders[0].status, "paid",
        "the paid order is fulfilled, not canceled"
    );
    assert_eq!(orders.len(), 2);
    assert_eq!(orders[1].status, "pending");
    assert_eq!(
        orders[1].total_cents, 4_900,
        "the new order holds only what is left to buy"
    );
    assert_eq!(location(&answer), format!("/checkout/{}", orders[1].number));
    assert!(journal_kinds(&mut conn, orders[0].id).contains(&"income".to_owned()));
    assert!(!journal_kinds(&mut conn, orders[0].id).contains(&"canceled".to_owned()));
}

#[actix_web::test]
async fn a_checkout_while_a_bank_debit_settles_waits_for_it() {
    let stripe = StripeToday::start(Some(120.0));
    let overrides = stripe_overrides(&stripe.url);
    let pairs: Vec<(&str, &str)> = overrides.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let app = TestApp::spawn_with(Backend::Postgres, &pairs).await;
    let mut conn = app.db.connect();
    app.student("ada@example.com").await;
    app.add_course("rust-for-web-developers").await;
    app.checkout("").await;
    let first = all_orders(&mut conn).pop().unwrap();
    let intent = first.payment_intent_id.clone().unwrap();
    // A SEPA debit: processing for two minutes.
    let post = |path: String, form: Vec<(&'static str, String)>| {
        let url = format!("{}{path}", stripe.url);
        async move {
            reqwest::Client::new()
                .post(url)
                .bearer_auth("sk_test_kasir")
                .form(&form)
                .send()
                .await
                .unwrap()
                .json::<serde_json::Value>()
                .await
                .unwrap()
        }
    };
    let method = post(
        "/v1/payment_methods".into(),
        vec![
            ("type", "sepa_debit".into()),
            ("sepa_debit[iban]", "DE89370400440532013000".into()),
            ("billing_details[name]", "Ada".into()),
            ("billing_details[email]", "ada@example.com".into()),
        ],
    )
    .await;
    post(
        format!("/v1/payment_intents/{intent}"),
        vec![("payment_method", method["id"].as_str().unwrap().to_owned())],
    )
    .await;
    let confirmed = post(format!("/v1/payment_intents/{intent}/confirm"), Vec::new()).await;
    assert_eq!(confirmed["status"], "processing");
    app.add_course("modern-javascript").await;
    let answer = app.checkout("").await;
    assert_eq!(
        location(&answer),
        format!("/checkout/{}/complete", first.number)
    );
    let orders = all_orders(&mut conn);
    assert_eq!(
        orders.len(),
        1,
        "no second order while the first may still be paid"
    );
    assert_eq!(orders[0].status, "pending");
    let page = app.get_html(&location(&answer)).await;
    assert!(
        page.contains("is still being processed"),
        "the student is told"
    );
}

#[actix_web::test]
async fn a_grant_that_meets_a_concurrent_grant_does_not_abort_its_transaction() {
    use kasir::models::order::Order;
    use kasir::models::user_course::UserCourse;
    use kasir::models::{CourseId, OrderId, UserId};
    let app = TestApp::spawn(Backend::Postgres).await;
    let mut conn = app.db.connect();
    let (order, _, _) = app
        .pending_order("ada@example.com", &["rust-for-web-developers"])
        .await;
    let (user, course): (i64, i64) = orders::table
        .inner_join(kasir::db::schema::order_items::table)
        .filter(orders::id.eq(order))
        .select((orders::user_id, kasir::db::schema::order_items::course_id))
        .first(&mut conn)
        .unwrap();
    // Another fulfilment has granted the course and not committed yet.
    let other = Holder::begin(
        &app.db.url,
        &[&format!(
            "INSERT INTO user_courses (user_id, course_id, order_id, granted_at) VALUES ({user}, {course}, {order}, now())"
        )],
    );
    let url = app.db.url.clone();
    let ours = std::thread::spawn(move || {
        let mut conn = kasir::db::DatabaseUrl::parse(&url)
            .unwrap()
            .connect()
            .unwrap();
        kasir::db::write_transaction(&mut conn, |conn| {
            let granted = UserCourse::grant(
                conn,
                UserId(user),
                CourseId(course),
                OrderId(order),
                kasir::db::now(),
            )?;
            // The transaction goes on after the grant.
            Order::find(conn, OrderId(order))?;
            Ok::<_, diesel::result::Error>(granted.is_some())
        })
    });
    settle().await;
    other.commit();
    let granted = ours.join().unwrap();
    assert_eq!(
        granted.map_err(|e| e.to_string()),
        Ok(false),
        "already granted, and the transaction lives on"
    );
}

/// A lost dispute told twice at once (Stripe's `charge.dispute.closed` and
/// a redelivery under a new event id) while another transaction holds the
/// order, and a refund told by two events at once: each money movement is
/// journalled once and gets exactly one credit note.
#[actix_web::test]
async fn the_same_dispute_and_refund_told_twice_at_once_make_one_note_each() {
    use crate::helpers::events::dispute_event;
    use kasir::db::schema::credit_notes;
    let app = TestApp::spawn(Backend::Postgres).await;
    let mut conn = app.db.connect();
    let (order, intent, total) = app
        .pending_order(
            "ada@example.com",
            &["rust-for-web-developers", "modern-javascript"],
        )
        .await;
    app.deliver(&intent_event(
        "evt_paid",
        "payment_intent.succeeded",
        &intent,
        total,
        order,
        None,
    ))
    .await;
    // (what it answers, its amount, what the order has had credited with it)
    let notes = |conn: &mut DbConnection, cause: &str| -> Vec<(Option<String>, i64, i64)> {
        credit_notes::table
            .filter(credit_notes::order_id.eq(order))
            .filter(credit_notes::cause.eq(cause))
            .select((
                credit_notes::source_id,
                credit_notes::amount_cents,
                credit_notes::credited_cents,
            ))
            .load(conn)
            .unwrap()
    };
    let rows = |conn: &mut DbConnection, kind: &str| -> Vec<i64> {
        financial_journals::table
            .filter(financial_journals::reference_id.eq(order))
            .filter(financial_journals::type_.eq(kind))
            .select(financial_journals::amount_cents)
            .load(conn)
            .unwrap()
    };

    // A partial refund, told by two events at once.
    let first = charge_refunded_at("evt_ref_a", &intent, total, 1_000, now());
    let again = charge_refunded_at("evt_ref_b", &intent, total, 1_000, now() + 1);
    let (a, b) = deliver_two_while_held(&app, order, &first, &again).await;
    assert_eq!((a.status().as_u16(), b.status().as_u16()), (200, 200));
    assert_eq!(rows(&mut conn, "refund"), vec![1_000], "one refund row");
    let refund_notes = notes(&mut conn, "refund");
    assert_eq!(refund_notes.len(), 1, "{refund_notes:?}");
    assert_eq!((refund_notes[0].1, refund_notes[0].2), (1_000, 1_000));

    // The rest is disputed and lost, told twice at once.
    let disputed = total - 1_000;
    let lost = dispute_event(
        "evt_lost_a",
        "charge.dispute.closed",
        &intent,
        disputed,
        "lost",
    );
    let told_again = dispute_event(
        "evt_lost_b",
        "charge.dispute.closed",
        &intent,
        disputed,
        "lost",
    );
    let (a, b) = deliver_two_while_held(&app, order, &lost, &told_again).await;
    assert_eq!((a.status().as_u16(), b.status().as_u16()), (200, 200));
    assert_eq!(
        rows(&mut conn, "dispute"),
        vec![disputed],
        "one dispute row"
    );
    let dispute_notes = notes(&mut conn, "dispute");
    assert_eq!(dispute_notes.len(), 1, "{dispute_notes:?}");
    assert_eq!(
        dispute_notes[0],
        (Some(format!("dp_{intent}")), disputed, total)
    );
    let active: i64 = user_courses::table
        .filter(user_courses::order_id.eq(order))
        .filter(user_courses::revoked_at.is_null())
        .count()
        .get_result(&mut conn)
        .unwrap();
    assert_eq!(active, 0, "a lost dispute takes the access back");
    assert!(matches!(
        crate::helpers::seal_and_verify(&mut conn),
        kasir::services::journal::ChainVerdict::Intact { .. }
    ));
}

/// The reports page seals what has committed, then reads the seals. While
/// another sealing pass (another instance's) holds the turn, the page waits
/// for it instead of reading seals still being written: a page that
/// skipped showed $0.00 for a paid order.
#[actix_web::test]
async fn the_reports_page_waits_for_a_sealing_pass_in_progress() {
    const SEALER_LOCK_KEY: i64 = 0x6b61_7369_725f_736c;
    let app = TestApp::spawn(Backend::Postgres).await;
    let (order, intent, total) = app
        .pending_order("ada@example.com", &["rust-for-web-developers"])
        .await;
    let held = Holder::begin(
        &app.db.url,
        &[&format!("SELECT pg_advisory_xact_lock({SEALER_LOCK_KEY})")],
    );
    app.deliver(&intent_event(
        "evt_paid",
        "payment_intent.succeeded",
        &intent,
        total,
        order,
        None,
    ))
    .await;
    let boss = TestApp::with_client_of(&app);
    boss.staff("boss@example.com").await;
    let page = async { boss.get_html("/staff/reports").await };
    let release = async {
        settle().await;
        held.commit();
    };
    let (page, ()) = tokio::join!(page, release);
    let gross = crate::helpers::select_all(&page, "[data-kpi=gross]");
    assert_eq!(gross, vec![format!("${}.{:02}", total / 100, total % 100)]);
}
