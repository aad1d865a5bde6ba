//! The journal's hash chain: `kasir journal verify` finds an altered row.

use diesel::prelude::*;
use kasir::db::schema::financial_journals;

use crate::both_backends;
use crate::helpers::{Backend, TestApp, location, select_all};

fn verify(app: &TestApp) -> (bool, String) {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_kasir"))
        .args(["journal", "verify"])
        .env("DATABASE_URL", &app.db.url)
        .env("SECRET_KEY", "k".repeat(64))
        .output()
        .unwrap();
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).trim().to_owned(),
    )
}

/// The append-only trigger, dropped the way an attacker with database
/// access would, so a row can be altered behind the shop's back.
fn drop_append_only_triggers(app: &TestApp) {
    let mut conn = app.db.connect();
    let statements: &[&str] = if app.db.url.starts_with("postgres") {
        &["DROP TRIGGER financial_journals_no_update_delete ON financial_journals"]
    } else {
        &[
            "DROP TRIGGER financial_journals_no_update",
            "DROP TRIGGER financial_journals_no_delete",
        ]
    };
    for statement in statements {
        diesel::sql_query(*statement).execute(&mut conn).unwrap();
    }
}

impl TestApp {
    /// A paid order's journal: payment_initiated, then income.
    async fn paid_order(&self, email: &str, slug: &str) {
        self.student(email).await;
        self.add_course(slug).await;
        let pay = location(&self.checkout("").await);
        self.pay_in_sandbox(&pay, "4242424242424242").await;
    }
}

