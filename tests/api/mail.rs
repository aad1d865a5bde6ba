//! Mail through a real SMTP server: receipts, refund and dispute notices,
//! in the reader's language, each sent once, nothing lost while the
//! server is down; and without a server, files.

use std::collections::BTreeMap;
use std::time::Duration;

use diesel::prelude::*;
use kasir::db::schema::mail_outbox;

use crate::helpers::events::{dispute_event, intent_event};
use crate::helpers::lms::pairs;
use crate::helpers::mail::{SmtpServer, link_with};
use crate::helpers::shop::{Promo, insert_promo};
use crate::helpers::{Backend, TestApp, location};

/// The path of a link in a mail (test apps' `PUBLIC_URL` has port 0).
pub fn path_of(link: &str) -> String {
    let after_scheme = link.split_once("://").map_or(link, |(_, rest)| rest);
    after_scheme
        .find('/')
        .map_or_else(|| "/".to_owned(), |i| after_scheme[i..].to_owned())
}

async fn pause(millis: u64) {
    actix_web::rt::time::sleep(Duration::from_millis(millis)).await;
}

async fn a_paid_order_mails_its_receipt_in_the_students_language(backend: Backend) {
    let smtp = SmtpServer::start();
    let app = TestApp::spawn_with(backend, &pairs(&smtp.settings())).await;
    app.student("siti@example.com").await;
    // Siti chose Indonesian in the footer: mail speaks it too.
    assert_eq!(
        location(
            &app.submit("/language", &[("lang", "id"), ("next", "/")])
                .await
        ),
        "/"
    );
    insert_promo(
        &mut app.db.connect(),
        Promo {
            code: "TEN",
            ..Promo::default()
        },
    );
    let number = app.bought(&["rust-for-web-developers"], "TEN").await;

    let mails = smtp.wait_for(1).await;
    let receipt = &mails[0];
    assert_eq!(receipt.to, vec!["siti@example.com"]);
    assert_eq!(
        receipt.subject,
        format!("Bukti pembayaran pesanan {number}")
    );
    // The list price, one discount line (negative once), the total.
    for part in [&receipt.text, &receipt.html] {
        assert!(part.contains("US$89,00"), "{part}");
        assert!(
            part.contains("-US$8,90") && !part.contains("--US$8,90"),
            "{part}"
        );
        assert!(part.contains("US$80,10"), "{part}");
    }
    assert!(receipt.text.contains("Rust for Web Developers"));
    let invoice: String = kasir::db::schema::orders::table
        .filter(kasir::db::schema::orders::number.eq(&number))
        .select(kasir::db::schema::orders::invoice_number.assume_not_null())
        .first(&mut app.db.connect())
        .unwrap();
    for part in [&receipt.text, &receipt.html] {
        assert!(part.contains(&format!("Nomor faktur: {invoice}")), "{part}");
    }
    assert!(receipt.html.contains("<table"), "an HTML part");
    assert!(
        receipt.message_id.ends_with("@kasir.test"),
        "{}",
        receipt.message_id
    );
    assert_eq!(receipt.auto_submitted, "auto-generated");
    // The invoice link works, for her.
    let link = link_with(&receipt.text, "/orders/").expect("an invoice link");
    assert!(link.ends_with(&format!("/orders/{number}")), "{link}");
    let invoice = app.get(&path_of(&link)).await;
    assert_eq!(invoice.status(), 200);
    assert!(invoice.text().await.unwrap().contains(&number));

    // A partial refund tells her, in her language; staff hear of a dispute.
    let boss = TestApp::with_client_of(&app);
    boss.staff("boss@example.com").await;
    boss.refund(&number, "10.00", "late start").await;
    let mails = smtp.wait_for(2).await;
    let refund = &mails[1];
    assert_eq!(
        refund.subject,
        format!("Pengembalian dana untuk pesanan {number}")
    );
    assert!(
        refund.text.contains("US$10,00") && refund.text.contains("Kursus Anda tetap ada."),
        "{}",
        refund.text
    );

    let mut conn = app.db.connect();
    let (order, intent, total): (i64, String, i64) = kasir::db::schema::orders::table
        .filter(kasir::db::schema::orders::number.eq(&number))
        .select((
            kasir::db::schema::orders::id,
            kasir::db::schema::orders::payment_intent_id.assume_not_null(),
            kasir::db::schema::orders::total_cents,
        ))
        .first(&mut conn)
        .unwrap();
    app.deliver(&dispute_event(
        "evt_dispute_mail",
        "charge.dispute.created",
        &intent,
        total,
        "needs_response",
    ))
    .await;
    let mails = smtp.wait_for(3).await;
    let dispute = &mails[2];
    assert_eq!(dispute.to, vec!["boss@example.com"]);
    assert_eq!(
        dispute.subject,
        format!("A payment was disputed: order {number}"),
        "staff read English"
    );
    assert!(
        dispute.text.contains("siti@example.com")
            && dispute.text.contains("Dispute: needs response")
    );
    assert!(link_with(&dispute.text, "/staff/orders/").is_some());
    let _ = order;

    // Each mail once, however long we wait.
    pause(2_000).await;
    assert_eq!(smtp.messages().await.len(), 3);
}

