//! Forgotten passwords, through a real SMTP server: the same answer for
//! any address, a link that works once and expires, other sessions ended,
//! requests limited.

use diesel::prelude::*;
use kasir::db::schema::password_resets;

use crate::helpers::lms::pairs;
use crate::helpers::mail::{SmtpServer, link_with};
use crate::helpers::{Backend, PASSWORD, TestApp, location, select_all};
use crate::mail::path_of;

async fn ask(app: &TestApp, email: &str) -> (u16, String) {
    let response = app.submit("/password/forgot", &[("email", email)]).await;
    let status = response.status().as_u16();
    (status, response.text().await.unwrap())
}

async fn password_reset_from_the_mail(backend: Backend) {
    let smtp = SmtpServer::start();
    let app = TestApp::spawn_with(backend, &pairs(&smtp.settings())).await;
    let mut conn = app.db.connect();
    app.student("ada@example.com").await;
    // Another browser where Ada is logged in: it is logged out by the reset.
    let laptop = TestApp::with_client_of(&app);
    assert_eq!(
        laptop.login("ada@example.com", PASSWORD).await.status(),
        303
    );
    app.logout().await;

    // The page says the same whether or not the account exists.
    let visitor = TestApp::with_client_of(&app);
    let (status, unknown) = ask(&visitor, "nobody@example.com").await;
    let (status_known, known) = ask(&visitor, "ADA@example.com").await;
    assert_eq!((status, status_known), (200, 200));
    assert_eq!(
        select_all(&unknown, "[data-reset-sent]"),
        select_all(&known, "[data-reset-sent]")
    );
    let mails = smtp.wait_for(1).await;
    assert_eq!(mails.len(), 1, "no mail for an unknown address");
    assert_eq!(mails[0].to, vec!["ada@example.com"]);
    let link = link_with(&mails[0].text, "/password/reset/").expect("a reset link");
    let token = link.rsplit('/').next().unwrap().to_owned();
    let stored: Vec<String> = password_resets::table
        .select(password_resets::token_hash)
        .load(&mut conn)
        .unwrap();
    assert_eq!(stored.len(), 1);
    assert!(!stored[0].contains(&token), "only a hash is kept");
    // The server has the mail a moment before the sender records that it
    // was accepted (and drops the body): wait for that, bounded.
    let mut bodies: i64 = -1;
    for _ in 0..100 {
        bodies = kasir::db::schema::mail_outbox::table
            .filter(kasir::db::schema::mail_outbox::text_body.is_not_null())
            .count()
            .get_result(&mut conn)
            .unwrap();
        if bodies == 0 {
            break;
        }
        actix_web::rt::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(bodies, 0, "the sent mail's link is not kept");

    // The form, without a Referer to leak the token.
    let reset_path = path_of(&link);
    let form = visitor.get(&reset_path).await;
    assert_eq!(form.status(), 200);
    assert_eq!(form.headers()["referrer-policy"], "no-referrer");
    let short = visitor.submit(&reset_path, &[("password", "short")]).await;
    assert_eq!(short.status(), 400);
    let done = visitor
        .submit(&reset_path, &[("password", "a brand new passphrase")])
        .await;
    assert_eq!(location(&done), "/");
    assert_eq!(visitor.logged_in_as().await.as_deref(), Some("Student"));

    // Once only; the old password and the other session are over.
    let again = visitor
        .submit(&reset_path, &[("password", "another new passphrase")])
        .await;
    assert_eq!(again.status(), 410);
    assert_eq!(visitor.get(&reset_path).await.status(), 410);
    assert_eq!(laptop.logged_in_as().await, None, "other sessions end");
    let fresh = TestApp::with_client_of(&app);
    assert_eq!(fresh.login("ada@example.com", PASSWORD).await.status(), 401);
    assert_eq!(
        fresh
            .login("ada@example.com", "a brand new passphrase")
            .await
            .status(),
        303
    );

    // An expired link does not work.
    let (_, _) = ask(&visitor, "ada@example.com").await;
    let mails = smtp.wait_for(2).await;
    let second = path_of(&link_with(&mails[1].text, "/password/reset/").unwrap());
    diesel::update(password_resets::table.filter(password_resets::used_at.is_null()))
        .set(password_resets::expires_at.eq(kasir::db::now() - chrono::TimeDelta::minutes(1)))
        .execute(&mut conn)
        .unwrap();
    assert_eq!(visitor.get(&second).await.status(), 410);
    assert_eq!(
        visitor
            .submit(&second, &[("password", "yet another passphrase")])
            .await
            .status(),
        410
    );
}

#[actix_web::test]
async fn a_password_is_reset_from_the_mail_on_sqlite() {
    password_reset_from_the_mail(Backend::Sqlite).await;
}

#[actix_web::test]
async fn a_password_is_reset_from_the_mail_on_postgres() {
    password_reset_from_the_mail(Backend::Postgres).await;
}

#[actix_web::test]
async fn reset_requests_are_limited_per_address_and_per_account() {
    let smtp = SmtpServer::start();
    let app = TestApp::spawn_with(Backend::Sqlite, &pairs(&smtp.settings())).await;
    app.student("ada@example.com").await;
    let mut statuses = Vec::new();
    for _ in 0..11 {
        statuses.push(ask(&app, "ada@example.com").await.0);
    }
    assert_eq!(statuses[..10], [200; 10]);
    assert_eq!(statuses[10], 429, "the address is limited");
    smtp.wait_for(3).await;
    actix_web::rt::time::sleep(std::time::Duration::from_millis(1_500)).await;
    assert_eq!(
        smtp.messages().await.len(),
        3,
        "the account gets three mails an hour, whoever asks"
    );
    assert_eq!(ask(&app, "not an address").await.0, 400);
}
