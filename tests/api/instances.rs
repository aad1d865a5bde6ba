//! Real `kasir serve` processes: two instances on one PostgreSQL database
//! (checkouts, a promo race, duplicate webhooks and return-page visits
//! spread over both; sessions and the login throttle shared), and a SQLite
//! database whose write lock another process holds.

use std::process::Child;
use std::time::{Duration, Instant};

use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use kasir::db::schema::{financial_journals, orders, promo_codes, promo_redemptions};
use kasir::services::journal::ChainVerdict;
use stripe_webhook::Webhook;

use crate::crash::{start_server_with, wait_healthy};
use crate::helpers::events::intent_event;
use crate::helpers::shop::{Promo, course_id, insert_promo};
use crate::helpers::{Backend, PASSWORD, TestDb, csrf_from, location, navbar_user, test_settings};

const SECRET_KEY: &str = "two-instances-secret-key-long-enough-for-cookie-signing-0123456789";

/// A browser talking to one instance; `on` points the same cookies at another.
#[derive(Clone)]
pub struct Browser {
    pub client: reqwest::Client,
    pub base: String,
}

impl Browser {
    pub fn new(port: u16) -> Self {
        Self {
            client: reqwest::Client::builder()
                .cookie_store(true)
                .redirect(reqwest::redirect::Policy::none())
                .timeout(Duration::from_secs(30))
                .build()
                .unwrap(),
            base: format!("http://127.0.0.1:{port}"),
        }
    }

    pub fn on(&self, port: u16) -> Self {
        Self {
            client: self.client.clone(),
            base: format!("http://127.0.0.1:{port}"),
        }
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client
            .get(format!("{}{path}", self.base))
            .send()
            .await
            .unwrap()
    }

    pub async fn submit(&self, path: &str, form: &[(&str, &str)]) -> reqwest::Response {
        let token = csrf_from(&self.get("/").await.text().await.unwrap());
        let mut fields = form.to_vec();
        fields.push(("csrf_token", &token));
        self.client
            .post(format!("{}{path}", self.base))
            .form(&fields)
            .send()
            .await
            .unwrap()
    }
}

struct Instances {
    servers: Vec<Child>,
    ports: Vec<u16>,
}

impl Instances {
    async fn start(db: &TestDb, count: usize) -> Self {
        // Started together on the empty database: migrations take turns.
        let (servers, ports): (Vec<Child>, Vec<u16>) = (0..count)
            .map(|_| start_server_with(db, SECRET_KEY))
            .unzip();
        for &port in &ports {
            wait_healthy(port).await;
        }
        Self { servers, ports }
    }
}

impl Drop for Instances {
    fn drop(&mut self) {
        for server in &mut self.servers {
            let _ = server.kill();
            let _ = server.wait();
        }
    }
}

