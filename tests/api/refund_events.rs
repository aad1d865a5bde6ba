//! Refunds as Stripe tells them: `refund.*` events and `charge.refunded`
//! snapshots delivered in any order, at the same second, repeated, stale,
//! or not this order's money. Each refund is counted once, by what the
//! snapshot it is read from knew.

use diesel::prelude::*;
use kasir::db::schema::{orders, refunds};

use crate::both_backends;
use crate::helpers::events::{charge_refunded_at, dispute_event, now, refund_event};
use crate::helpers::{Backend, TestApp};
use crate::stripe_events::{access_from, journal, order_state, outcome};

/// The journal's kinds and amounts for `order` after its payment rows.
fn after_payment(conn: &mut kasir::db::DbConnection, order: i64) -> Vec<(String, i64)> {
    journal(conn, order)
        .into_iter()
        .skip(2)
        .map(|(kind, _, amount)| (kind, amount))
        .collect()
}

fn review_note(conn: &mut kasir::db::DbConnection, order: i64) -> Option<String> {
    orders::table
        .find(order)
        .select(orders::review_note)
        .first(conn)
        .unwrap()
}

impl TestApp {
    /// Delivers a `refund.*` event; returns what the webhook answered.
    #[expect(
        clippy::too_many_arguments,
        reason = "a refund's fields, named at each call"
    )]
    async fn refund_told(
        &self,
        event_id: &str,
        kind: &str,
        refund: &str,
        intent: &str,
        amount: i64,
        status: &str,
        refund_created: i64,
        at: i64,
    ) -> String {
        let body = refund_event(
            event_id,
            kind,
            refund,
            intent,
            amount,
            status,
            refund_created,
            at,
        );
        let (code, said) = outcome(self.deliver(&body).await).await;
        assert_eq!(code, 200, "{event_id}: {said}");
        said
    }

    /// Delivers a `charge.refunded` snapshot taken at `at`.
    async fn snapshot(
        &self,
        event_id: &str,
        intent: &str,
        total: i64,
        refunded: i64,
        at: i64,
    ) -> String {
        let (code, said) = outcome(
            self.deliver(&charge_refunded_at(event_id, intent, total, refunded, at))
                .await,
        )
        .await;
        assert_eq!(code, 200, "{event_id}: {said}");
        said
    }

    /// Delivers a `charge.dispute.*` event for the whole of `intent`'s charge.
    async fn dispute_told(
        &self,
        event_id: &str,
        kind: &str,
        intent: &str,
        amount: i64,
        status: &str,
    ) -> String {
        let (code, said) = outcome(
            self.deliver(&dispute_event(event_id, kind, intent, amount, status))
                .await,
        )
        .await;
        assert_eq!(code, 200, "{event_id}: {said}");
        said
    }
}

