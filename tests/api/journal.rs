//! The journal's seals: `kasir journal verify` finds an altered, removed or
//! re-sealed row, checks the chain written before sealing, and reports rows
//! left unsealed; the running server seals new rows by itself.

use diesel::prelude::*;
use kasir::db::schema::financial_journals;

use crate::{both_backends, on_both_engines};
use kasir::db::schema::journal_seals;
use kasir::services::journal::seal::seal_mac;

use crate::helpers::{
    Backend, TEST_JOURNAL_KEY, TestApp, TestDb, location, seal_and_verify, select_all,
};

fn verify(app: &TestApp) -> (bool, String) {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_kasir"))
        .args(["journal", "verify"])
        .env("DATABASE_URL", &app.db.url)
        .env("SECRET_KEY", "k".repeat(64))
        .env("JOURNAL_KEY", crate::helpers::TEST_JOURNAL_KEY)
        .output()
        .unwrap();
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).trim().to_owned(),
    )
}

fn journal_key() -> kasir::config::SecretKey {
    kasir::config::SecretKey::from_bytes("JOURNAL_KEY", TEST_JOURNAL_KEY.into()).unwrap()
}

const ALTERED: &str = "its content no longer matches its seal (the row was altered)";

/// The id of the paid order's income row.
fn income_row(conn: &mut kasir::db::DbConnection) -> i64 {
    financial_journals::table
        .filter(financial_journals::type_.eq("income"))
        .select(financial_journals::id)
        .first(conn)
        .unwrap()
}