#[actix_web::test]
async fn two_instances_share_one_postgres_database_and_keep_the_invariants() {
    let db = TestDb::create(Backend::Postgres);
    let cluster = Instances::start(&db, 2).await;
    let (a, b) = (cluster.ports[0], cluster.ports[1]);
    let mut conn = db.connect();
    insert_promo(
        &mut conn,
        Promo {
            code: "LAUNCH",
            max_redemptions: Some(3),
            ..Promo::default()
        },
    );
    let course = course_id(&mut conn, "rust-for-web-developers").to_string();

    // Eight students, registered on alternating instances; their cookie
    // sessions work on the other one too.
    const STUDENTS: usize = 8;
    let mut browsers = Vec::new();
    for n in 0..STUDENTS {
        let (home, other) = if n % 2 == 0 { (a, b) } else { (b, a) };
        let browser = Browser::new(home);
        let email = format!("student{n}@example.com");
        let registered = browser
            .submit(
                "/register",
                &[
                    ("email", &email),
                    ("name", &format!("Student {n}")),
                    ("password", PASSWORD),
                ],
            )
            .await;
        assert_eq!(registered.status(), 303, "register {email}");
        let elsewhere = browser.on(other).get("/").await.text().await.unwrap();
        assert_eq!(
            navbar_user(&elsewhere).as_deref(),
            Some(format!("Student {n}").as_str())
        );
        assert_eq!(
            browser
                .on(other)
                .submit("/cart/items", &[("course_id", &course)])
                .await
                .status(),
            303
        );
        browsers.push((browser, home, other));
    }

    // All check out at once with the 3-use code, half on each instance.
    let checkouts = browsers.iter().map(|(browser, _, other)| async move {
        let response = browser
            .on(*other)
            .submit("/checkout", &[("promo_code", "LAUNCH")])
            .await;
        let to = location(&response);
        if to == "/cart" {
            // Refused (the code ran out): pay full price instead.
            location(
                &browser
                    .on(*other)
                    .submit("/checkout", &[("promo_code", "")])
                    .await,
            )
        } else {
            to
        }
    });
    let pay_pages: Vec<String> = futures_util::future::join_all(checkouts).await;
    assert!(
        pay_pages.iter().all(|p| p.starts_with("/checkout/ORD-")),
        "{pay_pages:?}"
    );

    // Each order is paid on one instance while the same succeeded event is
    // delivered twice to each instance and the return page is hit on both.
    let secret = test_settings(&db, &[("SECRET_KEY", SECRET_KEY)]).webhook_secret();
    let hooks = reqwest::Client::new();
    let mut work = Vec::new();
    for ((browser, home, other), pay) in browsers.iter().zip(&pay_pages) {
        let number = pay.trim_start_matches("/checkout/").to_owned();
        // The sandbox creates the PaymentIntent when the payment page opens.
        assert_eq!(browser.on(*home).get(pay).await.status(), 200);
        let (order, intent, total): (i64, String, i64) = orders::table
            .filter(orders::number.eq(&number))
            .select((
                orders::id,
                orders::payment_intent_id.assume_not_null(),
                orders::total_cents,
            ))
            .first(&mut conn)
            .unwrap();
        let body = intent_event(
            &format!("evt_twin_{order}"),
            "payment_intent.succeeded",
            &intent,
            total,
            order,
            None,
        );
        let pay_now = {
            let browser = browser.on(*home);
            let pay = pay.clone();
            async move {
                let paid = browser
                    .submit(
                        &format!("{pay}/sandbox"),
                        &[
                            ("card_number", "4242424242424242"),
                            ("expiry", "12/40"),
                            ("cvc", "123"),
                        ],
                    )
                    .await;
                assert!(
                    location(&paid).ends_with("/complete"),
                    "{}",
                    location(&paid)
                );
            }
        };
        work.push(Box::pin(pay_now) as std::pin::Pin<Box<dyn std::future::Future<Output = ()>>>);
        for port in [a, b, a, b] {
            let request = hooks
                .post(format!("http://127.0.0.1:{port}/webhooks/stripe"))
                .header(
                    "Stripe-Signature",
                    Webhook::generate_test_header(&body, &secret, None),
                )
                .header("Content-Type", "application/json")
                .body(body.clone());
            work.push(Box::pin(async move {
                let status = request.send().await.unwrap().status();
                assert!(status.is_success(), "webhook answered {status}");
            }));
        }
        for port in [*home, *other] {
            let complete = browser.on(port);
            let path = format!("{pay}/complete");
            work.push(Box::pin(async move {
                assert_eq!(complete.get(&path).await.status(), 200);
            }));
        }
    }
    futures_util::future::join_all(work).await;

    // Every order paid once, with one income row; the promo held to 3 uses.
    let paid: Vec<(i64, i64)> = orders::table
        .filter(orders::status.eq("paid"))
        .select((orders::id, orders::total_cents))
        .load(&mut conn)
        .unwrap();
    assert_eq!(paid.len(), STUDENTS);
    // Paid at once on two instances, the invoices are numbered 1..=8 in
    // each year they were paid in: none shared, none skipped.
    let invoices: Vec<(chrono::NaiveDateTime, String)> = orders::table
        .filter(orders::status.eq("paid"))
        .select((
            orders::paid_at.assume_not_null(),
            orders::invoice_number.assume_not_null(),
        ))
        .load(&mut conn)
        .unwrap();
    let mut by_year: std::collections::BTreeMap<String, Vec<String>> = Default::default();
    for (paid_at, number) in invoices {
        by_year
            .entry(paid_at.format("%Y").to_string())
            .or_default()
            .push(number);
    }
    for (year, mut numbers) in by_year {
        numbers.sort();
        let expected: Vec<String> = (1..=numbers.len())
            .map(|n| format!("INV-{year}-{n:06}"))
            .collect();
        assert_eq!(numbers, expected, "gap-free and unique");
    }
    let incomes: Vec<(Option<i64>, i64)> = financial_journals::table
        .filter(financial_journals::type_.eq("income"))
        .select((
            financial_journals::reference_id,
            financial_journals::amount_cents,
        ))
        .load(&mut conn)
        .unwrap();
    assert_eq!(incomes.len(), STUDENTS, "one income row per order");
    for (order, total) in &paid {
        assert_eq!(
            incomes
                .iter()
                .filter(|(id, _)| *id == Some(*order))
                .map(|(_, a)| a)
                .collect::<Vec<_>>(),
            vec![total]
        );
    }
    let (promo, reserved): (i64, i64) = promo_codes::table
        .filter(promo_codes::code.eq("LAUNCH"))
        .select((promo_codes::id, promo_codes::reserved_count))
        .first(&mut conn)
        .unwrap();
    let redeemed: i64 = promo_redemptions::table
        .filter(promo_redemptions::promo_code_id.eq(promo))
        .filter(promo_redemptions::status.eq("redeemed"))
        .count()
        .get_result(&mut conn)
        .unwrap();
    assert_eq!(
        (redeemed, reserved),
        (3, 3),
        "exactly the three uses the code has"
    );
    assert!(matches!(
        crate::helpers::seal_and_verify(&mut conn),
        ChainVerdict::Intact { .. }
    ));
}