#[actix_web::test]
async fn a_paid_order_mails_its_receipt_in_the_students_language_on_sqlite() {
    a_paid_order_mails_its_receipt_in_the_students_language(Backend::Sqlite).await;
}

#[actix_web::test]
async fn a_paid_order_mails_its_receipt_in_the_students_language_on_postgres() {
    a_paid_order_mails_its_receipt_in_the_students_language(Backend::Postgres).await;
}

async fn a_mail_server_that_is_down_loses_nothing(backend: Backend) {
    let smtp = SmtpServer::start();
    smtp.fail(2).await;
    let app = TestApp::spawn_with(backend, &pairs(&smtp.settings())).await;
    let mut conn = app.db.connect();
    app.student("ada@example.com").await;
    app.bought(&["modern-javascript"], "").await;
    let mails = smtp.wait_for(1).await;
    assert_eq!(mails[0].subject.split(' ').next(), Some("Your"));
    // The server has the message; the sender marks it sent just after.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let (attempts, sent, error) = loop {
        let row: (i32, bool, Option<String>) = mail_outbox::table
            .select((
                mail_outbox::attempts,
                mail_outbox::sent_at.is_not_null(),
                mail_outbox::last_error,
            ))
            .first(&mut conn)
            .unwrap();
        if row.1 || std::time::Instant::now() > deadline {
            break row;
        }
        pause(50).await;
    };
    assert_eq!(
        (attempts, sent, error),
        (3, true, None),
        "two refusals, then sent"
    );
    pause(1_500).await;
    assert_eq!(smtp.messages().await.len(), 1, "sent once");
}

#[actix_web::test]
async fn a_mail_server_that_is_down_loses_nothing_on_sqlite() {
    a_mail_server_that_is_down_loses_nothing(Backend::Sqlite).await;
}

#[actix_web::test]
async fn a_mail_server_that_is_down_loses_nothing_on_postgres() {
    a_mail_server_that_is_down_loses_nothing(Backend::Postgres).await;
}

#[actix_web::test]
async fn two_instances_on_one_postgres_send_each_mail_once() {
    let smtp = SmtpServer::start();
    smtp.fail(-1).await;
    let settings = smtp.settings();
    let a = TestApp::spawn_with(Backend::Postgres, &pairs(&settings)).await;
    let b = TestApp::spawn_on(a.db.clone(), &pairs(&settings)).await;
    let mut conn = a.db.connect();
    const STUDENTS: usize = 6;
    for n in 0..STUDENTS {
        let student = TestApp::with_client_of(if n % 2 == 0 { &a } else { &b });
        student.student(&format!("s{n}@example.com")).await;
        student.bought(&["ux-design-foundations"], "").await;
    }
    while mail_outbox::table
        .filter(mail_outbox::attempts.eq(0))
        .count()
        .get_result::<i64>(&mut conn)
        .unwrap()
        > 0
    {
        pause(100).await;
    }
    smtp.fail(0).await;
    diesel::update(mail_outbox::table)
        .set(mail_outbox::next_attempt_at.eq(kasir::db::now()))
        .execute(&mut conn)
        .unwrap();
    smtp.wait_for(STUDENTS).await;
    pause(2_000).await;
    let mut per_id: BTreeMap<String, usize> = BTreeMap::new();
    for mail in smtp.messages().await {
        *per_id.entry(mail.message_id).or_default() += 1;
    }
    assert_eq!(per_id.len(), STUDENTS);
    assert!(per_id.values().all(|n| *n == 1), "{per_id:?}");
}

#[actix_web::test]
async fn without_a_mail_server_mail_is_written_to_files() {
    let dir = std::env::temp_dir().join(format!("kasir-mail-files-{}", uuid::Uuid::new_v4()));
    let dir_text = dir.display().to_string();
    let app = TestApp::spawn_with(Backend::Sqlite, &[("MAIL_DIR", dir_text.as_str())]).await;
    app.student("ada@example.com").await;
    let (order, intent, total) = {
        app.add_course("postgresql-in-practice").await;
        let number = location(&app.checkout("").await)
            .trim_start_matches("/checkout/")
            .to_owned();
        let mut conn = app.db.connect();
        kasir::db::schema::orders::table
            .filter(kasir::db::schema::orders::number.eq(number))
            .select((
                kasir::db::schema::orders::id,
                kasir::db::schema::orders::payment_intent_id.assume_not_null(),
                kasir::db::schema::orders::total_cents,
            ))
            .first::<(i64, String, i64)>(&mut conn)
            .unwrap()
    };
    app.deliver(&intent_event(
        "evt_files",
        "payment_intent.succeeded",
        &intent,
        total,
        order,
        None,
    ))
    .await;
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let written = loop {
        let files: Vec<_> = std::fs::read_dir(&dir)
            .map(|d| d.filter_map(Result::ok).map(|e| e.path()).collect())
            .unwrap_or_default();
        if let Some(file) = files
            .iter()
            .find(|p| p.extension().is_some_and(|e| e == "eml"))
        {
            break std::fs::read_to_string(file).unwrap();
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no .eml in {dir_text}"
        );
        pause(100).await;
    };
    assert!(
        written.contains("Subject: Your receipt for order"),
        "{written}"
    );
    assert!(written.contains("To: ada@example.com"));
    drop(app);
    std::fs::remove_dir_all(&dir).unwrap();
}
