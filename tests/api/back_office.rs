use chrono::Datelike;
use diesel::prelude::*;
use kasir::db::DbConnection;
use kasir::db::schema::{financial_journals, orders};

use crate::both_backends;
use crate::helpers::shop::{Promo, insert_promo};
use crate::helpers::{Backend, PASSWORD, TestApp, location, select_all, select_attr};

fn order_state(conn: &mut DbConnection, number: &str) -> (String, i64) {
    orders::table
        .filter(orders::number.eq(number))
        .select((orders::status, orders::refunded_cents))
        .first(conn)
        .unwrap()
}

both_backends! {
    async fn students_get_403_on_every_staff_route_and_404_on_others_invoices(app: TestApp) {
        app.student("ada@example.com").await;
        let number = app.bought(&["rust-for-web-developers"], "").await;
        let own = app.get(&format!("/orders/{number}")).await;
        assert_eq!(own.status(), 200);
        assert_eq!(select_all(&own.text().await.unwrap(), "[data-invoice-total]"), vec!["$89.00"]);
        for path in ["/staff/orders", &format!("/staff/orders/{number}"), "/staff/journal", "/staff/journal.csv", "/staff/reports", "/staff/documents", "/staff/settings"] {
            assert_eq!(app.get(path).await.status(), 403, "{path}");
        }
        assert_eq!(app.refund(&number, "", "please").await.status(), 403);

        let eve = TestApp::with_client_of(&app);
        eve.student("eve@example.com").await;
        assert_eq!(eve.get(&format!("/orders/{number}")).await.status(), 404, "no peeking at Ada's invoice");
        assert_eq!(eve.get("/orders/INV-2000-000001").await.status(), 404);

        let boss = TestApp::with_client_of(&app);
        boss.staff("boss@example.com").await;
        assert_eq!(boss.get(&format!("/orders/{number}")).await.status(), 200, "staff see every invoice");
    }

    async fn invoice_history_filters_and_totals(app: TestApp) {
        let mut conn = app.db.connect();
        insert_promo(&mut conn, Promo { code: "TEN", ..Promo::default() });
        app.student("ada@example.com").await;
        let paid = app.bought(&["rust-for-web-developers"], "ten").await; // 80.10
        app.add_course("modern-javascript").await;
        let pending = location(&app.checkout("").await).trim_start_matches("/checkout/").to_owned(); // 49.00
        let eve = TestApp::with_client_of(&app);
        eve.student("eve@example.com").await;
        let eves = eve.bought(&["ux-design-foundations"], "").await; // 59.00

        let boss = TestApp::with_client_of(&app);
        boss.staff("boss@example.com").await;
        let list = |html: &str| select_all(html, "tbody td code").into_iter().filter(|c| c.starts_with("ORD-")).collect::<Vec<_>>();

        let all = boss.get_html("/staff/orders").await;
        assert_eq!(list(&all), vec![eves.clone(), pending.clone(), paid.clone()], "newest first");
        assert_eq!(select_all(&all, "[data-sum-total]"), vec!["$188.10"]);

        let only_paid = boss.get_html("/staff/orders?status=paid").await;
        assert_eq!(list(&only_paid), vec![eves.clone(), paid.clone()]);
        assert_eq!(select_all(&only_paid, "[data-sum-total]"), vec!["$139.10"]);
        let adas = boss.get_html("/staff/orders?email=ADA@").await;
        assert_eq!(list(&adas), vec![pending.clone(), paid.clone()]);
        assert_eq!(select_all(&adas, "[data-sum-total]"), vec!["$129.10"], "the totals follow the student filter too");
        let adas_paid = boss.get_html("/staff/orders?email=ada@&status=paid").await;
        assert_eq!(select_all(&adas_paid, "[data-sum-total]"), vec!["$80.10"]);
        assert_eq!(list(&boss.get_html("/staff/orders?promo=ten").await), vec![paid.clone()]);
        assert_eq!(list(&boss.get_html(&format!("/staff/orders?number={}", &eves[9..])).await), vec![eves.clone()]);
        // The days the orders were placed on (the test may straddle midnight).
        let placed: Vec<chrono::NaiveDateTime> = orders::table.order(orders::id.asc()).select(orders::created_at).load(&mut conn).unwrap();
        let (first, last) = (placed[0].date(), placed[placed.len() - 1].date());
        assert_eq!(list(&boss.get_html(&format!("/staff/orders?from={first}&to={last}")).await).len(), 3);
        assert!(list(&boss.get_html("/staff/orders?to=2000-01-01").await).is_empty());
        assert_eq!(boss.get("/staff/orders?from=yesterday").await.status(), 400);
        assert_eq!(boss.get("/staff/orders?status=lost").await.status(), 400);
        let wildcard = boss.get_html("/staff/orders?email=%25").await;
        assert!(list(&wildcard).is_empty(), "a % in a filter is a literal, not a wildcard");
    }

    async fn the_invoice_history_shows_25_a_page_and_totals_every_page(app: TestApp) {
        let mut conn = app.db.connect();
        app.student("ada@example.com").await;
        let newest = app.bought(&["rust-for-web-developers"], "").await; // 89.00
        let (user_id, currency, provider, placed): (i64, String, String, chrono::NaiveDateTime) = orders::table
            .filter(orders::number.eq(&newest))
            .select((orders::user_id, orders::currency, orders::provider, orders::created_at))
            .first(&mut conn)
            .unwrap();
        // 49 older paid orders of 10.00: 50 in all, two full pages.
        for n in 1..=49i64 {
            let at = placed - chrono::TimeDelta::minutes(n);
            diesel::insert_into(orders::table)
                .values((
                    orders::number.eq(format!("ORD-2000-{n:06}")),
                    orders::user_id.eq(user_id),
                    orders::status.eq("paid"),
                    orders::subtotal_cents.eq(1_000),
                    orders::discount_cents.eq(0),
                    orders::total_cents.eq(1_000),
                    orders::refunded_cents.eq(0),
                    orders::currency.eq(&currency),
                    orders::provider.eq(&provider),
                    orders::created_at.eq(at),
                    orders::updated_at.eq(at),
                    orders::tax_cents.eq(0),
                    orders::tax_inclusive.eq(false),
                ))
                .execute(&mut conn)
                .unwrap();
        }
        let boss = TestApp::with_client_of(&app);
        boss.staff("boss@example.com").await;
        let list = |html: &str| select_all(html, "tbody td code").into_iter().filter(|c| c.starts_with("ORD-")).collect::<Vec<_>>();

        let first = boss.get_html("/staff/orders?status=paid").await;
        let rows = list(&first);
        assert_eq!(rows.len(), 25);
        assert_eq!(rows[0], newest);
        assert_eq!(rows[24], "ORD-2000-000024");
        assert_eq!(select_all(&first, ".pager span"), vec!["Page 1 of 2"]);
        assert_eq!(select_all(&first, "[data-sum-total]"), vec!["$579.00"], "the totals are the whole set's");

        let second = boss.get_html("/staff/orders?status=paid&page=2").await;
        let rows = list(&second);
        assert_eq!(rows.len(), 25);
        assert_eq!((rows[0].as_str(), rows[24].as_str()), ("ORD-2000-000025", "ORD-2000-000049"));
        assert_eq!(select_all(&second, ".pager span"), vec!["Page 2 of 2"]);
        assert_eq!(select_all(&second, "[data-sum-total]"), vec!["$579.00"]);

        // Past either end: the nearest page.
        assert_eq!(list(&boss.get_html("/staff/orders?status=paid&page=99").await), rows);
        assert_eq!(list(&boss.get_html("/staff/orders?status=paid&page=0").await)[0], newest);
        let none = boss.get_html("/staff/orders?status=refunded").await;
        assert!(list(&none).is_empty());
        assert!(select_all(&none, ".pager span").is_empty(), "one empty page, no pager");
    }

    async fn staff_refund_partially_then_fully_and_never_more_than_is_left(app: TestApp) {
        let mut conn = app.db.connect();
        app.student("ada@example.com").await;
        let number = app.bought(&["rust-for-web-developers"], "").await;
        let boss = TestApp::with_client_of(&app);
        boss.staff("boss@example.com").await;

        assert_eq!(boss.refund(&number, "10.00", "").await.status(), 400, "a reason is required");
        let too_much = boss.refund(&number, "90.00", "goodwill").await;
        assert_eq!(too_much.status(), 400);
        let page = too_much.text().await.unwrap();
        assert!(select_all(&page, "#refund-error")[0].contains("more than is left"), "the refusal is shown on the order page");
        assert_eq!(select_attr(&page, "#amount", "value"), vec!["90.00"], "what was typed is kept");
        assert_eq!(select_attr(&page, "#reason", "value"), vec!["goodwill"]);
        assert_eq!(boss.refund(&number, "-5", "goodwill").await.status(), 400);
        // Huge, overflowing, fractional or odd amounts: a 400, nothing sent.
        for amount in ["99999999999999999999", "9223372036854775807", "-9223372036854775808", "0", "12.555", "1e3", "0x10", "８９", "1.2.3", "$", "--5"] {
            assert_eq!(boss.refund(&number, amount, "goodwill").await.status(), 400, "{amount}");
        }
        assert_eq!(order_state(&mut conn, &number), ("paid".into(), 0));

        assert_eq!(location(&boss.refund(&number, "10.00", "late start").await), format!("/staff/orders/{number}"));
        assert_eq!(order_state(&mut conn, &number), ("partially_refunded".into(), 1_000));
        assert_eq!(location(&boss.refund(&number, "", "course cancelled").await), format!("/staff/orders/{number}"));
        assert_eq!(order_state(&mut conn, &number), ("refunded".into(), 8_900));
        assert_eq!(boss.refund(&number, "", "again").await.status(), 409, "nothing left");

        let page = boss.get_html(&format!("/staff/orders/{number}")).await;
        let kinds: Vec<String> = select_all(&page, "tr[data-journal-type] td:nth-child(2)");
        assert_eq!(kinds, vec!["Payment started", "Income", "Refund", "Refund"]);
        assert!(page.contains("revoked"), "access ended with the full refund");
        let invoice = app.get_html(&format!("/orders/{number}")).await;
        assert_eq!(select_all(&invoice, "[data-invoice-balance]"), vec!["$0.00"]);
    }

    async fn a_refund_is_typed_in_money_confirmed_once_and_explained_in_the_journal(app: TestApp) {
        let mut conn = app.db.connect();
        app.student("ada@example.com").await;
        let number = app.bought(&["rust-for-web-developers"], "").await;
        let boss = TestApp::with_client_of(&app);
        boss.staff("boss@example.com").await;
        let page = boss.get_html(&format!("/staff/orders/{number}")).await;
        assert_eq!(select_attr(&page, "#amount", "value"), vec!["89.00"], "prefilled with all that is left");
        let form_id = select_attr(&page, "input[name=request_id]", "value")[0].clone();

        // Sent without confirmation: a page that says what will happen, nothing refunded.
        let asked = boss
            .submit(
                &format!("/staff/orders/{number}/refund"),
                &[("amount", "10.00"), ("reason", "late start"), ("request_id", &form_id)],
            )
            .await;
        assert_eq!(asked.status(), 200);
        let confirm = asked.text().await.unwrap();
        assert_eq!(order_state(&mut conn, &number), ("paid".into(), 0));
        assert!(select_all(&confirm, "[data-refund-confirm] p")[0].contains("Refund $10.00 to ada@example.com"));
        assert!(select_all(&confirm, "[data-refund-confirm] p")[1].contains("keeps access"), "a partial refund keeps access");
        assert_eq!(select_all(&confirm, "[data-refund-confirm] button"), vec!["Refund $10.00"]);
        let hidden = |name: &str| select_attr(&confirm, &format!("input[name={name}]"), "value");
        assert_eq!(hidden("amount"), vec!["10.00"]);
        assert_eq!(hidden("request_id"), vec![form_id.clone()]);
        assert_eq!(hidden("confirm"), vec!["yes"]);

        // Confirmed: exactly 10.00, in minor units; the same form again (a double click) is the same refund.
        let fields = [("amount", "10.00"), ("reason", "late start"), ("request_id", form_id.as_str()), ("confirm", "yes")];
        for _ in 0..2 {
            let done = boss.submit(&format!("/staff/orders/{number}/refund"), &fields).await;
            assert_eq!(location(&done), format!("/staff/orders/{number}"));
        }
        assert_eq!(order_state(&mut conn, &number), ("partially_refunded".into(), 1_000));
        let descriptions: Vec<String> = financial_journals::table
            .filter(financial_journals::type_.eq("refund"))
            .select(financial_journals::description)
            .load(&mut conn)
            .unwrap();
        assert_eq!(descriptions.len(), 1);
        assert!(descriptions[0].contains("$10.00 of $89.00"), "{}", descriptions[0]);
        assert!(descriptions[0].ends_with(": late start"), "the journal says why: {}", descriptions[0]);
        let after = boss.get_html(&format!("/staff/orders/{number}")).await;
        assert_eq!(select_all(&after, "tr[data-journal-type=refund] td:nth-child(4)"), vec!["-$10.00"], "money out is negative");
        assert_eq!(select_all(&after, "[data-order-refunded]"), vec!["-$10.00"]);
        assert_eq!(select_all(&after, "[data-order-remaining]"), vec!["$79.00"]);
        assert_eq!(select_attr(&after, "#amount", "value"), vec!["79.00"], "the rest, prefilled");

        // The rest: the confirmation says access ends.
        let rest = boss
            .submit(&format!("/staff/orders/{number}/refund"), &[("amount", "79"), ("reason", "course cancelled")])
            .await
            .text()
            .await
            .unwrap();
        assert!(select_all(&rest, "[data-refund-confirm] p")[1].contains("access to Rust for Web Developers ends"));
    }

    async fn a_form_s_request_id_keys_the_refund_when_it_is_a_fair_one(app: TestApp) {
        use kasir::db::schema::refund_requests;
        let mut conn = app.db.connect();
        app.student("ada@example.com").await;
        let number = app.bought(&["rust-for-web-developers"], "").await;
        let boss = TestApp::with_client_of(&app);
        boss.staff("boss@example.com").await;
        let refund = |amount: &'static str, reason: String, id: String| {
            let boss = &boss;
            let path = format!("/staff/orders/{number}/refund");
            async move {
                boss.submit(&path, &[("amount", amount), ("reason", &reason), ("request_id", &id), ("confirm", "yes")]).await
            }
        };
        // A reason is up to 500 characters (not bytes).
        assert_eq!(refund("1.00", "é".repeat(501), "form-0001".into()).await.status(), 400);
        assert_eq!(order_state(&mut conn, &number), ("paid".into(), 0));
        assert_eq!(location(&refund("1.00", "é".repeat(500), "form-0001".into()).await), format!("/staff/orders/{number}"));
        // Ids of 8 to 64 letters, digits, '-' or '_' are the form's own;
        // anything else is replaced by what the refund is (order, refunded, amount).
        let (longest, too_long) = ("6".repeat(64), "7".repeat(65));
        for (amount, id) in [("2.00", "form_0002"), ("3.00", "abc1234"), ("4.00", "form 0004 with spaces"), ("5.00", &too_long), ("6.00", &longest)] {
            assert_eq!(refund(amount, "goodwill".into(), id.to_owned()).await.status(), 303, "{id}");
        }
        let keys: Vec<String> = refund_requests::table
            .order(refund_requests::id.asc())
            .select(refund_requests::idempotency_key)
            .load(&mut conn)
            .unwrap();
        let order: i64 = orders::table.filter(orders::number.eq(&number)).select(orders::id).first(&mut conn).unwrap();
        let prefix = format!("{}-order-{order}-refund-", app.installation());
        let tails: Vec<&str> = keys.iter().map(|k| k.strip_prefix(&prefix).unwrap_or(k)).collect();
        assert_eq!(tails, vec!["form-0001", "form_0002", "300-300", "600-400", "1000-500", &longest]);
        assert_eq!(order_state(&mut conn, &number), ("partially_refunded".into(), 2_100));
    }

    async fn the_journal_csv_holds_the_same_rows_and_sums(app: TestApp) {
        let mut conn = app.db.connect();
        app.student("ada@example.com").await;
        let number = app.bought(&["rust-for-web-developers", "modern-javascript"], "").await;
        app.bought(&["ux-design-foundations"], "").await;
        let boss = TestApp::with_client_of(&app);
        boss.staff("boss@example.com").await;
        boss.refund(&number, "12.34", "partial, with \"quotes\", commas").await;

        let response = boss.get("/staff/journal.csv").await;
        assert_eq!(response.status(), 200);
        assert!(response.headers()["content-type"].to_str().unwrap().starts_with("text/csv"));
        let body = response.text().await.unwrap();
        assert!(body.contains("\r\n"), "RFC 4180 line ends");
        let mut reader = csv::Reader::from_reader(body.as_bytes());
        let records: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
        let db_rows: Vec<(i64, i64, String)> = financial_journals::table
            .order(financial_journals::id.asc())
            .select((financial_journals::id, financial_journals::amount_cents, financial_journals::description))
            .load(&mut conn)
            .unwrap();
        assert_eq!(records.len(), db_rows.len());
        for (record, (id, amount, description)) in records.iter().zip(&db_rows) {
            assert_eq!(record[0].parse::<i64>().unwrap(), *id);
            assert_eq!(record[4].parse::<i64>().unwrap(), *amount);
            assert_eq!(&record[8], description, "quotes and commas survive");
        }
        let csv_sum: i64 = records.iter().map(|r| r[4].parse::<i64>().unwrap()).sum();
        assert_eq!(csv_sum, db_rows.iter().map(|r| r.1).sum::<i64>());

        let refunds = boss.get("/staff/journal.csv?type=refund").await.text().await.unwrap();
        assert_eq!(csv::Reader::from_reader(refunds.as_bytes()).records().count(), 1);
        let page = boss.get_html("/staff/journal?type=income").await;
        assert_eq!(select_all(&page, "[data-running]"), vec!["$138.00", "$197.00"], "running net sum");
    }

    async fn the_revenue_recap_matches_a_hand_computed_fixture(app: TestApp) {
        let mut conn = app.db.connect();
        insert_promo(&mut conn, Promo { code: "TEN", ..Promo::default() });
        app.student("ada@example.com").await;
        let a = app.bought(&["rust-for-web-developers"], "ten").await; // 89.00 - 8.90 = 80.10
        let b = app.bought(&["modern-javascript"], "").await; // 49.00, 10.00 refunded
        let c = app.bought(&["postgresql-in-practice"], "").await; // 69.00, fully refunded
        let boss = TestApp::with_client_of(&app);
        boss.staff("boss@example.com").await;
        // Seen once before the refunds: the whole-history recap is then
        // kept up to date by adding only the rows appended since.
        let before = boss.get_html("/staff/reports").await;
        assert_eq!(select_all(&before, "[data-kpi=net]"), vec!["$198.10"]);
        boss.refund(&b, "10.00", "partial").await;
        boss.refund(&c, "", "full").await;
        let _ = a;

        let page = boss.get_html("/staff/reports").await;
        let kpi = |name: &str| select_all(&page, &format!("[data-kpi={name}]"))[0].clone();
        assert_eq!(kpi("gross"), "$198.10");
        assert_eq!(kpi("discounts"), "$8.90");
        assert_eq!(kpi("refunds"), "$79.00");
        assert_eq!(kpi("disputes"), "$0.00");
        assert_eq!(kpi("net"), "$119.10");
        assert_eq!(kpi("orders"), "3");
        let course = select_all(&page, "tr[data-recap=\"Modern JavaScript\"] td");
        assert_eq!(course, vec!["Modern JavaScript", "1", "$49.00", "$0.00", "$10.00", "$0.00", "$39.00"]);
        let promo = select_all(&page, "tr[data-recap=\"TEN\"] td");
        assert_eq!(promo, vec!["TEN", "1", "$80.10", "$8.90", "$0.00", "$0.00", "$80.10"]);
        // 3 x (payment_initiated, income) + 2 refunds.
        assert_eq!(select_all(&page, "[data-chain]"), vec!["journal chain intact (8 rows)"]);
        assert!(page.contains("<svg class=\"chart\""));
        assert_eq!(boss.get("/staff/reports?from=nope").await.status(), 400);
        assert!(select_all(&page, "[data-range]")[0].starts_with("All time"), "the range is stated");
        assert!(select_all(&page, "[data-range]")[0].contains("UTC"), "with its time zone");

        // The recap for the books, as CSV: the same figures in major units.
        let csv_response = boss.get("/staff/reports.csv").await;
        assert_eq!(csv_response.status(), 200);
        assert!(csv_response.headers()["content-disposition"].to_str().unwrap().contains("kasir-recap.csv"));
        let body = csv_response.text().await.unwrap();
        let mut reader = csv::Reader::from_reader(body.as_bytes());
        let records: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
        let row = |section: &str, label: &str| -> Vec<String> {
            records
                .iter()
                .find(|r| &r[0] == section && &r[1] == label)
                .unwrap_or_else(|| panic!("no {section} {label} in {body}"))
                .iter()
                .map(str::to_owned)
                .collect()
        };
        assert_eq!(row("total", "all")[2..], ["3", "198.10", "8.90", "79.00", "0.00", "119.10", "USD", "0.00", "119.10"]);
        assert_eq!(row("course", "Modern JavaScript")[2..], ["1", "49.00", "0.00", "10.00", "0.00", "39.00", "USD", "0.00", "39.00"]);
        assert_eq!(row("promo", "TEN")[7], "80.10");
        assert_eq!(boss.get("/staff/reports.csv?from=nope").await.status(), 400);
        assert_eq!(app.get("/staff/reports.csv").await.status(), 403, "staff only");

        // A date range is applied by the database, on both engines.
        // The days the rows were written on (the test may straddle midnight).
        let days: Vec<chrono::NaiveDateTime> = financial_journals::table
            .order(financial_journals::id.asc())
            .select(financial_journals::created_at)
            .load(&mut conn)
            .unwrap();
        let (first_day, today) = (days[0].date(), days[days.len() - 1].date());
        let (yesterday, tomorrow) = (first_day.pred_opt().unwrap(), today.succ_opt().unwrap());
        let kpi_of = |page: &str, name: &str| select_all(page, &format!("[data-kpi={name}]"))[0].clone();
        let range = boss.get_html(&format!("/staff/reports?from={yesterday}&to={today}")).await;
        assert_eq!(kpi_of(&range, "net"), "$119.10");
        assert!(select_all(&range, "[data-range]")[0].contains("both included; days in UTC"));
        let ranged_csv = boss.get(&format!("/staff/reports.csv?from={yesterday}&to={today}")).await;
        assert!(ranged_csv.headers()["content-disposition"].to_str().unwrap().contains(&format!("kasir-recap-{yesterday}-{today}.csv")));
        // "This month" is one of the presets, and marked when chosen.
        let month_start = today.with_day(1).unwrap();
        let this_month = boss.get_html(&format!("/staff/reports?from={month_start}&to={today}")).await;
        if chrono::Utc::now().date_naive() == today {
            assert_eq!(select_all(&this_month, ".presets [aria-current=page]"), vec!["This month"]);
        }
        if first_day >= month_start {
            assert_eq!(kpi_of(&this_month, "net"), "$119.10");
        }
        assert_eq!(kpi_of(&range, "orders"), "3");
        let later = boss.get_html(&format!("/staff/reports?from={tomorrow}")).await;
        assert_eq!(kpi_of(&later, "gross"), "$0.00");
        assert_eq!(kpi_of(&later, "orders"), "0");
        let earlier = boss.get_html(&format!("/staff/reports?to={yesterday}")).await;
        assert_eq!(kpi_of(&earlier, "gross"), "$0.00");
    }
}

