//! Stripe's events in today's shapes (built from Stripe's own fixtures,
//! signed by stripe-python's signer and by async-stripe's) through the
//! real webhook handler: payments, refunds that fail, every dispute
//! status, the other mode's events, other applications' objects.

use diesel::prelude::*;
use kasir::db::DbConnection;
use kasir::db::schema::{financial_journals, orders, user_courses, webhook_events};

use crate::both_backends;
use crate::helpers::events::{
    charge_refunded_at, dispute_event, event, intent_event, now, refund_event,
};
use crate::helpers::{Backend, TestApp};

pub(crate) fn order_state(conn: &mut DbConnection, order: i64) -> (String, i64) {
    orders::table
        .find(order)
        .select((orders::status, orders::refunded_cents))
        .first(conn)
        .unwrap()
}

pub(crate) fn journal(conn: &mut DbConnection, order: i64) -> Vec<(String, String, i64)> {
    financial_journals::table
        .filter(financial_journals::reference_id.eq(order))
        .order(financial_journals::id.asc())
        .select((
            financial_journals::type_,
            financial_journals::status,
            financial_journals::amount_cents,
        ))
        .load(conn)
        .unwrap()
}

/// The courses the order's student can open now, by the order that gives them.
pub(crate) fn access_from(conn: &mut DbConnection, order: i64) -> i64 {
    user_courses::table
        .filter(user_courses::order_id.eq(order))
        .filter(user_courses::revoked_at.is_null())
        .count()
        .get_result(conn)
        .unwrap()
}

fn active_grants(conn: &mut DbConnection, user: i64) -> i64 {
    user_courses::table
        .filter(user_courses::user_id.eq(user))
        .filter(user_courses::revoked_at.is_null())
        .count()
        .get_result(conn)
        .unwrap()
}

fn user_of(conn: &mut DbConnection, order: i64) -> i64 {
    orders::table
        .find(order)
        .select(orders::user_id)
        .first(conn)
        .unwrap()
}

pub(crate) async fn outcome(response: reqwest::Response) -> (u16, String) {
    let status = response.status().as_u16();
    let body: serde_json::Value = response.json().await.unwrap_or_default();
    let said = body["outcome"]
        .as_str()
        .or(body["error"].as_str())
        .unwrap_or_default()
        .to_owned();
    (status, said)
}

impl TestApp {
    /// A pending order for `slug`, paid by a `payment_intent.succeeded`
    /// made at `at`; returns (order, intent, total).
    pub(crate) async fn paid_at(&self, email: &str, slug: &str, at: i64) -> (i64, String, i64) {
        let (order, intent, total) = self.pending_order(email, &[slug]).await;
        let mut paid: serde_json::Value = serde_json::from_str(&intent_event(
            &format!("evt_paid_{order}"),
            "payment_intent.succeeded",
            &intent,
            total,
            order,
            None,
        ))
        .unwrap();
        paid["created"] = at.into();
        let (status, said) = outcome(self.deliver(&paid.to_string()).await).await;
        assert_eq!((status, said.as_str()), (200, "order paid, access granted"));
        (order, intent, total)
    }
}