/// The append-only triggers, dropped the way an attacker with database
/// access would, so a row can be altered behind the shop's back.
fn drop_append_only_triggers(app: &TestApp) {
    let mut conn = app.db.connect();
    let statements: &[&str] = if app.db.url.starts_with("postgres") {
        &[
            "DROP TRIGGER financial_journals_no_update_delete ON financial_journals",
            "DROP TRIGGER journal_seals_no_update_delete ON journal_seals",
        ]
    } else {
        &[
            "DROP TRIGGER financial_journals_no_update",
            "DROP TRIGGER financial_journals_no_delete",
            "DROP TRIGGER journal_seals_no_update",
            "DROP TRIGGER journal_seals_no_delete",
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
        seal_and_verify(&mut app.db.connect());
        assert_eq!(verify(&app), (true, "journal chain intact (2 rows)".to_owned()));
    }

    async fn the_server_seals_new_rows_by_itself_within_a_second(app: TestApp) {
        app.paid_order("ada@example.com", "rust-for-web-developers").await;
        let mut conn = app.db.connect();
        let rows: i64 = financial_journals::table.count().get_result(&mut conn).unwrap();
        assert_eq!(rows, 2);
        let started = std::time::Instant::now();
        let sealed = loop {
            let sealed: Vec<(i64, i64)> = journal_seals::table
                .order(journal_seals::seq.asc())
                .select((journal_seals::seq, journal_seals::journal_id))
                .load(&mut conn)
                .unwrap();
            if sealed.len() == 2 || started.elapsed() > std::time::Duration::from_secs(5) {
                break sealed;
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        };
        let ids: Vec<i64> = financial_journals::table
            .order(financial_journals::id.asc())
            .select(financial_journals::id)
            .load(&mut conn)
            .unwrap();
        // Sealed once each, in order, numbered from 1 without a gap.
        assert_eq!(sealed, vec![(1, ids[0]), (2, ids[1])]);
        assert_eq!(verify(&app), (true, "journal chain intact (2 rows)".to_owned()));
    }

    async fn verify_finds_a_row_altered_directly_in_the_database(app: TestApp) {
        app.paid_order("ada@example.com", "rust-for-web-developers").await;
        let mut conn = app.db.connect();
        seal_and_verify(&mut conn);
        let income = income_row(&mut conn);
        drop_append_only_triggers(&app);
        diesel::update(financial_journals::table.find(income))
            .set(financial_journals::amount_cents.eq(1_i64))
            .execute(&mut conn)
            .unwrap();
        let (ok, report) = verify(&app);
        assert!(!ok);
        assert_eq!(report, format!("journal chain BROKEN at row {income}: {ALTERED}"));
    }

    async fn a_forger_without_the_key_cannot_reseal_an_altered_row(app: TestApp) {
        app.paid_order("ada@example.com", "rust-for-web-developers").await;
        let mut conn = app.db.connect();
        seal_and_verify(&mut conn);
        let income = income_row(&mut conn);
        drop_append_only_triggers(&app);
        diesel::update(financial_journals::table.find(income))
            .set(financial_journals::amount_cents.eq(1_i64))
            .execute(&mut conn)
            .unwrap();
        // Everything in the database, and the sealing code itself, but
        // another key: the seal still does not verify.
        let row = financial_journals::table
            .find(income)
            .select(kasir::models::journal::JournalRow::as_select())
            .first(&mut conn)
            .unwrap();
        let (seq, prev_mac): (i64, String) = journal_seals::table
            .filter(journal_seals::journal_id.eq(income))
            .select((journal_seals::seq, journal_seals::prev_mac))
            .first(&mut conn)
            .unwrap();
        let guessed = kasir::config::SecretKey::from_bytes("JOURNAL_KEY", vec![b'g'; 64]).unwrap();
        diesel::update(journal_seals::table.find(seq))
            .set(journal_seals::mac.eq(seal_mac(&guessed, seq, &prev_mac, &row)))
            .execute(&mut conn)
            .unwrap();
        assert_eq!(verify(&app), (false, format!("journal chain BROKEN at row {income}: {ALTERED}")));
        // With the real key the same rewrite verifies: the key is the secret.
        diesel::update(journal_seals::table.find(seq))
            .set(journal_seals::mac.eq(seal_mac(&journal_key(), seq, &prev_mac, &row)))
            .execute(&mut conn)
            .unwrap();
        assert!(verify(&app).0);
    }

    async fn verify_finds_a_row_removed_with_its_seal(app: TestApp) {
        app.paid_order("ada@example.com", "modern-javascript").await;
        let grace = TestApp::with_client_of(&app);
        grace.paid_order("grace@example.com", "rust-for-web-developers").await;
        let mut conn = app.db.connect();
        seal_and_verify(&mut conn);
        let seals: Vec<(i64, i64)> = journal_seals::table
            .order(journal_seals::seq.asc())
            .select((journal_seals::seq, journal_seals::journal_id))
            .load(&mut conn)
            .unwrap();
        assert_eq!(seals.len(), 4);
        drop_append_only_triggers(&app);

        // The second row and its seal removed.
        let (seq, row) = seals[1];
        diesel::delete(journal_seals::table.find(seq)).execute(&mut conn).unwrap();
        diesel::delete(financial_journals::table.find(row)).execute(&mut conn).unwrap();
        let (ok, report) = verify(&app);
        assert!(!ok);
        assert_eq!(report, format!("journal chain BROKEN at row {}: the seal before it is missing (seals were removed)", seals[2].1));
    }

    async fn the_reports_page_checks_the_rows_sealed_since_its_last_check(app: TestApp) {
        app.paid_order("ada@example.com", "rust-for-web-developers").await;
        let boss = TestApp::with_client_of(&app);
        boss.staff("boss@example.com").await;
        let chain = |page: String| select_all(&page, "[data-chain]")[0].clone();
        // The page seals what has committed, then checks: 2 rows.
        assert_eq!(chain(boss.get_html("/staff/reports").await), "journal chain intact (2 rows)");
        let grace = TestApp::with_client_of(&app);
        grace.paid_order("grace@example.com", "modern-javascript").await;
        assert_eq!(chain(boss.get_html("/staff/reports").await), "journal chain intact (4 rows)");

        // A row sealed after that check is altered: the next view finds it.
        let alan = TestApp::with_client_of(&app);
        alan.paid_order("alan@example.com", "postgresql-in-practice").await;
        let mut conn = app.db.connect();
        seal_and_verify(&mut conn);
        let sealed_last: Vec<i64> = journal_seals::table
            .filter(journal_seals::seq.gt(4))
            .order(journal_seals::seq.asc())
            .select(journal_seals::journal_id)
            .load(&mut conn)
            .unwrap();
        assert_eq!(sealed_last.len(), 2);
        drop_append_only_triggers(&app);
        diesel::update(financial_journals::table.filter(financial_journals::id.eq_any(&sealed_last)))
            .set(financial_journals::description.eq("edited"))
            .execute(&mut conn)
            .unwrap();
        let page = boss.get_html("/staff/reports").await;
        assert_eq!(chain(page), format!("journal chain BROKEN at row {}: {ALTERED}", sealed_last[0]));
    }

    async fn the_reports_page_says_how_far_a_long_journal_is_checked(app: TestApp) {
        use kasir::services::journal::VIEW_BUDGET;
        app.paid_order("ada@example.com", "rust-for-web-developers").await;
        let boss = TestApp::with_client_of(&app);
        boss.staff("boss@example.com").await;
        let chain = |page: &str| {
            let state = page.split("data-chain=\"").nth(1).unwrap().split('"').next().unwrap();
            (state.to_owned(), select_all(page, "[data-chain]")[0].clone())
        };
        let page = boss.get_html("/staff/reports").await;
        assert_eq!(chain(&page), ("ok".into(), "journal chain intact (2 rows)".into()));
        // A long history lands at once (an import; or a restart, when no
        // check of this process has covered the journal yet).
        let mut conn = app.db.connect();
        append_imported(&mut conn, "import", VIEW_BUDGET + 10);
        kasir::services::journal::seal::Sealer::new(journal_key()).seal_all(&mut conn).unwrap();
        let page = boss.get_html("/staff/reports").await;
        let checked = VIEW_BUDGET + 2;
        assert_eq!(
            chain(&page),
            (
                "checking".into(),
                format!("journal chain intact in its first {checked} rows; the rest is still being checked, reload in a moment")
            )
        );
        let page = boss.get_html("/staff/reports").await;
        let rows = VIEW_BUDGET + 12;
        assert_eq!(chain(&page), ("ok".into(), format!("journal chain intact ({rows} rows)")));
    }

    async fn the_reports_page_notices_seals_removed_at_the_end(app: TestApp) {
        app.paid_order("ada@example.com", "rust-for-web-developers").await;
        let boss = TestApp::with_client_of(&app);
        boss.staff("boss@example.com").await;
        let chain = |page: String| select_all(&page, "[data-chain]")[0].clone();
        assert_eq!(chain(boss.get_html("/staff/reports").await), "journal chain intact (2 rows)");
        // Seen again with nothing new since: still intact.
        assert_eq!(chain(boss.get_html("/staff/reports").await), "journal chain intact (2 rows)");
        // The newest row and its seal removed: nothing is left to mismatch,
        // but the page has seen seal 2.
        let mut conn = app.db.connect();
        drop_append_only_triggers(&app);
        let row: i64 = journal_seals::table.find(2_i64).select(journal_seals::journal_id).first(&mut conn).unwrap();
        diesel::delete(journal_seals::table.find(2_i64)).execute(&mut conn).unwrap();
        diesel::delete(financial_journals::table.find(row)).execute(&mut conn).unwrap();
        assert_eq!(
            chain(boss.get_html("/staff/reports").await),
            "journal chain BROKEN at row 0: seals were removed at the end"
        );
    }

    async fn verify_finds_an_edit_to_any_sealed_column(app: TestApp) {
        app.paid_order("ada@example.com", "rust-for-web-developers").await;
        let mut conn = app.db.connect();
        seal_and_verify(&mut conn);
        let income = income_row(&mut conn);
        drop_append_only_triggers(&app);
        // Every column the seal covers, each edited on its own, then put
        // back: verification breaks at that row, then is intact again.
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
            ("prev_hash", "'0'"),
            ("row_hash", "'0'"),
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
            assert_eq!(report, format!("journal chain BROKEN at row {income}: {ALTERED}"), "{column}");
            diesel::sql_query(format!(
                "UPDATE financial_journals SET {quoted} = (SELECT {quoted} FROM kept) WHERE id = {income}"
            ))
            .execute(&mut conn)
            .unwrap();
            diesel::sql_query("DROP TABLE kept").execute(&mut conn).unwrap();
            assert!(verify(&app).0, "{column} put back");
        }
        // The seal's own columns: its MAC and its link.
        for (column, value) in [("mac", "'0'"), ("prev_mac", "'0'")] {
            let seq: i64 = journal_seals::table
                .filter(journal_seals::journal_id.eq(income))
                .select(journal_seals::seq)
                .first(&mut conn)
                .unwrap();
            let (mac, prev_mac): (String, String) = journal_seals::table
                .find(seq)
                .select((journal_seals::mac, journal_seals::prev_mac))
                .first(&mut conn)
                .unwrap();
            let kept = if column == "mac" { mac } else { prev_mac };
            diesel::sql_query(format!("UPDATE journal_seals SET {column} = {value} WHERE seq = {seq}"))
                .execute(&mut conn)
                .unwrap();
            assert!(!verify(&app).0, "{column}");
            diesel::sql_query(format!("UPDATE journal_seals SET {column} = '{kept}' WHERE seq = {seq}"))
                .execute(&mut conn)
                .unwrap();
            assert!(verify(&app).0, "{column} put back");
        }
    }
}

/// A journal on a database no server runs on: rows appended there wait
/// for a seal, and verification says so once they have waited a minute.
fn migrated(backend: Backend) -> TestDb {
    let db = TestDb::create(backend);
    kasir::db::migrate(&kasir::db::DatabaseUrl::parse(&db.url).unwrap()).unwrap();
    db
}

fn verify_db(db: &TestDb) -> (bool, String) {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_kasir"))
        .args(["journal", "verify"])
        .env("DATABASE_URL", &db.url)
        .env("SECRET_KEY", "k".repeat(64))
        .env("JOURNAL_KEY", TEST_JOURNAL_KEY)
        .output()
        .unwrap();
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).trim().to_owned(),
    )
}

