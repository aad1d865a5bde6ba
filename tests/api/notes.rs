//! Credit and debit notes beyond refunds: a chargeback takes money back
//! with a credit note, winning it puts the money back with a debit note,
//! and a counted refund that fails gets a debit note; never an edit, once
//! per dispute or refund, with the tax part journalled beside each.

use diesel::prelude::*;
use kasir::db::DbConnection;
use kasir::db::schema::{credit_notes, financial_journals};

use crate::helpers::events::{charge_refunded_at, dispute_event, now, refund_event};
use crate::helpers::{Backend, TestApp, select_all};
use crate::stripe_events::outcome;

/// (number prefix, cause, source, amount, tax, credited total) per note.
type NoteRow = (String, String, Option<String>, i64, i64, i64);

fn notes(conn: &mut DbConnection, order: i64) -> Vec<NoteRow> {
    credit_notes::table
        .filter(credit_notes::order_id.eq(order))
        .order(credit_notes::id.asc())
        .select((
            credit_notes::number,
            credit_notes::cause,
            credit_notes::source_id,
            credit_notes::amount_cents,
            credit_notes::tax_cents,
            credit_notes::credited_cents,
        ))
        .load::<NoteRow>(conn)
        .unwrap()
        .into_iter()
        .map(|(number, cause, source, amount, tax, credited)| {
            (number[..2].to_owned(), cause, source, amount, tax, credited)
        })
        .collect()
}

fn tax_rows(conn: &mut DbConnection, order: i64) -> Vec<(String, i64)> {
    financial_journals::table
        .filter(financial_journals::reference_id.eq(order))
        .filter(financial_journals::type_.like("tax%"))
        .order(financial_journals::id.asc())
        .select((financial_journals::type_, financial_journals::amount_cents))
        .load(conn)
        .unwrap()
}

fn number_of(conn: &mut DbConnection, order: i64, prefix: &str) -> String {
    credit_notes::table
        .filter(credit_notes::order_id.eq(order))
        .filter(credit_notes::number.like(format!("{prefix}-%")))
        .select(credit_notes::number)
        .first(conn)
        .unwrap()
}

const PPN: &[(&str, &str)] = &[("TAX_RATE_BPS", "1100"), ("TAX_NAME", "PPN")];

