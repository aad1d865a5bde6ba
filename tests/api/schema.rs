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

/// What a payment writes, run twice on one PostgreSQL connection: each
/// statement is prepared once and kept for the next payment, not parsed
/// and planned again (diesel's own UPDATEs and upserts never are, its
/// struct inserts only without `DEFAULT`s).
#[actix_web::test]
async fn a_payment_s_statements_stay_prepared_on_postgres() {
    use diesel::connection::InstrumentationEvent;
    use kasir::db::schema::{mail_outbox, orders};
    use kasir::domain::{
        Currency, JournalKind, JournalStatus, MailKind, Provider, RedemptionStatus,
    };
    use kasir::models::OrderId;
    use kasir::models::journal::NewJournalRow;
    use kasir::models::mail_outbox::{NewMail, QueuedMail};
    use kasir::models::order::Order;
    use kasir::models::promo_code::PromoRedemption;
    use kasir::models::webhook_event::WebhookEvent;
    use std::sync::{Arc, Mutex};

    let app = TestApp::spawn(Backend::Postgres).await;
    let (first, _, _) = app
        .pending_order("ada@example.com", &["rust-for-web-developers"])
        .await;
    let (second, _, _) = app
        .pending_order("bob@example.com", &["modern-javascript"])
        .await;
    let mut conn = app.db.connect();
    let kept = Arc::new(Mutex::new(Vec::<String>::new()));
    let seen = Arc::clone(&kept);
    conn.set_instrumentation(move |event: InstrumentationEvent<'_>| {
        if let InstrumentationEvent::CacheQuery { sql, .. } = event {
            seen.lock().unwrap().push(sql.to_owned());
        }
    });
    let now = db::now();
    for (key, order) in [("first", first), ("second", second)] {
        let event = format!("evt_{key}");
        let receive = |conn: &mut _| {
            WebhookEvent::receive(conn, &event, "payment_intent.succeeded", "{}", None, now)
                .unwrap()
        };
        assert!(receive(&mut conn));
        assert!(!receive(&mut conn), "claimed once");
        let order = OrderId(order);
        Order::mark_paid(&mut conn, order, Provider::Stripe, Some(key), now).unwrap();
        // Not pending any more: refused, and the number it took goes back
        // with the rollback (the second order gets the next one).
        let again = db::write_transaction(&mut conn, |c| {
            Order::mark_paid(c, order, Provider::Stripe, Some(key), now)
        });
        assert!(
            matches!(again, Err(diesel::result::Error::NotFound)),
            "paid once: {again:?}"
        );
        PromoRedemption::transition(
            &mut conn,
            order,
            RedemptionStatus::Reserved,
            RedemptionStatus::Redeemed,
            now,
        )
        .unwrap();
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
        let message_id = format!("<{key}@kasir.test>");
        NewMail {
            kind: MailKind::Receipt,
            recipient: "ada@example.com",
            user_id: None,
            order_id: None,
            details: "{}",
            subject: None,
            text_body: Some("body"),
            html_body: None,
            message_id: &message_id,
            created_at: now,
            next_attempt_at: now,
        }
        .insert(&mut conn)
        .unwrap();
        let mail: i64 = mail_outbox::table
            .filter(mail_outbox::message_id.eq(&message_id))
            .select(mail_outbox::id)
            .first(&mut conn)
            .unwrap();
        QueuedMail::mark_sent(&mut conn, mail, now).unwrap();
    }
    let kept = kept.lock().unwrap().clone();
    for statement in [
        "INSERT INTO webhook_events",
        "WITH n AS (INSERT INTO document_sequences",
        "UPDATE promo_redemptions SET",
        "INSERT INTO \"financial_journals\"",
        "INSERT INTO \"mail_outbox\"",
        "UPDATE mail_outbox SET",
    ] {
        let prepared = kept.iter().filter(|sql| sql.starts_with(statement)).count();
        assert_eq!(
            prepared, 1,
            "{statement}: prepared once and kept for the next: {kept:#?}"
        );
    }

    // And each wrote what it says: status, provider, charge, paid and
    // updated at, invoice number.
    type Paid = (
        String,
        String,
        Option<String>,
        Option<chrono::NaiveDateTime>,
    );
    let paid: Vec<(Paid, chrono::NaiveDateTime, Option<String>)> = orders::table
        .filter(orders::id.eq_any([first, second]))
        .order(orders::id.asc())
        .select((
            (
                orders::status,
                orders::provider,
                orders::charge_id,
                orders::paid_at,
            ),
            orders::updated_at,
            orders::invoice_number,
        ))
        .load(&mut conn)
        .unwrap();
    let year = chrono::Datelike::year(&now);
    assert_eq!(
        paid,
        vec![
            (
                (
                    "paid".into(),
                    "stripe".into(),
                    Some("first".into()),
                    Some(now)
                ),
                now,
                Some(format!("INV-{year}-000001"))
            ),
            (
                (
                    "paid".into(),
                    "stripe".into(),
                    Some("second".into()),
                    Some(now)
                ),
                now,
                Some(format!("INV-{year}-000002"))
            ),
        ]
    );
    let sent: Vec<(Option<chrono::NaiveDateTime>, i32, Option<String>)> = mail_outbox::table
        .order(mail_outbox::id.asc())
        .select((
            mail_outbox::sent_at,
            mail_outbox::attempts,
            mail_outbox::text_body,
        ))
        .load(&mut conn)
        .unwrap();
    assert_eq!(
        sent,
        vec![(Some(now), 1, None), (Some(now), 1, None)],
        "sent, counted, body gone"
    );
    let attempts: Vec<i32> = kasir::db::schema::webhook_events::table
        .select(kasir::db::schema::webhook_events::attempts)
        .load(&mut conn)
        .unwrap();
    assert_eq!(attempts, vec![1, 1]);
    let rows: i64 = financial_journals::table
        .filter(financial_journals::description.eq("prepared once"))
        .count()
        .get_result(&mut conn)
        .unwrap();
    assert_eq!(rows, 2, "a None is written as NULL and the rows are there");
}