/// Appends a row the way the shop does, `age` ago.
fn append(conn: &mut kasir::db::DbConnection, key: &str, age: chrono::TimeDelta) -> i64 {
    diesel::sql_query(
        "INSERT INTO financial_journals (type, amount_cents, currency, status, description, metadata, idempotency_key, created_at) \
         VALUES ('income', 100, 'USD', 'success', 'row', '{}', $1, $2)"
            .replace("$1", &format!("'{key}'"))
            .replace("$2", &format!("'{}'", (kasir::db::now() - age).format("%Y-%m-%d %H:%M:%S%.6f"))),
    )
    .execute(conn)
    .unwrap();
    financial_journals::table
        .filter(financial_journals::idempotency_key.eq(key))
        .select(financial_journals::id)
        .first(conn)
        .unwrap()
}

fn rows_left_unsealed_are_reported_after_a_minute(backend: Backend) {
    let db = migrated(backend);
    let mut conn = db.connect();
    append(&mut conn, "fresh", chrono::TimeDelta::seconds(1));
    assert_eq!(
        verify_db(&db),
        (
            true,
            "journal chain intact (0 rows, 1 more waiting for their seal)".to_owned()
        )
    );
    let late = append(&mut conn, "late", chrono::TimeDelta::minutes(2));
    let (ok, report) = verify_db(&db);
    assert!(!ok, "{report}");
    assert_eq!(
        report,
        format!(
            "journal chain intact (0 rows), but 1 rows have waited over a minute for their seal, the first is row {late}: is `kasir serve` running?"
        )
    );
    assert_eq!(
        seal_and_verify(&mut conn).to_string(),
        "journal chain intact (2 rows)"
    );
    assert!(verify_db(&db).0);
}