both_backends! {
    async fn a_success_in_today_s_shape_signed_by_stripe_python_pays_the_order(app: TestApp) {
        let mut conn = app.db.connect();
        let (order, intent, total) = app.pending_order("ada@example.com", &["rust-for-web-developers"]).await;
        let body = intent_event("evt_today", "payment_intent.succeeded", &intent, total, order, None);
        let (status, said) = outcome(app.deliver_signed_by_stripe_python(&body).await).await;
        assert_eq!((status, said.as_str()), (200, "order paid, access granted"));
        assert_eq!(order_state(&mut conn, order), ("paid".into(), 0));
        let (charge, api_version): (Option<String>, Option<String>) = orders::table
            .inner_join(webhook_events::table.on(webhook_events::id.eq("evt_today")))
            .filter(orders::id.eq(order))
            .select((orders::charge_id, webhook_events::api_version))
            .first(&mut conn)
            .unwrap();
        assert_eq!(charge, Some(format!("ch_{intent}")), "the charge that paid it is kept");
        assert_eq!(api_version, Some(kasir::payments::stripe::api_version()));
        assert_eq!(outcome(app.deliver_signed_by_stripe_python(&body).await).await.1, "duplicate");
    }

    async fn a_refund_that_fails_after_it_was_counted_gives_money_and_access_back(app: TestApp) {
        let mut conn = app.db.connect();
        let t0 = now() - 1_000;
        let (order, intent, total) = app.paid_at("ada@example.com", "rust-for-web-developers", t0).await;
        app.deliver(&charge_refunded_at("evt_refunded", &intent, total, total, t0 + 10)).await;
        assert_eq!(order_state(&mut conn, order), ("refunded".into(), total));
        assert_eq!(access_from(&mut conn, order), 0);

        // The card is closed: the refund fails days later.
        let failed = refund_event("evt_failed", "refund.failed", "re_1", &intent, total, "failed", t0 + 5, t0 + 100);
        let (status, said) = outcome(app.deliver(&failed).await).await;
        assert_eq!(status, 200);
        assert!(said.contains("access restored for 1 course"), "{said}");
        assert_eq!(order_state(&mut conn, order), ("paid".into(), 0));
        assert_eq!(access_from(&mut conn, order), 1, "nothing else took the access away");
        assert_eq!(
            journal(&mut conn, order),
            vec![
                ("payment_initiated".into(), "pending".into(), total),
                ("income".into(), "success".into(), total),
                ("refund".into(), "success".into(), total),
                ("refund_reversed".into(), "failed".into(), total),
            ],
            "a correcting row, never an edit"
        );
        // The same failure again, as charge.refund.updated: nothing more.
        let again = refund_event("evt_failed_2", "charge.refund.updated", "re_1", &intent, total, "failed", t0 + 5, t0 + 101);
        app.deliver(&again).await;
        assert_eq!(journal(&mut conn, order).len(), 4);
        // A snapshot taken before the failure, delivered late: it still
        // counts the failed refund, and is read without it.
        app.deliver(&charge_refunded_at("evt_stale", &intent, total, total, t0 + 50)).await;
        assert_eq!(order_state(&mut conn, order), ("paid".into(), 0));
        // A new refund after that counts.
        app.deliver(&charge_refunded_at("evt_second", &intent, total, 1_000, t0 + 200)).await;
        assert_eq!(order_state(&mut conn, order), ("partially_refunded".into(), 1_000));
        assert_eq!(access_from(&mut conn, order), 1);
    }

    async fn a_refund_that_fails_before_its_charge_event_is_never_counted(app: TestApp) {
        let mut conn = app.db.connect();
        let t0 = now() - 1_000;
        let (order, intent, total) = app.paid_at("ada@example.com", "modern-javascript", t0).await;
        let failed = refund_event("evt_failed", "refund.failed", "re_early", &intent, total, "failed", t0 + 5, t0 + 100);
        let (status, said) = outcome(app.deliver(&failed).await).await;
        assert_eq!(status, 200);
        assert!(said.contains("before it was counted"), "{said}");
        // The charge.refunded made when the refund was, delivered after.
        app.deliver(&charge_refunded_at("evt_refunded", &intent, total, total, t0 + 10)).await;
        assert_eq!(order_state(&mut conn, order), ("paid".into(), 0));
        assert_eq!(access_from(&mut conn, order), 1);
        let kinds: Vec<(String, i64)> = journal(&mut conn, order).into_iter().map(|(k, _, a)| (k, a)).collect();
        assert_eq!(kinds.last(), Some(&("refund_reversed".to_owned(), 0)), "recorded, nothing taken back");
        assert!(!kinds.iter().any(|(k, _)| k == "refund"));
    }

    async fn disputes_follow_stripe_s_statuses_exactly(app: TestApp) {
        let mut conn = app.db.connect();
        let t0 = now() - 500;
        // An inquiry takes nothing: access stays, closing it is no loss.
        let (inquiry, pi_i, total_i) = app.paid_at("ada@example.com", "rust-for-web-developers", t0).await;
        app.deliver(&dispute_event("evt_i1", "charge.dispute.created", &pi_i, total_i, "warning_needs_response")).await;
        assert_eq!(access_from(&mut conn, inquiry), 1, "an inquiry does not end access");
        app.deliver(&dispute_event("evt_i2", "charge.dispute.updated", &pi_i, total_i, "warning_under_review")).await;
        assert_eq!(access_from(&mut conn, inquiry), 1);
        app.deliver(&dispute_event("evt_i3", "charge.dispute.closed", &pi_i, total_i, "warning_closed")).await;
        assert_eq!(access_from(&mut conn, inquiry), 1);
        let dispute_rows: Vec<(String, String, i64)> =
            journal(&mut conn, inquiry).into_iter().filter(|(k, _, _)| k == "dispute").collect();
        assert_eq!(
            dispute_rows,
            vec![("dispute".into(), "pending".into(), total_i), ("dispute".into(), "success".into(), total_i)],
            "a closed inquiry is not a loss"
        );
        let state: Option<String> = orders::table.find(inquiry).select(orders::dispute_status).first(&mut conn).unwrap();
        assert_eq!(state.as_deref(), Some("warning_closed"));

        // An inquiry that becomes a chargeback suspends; winning restores.
        let (won, pi_w, total_w) = app.paid_at("bob@example.com", "modern-javascript", t0).await;
        app.deliver(&dispute_event("evt_w1", "charge.dispute.created", &pi_w, total_w, "warning_needs_response")).await;
        assert_eq!(access_from(&mut conn, won), 1);
        app.deliver(&dispute_event("evt_w2", "charge.dispute.updated", &pi_w, total_w, "needs_response")).await;
        assert_eq!(access_from(&mut conn, won), 0, "an open chargeback suspends access");
        app.deliver(&dispute_event("evt_w3", "charge.dispute.updated", &pi_w, total_w, "under_review")).await;
        assert_eq!(access_from(&mut conn, won), 0);
        // The inquiry's own "updated", delivered late, does not turn the
        // chargeback back into an inquiry.
        app.deliver(&dispute_event("evt_w1b", "charge.dispute.updated", &pi_w, total_w, "warning_under_review")).await;
        let state: Option<String> = orders::table.find(won).select(orders::dispute_status).first(&mut conn).unwrap();
        assert_eq!(state.as_deref(), Some("under_review"), "a late inquiry status is not applied");
        assert_eq!(access_from(&mut conn, won), 0);
        app.deliver(&dispute_event("evt_w4", "charge.dispute.closed", &pi_w, total_w, "won")).await;
        assert_eq!(access_from(&mut conn, won), 1, "a won dispute gives access back");
        // A late "created" for a dispute already won changes nothing.
        app.deliver(&dispute_event("evt_w5", "charge.dispute.created", &pi_w, total_w, "needs_response")).await;
        assert_eq!(access_from(&mut conn, won), 1);

        // A lost chargeback ends access and is a loss.
        let (lost, pi_l, total_l) = app.paid_at("cy@example.com", "postgresql-in-practice", t0).await;
        app.deliver(&dispute_event("evt_l1", "charge.dispute.created", &pi_l, total_l, "needs_response")).await;
        app.deliver(&dispute_event("evt_l2", "charge.dispute.closed", &pi_l, total_l, "lost")).await;
        assert_eq!(access_from(&mut conn, lost), 0);
        assert_eq!(
            journal(&mut conn, lost).last().unwrap(),
            &("dispute".into(), "failed".into(), total_l)
        );

        // Prevented: nothing taken, access kept.
        let (prevented, pi_p, total_p) = app.paid_at("dee@example.com", "ux-design-foundations", t0).await;
        app.deliver(&dispute_event("evt_p1", "charge.dispute.closed", &pi_p, total_p, "prevented")).await;
        assert_eq!(access_from(&mut conn, prevented), 1);

        // The reports count the one loss.
        let staff = TestApp::with_client_of(&app);
        staff.staff("boss@example.com").await;
        let reports = staff.get_html("/staff/reports").await;
        assert_eq!(
            crate::helpers::select_all(&reports, "[data-kpi=disputes]"),
            vec![kasir::domain::Money::new(total_l, kasir::domain::Currency::parse("USD").unwrap()).to_string()]
        );
    }

    async fn staff_hear_of_a_dispute_once_and_a_foreign_one_is_flagged(app: TestApp) {
        use kasir::db::schema::mail_outbox;
        let mut conn = app.db.connect();
        let t0 = now() - 500;
        let staff = TestApp::with_client_of(&app);
        staff.staff("boss@example.com").await;
        let notices = |conn: &mut DbConnection| -> Vec<(String, Option<i64>)> {
            mail_outbox::table
                .filter(mail_outbox::kind.eq("dispute_notice"))
                .select((mail_outbox::recipient, mail_outbox::order_id))
                .load(conn)
                .unwrap()
        };
        let (order, pi, total) = app.paid_at("ada@example.com", "rust-for-web-developers", t0).await;
        app.deliver(&dispute_event("evt_d1", "charge.dispute.created", &pi, total, "needs_response")).await;
        assert_eq!(notices(&mut conn), vec![("boss@example.com".to_owned(), Some(order))]);
        app.deliver(&dispute_event("evt_d2", "charge.dispute.closed", &pi, total, "won")).await;
        // Its "created" told again after the decision: recorded, nobody told twice.
        let (_, said) = outcome(app.deliver(&dispute_event("evt_d3", "charge.dispute.created", &pi, total, "needs_response")).await).await;
        assert!(said.contains("already past needs_response (won): unchanged"), "{said}");
        assert_eq!(notices(&mut conn).len(), 1);

        // The right amount in another currency is not this order's dispute.
        let (euro, pi_e, total_e) = app.paid_at("bob@example.com", "rust-for-web-developers", t0).await;
        let mut body: serde_json::Value = serde_json::from_str(&dispute_event("evt_eur", "charge.dispute.created", &pi_e, total_e, "needs_response")).unwrap();
        body["data"]["object"]["currency"] = "eur".into();
        let (status, said) = outcome(app.deliver(&body.to_string()).await).await;
        assert_eq!(status, 200);
        assert!(said.starts_with("not applied: dispute"), "{said}");
        let (review, dispute): (Option<String>, Option<String>) = orders::table
            .find(euro)
            .select((orders::review_note, orders::dispute_status))
            .first(&mut conn)
            .unwrap();
        assert!(review.unwrap().contains(&format!("{total_e} EUR")));
        assert_eq!(dispute, None);
        assert_eq!(access_from(&mut conn, euro), 1, "access stays");
        assert_eq!(journal(&mut conn, euro).last().unwrap(), &("payment_mismatch".into(), "failed".into(), total_e));
        assert_eq!(notices(&mut conn).len(), 1);
    }

    async fn access_never_comes_back_through_a_disputed_order(app: TestApp) {
        let mut conn = app.db.connect();
        let t0 = now() - 500;
        // Order A: bought, then a lost dispute ends the access.
        let (first, pi_a, total) = app.paid_at("ada@example.com", "rust-for-web-developers", t0).await;
        app.deliver(&dispute_event("evt_a1", "charge.dispute.created", &pi_a, total, "needs_response")).await;
        app.deliver(&dispute_event("evt_a2", "charge.dispute.closed", &pi_a, total, "lost")).await;
        let user = user_of(&mut conn, first);
        assert_eq!(active_grants(&mut conn, user), 0);
        // Order B: bought again, then refunded in full.
        app.add_course("rust-for-web-developers").await;
        let pay = crate::helpers::location(&app.checkout("").await);
        let number = pay.trim_start_matches("/checkout/").to_owned();
        let (second, pi_b): (i64, Option<String>) = orders::table
            .filter(orders::number.eq(&number))
            .select((orders::id, orders::payment_intent_id))
            .first(&mut conn)
            .unwrap();
        let pi_b = pi_b.unwrap();
        app.deliver(&intent_event("evt_b1", "payment_intent.succeeded", &pi_b, total, second, None)).await;
        assert_eq!(active_grants(&mut conn, user), 1);
        app.deliver(&charge_refunded_at("evt_b2", &pi_b, total, total, now())).await;
        assert_eq!(order_state(&mut conn, second).0, "refunded");
        assert_eq!(active_grants(&mut conn, user), 0, "the disputed order A gives nothing back");
        assert_eq!(access_from(&mut conn, first), 0);
    }

    async fn an_event_of_the_other_mode_is_recorded_and_not_applied(app: TestApp) {
        let mut conn = app.db.connect();
        let (order, intent, total) = app.pending_order("ada@example.com", &["rust-for-web-developers"]).await;
        let mut live: serde_json::Value = serde_json::from_str(&intent_event("evt_live", "payment_intent.succeeded", &intent, total, order, None)).unwrap();
        live["livemode"] = true.into();
        let (status, said) = outcome(app.deliver(&live.to_string()).await).await;
        assert_eq!((status, said.as_str()), (200, "unreadable"), "acknowledged: a retry would not help");
        assert_eq!(order_state(&mut conn, order).0, "pending");
        let error: Option<String> = webhook_events::table.find("evt_live").select(webhook_events::last_error).first(&mut conn).unwrap();
        assert!(error.unwrap().contains("a live event, but this shop runs with test keys"));
    }

    async fn objects_of_other_applications_are_acknowledged_and_ignored(app: TestApp) {
        let mut conn = app.db.connect();
        let (order, intent, total) = app.pending_order("ada@example.com", &["rust-for-web-developers"]).await;
        // Another application's intent that carries an `order_id` of its own.
        let foreign = event("evt_other_app", "payment_intent.succeeded", serde_json::json!({
            "id": "pi_elsewhere", "object": "payment_intent", "amount": total, "currency": "usd",
            "status": "succeeded", "metadata": { "order_id": order.to_string() },
        }));
        assert_eq!(outcome(app.deliver(&foreign).await).await, (200, "not a PaymentIntent of this shop: ignored".into()));
        // Another kasir installation on the same account, naming our order's id.
        let mut other: serde_json::Value = serde_json::from_str(&intent_event("evt_other_kasir", "payment_intent.succeeded", "pi_other_kasir", total, order, None)).unwrap();
        other["data"]["object"]["metadata"]["kasir_installation"] = "0123456789abcdef".into();
        assert_eq!(outcome(app.deliver(&other.to_string()).await).await.0, 200);
        // A charge of someone else's: no retry either.
        let charge = charge_refunded_at("evt_other_charge", "pi_elsewhere", total, total, now());
        assert_eq!(outcome(app.deliver(&charge).await).await, (200, "not a charge of this shop: ignored".into()));
        assert_eq!(order_state(&mut conn, order).0, "pending");

        // Ours, for an order whose intent is not stored yet: delivered again later.
        diesel::update(orders::table.find(order)).set(orders::payment_intent_id.eq(None::<String>)).execute(&mut conn).unwrap();
        let mut early: serde_json::Value = serde_json::from_str(&intent_event("evt_early", "payment_intent.succeeded", &intent, total, order, None)).unwrap();
        early["data"]["object"]["metadata"]["kasir_installation"] = app.installation().into();
        assert_eq!(outcome(app.deliver(&early.to_string()).await).await.0, 409);
    }
}