both_backends! {
    async fn each_refund_counts_once_by_what_its_snapshot_knew(app: TestApp) {
        let mut conn = app.db.connect();
        let t0 = now() - 1_000;
        let (order, pi, total) = app.paid_at("ada@example.com", "rust-for-web-developers", t0).await;

        // A refund is made: its own event changes nothing, its charge's does.
        let said = app.refund_told("evt_1", "refund.created", "re_1", &pi, 1_000, "succeeded", t0 + 5, t0 + 5).await;
        assert_eq!(said, "refund re_1 is succeeded");
        assert_eq!(after_payment(&mut conn, order), vec![], "a refund that did not fail is journalled by its charge");
        app.snapshot("evt_2", &pi, total, 1_000, t0 + 10).await;
        assert_eq!(order_state(&mut conn, order), ("partially_refunded".into(), 1_000));
        // The same refund told again once counted: still nothing.
        app.refund_told("evt_3", "refund.updated", "re_1", &pi, 1_000, "succeeded", t0 + 5, t0 + 12).await;
        assert_eq!(after_payment(&mut conn, order), vec![("refund".into(), 1_000)]);

        // A second refund, counted by a later snapshot.
        app.refund_told("evt_4", "refund.created", "re_2", &pi, 2_000, "succeeded", t0 + 20, t0 + 20).await;
        app.snapshot("evt_5", &pi, total, 3_000, t0 + 21).await;
        assert_eq!(order_state(&mut conn, order), ("partially_refunded".into(), 3_000));
        // The first snapshot, delivered again late under another id: it knew less, and is not read as "less".
        assert_eq!(app.snapshot("evt_6", &pi, total, 1_000, t0 + 10).await, "refund already recorded");
        assert_eq!(order_state(&mut conn, order), ("partially_refunded".into(), 3_000));

        // A third refund, made after the last snapshot, fails before any snapshot counted it.
        app.refund_told("evt_7", "refund.created", "re_3", &pi, 500, "pending", t0 + 40, t0 + 40).await;
        let said = app.refund_told("evt_8", "refund.failed", "re_3", &pi, 500, "failed", t0 + 40, t0 + 50).await;
        assert!(said.contains("before it was counted"), "{said}");
        assert_eq!(order_state(&mut conn, order), ("partially_refunded".into(), 3_000), "nothing of it was ever on the order");
        let made: chrono::NaiveDateTime = refunds::table
            .filter(refunds::provider_refund_id.eq("re_3"))
            .select(refunds::provider_created_at)
            .first(&mut conn)
            .unwrap();
        assert_eq!(made.and_utc().timestamp(), t0 + 40, "the refund's own time is kept");
        assert_eq!(
            after_payment(&mut conn, order),
            vec![("refund".into(), 1_000), ("refund".into(), 2_000), ("refund_reversed".into(), 0)]
        );
        assert_eq!(access_from(&mut conn, order), 1);
        assert_eq!(review_note(&mut conn, order), None);
    }

    async fn a_failure_and_a_snapshot_of_the_same_second_agree_in_either_order(app: TestApp) {
        // Two refunds of 1,000; the second fails at t0 + 10, the second a
        // snapshot is taken. Stripe's times are whole seconds: a snapshot of
        // that second is read as taken after the failure, whichever arrives first.
        let mut conn = app.db.connect();
        let t0 = now() - 1_000;
        let (first, pi_a, total) = app.paid_at("ada@example.com", "rust-for-web-developers", t0).await;
        let (second, pi_b, _) = app.paid_at("bob@example.com", "rust-for-web-developers", t0).await;
        for pi in [&pi_a, &pi_b] {
            app.refund_told(&format!("evt_{pi}_1"), "refund.created", &format!("re_{pi}_1"), pi, 1_000, "succeeded", t0 + 5, t0 + 5).await;
            app.refund_told(&format!("evt_{pi}_2"), "refund.created", &format!("re_{pi}_2"), pi, 1_000, "succeeded", t0 + 6, t0 + 6).await;
        }
        // The failure first, then the snapshot that no longer counts it.
        app.refund_told("evt_a_failed", "refund.failed", &format!("re_{pi_a}_2"), &pi_a, 1_000, "failed", t0 + 6, t0 + 10).await;
        app.snapshot("evt_a_snap", &pi_a, total, 1_000, t0 + 10).await;
        // The snapshot first, then the failure it already left out.
        app.snapshot("evt_b_snap", &pi_b, total, 1_000, t0 + 10).await;
        app.refund_told("evt_b_failed", "refund.failed", &format!("re_{pi_b}_2"), &pi_b, 1_000, "failed", t0 + 6, t0 + 10).await;
        for order in [first, second] {
            assert_eq!(order_state(&mut conn, order), ("partially_refunded".into(), 1_000));
        }
        assert_eq!(after_payment(&mut conn, second), vec![("refund".into(), 1_000), ("refund_reversed".into(), 0)]);
        assert_eq!(after_payment(&mut conn, first), vec![("refund_reversed".into(), 0), ("refund".into(), 1_000)]);
    }

    async fn a_refund_in_another_currency_or_above_the_order_is_flagged_not_applied(app: TestApp) {
        let mut conn = app.db.connect();
        let t0 = now() - 1_000;
        let (euro, pi_e, total) = app.paid_at("ada@example.com", "rust-for-web-developers", t0).await;
        let mut body: serde_json::Value = serde_json::from_str(&refund_event("evt_eur", "refund.failed", "re_eur", &pi_e, 1_000, "failed", t0 + 5, t0 + 6)).unwrap();
        body["data"]["object"]["currency"] = "eur".into();
        let (code, said) = outcome(app.deliver(&body.to_string()).await).await;
        assert_eq!(code, 200);
        assert!(said.starts_with("not applied: a charge or refund of 1000 EUR does not match order"), "{said}");
        assert!(review_note(&mut conn, euro).unwrap().contains("1000 EUR"));
        assert_eq!(after_payment(&mut conn, euro), vec![("payment_mismatch".into(), 0)]);
        let none: i64 = refunds::table.count().get_result(&mut conn).unwrap();
        assert_eq!(none, 0, "nothing of it is kept as this order's refund");

        // A charge bigger than the order's total, in the right currency.
        let (big, pi_b, _) = app.paid_at("bob@example.com", "rust-for-web-developers", t0).await;
        let said = app.snapshot("evt_big", &pi_b, total + 1, 1_000, t0 + 10).await;
        assert!(said.starts_with("not applied:"), "{said}");
        assert!(review_note(&mut conn, big).unwrap().contains(&format!("{} USD", total + 1)));
        assert_eq!(order_state(&mut conn, big), ("paid".into(), 0));
        assert_eq!(after_payment(&mut conn, big), vec![("payment_mismatch".into(), 0)]);
        assert_eq!(access_from(&mut conn, big), 1);
    }

    async fn access_never_comes_back_through_an_order_refunded_or_lost(app: TestApp) {
        let mut conn = app.db.connect();
        let t0 = now() - 1_000;

        // A refund counted, then a chargeback lost: the course is gone.
        let (lost, pi_l, total_l) = app.paid_at("ada@example.com", "rust-for-web-developers", t0).await;
        app.snapshot("evt_l1", &pi_l, total_l, 1_000, t0 + 10).await;
        let said = app.dispute_told("evt_l2", "charge.dispute.closed", &pi_l, total_l, "lost").await;
        assert!(said.starts_with("dispute lost: access ended for 1 course(s)"), "{said}");
        assert_eq!(access_from(&mut conn, lost), 0);
        // The refund fails afterwards: the money is back on the order, the
        // lost chargeback still keeps the course away.
        let said = app.refund_told("evt_l3", "refund.failed", "re_l", &pi_l, 1_000, "failed", t0 + 5, t0 + 100).await;
        assert!(said.ends_with("access restored for 0 course(s)"), "{said}");
        assert_eq!(order_state(&mut conn, lost), ("paid".into(), 0));
        assert_eq!(access_from(&mut conn, lost), 0, "a lost chargeback gives no access back");

        // A chargeback opened, the order refunded in full, the chargeback won.
        let (refunded, pi_r, total_r) = app.paid_at("bob@example.com", "modern-javascript", t0).await;
        let said = app.dispute_told("evt_r1", "charge.dispute.created", &pi_r, total_r, "needs_response").await;
        assert!(said.starts_with("dispute needs_response: access suspended for 1 course(s)"), "{said}");
        assert_eq!(app.snapshot("evt_r2", &pi_r, total_r, total_r, t0 + 10).await, "full refund: access ended for 0 course(s)", "already suspended");
        let said = app.dispute_told("evt_r3", "charge.dispute.closed", &pi_r, total_r, "won").await;
        assert!(said.starts_with("dispute won: nothing taken, access restored for 0 course(s)"), "{said}");
        assert_eq!(order_state(&mut conn, refunded), ("refunded".into(), total_r));
        assert_eq!(access_from(&mut conn, refunded), 0, "a refunded order gives no access back");

        // The same chargeback won on an order that is only paid: access comes back.
        let (won, pi_w, total_w) = app.paid_at("cy@example.com", "postgresql-in-practice", t0).await;
        app.dispute_told("evt_w1", "charge.dispute.created", &pi_w, total_w, "needs_response").await;
        let said = app.dispute_told("evt_w2", "charge.dispute.closed", &pi_w, total_w, "won").await;
        assert!(said.starts_with("dispute won: nothing taken, access restored for 1 course(s)"), "{said}");
        assert_eq!(access_from(&mut conn, won), 1);
        // And a full refund of a paid order ends it, counted.
        assert_eq!(app.snapshot("evt_w3", &pi_w, total_w, total_w, t0 + 10).await, "full refund: access ended for 1 course(s)");
        assert_eq!(access_from(&mut conn, won), 0);
    }
}