#[actix_web::test]
async fn a_stripe_refund_is_sent_to_the_provider_and_applied_by_its_webhook() {
    let app = TestApp::spawn_stripe(Backend::Sqlite).await;
    let mut conn = app.db.connect();
    app.student("ada@example.com").await;
    app.add_course("rust-for-web-developers").await;
    let pay = location(&app.checkout("").await);
    let number = pay.trim_start_matches("/checkout/").to_owned();
    let intent: String = orders::table
        .filter(orders::number.eq(&number))
        .select(orders::payment_intent_id.assume_not_null())
        .first(&mut conn)
        .unwrap();
    let ls = crate::helpers::localstripe_url();
    let http = reqwest::Client::new();
    crate::helpers::stripe::pay_with_test_card(&intent).await;
    app.get(&format!("{pay}/complete")).await; // fulfils
    assert_eq!(order_state(&mut conn, &number).0, "paid");

    let boss = TestApp::with_client_of(&app);
    boss.staff("boss@example.com").await;
    let response = boss.refund(&number, "25.00", "goodwill").await;
    assert_eq!(location(&response), format!("/staff/orders/{number}"));
    let page = boss.get_html(&format!("/staff/orders/{number}")).await;
    assert!(
        select_all(&page, ".flash-ok")[0].contains("Refund of $25.00 requested"),
        "{:?}",
        select_all(&page, ".flash")
    );
    let charge: serde_json::Value = http
        .get(format!("{ls}/v1/payment_intents/{intent}"))
        .bearer_auth("sk_test_kasir")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let charge_id = charge["latest_charge"]
        .as_str()
        .map(str::to_owned)
        .or_else(|| charge["latest_charge"]["id"].as_str().map(str::to_owned))
        .expect("a charge");
    let charge: serde_json::Value = http
        .get(format!("{ls}/v1/charges/{charge_id}"))
        .bearer_auth("sk_test_kasir")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        charge["amount_refunded"], 2500,
        "the refund reached the provider"
    );
    // The order changes when Stripe's charge.refunded arrives, not before.
    assert_eq!(order_state(&mut conn, &number), ("paid".into(), 0));
    let _ = PASSWORD;
}