both_backends! {
    async fn an_untouched_journal_verifies(app: TestApp) {
        app.paid_order("ada@example.com", "rust-for-web-developers").await;
        assert_eq!(verify(&app), (true, "journal chain intact (2 rows)".to_owned()));
    }

    async fn verify_finds_a_row_altered_directly_in_the_database(app: TestApp) {
        app.paid_order("ada@example.com", "rust-for-web-developers").await;
        let mut conn = app.db.connect();
        let income: i64 = financial_journals::table
            .filter(financial_journals::type_.eq("income"))
            .select(financial_journals::id)
            .first(&mut conn)
            .unwrap();
        drop_append_only_triggers(&app);
        diesel::update(financial_journals::table.find(income))
            .set(financial_journals::amount_cents.eq(1_i64))
            .execute(&mut conn)
            .unwrap();
        let (ok, report) = verify(&app);
        assert!(!ok);
        assert_eq!(report, format!("journal chain BROKEN at row {income}: its content no longer matches its hash (the row was altered)"));
    }

    async fn verify_finds_a_removed_row(app: TestApp) {
        app.paid_order("ada@example.com", "modern-javascript").await;
        let mut conn = app.db.connect();
        drop_append_only_triggers(&app);
        let last: i64 = financial_journals::table
            .select(diesel::dsl::max(financial_journals::id))
            .first::<Option<i64>>(&mut conn)
            .unwrap()
            .unwrap();
        diesel::delete(financial_journals::table.find(last)).execute(&mut conn).unwrap();
        let (ok, report) = verify(&app);
        assert!(!ok);
        assert!(report.contains("rows were removed"), "{report}");
    }

    async fn the_reports_page_checks_the_rows_appended_since_its_last_check(app: TestApp) {
        app.paid_order("ada@example.com", "rust-for-web-developers").await;
        let boss = TestApp::with_client_of(&app);
        boss.staff("boss@example.com").await;
        let chain = |page: String| select_all(&page, "[data-chain]")[0].clone();
        // Intact: the page remembers how far it got (2 rows).
        assert_eq!(chain(boss.get_html("/staff/reports").await), "journal chain intact (2 rows)");
        let grace = TestApp::with_client_of(&app);
        grace.paid_order("grace@example.com", "modern-javascript").await;
        assert_eq!(chain(boss.get_html("/staff/reports").await), "journal chain intact (4 rows)");

        // A row after that check is altered: the next view re-hashes it.
        let newest: i64 = financial_journals::table
            .select(diesel::dsl::max(financial_journals::id))
            .first::<Option<i64>>(&mut app.db.connect())
            .unwrap()
            .unwrap();
        let alan = TestApp::with_client_of(&app);
        alan.paid_order("alan@example.com", "postgresql-in-practice").await;
        drop_append_only_triggers(&app);
        diesel::update(financial_journals::table.filter(financial_journals::id.gt(newest)))
            .set(financial_journals::description.eq("edited"))
            .execute(&mut app.db.connect())
            .unwrap();
        let first_altered: i64 = financial_journals::table
            .filter(financial_journals::id.gt(newest))
            .select(diesel::dsl::min(financial_journals::id))
            .first::<Option<i64>>(&mut app.db.connect())
            .unwrap()
            .unwrap();
        let page = boss.get_html("/staff/reports").await;
        assert_eq!(
            chain(page),
            format!("journal chain BROKEN at row {first_altered}: its content no longer matches its hash (the row was altered)")
        );
    }

    async fn verify_finds_an_edit_to_any_hashed_column(app: TestApp) {
        app.paid_order("ada@example.com", "rust-for-web-developers").await;
        let mut conn = app.db.connect();
        let income: i64 = financial_journals::table
            .filter(financial_journals::type_.eq("income"))
            .select(financial_journals::id)
            .first(&mut conn)
            .unwrap();
        drop_append_only_triggers(&app);
        // Every column the row's hash covers, each edited on its own, then
        // put back: the chain breaks at that row, then is intact again.
        let later = if app.db.url.starts_with("postgres") {
            "created_at + interval '1 second'"
        } else {
            "datetime(created_at, '+1 second')"
        };
        let edits: &[(&str, &str)] = &[
            ("type", "'refund'"),
            ("amount_cents", "amount_cents + 1"),
            ("currency", "'EUR'"),
            ("status", "'failed'"),
            ("description", "description || ' '"),
            ("reference_id", "NULL"),
            ("metadata", "'{}'"),
            ("provider_event_id", "'evt_forged'"),
            ("idempotency_key", "idempotency_key || '-2'"),
            ("created_at", later),
        ];
        for (column, value) in edits {
            let quoted = if *column == "type" { "\"type\"".to_owned() } else { (*column).to_owned() };
            let keep = format!("CREATE TEMP TABLE kept AS SELECT * FROM financial_journals WHERE id = {income}");
            diesel::sql_query(keep).execute(&mut conn).unwrap();
            diesel::sql_query(format!("UPDATE financial_journals SET {quoted} = {value} WHERE id = {income}"))
                .execute(&mut conn)
                .unwrap();
            let (ok, report) = verify(&app);
            assert!(!ok, "{column}: {report}");
            assert_eq!(
                report,
                format!("journal chain BROKEN at row {income}: its content no longer matches its hash (the row was altered)"),
                "{column}"
            );
            diesel::sql_query(format!(
                "UPDATE financial_journals SET {quoted} = (SELECT {quoted} FROM kept) WHERE id = {income}"
            ))
            .execute(&mut conn)
            .unwrap();
            diesel::sql_query("DROP TABLE kept").execute(&mut conn).unwrap();
            assert!(verify(&app).0, "{column} put back");
        }
    }

    async fn verify_finds_rows_without_hashes_and_a_head_whose_count_was_edited(app: TestApp) {
        use kasir::db::schema::journal_chain;
        app.paid_order("ada@example.com", "rust-for-web-developers").await;
        let grace = TestApp::with_client_of(&app);
        grace.paid_order("grace@example.com", "modern-javascript").await;
        let mut conn = app.db.connect();
        let ids: Vec<i64> = financial_journals::table
            .order(financial_journals::id.asc())
            .select(financial_journals::id)
            .load(&mut conn)
            .unwrap();
        assert_eq!(ids.len(), 4);
        drop_append_only_triggers(&app);

        // The head's count alone, one less or one more: both are caught.
        for delta in [-1_i64, 1] {
            diesel::update(journal_chain::table)
                .set(journal_chain::length.eq(journal_chain::length + delta))
                .execute(&mut conn)
                .unwrap();
            let (ok, report) = verify(&app);
            assert!(!ok && report.contains("the chain head counts"), "{delta}: {report}");
            diesel::update(journal_chain::table)
                .set(journal_chain::length.eq(journal_chain::length - delta))
                .execute(&mut conn)
                .unwrap();
            assert!(verify(&app).0);
        }

        // A row inside the chain stripped of its hashes.
        let middle = ids[2];
        let hashes: (Option<String>, Option<String>) = financial_journals::table
            .find(middle)
            .select((financial_journals::prev_hash, financial_journals::row_hash))
            .first(&mut conn)
            .unwrap();
        diesel::update(financial_journals::table.find(middle))
            .set((financial_journals::prev_hash.eq(None::<String>), financial_journals::row_hash.eq(None::<String>)))
            .execute(&mut conn)
            .unwrap();
        assert_eq!(
            verify(&app),
            (false, format!("journal chain BROKEN at row {middle}: a row without a hash inside the chain"))
        );
        diesel::update(financial_journals::table.find(middle))
            .set((financial_journals::prev_hash.eq(&hashes.0), financial_journals::row_hash.eq(&hashes.1)))
            .execute(&mut conn)
            .unwrap();
        assert!(verify(&app).0);

        // A row written around the chain, after its head.
        diesel::sql_query(format!(
            "INSERT INTO financial_journals (type, amount_cents, currency, status, description, metadata, idempotency_key, created_at) \
             SELECT type, amount_cents, currency, status, 'forged', metadata, 'forged-key', created_at FROM financial_journals WHERE id = {}",
            ids[0]
        ))
        .execute(&mut conn)
        .unwrap();
        let forged: i64 = financial_journals::table
            .filter(financial_journals::idempotency_key.eq("forged-key"))
            .select(financial_journals::id)
            .first(&mut conn)
            .unwrap();
        assert_eq!(
            verify(&app),
            (false, format!("journal chain BROKEN at row {forged}: a row without a hash after the chain's head"))
        );
    }
}