#[actix_web::test]
async fn brute_force_logins_spread_over_two_instances_are_throttled() {
    let db = TestDb::create(Backend::Postgres);
    let cluster = Instances::start(&db, 2).await;
    let (a, b) = (cluster.ports[0], cluster.ports[1]);
    let owner = Browser::new(a);
    let registered = owner
        .submit(
            "/register",
            &[
                ("email", "ada@example.com"),
                ("name", "Ada"),
                ("password", PASSWORD),
            ],
        )
        .await;
    assert_eq!(registered.status(), 303);

    let attacker = Browser::new(a);
    let mut statuses = Vec::new();
    for n in 0..6 {
        let port = if n % 2 == 0 { a } else { b };
        let answer = attacker
            .on(port)
            .submit(
                "/login",
                &[
                    ("email", "ada@example.com"),
                    ("password", &format!("guess-{n}")),
                ],
            )
            .await;
        statuses.push(answer.status().as_u16());
    }
    assert_eq!(&statuses[..5], &[401; 5], "{statuses:?}");
    assert_eq!(
        statuses[5], 429,
        "the sixth try is refused, whichever instance gets it"
    );
    // Even the right password waits now, on both.
    for port in [a, b] {
        let answer = attacker
            .on(port)
            .submit(
                "/login",
                &[("email", "ada@example.com"), ("password", PASSWORD)],
            )
            .await;
        assert_eq!(answer.status(), 429);
        assert!(answer.headers().contains_key("retry-after"));
    }
}

#[actix_web::test]
async fn a_sqlite_write_lock_held_elsewhere_gives_503_then_redelivery_succeeds() {
    let db = TestDb::create(Backend::Sqlite);
    let cluster = Instances::start(&db, 1).await;
    let port = cluster.ports[0];
    let mut conn = db.connect();
    let (order, intent, total) = crate::crash::arrange_orders(&mut conn).remove(0);
    let secret = test_settings(&db, &[("SECRET_KEY", SECRET_KEY)]).webhook_secret();
    let body = intent_event(
        "evt_locked",
        "payment_intent.succeeded",
        &intent,
        total,
        order,
        None,
    );
    let deliver = || async {
        reqwest::Client::new()
            .post(format!("http://127.0.0.1:{port}/webhooks/stripe"))
            .header(
                "Stripe-Signature",
                Webhook::generate_test_header(&body, &secret, None),
            )
            .header("Content-Type", "application/json")
            .body(body.clone())
            .send()
            .await
            .unwrap()
    };

    // Another process (here: another connection) holds the write lock.
    let mut holder = db.connect();
    holder.batch_execute("BEGIN IMMEDIATE").unwrap();
    let started = Instant::now();
    let refused = deliver().await;
    let waited = started.elapsed();
    assert!(refused.status().is_server_error(), "{}", refused.status());
    assert_eq!(
        refused.status(),
        503,
        "busy, not broken: Stripe delivers again"
    );
    assert!(
        waited >= Duration::from_secs(4),
        "it waited for the lock first ({waited:?})"
    );
    assert!(
        waited < Duration::from_secs(15),
        "and not forever ({waited:?})"
    );
    holder.batch_execute("ROLLBACK").unwrap();

    let paid: Option<String> = orders::table
        .find(order)
        .select(orders::status)
        .first::<String>(&mut conn)
        .ok();
    assert_eq!(
        paid.as_deref(),
        Some("pending"),
        "nothing half-done while the lock was held"
    );
    let accepted = deliver().await;
    assert_eq!(accepted.status(), 200);
    let status: String = orders::table
        .find(order)
        .select(orders::status)
        .first(&mut conn)
        .unwrap();
    assert_eq!(status, "paid");
    let incomes: i64 = financial_journals::table
        .filter(financial_journals::type_.eq("income"))
        .count()
        .get_result(&mut conn)
        .unwrap();
    assert_eq!(incomes, 1);
}