fn the_chain_written_before_seals_is_still_verified_and_sealed_in_its_order(backend: Backend) {
    use kasir::domain::{Currency, JournalKind, JournalStatus};
    use kasir::models::journal::{JournalRow, NewJournalRow};
    use kasir::services::journal::legacy::chain_hash;
    let db = migrated(backend);
    let mut conn = db.connect();
    // A row from before the chain existed: never hashed, not a break.
    let before = append(&mut conn, "before-the-chain", chrono::TimeDelta::days(2));
    // Three rows as the old code chained them: each with the previous
    // row's SHA-256 and its own, the head counting them.
    let at = kasir::db::now() - chrono::TimeDelta::days(1);
    let mut prev = String::new();
    for n in 0..3_i64 {
        let key = format!("legacy-{n}");
        let row = JournalRow {
            id: 0,
            kind: JournalKind::Income,
            amount_cents: 100 + n,
            currency: Currency::parse("USD").unwrap(),
            status: JournalStatus::Success,
            description: "legacy".into(),
            reference_id: None,
            metadata: "{}".into(),
            provider_event_id: None,
            idempotency_key: key.clone(),
            created_at: at,
            prev_hash: None,
            row_hash: None,
        };
        let hash = chain_hash(&prev, &row);
        NewJournalRow {
            kind: row.kind,
            amount_cents: row.amount_cents,
            currency: row.currency,
            status: row.status,
            description: &row.description,
            reference_id: None,
            metadata: &row.metadata,
            provider_event_id: None,
            idempotency_key: &key,
            created_at: at,
            prev_hash: Some(&prev),
            row_hash: Some(&hash),
        }
        .insert(&mut conn)
        .unwrap();
        prev = hash;
    }
    let set_head = |conn: &mut kasir::db::DbConnection, hash: &str, length: i64| {
        use kasir::db::schema::journal_chain;
        diesel::update(journal_chain::table.find(1))
            .set((
                journal_chain::last_hash.eq(hash),
                journal_chain::length.eq(length),
            ))
            .execute(conn)
            .unwrap();
    };
    set_head(&mut conn, &prev, 3);
    // Then a row appended the new way, without hashes.
    let newer = append(&mut conn, "after-the-chain", chrono::TimeDelta::seconds(1));
    let sealer = kasir::services::journal::seal::Sealer::new(journal_key());
    assert_eq!(sealer.seal_all(&mut conn).unwrap(), 5, "five rows sealed");
    assert_eq!(sealer.seal_all(&mut conn).unwrap(), 0, "and none twice");
    assert_eq!(
        seal_and_verify(&mut conn).to_string(),
        "journal chain intact (5 rows)"
    );
    let ids: Vec<i64> = financial_journals::table
        .order(financial_journals::id.asc())
        .select(financial_journals::id)
        .load(&mut conn)
        .unwrap();
    let sealed: Vec<i64> = journal_seals::table
        .order(journal_seals::seq.asc())
        .select(journal_seals::journal_id)
        .load(&mut conn)
        .unwrap();
    assert_eq!(sealed, ids, "sealed in the chain's order");
    assert_eq!((ids[0], ids[4]), (before, newer));

    // The old checks still hold: the head's count ...
    set_head(&mut conn, &prev, 2);
    let (ok, report) = verify_db(&db);
    assert!(
        !ok && report.contains("the chain head counts 2 rows"),
        "{report}"
    );
    set_head(&mut conn, &prev, 3);
    assert!(verify_db(&db).0);
    // ... and a legacy row altered (its seal and its hash both break; the
    // hash is checked first).
    let statements: &[&str] = if db.url.starts_with("postgres") {
        &["DROP TRIGGER financial_journals_no_update_delete ON financial_journals"]
    } else {
        &["DROP TRIGGER financial_journals_no_update"]
    };
    for statement in statements {
        diesel::sql_query(*statement).execute(&mut conn).unwrap();
    }
    diesel::update(financial_journals::table.find(ids[2]))
        .set(financial_journals::amount_cents.eq(5_i64))
        .execute(&mut conn)
        .unwrap();
    assert_eq!(
        verify_db(&db),
        (
            false,
            format!(
                "journal chain BROKEN at row {}: its content no longer matches its hash (the row was altered)",
                ids[2]
            )
        )
    );
    // ... and a chained row whose hashes are wiped.
    diesel::update(financial_journals::table.find(ids[2]))
        .set((
            financial_journals::prev_hash.eq(None::<String>),
            financial_journals::row_hash.eq(None::<String>),
        ))
        .execute(&mut conn)
        .unwrap();
    assert_eq!(
        verify_db(&db),
        (
            false,
            format!(
                "journal chain BROKEN at row {}: a row without a hash inside the chain",
                ids[2]
            )
        )
    );
}