/// The pool pings a PostgreSQL connection only when it has not answered
/// one for `TRUSTED_FOR` (not before every request), and still replaces a
/// connection whose server end is gone.
#[test]
fn the_pool_pings_only_a_connection_quiet_for_a_while_and_replaces_a_dead_one() {
    use crate::helpers::TestDb;
    use diesel::connection::InstrumentationEvent;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};

    let test_db = TestDb::create(Backend::Postgres);
    let pool = db::open(&db::DatabaseUrl::parse(&test_db.url).unwrap(), 1).unwrap();
    let backend_pid = |conn: &mut DbConnection| -> i32 {
        diesel::select(diesel::dsl::sql::<diesel::sql_types::Integer>(
            "pg_backend_pid()",
        ))
        .get_result(conn)
        .unwrap()
    };
    let pings = Arc::new(AtomicUsize::new(0));
    let first_pid = {
        let mut conn = pool.get().unwrap();
        let seen = Arc::clone(&pings);
        conn.set_instrumentation(move |event: InstrumentationEvent<'_>| {
            if let InstrumentationEvent::StartQuery { query, .. } = event
                && query.to_string().starts_with("SELECT 1")
            {
                seen.fetch_add(1, SeqCst);
            }
        });
        backend_pid(&mut conn)
    };
    for _ in 0..5 {
        drop(pool.get().unwrap());
    }
    assert_eq!(pings.load(SeqCst), 0, "trusted: it answered a moment ago");
    std::thread::sleep(db::TRUSTED_FOR + std::time::Duration::from_millis(100));
    for _ in 0..3 {
        drop(pool.get().unwrap());
    }
    assert_eq!(pings.load(SeqCst), 1, "pinged once after a quiet while");

    // The server ends the connection (a restart, a failover): once the
    // while is over, the pool finds it dead and opens another.
    let mut admin = test_db.connect();
    let ended: bool = diesel::select(diesel::dsl::sql::<diesel::sql_types::Bool>(&format!(
        "pg_terminate_backend({first_pid})"
    )))
    .get_result(&mut admin)
    .unwrap();
    assert!(ended);
    std::thread::sleep(db::TRUSTED_FOR + std::time::Duration::from_millis(100));
    let mut conn = pool.get().unwrap();
    let pid = backend_pid(&mut conn);
    assert_ne!(pid, first_pid, "a new connection replaced the dead one");
}
