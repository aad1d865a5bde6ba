use diesel::prelude::*;
use kasir::db::schema::{financial_journals, users};
use kasir::db::{self, DbConnection};

use crate::both_backends;
use crate::helpers::{Backend, TestApp};

/// Every table of the data model, as the migrations must create it.
const TABLES: &[&str] = &[
    "users",
    "login_attempts",
    "courses",
    "carts",
    "cart_items",
    "promo_codes",
    "promo_code_courses",
    "promo_redemptions",
    "orders",
    "order_items",
    "financial_journals",
    "webhook_events",
    "user_courses",
];

fn insert_journal_row(conn: &mut DbConnection, key: &str) -> i64 {
    diesel::insert_into(financial_journals::table)
        .values((
            financial_journals::type_.eq("income"),
            financial_journals::amount_cents.eq(4900_i64),
            financial_journals::currency.eq("USD"),
            financial_journals::status.eq("success"),
            financial_journals::description.eq("test income"),
            financial_journals::metadata.eq(r#"{"id":"evt_test"}"#),
            financial_journals::idempotency_key.eq(key),
            financial_journals::created_at.eq(db::now()),
        ))
        .returning(financial_journals::id)
        .get_result(conn)
        .expect("journal insert")
}

both_backends! {
    async fn migrations_create_every_table_on_an_empty_database(app: TestApp) {
        let mut conn = app.db.connect();
        for table in TABLES {
            let result = diesel::sql_query(format!("SELECT 1 FROM {table} LIMIT 1")).execute(&mut conn);
            assert!(result.is_ok(), "table {table} is missing: {result:?}");
        }
    }

    async fn a_journal_row_cannot_be_updated_or_deleted(app: TestApp) {
        let mut conn = app.db.connect();
        let id = insert_journal_row(&mut conn, "test-append-only");

        let update = diesel::update(financial_journals::table.find(id))
            .set(financial_journals::amount_cents.eq(1_i64))
            .execute(&mut conn);
        let err = update.expect_err("UPDATE of a journal row must fail");
        assert!(err.to_string().contains("append-only"), "{err}");

        let delete = diesel::delete(financial_journals::table.find(id)).execute(&mut conn);
        assert!(delete.unwrap_err().to_string().contains("append-only"));

        let amount: i64 = financial_journals::table
            .find(id)
            .select(financial_journals::amount_cents)
            .first(&mut conn)
            .unwrap();
        assert_eq!(amount, 4900, "the row is unchanged");

        // Its seal is append-only too.
        use kasir::db::schema::journal_seals;
        crate::helpers::seal_and_verify(&mut conn);
        let seal = journal_seals::table.filter(journal_seals::journal_id.eq(id));
        let update = diesel::update(seal).set(journal_seals::mac.eq("0")).execute(&mut conn);
        assert!(update.unwrap_err().to_string().contains("journal_seals is append-only"));
        let delete = diesel::delete(seal).execute(&mut conn);
        assert!(delete.unwrap_err().to_string().contains("journal_seals is append-only"));
        assert_eq!(seal.count().get_result::<i64>(&mut conn).unwrap(), 1);
    }

    async fn the_journal_idempotency_key_makes_a_retry_harmless(app: TestApp) {
        let mut conn = app.db.connect();
        insert_journal_row(&mut conn, "order-1-income");
        let second = diesel::insert_into(financial_journals::table)
            .values((
                financial_journals::type_.eq("income"),
                financial_journals::amount_cents.eq(4900_i64),
                financial_journals::currency.eq("USD"),
                financial_journals::status.eq("success"),
                financial_journals::description.eq("retry"),
                financial_journals::idempotency_key.eq("order-1-income"),
                financial_journals::created_at.eq(db::now()),
            ))
            .execute(&mut conn);
        assert!(matches!(
            second,
            Err(diesel::result::Error::DatabaseError(diesel::result::DatabaseErrorKind::UniqueViolation, _))
        ));
    }

    async fn emails_are_stored_lower_case_only(app: TestApp) {
        let mut conn = app.db.connect();
        let now = db::now();
        let result = diesel::insert_into(users::table)
            .values((
                users::email.eq("Mixed@Example.com"),
                users::password_hash.eq("x"),
                users::name.eq("Mixed"),
                users::created_at.eq(now),
                users::updated_at.eq(now),
            ))
            .execute(&mut conn);
        // Refused by that CHECK, named (PostgreSQL) or quoted (SQLite).
        let refused = result.unwrap_err().to_string();
        assert!(
            refused.contains("users_email_check") || refused.contains("email = lower(email)"),
            "the CHECK constraint refuses a mixed-case email: {refused}"
        );
    }
}

#[actix_web::test]
async fn a_payment_s_journal_and_mail_inserts_stay_prepared_on_postgres() {
    use diesel::connection::InstrumentationEvent;
    use kasir::domain::{Currency, JournalKind, JournalStatus, MailKind};
    use kasir::models::journal::NewJournalRow;
    use kasir::models::mail_outbox::NewMail;
    use std::sync::{Arc, Mutex};

    let app = TestApp::spawn(Backend::Postgres).await;
    let mut conn = app.db.connect();
    let kept = Arc::new(Mutex::new(Vec::<String>::new()));
    let seen = Arc::clone(&kept);
    conn.set_instrumentation(move |event: InstrumentationEvent<'_>| {
        if let InstrumentationEvent::CacheQuery { sql, .. } = event {
            seen.lock().unwrap().push(sql.to_owned());
        }
    });
    let now = db::now();
    for key in ["first", "second"] {
        NewJournalRow {
            kind: JournalKind::Income,
            amount_cents: 4_900,
            currency: Currency::parse("USD").unwrap(),
            status: JournalStatus::Success,
            description: "prepared once",
            reference_id: None,
            metadata: "{}",
            provider_event_id: None,
            idempotency_key: key,
            created_at: now,
            prev_hash: None,
            row_hash: None,
        }
        .insert(&mut conn)
        .unwrap();
        NewMail {
            kind: MailKind::Receipt,
            recipient: "ada@example.com",
            user_id: None,
            order_id: None,
            details: "{}",
            subject: None,
            text_body: None,
            html_body: None,
            message_id: &format!("<{key}@kasir.test>"),
            created_at: now,
            next_attempt_at: now,
        }
        .insert(&mut conn)
        .unwrap();
    }
    let kept = kept.lock().unwrap().clone();
    for table in ["financial_journals", "mail_outbox"] {
        let inserts = kept
            .iter()
            .filter(|sql| sql.starts_with(&format!("INSERT INTO \"{table}\"")))
            .count();
        assert_eq!(inserts, 1, "prepared once and kept for the next: {kept:#?}");
    }
    let rows: i64 = financial_journals::table
        .count()
        .get_result(&mut conn)
        .unwrap();
    assert_eq!(rows, 2, "a None is written as NULL and the rows are there");
}