/// Payments append while two sealers (two instances, or the task and the
/// reports page) seal: every row gets exactly one seal, numbered without a
/// gap, and the seals verify.
fn sealers_racing_appenders_seal_each_row_once(backend: Backend) {
    use std::sync::atomic::{AtomicBool, Ordering};
    let db = std::sync::Arc::new(migrated(backend));
    let done = std::sync::Arc::new(AtomicBool::new(false));
    let sealers: Vec<_> = (0..2)
        .map(|_| {
            let (db, done) = (db.clone(), done.clone());
            std::thread::spawn(move || {
                let sealer = kasir::services::journal::seal::Sealer::new(journal_key());
                let mut conn = db.connect();
                let mut sealed = 0;
                while !done.load(Ordering::SeqCst) {
                    sealed += sealer.seal_pending(&mut conn).unwrap();
                }
                sealed
            })
        })
        .collect();
    let appenders: Vec<_> = (0..4)
        .map(|t| {
            let db = db.clone();
            std::thread::spawn(move || {
                let mut conn = db.connect();
                for n in 0..50 {
                    kasir::db::write_transaction(&mut conn, |c| {
                        append(c, &format!("race-{t}-{n}"), chrono::TimeDelta::zero());
                        Ok::<_, diesel::result::Error>(())
                    })
                    .unwrap();
                }
            })
        })
        .collect();
    for appender in appenders {
        appender.join().unwrap();
    }
    done.store(true, Ordering::SeqCst);
    let by_sealers: usize = sealers.into_iter().map(|s| s.join().unwrap()).sum();
    let mut conn = db.connect();
    assert_eq!(
        seal_and_verify(&mut conn).to_string(),
        "journal chain intact (200 rows)"
    );
    let seals: Vec<(i64, i64)> = journal_seals::table
        .order(journal_seals::seq.asc())
        .select((journal_seals::seq, journal_seals::journal_id))
        .load(&mut conn)
        .unwrap();
    assert_eq!(
        seals.iter().map(|s| s.0).collect::<Vec<_>>(),
        (1..=200).collect::<Vec<_>>()
    );
    let mut rows: Vec<i64> = seals.iter().map(|s| s.1).collect();
    rows.sort_unstable();
    rows.dedup();
    assert_eq!(rows.len(), 200, "a row sealed twice");
    assert!(by_sealers > 0, "the racing sealers sealed nothing");
}