/// Registers Ada through `browser`: her session cookie, to replay on
/// another instance.
async fn register_ada(browser: &Browser) -> String {
    let registered = browser
        .submit(
            "/register",
            &[
                ("email", "ada@example.com"),
                ("name", "Ada"),
                ("password", PASSWORD),
            ],
        )
        .await;
    assert_eq!(registered.status(), 303);
    registered
        .headers()
        .get_all(reqwest::header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok()?.split(';').next().map(str::to_owned))
        .collect::<Vec<_>>()
        .join("; ")
}

/// Each instance keeps the session's user for a second: a logout on one
/// ends the session on the other once that second is over, and on the
/// instance that logged out at once.
#[actix_web::test]
async fn a_logout_on_one_instance_ends_the_session_on_the_other_within_a_second() {
    let db = TestDb::create(Backend::Postgres);
    let cluster = Instances::start(&db, 2).await;
    let (a, b) = (cluster.ports[0], cluster.ports[1]);
    let ada = Browser::new(a);
    let stolen = register_ada(&ada).await;
    let replay = |port: u16| {
        let cookie = stolen.clone();
        async move {
            let page = Browser::new(port)
                .client
                .get(format!("http://127.0.0.1:{port}/"))
                .header(reqwest::header::COOKIE, cookie)
                .send()
                .await
                .unwrap();
            navbar_user(&page.text().await.unwrap())
        }
    };
    // Both instances know her (and now hold her in their caches).
    assert_eq!(replay(a).await.as_deref(), Some("Ada"));
    assert_eq!(replay(b).await.as_deref(), Some("Ada"));

    let logged_out = ada.submit("/logout", &[]).await;
    assert_eq!(logged_out.status(), 303);
    assert_eq!(
        replay(a).await,
        None,
        "the instance that logged out forgets her at once"
    );
    tokio::time::sleep(Duration::from_millis(1_200)).await;
    assert_eq!(replay(b).await, None, "the other instance within a second");
}

/// The cart page shows billing details kept with the session's user: saved
/// on one instance, they show there at once and on the other within a
/// second (a checkout reads them from the database either way).
#[actix_web::test]
async fn billing_details_saved_on_one_instance_show_on_the_other_within_a_second() {
    let db = TestDb::create(Backend::Postgres);
    let cluster = Instances::start(&db, 2).await;
    let (a, b) = (cluster.ports[0], cluster.ports[1]);
    let on_a = Browser::new(a);
    let cookie = register_ada(&on_a).await;
    let company_on = |port: u16| {
        let cookie = cookie.clone();
        async move {
            let page = Browser::new(port)
                .client
                .get(format!("http://127.0.0.1:{port}/cart"))
                .header(reqwest::header::COOKIE, cookie)
                .send()
                .await
                .unwrap();
            crate::helpers::select_attr(&page.text().await.unwrap(), "#company", "value")
        }
    };
    let course = course_id(&mut db.connect(), "rust-for-web-developers").to_string();
    let added = on_a.submit("/cart/items", &[("course_id", &course)]).await;
    assert_eq!(added.status(), 303);
    // Both instances hold her, with no details yet.
    assert_eq!(company_on(a).await, vec![""]);
    assert_eq!(company_on(b).await, vec![""]);

    let saved = on_a
        .submit(
            "/cart/billing",
            &[("company", "Acme GmbH"), ("address", ""), ("tax_id", "")],
        )
        .await;
    assert_eq!(saved.status(), 303);
    assert_eq!(
        company_on(a).await,
        vec!["Acme GmbH"],
        "at once where saved"
    );
    tokio::time::sleep(Duration::from_millis(1_200)).await;
    assert_eq!(
        company_on(b).await,
        vec!["Acme GmbH"],
        "within a second elsewhere"
    );
}
