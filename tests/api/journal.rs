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
}