/// More committed rows than one sealing batch holds (a history import, the
/// first start after the migration): `seal_all` seals every one of them.
fn more_rows_than_a_batch_are_all_sealed(backend: Backend) {
    use kasir::services::journal::seal::{SEAL_BATCH, Sealer};
    let db = migrated(backend);
    let mut conn = db.connect();
    let rows = SEAL_BATCH + 7;
    let at = (kasir::db::now() - chrono::TimeDelta::hours(1)).format("%Y-%m-%d %H:%M:%S%.6f");
    for chunk in (0..rows).collect::<Vec<_>>().chunks(250) {
        let values: Vec<String> = chunk
            .iter()
            .map(|n| {
                format!("('income', 100, 'USD', 'success', 'row', '{{}}', 'bulk-{n}', '{at}')")
            })
            .collect();
        diesel::sql_query(format!(
            "INSERT INTO financial_journals (type, amount_cents, currency, status, description, metadata, idempotency_key, created_at) VALUES {}",
            values.join(", ")
        ))
        .execute(&mut conn)
        .unwrap();
    }
    let sealed = Sealer::new(journal_key()).seal_all(&mut conn).unwrap();
    assert_eq!(sealed as i64, rows);
    assert_eq!(
        verify_db(&db),
        (true, format!("journal chain intact ({rows} rows)"))
    );
}