async fn a_won_chargeback_is_credited_then_debited(backend: Backend) {
    let app = TestApp::spawn_with(backend, PPN).await;
    let mut conn = app.db.connect();
    let t0 = now() - 500;
    // 89.00 holds 89 × 11/111 = 8.82 of PPN.
    let (order, intent, total) = app
        .paid_at("ada@example.com", "rust-for-web-developers", t0)
        .await;
    assert_eq!(total, 8_900);
    let dispute = format!("dp_{intent}");

    let (_, said) = outcome(
        app.deliver(&dispute_event(
            "evt_d1",
            "charge.dispute.created",
            &intent,
            total,
            "needs_response",
        ))
        .await,
    )
    .await;
    assert!(said.contains("CN-"), "{said}");
    let credited = (
        "CN".to_owned(),
        "dispute".to_owned(),
        Some(dispute.clone()),
        8_900,
        882,
        8_900,
    );
    assert_eq!(notes(&mut conn, order), vec![credited.clone()]);
    // Under review, and the same opening delivered again: nothing more.
    app.deliver(&dispute_event(
        "evt_d2",
        "charge.dispute.updated",
        &intent,
        total,
        "under_review",
    ))
    .await;
    app.deliver(&dispute_event(
        "evt_d1b",
        "charge.dispute.created",
        &intent,
        total,
        "needs_response",
    ))
    .await;
    assert_eq!(notes(&mut conn, order).len(), 1);

    let (_, said) = outcome(
        app.deliver(&dispute_event(
            "evt_d3",
            "charge.dispute.closed",
            &intent,
            total,
            "won",
        ))
        .await,
    )
    .await;
    assert!(said.contains("DN-"), "{said}");
    let debited = (
        "DN".to_owned(),
        "dispute_won".to_owned(),
        Some(dispute.clone()),
        8_900,
        882,
        0,
    );
    assert_eq!(
        notes(&mut conn, order),
        vec![credited.clone(), debited.clone()]
    );
    app.deliver(&dispute_event(
        "evt_d3b",
        "charge.dispute.closed",
        &intent,
        total,
        "won",
    ))
    .await;
    assert_eq!(notes(&mut conn, order).len(), 2, "once per dispute");
    assert_eq!(
        tax_rows(&mut conn, order),
        vec![
            ("tax_collected".into(), 882),
            ("tax_refunded".into(), 882),
            ("tax_collected".into(), 882)
        ],
        "the tax follows the documents: given back, then owed again"
    );

    // The invoice lists both and is whole again; the debit note prints.
    let (number, dn) = {
        use kasir::db::schema::orders;
        let number: String = orders::table
            .find(order)
            .select(orders::number)
            .first(&mut conn)
            .unwrap();
        (number, number_of(&mut conn, order, "DN"))
    };
    let boss = TestApp::with_client_of(&app);
    boss.staff("boss@example.com").await;
    let invoice = boss.get_html(&format!("/orders/{number}")).await;
    assert_eq!(select_all(&invoice, "[data-credit-note]").len(), 2);
    assert_eq!(
        select_all(&invoice, "[data-invoice-balance]"),
        vec!["$89.00"]
    );
    let page = boss
        .get_html(&format!("/orders/{number}/credit-notes/{dn}"))
        .await;
    assert!(page.contains(r#"data-document="debit-note""#));
    assert!(page.contains(r#"data-note-cause="dispute_won""#));
    assert_eq!(select_all(&page, "[data-credited]"), vec!["$89.00"]);
    assert_eq!(select_all(&page, "[data-remaining]"), vec!["$89.00"]);

    // The accountant's list: debit notes on their own, added, not taken off.
    let listed = boss.get_html("/staff/documents?type=debit_note").await;
    assert_eq!(select_all(&listed, "[data-document-row]").len(), 1);
    let body = boss.get("/staff/documents.csv").await.text().await.unwrap();
    let mut reader = csv::Reader::from_reader(body.as_bytes());
    let rows: Vec<Vec<String>> = reader
        .records()
        .map(|r| r.unwrap().iter().map(str::to_owned).collect())
        .collect();
    let row = |kind: &str| rows.iter().find(|r| r[0] == kind).unwrap()[9..].to_vec();
    assert_eq!(row("credit_note"), ["-89.00", "USD", "-8.82", "-80.18"]);
    assert_eq!(row("debit_note"), ["89.00", "USD", "8.82", "80.18"]);
    let reports = boss.get_html("/staff/reports").await;
    assert_eq!(select_all(&reports, "[data-kpi=tax]"), vec!["$8.82"]);
}

#[actix_web::test]
async fn won_chargeback_on_sqlite() {
    a_won_chargeback_is_credited_then_debited(Backend::Sqlite).await;
}

#[actix_web::test]
async fn won_chargeback_on_postgres() {
    a_won_chargeback_is_credited_then_debited(Backend::Postgres).await;
}

crate::both_backends! {
    async fn a_lost_chargeback_keeps_its_credit_note_and_inquiries_issue_none(app: TestApp) {
        let mut conn = app.db.connect();
        let t0 = now() - 500;
        // Lost, and only the decision was delivered: credited once.
        let (lost, pi_l, total_l) = app.paid_at("ada@example.com", "modern-javascript", t0).await;
        app.deliver(&dispute_event("evt_l1", "charge.dispute.closed", &pi_l, total_l, "lost")).await;
        let credited = ("CN".to_owned(), "dispute".to_owned(), Some(format!("dp_{pi_l}")), total_l, 0, total_l);
        assert_eq!(notes(&mut conn, lost), vec![credited.clone()]);
        // Its opening, delivered late, is stale and issues nothing.
        app.deliver(&dispute_event("evt_l0", "charge.dispute.created", &pi_l, total_l, "needs_response")).await;
        assert_eq!(notes(&mut conn, lost), vec![credited]);

        // An inquiry moves no money, whatever it ends as.
        let (inquiry, pi_i, total_i) = app.paid_at("bob@example.com", "rust-for-web-developers", t0).await;
        app.deliver(&dispute_event("evt_i1", "charge.dispute.created", &pi_i, total_i, "warning_needs_response")).await;
        app.deliver(&dispute_event("evt_i2", "charge.dispute.closed", &pi_i, total_i, "warning_closed")).await;
        assert!(notes(&mut conn, inquiry).is_empty());
        // Won without ever being a chargeback: nothing was taken, nothing put back.
        let (won, pi_w, total_w) = app.paid_at("cy@example.com", "ux-design-foundations", t0).await;
        app.deliver(&dispute_event("evt_w1", "charge.dispute.closed", &pi_w, total_w, "won")).await;
        assert!(notes(&mut conn, won).is_empty());
    }

    async fn a_refund_that_fails_after_its_credit_note_gets_a_debit_note(app: TestApp) {
        let mut conn = app.db.connect();
        let t0 = now() - 1_000;
        let (order, intent, total) = app.paid_at("ada@example.com", "rust-for-web-developers", t0).await;
        app.deliver(&charge_refunded_at("evt_refunded", &intent, total, 3_000, t0 + 10)).await;
        let credited = ("CN".to_owned(), "refund".to_owned(), None, 3_000, 0, 3_000);
        assert_eq!(notes(&mut conn, order), vec![credited.clone()]);
        let failed = refund_event("evt_failed", "refund.failed", "re_1", &intent, 3_000, "failed", t0 + 5, t0 + 100);
        app.deliver(&failed).await;
        let debited = ("DN".to_owned(), "refund_reversed".to_owned(), Some("re_1".to_owned()), 3_000, 0, 0);
        assert_eq!(notes(&mut conn, order), vec![credited.clone(), debited.clone()]);
        let again = refund_event("evt_failed_2", "charge.refund.updated", "re_1", &intent, 3_000, "failed", t0 + 5, t0 + 101);
        app.deliver(&again).await;
        assert_eq!(notes(&mut conn, order), vec![credited, debited], "once per refund");
        // A new refund is credited on top of what the notes left.
        app.deliver(&charge_refunded_at("evt_second", &intent, total, 1_000, t0 + 200)).await;
        assert_eq!(notes(&mut conn, order).last().unwrap().5, 1_000);
    }
}