/// Housekeeping's full check, through the same monitor as the reports
/// page: intact when nothing changed since the page's check, and it notices
/// the newest seals removed, which a check from scratch cannot.
fn a_full_check_remembers_the_seals_it_has_seen(backend: Backend) {
    use kasir::services::journal::{ChainMonitor, ChainVerdict, seal::Sealer};
    let db = migrated(backend);
    let mut conn = db.connect();
    let first = append(&mut conn, "one", chrono::TimeDelta::seconds(5));
    let last = append(&mut conn, "two", chrono::TimeDelta::seconds(5));
    Sealer::new(journal_key()).seal_all(&mut conn).unwrap();
    let monitor = ChainMonitor::default();
    let key = journal_key();
    let intact = ChainVerdict::Intact {
        rows: 2,
        unsealed: 0,
    };
    assert_eq!(monitor.verify(&mut conn, &key, false).unwrap(), intact);
    assert_eq!(
        monitor.verify(&mut conn, &key, true).unwrap(),
        intact,
        "nothing changed"
    );
    assert_eq!(monitor.verify(&mut conn, &key, false).unwrap(), intact);
    let statements: &[&str] = if db.url.starts_with("postgres") {
        &[
            "DROP TRIGGER financial_journals_no_update_delete ON financial_journals",
            "DROP TRIGGER journal_seals_no_update_delete ON journal_seals",
        ]
    } else {
        &[
            "DROP TRIGGER financial_journals_no_delete",
            "DROP TRIGGER journal_seals_no_delete",
        ]
    };
    for statement in statements {
        diesel::sql_query(*statement).execute(&mut conn).unwrap();
    }
    diesel::delete(journal_seals::table.filter(journal_seals::journal_id.eq(last)))
        .execute(&mut conn)
        .unwrap();
    diesel::delete(financial_journals::table.find(last))
        .execute(&mut conn)
        .unwrap();
    let removed = ChainVerdict::Broken {
        row_id: 0,
        reason: "seals were removed at the end".into(),
    };
    assert_eq!(monitor.verify(&mut conn, &key, true).unwrap(), removed);
    // A check from scratch (the CLI) cannot tell: one row, one seal.
    assert_eq!(
        kasir::services::journal::verify_chain(&mut conn, &key).unwrap(),
        ChainVerdict::Intact {
            rows: 1,
            unsealed: 0
        }
    );
    assert!(first < last);
}

/// `count` rows imported a day ago, keyed `<prefix>-0`, `<prefix>-1`, ...
fn append_imported(conn: &mut kasir::db::DbConnection, prefix: &str, count: i64) {
    use kasir::domain::{Currency, JournalKind, JournalStatus};
    use kasir::services::journal::{JournalEntry, append_history};
    let keys: Vec<String> = (0..count).map(|n| format!("{prefix}-{n}")).collect();
    let at = kasir::db::now() - chrono::TimeDelta::days(1);
    for batch in keys.chunks(500) {
        let entries: Vec<_> = batch
            .iter()
            .map(|key| {
                let entry = JournalEntry {
                    kind: JournalKind::Income,
                    status: JournalStatus::Success,
                    amount_cents: 100,
                    currency: Currency::parse("USD").unwrap(),
                    description: "imported",
                    order_id: None,
                    metadata: "{}",
                    provider_event_id: None,
                    idempotency_key: key,
                };
                (entry, at)
            })
            .collect();
        append_history(conn, &entries).unwrap();
    }
}

/// A staff view checks at most `VIEW_BUDGET` seals: on a long journal no
/// check of this process has covered yet, it says how far it got, and the
/// next view goes on from there (and finds what is wrong further on).
fn a_view_checks_a_budget_of_seals_and_the_next_goes_on(backend: Backend) {
    use kasir::services::journal::{ChainMonitor, ChainVerdict, VIEW_BUDGET, seal::Sealer};
    let db = migrated(backend);
    let mut conn = db.connect();
    let total = VIEW_BUDGET + 300;
    append_imported(&mut conn, "long", total);
    let sealer = Sealer::new(journal_key());
    assert_eq!(sealer.seal_all(&mut conn).unwrap(), total as usize);
    let key = journal_key();
    let monitor = ChainMonitor::default();
    assert_eq!(
        monitor.verify(&mut conn, &key, false).unwrap(),
        ChainVerdict::Checking { rows: VIEW_BUDGET }
    );
    // A row past the first view's budget altered: the next view finds it.
    let statement = if db.url.starts_with("postgres") {
        "DROP TRIGGER financial_journals_no_update_delete ON financial_journals"
    } else {
        "DROP TRIGGER financial_journals_no_update"
    };
    diesel::sql_query(statement).execute(&mut conn).unwrap();
    let altered: i64 = financial_journals::table
        .filter(financial_journals::idempotency_key.eq(format!("long-{}", VIEW_BUDGET + 100)))
        .select(financial_journals::id)
        .first(&mut conn)
        .unwrap();
    diesel::update(financial_journals::table.find(altered))
        .set(financial_journals::amount_cents.eq(1_i64))
        .execute(&mut conn)
        .unwrap();
    assert_eq!(
        monitor.verify(&mut conn, &key, false).unwrap(),
        ChainVerdict::Broken {
            row_id: altered,
            reason: ALTERED.into()
        }
    );
    // Put back, a new process: its full check has no budget.
    diesel::update(financial_journals::table.find(altered))
        .set(financial_journals::amount_cents.eq(100_i64))
        .execute(&mut conn)
        .unwrap();
    let monitor = ChainMonitor::default();
    let intact = ChainVerdict::Intact {
        rows: total,
        unsealed: 0,
    };
    assert_eq!(monitor.verify(&mut conn, &key, true).unwrap(), intact);
    assert_eq!(
        monitor.verify(&mut conn, &key, false).unwrap(),
        intact,
        "the view starts where the full check got"
    );
}

/// The benchmark's seeder imports a history with one multi-row insert per
/// batch, at the times given; an empty batch writes nothing.
fn a_history_is_appended_at_its_own_times(backend: Backend) {
    use kasir::domain::{Currency, JournalKind, JournalStatus};
    use kasir::services::journal::{JournalEntry, append_history};
    let db = migrated(backend);
    let mut conn = db.connect();
    let at = |days: i64| kasir::db::now() - chrono::TimeDelta::days(days);
    let entry = |key: &'static str, amount_cents: i64| JournalEntry {
        kind: JournalKind::Income,
        status: JournalStatus::Success,
        amount_cents,
        currency: Currency::parse("USD").unwrap(),
        description: "imported",
        order_id: None,
        metadata: "{}",
        provider_event_id: None,
        idempotency_key: key,
    };
    append_history(&mut conn, &[]).unwrap();
    append_history(
        &mut conn,
        &[(entry("h-1", 100), at(30)), (entry("h-2", 250), at(2))],
    )
    .unwrap();
    let rows: Vec<(String, i64, chrono::NaiveDateTime)> = financial_journals::table
        .order(financial_journals::id.asc())
        .select((
            financial_journals::idempotency_key,
            financial_journals::amount_cents,
            financial_journals::created_at,
        ))
        .load(&mut conn)
        .unwrap();
    let keys: Vec<(&str, i64)> = rows.iter().map(|(k, a, _)| (k.as_str(), *a)).collect();
    assert_eq!(keys, [("h-1", 100), ("h-2", 250)]);
    assert!(
        rows[0].2 < at(29) && rows[1].2 > at(3),
        "kept at their own times: {rows:?}"
    );
}

on_both_engines!(
    rows_left_unsealed_are_reported_after_a_minute,
    the_chain_written_before_seals_is_still_verified_and_sealed_in_its_order,
    sealers_racing_appenders_seal_each_row_once,
    more_rows_than_a_batch_are_all_sealed,
    a_full_check_remembers_the_seals_it_has_seen,
    a_view_checks_a_budget_of_seals_and_the_next_goes_on,
    a_history_is_appended_at_its_own_times,
);
