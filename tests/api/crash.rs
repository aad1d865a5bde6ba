//! A server killed (SIGKILL) in the middle of a webhook burst, restarted,
//! and sent the same events again, as Stripe does: every order is paid
//! exactly once, and nothing is half-written.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use diesel::prelude::*;
use kasir::db::schema::{
    courses, financial_journals, order_items, orders, user_courses, users, webhook_events,
};
use kasir::db::{self, DbConnection};
use stripe_webhook::Webhook;

use crate::helpers::events::intent_event;
use crate::helpers::{Backend, TestDb, csrf_from, test_settings};

const ORDERS: usize = 40;
const SECRET_KEY: &str = "crash-test-secret-key-that-is-long-enough-for-the-cookie-signing-1234";

fn start_server(db: &TestDb) -> (Child, u16) {
    start_server_with(db, SECRET_KEY)
}

/// `kasir serve` on `db` (sandbox payments, demo catalog on first start),
/// on a port it picks itself; returns it with the port.
pub fn start_server_with(db: &TestDb, secret_key: &str) -> (Child, u16) {
    spawn_on_own_port(
        Command::new(env!("CARGO_BIN_EXE_kasir"))
            .arg("serve")
            .env("DATABASE_URL", &db.url)
            .env("SECRET_KEY", secret_key)
            .env("JOURNAL_KEY", crate::helpers::TEST_JOURNAL_KEY)
            .env("SIGN_UPS_PER_HOUR", "100000")
            .env("MAIL_DIR", std::env::temp_dir().join("kasir-test-mail"))
            .env(
                "UPLOADS_DIR",
                std::env::temp_dir().join("kasir-test-uploads"),
            ),
    )
}

/// Starts `kasir serve` bound to port 0 and reads the port it got from its
/// "kasir listening" log line. (Picking a free port here and handing it
/// over leaves a window in which another test's process can take it.)
pub fn spawn_on_own_port(command: &mut Command) -> (Child, u16) {
    use std::io::BufRead;
    let mut child = command
        .env("BIND_ADDR", "127.0.0.1:0")
        .env("RUST_LOG", "error,kasir::startup=info")
        .env("NO_COLOR", "1")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start kasir");
    let mut lines = std::io::BufReader::new(child.stderr.take().expect("piped stderr")).lines();
    let port = loop {
        let line = lines
            .next()
            .expect("kasir exited before it listened")
            .expect("kasir's log is text");
        if let Some(port) = listening_port(&line) {
            break port;
        }
    };
    // Keep reading, so that the server never blocks on a full pipe.
    std::thread::spawn(move || lines.for_each(drop));
    (child, port)
}

/// Where to kill is chosen at random; the seed is printed, and
/// `KASIR_CRASH_SEED=<seed>` replays a failing run.
fn seeded_rng() -> rand::rngs::StdRng {
    let seed = std::env::var("KASIR_CRASH_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(rand::random::<u64>);
    eprintln!("crash test seed {seed} (replay with KASIR_CRASH_SEED={seed})");
    rand::SeedableRng::seed_from_u64(seed)
}

/// The port in a "kasir listening address=127.0.0.1:PORT ..." line.
fn listening_port(line: &str) -> Option<u16> {
    if !line.contains("kasir listening") {
        return None;
    }
    let address = line.split("address=").nth(1)?.split_whitespace().next()?;
    address
        .parse::<std::net::SocketAddr>()
        .ok()
        .map(|a| a.port())
}

pub async fn wait_healthy(port: u16) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Ok(response) = reqwest::get(format!("http://127.0.0.1:{port}/healthz")).await
            && response.status().is_success()
        {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "kasir did not come up on port {port}"
        );
        actix_web::rt::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Pending orders with PaymentIntents `pi_crash_<n>`, one student and one course each.
pub fn arrange_orders(conn: &mut DbConnection) -> Vec<(i64, String, i64)> {
    let now = db::now();
    let course_ids: Vec<(i64, String, i64)> = courses::table
        .select((courses::id, courses::title, courses::price_cents))
        .load(conn)
        .unwrap();
    (0..ORDERS)
        .map(|n| {
            let (course, title, price) = course_ids[n % course_ids.len()].clone();
            let intent = format!("pi_crash_{n}");
            let user: i64 = diesel::insert_into(users::table)
                .values((
                    users::email.eq(format!("crash{n}@example.com")),
                    users::password_hash.eq("x"),
                    users::name.eq("Crash"),
                    users::created_at.eq(now),
                    users::updated_at.eq(now),
                ))
                .returning(users::id)
                .get_result(conn)
                .unwrap();
            let order: i64 = diesel::insert_into(orders::table)
                .values((
                    orders::number.eq(format!("INV-CRASH-{n:03}")),
                    orders::user_id.eq(user),
                    orders::subtotal_cents.eq(price),
                    orders::total_cents.eq(price),
                    orders::currency.eq("USD"),
                    orders::provider.eq("stripe"),
                    orders::payment_intent_id.eq(&intent),
                    orders::created_at.eq(now),
                    orders::updated_at.eq(now),
                ))
                .returning(orders::id)
                .get_result(conn)
                .unwrap();
            diesel::insert_into(order_items::table)
                .values((
                    order_items::order_id.eq(order),
                    order_items::course_id.eq(course),
                    order_items::title.eq(title),
                    order_items::unit_price_cents.eq(price),
                    order_items::total_cents.eq(price),
                ))
                .execute(conn)
                .unwrap();
            (order, intent, price)
        })
        .collect()
}

async fn send_all(port: u16, events: &[String], secret: &str) -> Vec<Option<reqwest::StatusCode>> {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    let sends = events.iter().map(|body| {
        let request = client
            .post(format!("http://127.0.0.1:{port}/webhooks/stripe"))
            .header(
                "Stripe-Signature",
                Webhook::generate_test_header(body, secret, None),
            )
            .header("Content-Type", "application/json")
            .body(body.clone());
        async move { request.send().await.ok().map(|r| r.status()) }
    });
    futures_util::future::join_all(sends).await
}

/// SIGKILLs `server` once `reached` holds for the database (checked every
/// millisecond, from a connection of its own; at the latest after 20 s).
async fn kill_when(
    server: &mut Child,
    url: &str,
    reached: impl Fn(&mut DbConnection) -> bool + Send + 'static,
) {
    let url = url.to_owned();
    actix_web::web::block(move || {
        let mut watcher = kasir::db::DatabaseUrl::parse(&url)
            .unwrap()
            .connect()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline && !reached(&mut watcher) {
            std::thread::sleep(Duration::from_millis(1));
        }
    })
    .await
    .unwrap();
    server.kill().expect("SIGKILL");
    server.wait().unwrap();
}

async fn killed_mid_burst_then_redelivered(backend: Backend) {
    let db = TestDb::create(backend);
    // The first start migrates and seeds; then the orders are arranged.
    let (mut server, port) = start_server(&db);
    wait_healthy(port).await;
    let mut conn = db.connect();
    let arranged = arrange_orders(&mut conn);
    let secret = test_settings(&db, &[("SECRET_KEY", SECRET_KEY)]).webhook_secret();
    let events: Vec<String> = arranged
        .iter()
        .enumerate()
        .map(|(n, (order, intent, amount))| {
            intent_event(
                &format!("evt_crash_{n}"),
                "payment_intent.succeeded",
                intent,
                *amount,
                *order,
                None,
            )
        })
        .collect();

    let burst = send_all(port, &events, &secret);
    // Kill it at a random point of the burst: the rest are then mid-flight
    // (in the socket, in a transaction, or not yet read).
    let kill_after = rand::Rng::gen_range(&mut seeded_rng(), 1..=ORDERS as i64 / 2);
    eprintln!("{backend:?}: SIGKILL once {kill_after} events are processed");
    let kill = kill_when(&mut server, &db.url, move |conn| {
        webhook_events::table
            .filter(webhook_events::processed_at.is_not_null())
            .count()
            .get_result::<i64>(conn)
            .is_ok_and(|done| done >= kill_after)
    });
    let (first_try, ()) = futures_util::join!(burst, kill);
    let lost = first_try
        .iter()
        .filter(|s| s.is_none_or(|s| !s.is_success()))
        .count();
    eprintln!("{backend:?}: {lost} of {ORDERS} deliveries were cut off by the kill");
    let paid_before: i64 = orders::table
        .filter(orders::status.eq("paid"))
        .count()
        .get_result(&mut conn)
        .unwrap();
    let income_before: i64 = financial_journals::table
        .filter(financial_journals::type_.eq("income"))
        .count()
        .get_result(&mut conn)
        .unwrap();
    assert_eq!(
        paid_before, income_before,
        "no order paid without its income row, or the reverse"
    );

    // Restart and redeliver everything, as Stripe's retries would.
    let (mut server, port) = start_server(&db);
    wait_healthy(port).await;
    let second_try = send_all(port, &events, &secret).await;
    server.kill().unwrap();
    server.wait().unwrap();
    assert!(
        second_try.iter().all(|s| s.is_some_and(|s| s.is_success())),
        "every redelivery is acknowledged: {second_try:?}"
    );

    let paid: i64 = orders::table
        .filter(orders::status.eq("paid"))
        .count()
        .get_result(&mut conn)
        .unwrap();
    let income: Vec<Option<i64>> = financial_journals::table
        .filter(financial_journals::type_.eq("income"))
        .select(financial_journals::reference_id)
        .load(&mut conn)
        .unwrap();
    let grants: i64 = user_courses::table.count().get_result(&mut conn).unwrap();
    let processed: i64 = webhook_events::table
        .filter(webhook_events::processed_at.is_not_null())
        .count()
        .get_result(&mut conn)
        .unwrap();
    let mut income_orders: Vec<i64> = income.into_iter().flatten().collect();
    let income_rows = income_orders.len();
    income_orders.sort();
    income_orders.dedup();
    assert_eq!(paid as usize, ORDERS, "every order paid");
    assert_eq!(income_rows, ORDERS, "one income row per order, none twice");
    assert_eq!(income_orders.len(), ORDERS, "an income row for every order");
    assert_eq!(grants as usize, ORDERS, "one grant per order, none twice");
    assert_eq!(processed as usize, ORDERS);
}

#[actix_web::test]
async fn a_server_killed_mid_burst_loses_and_doubles_nothing_on_sqlite() {
    killed_mid_burst_then_redelivered(Backend::Sqlite).await;
}

#[actix_web::test]
async fn a_server_killed_mid_burst_loses_and_doubles_nothing_on_postgres() {
    killed_mid_burst_then_redelivered(Backend::Postgres).await;
}

/// Checkouts (orders, promo reservations, PaymentIntents) cut off by a
/// SIGKILL, then tried again after a restart: no order without its lines,
/// no promo use counted that is not held, one open order per student.
async fn killed_mid_checkout_burst_then_retried(backend: Backend) {
    use crate::helpers::PASSWORD;
    use crate::helpers::shop::{Promo, course_id, insert_promo};
    use crate::instances::Browser;
    use kasir::db::schema::{promo_codes, promo_redemptions};

    const STUDENTS: usize = 16;
    let db = TestDb::create(backend);
    let (mut server, port) = start_server(&db);
    wait_healthy(port).await;
    let mut conn = db.connect();
    insert_promo(
        &mut conn,
        Promo {
            code: "FIVE",
            max_redemptions: Some(5),
            ..Promo::default()
        },
    );
    let slugs = [
        "rust-for-web-developers",
        "modern-javascript",
        "postgresql-in-practice",
    ];
    let courses: Vec<String> = slugs
        .iter()
        .map(|s| course_id(&mut conn, s).to_string())
        .collect();
    let mut browsers = Vec::new();
    for n in 0..STUDENTS {
        let browser = Browser::new(port);
        let email = format!("buyer{n}@example.com");
        let registered = browser
            .submit(
                "/register",
                &[("email", &email), ("name", "Buyer"), ("password", PASSWORD)],
            )
            .await;
        assert_eq!(registered.status(), 303);
        for course in &courses[..1 + n % 3] {
            assert_eq!(
                browser
                    .submit("/cart/items", &[("course_id", course)])
                    .await
                    .status(),
                303
            );
        }
        browsers.push(browser);
    }

    // Everyone checks out at once; the server dies at a random point. (The
    // burst makes at most five orders: the code's uses; the others are
    // refused it and sent back to their carts.)
    let kill_after = rand::Rng::gen_range(&mut seeded_rng(), 1..=4);
    eprintln!("{backend:?}: SIGKILL once {kill_after} orders exist");
    // The tokens first: the kill may only cut the checkouts themselves.
    let mut tokens = Vec::new();
    for browser in &browsers {
        tokens.push(csrf_from(&browser.get("/").await.text().await.unwrap()));
    }
    let burst = futures_util::future::join_all(browsers.iter().zip(&tokens).map(
        |(browser, token)| async move {
            browser
                .client
                .post(format!("{}/checkout", browser.base))
                .form(&[("promo_code", "FIVE"), ("csrf_token", token)])
                .send()
                .await
                .ok()
                .map(|r| r.status())
        },
    ));
    let kill = kill_when(&mut server, &db.url, move |conn| {
        orders::table
            .count()
            .get_result::<i64>(conn)
            .is_ok_and(|placed| placed >= kill_after)
    });
    let (first_try, ()) = futures_util::join!(burst, kill);
    let cut = first_try
        .iter()
        .filter(|s| s.is_none_or(|s| !s.is_redirection()))
        .count();
    eprintln!("{backend:?}: {cut} of {STUDENTS} checkouts were cut off by the kill");

    // Restart; everyone who has no payment page yet tries again.
    let (mut server, port) = start_server(&db);
    wait_healthy(port).await;
    for browser in &browsers {
        let browser = browser.on(port);
        let answer = browser.submit("/checkout", &[("promo_code", "FIVE")]).await;
        let to = answer
            .headers()
            .get("location")
            .and_then(|l| l.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        let to = if to == "/cart" {
            // The code ran out: full price.
            browser
                .submit("/checkout", &[("promo_code", "")])
                .await
                .headers()["location"]
                .to_str()
                .unwrap()
                .to_owned()
        } else {
            to
        };
        assert!(to.starts_with("/checkout/ORD-"), "{to}");
        assert_eq!(
            browser.get(&to).await.status(),
            200,
            "the payment page opens"
        );
    }
    server.kill().unwrap();
    server.wait().unwrap();

    // No partial rows: every order has its lines, and its totals add up.
    let all: Vec<(i64, i64, String, i64, i64)> = orders::table
        .select((
            orders::id,
            orders::user_id,
            orders::status,
            orders::subtotal_cents,
            orders::total_cents,
        ))
        .load(&mut conn)
        .unwrap();
    for (order, _, _, subtotal, _) in &all {
        let lines: Vec<i64> = order_items::table
            .filter(order_items::order_id.eq(order))
            .select(order_items::unit_price_cents)
            .load(&mut conn)
            .unwrap();
        assert!(!lines.is_empty(), "order {order} has no lines");
        assert_eq!(lines.iter().sum::<i64>(), *subtotal, "order {order}");
    }
    // One open order per student, each with its PaymentIntent.
    let open: Vec<&(i64, i64, String, i64, i64)> =
        all.iter().filter(|o| o.2 == "pending").collect();
    assert_eq!(open.len(), STUDENTS, "{all:?}");
    let mut owners: Vec<i64> = open.iter().map(|o| o.1).collect();
    owners.sort();
    owners.dedup();
    assert_eq!(owners.len(), STUDENTS);
    let without_intent: i64 = orders::table
        .filter(orders::status.eq("pending"))
        .filter(orders::payment_intent_id.is_null())
        .count()
        .get_result(&mut conn)
        .unwrap();
    assert_eq!(without_intent, 0);
    // The promo counts exactly the uses held, never more than five.
    let (promo, reserved): (i64, i64) = promo_codes::table
        .filter(promo_codes::code.eq("FIVE"))
        .select((promo_codes::id, promo_codes::reserved_count))
        .first(&mut conn)
        .unwrap();
    let held: i64 = promo_redemptions::table
        .filter(promo_redemptions::promo_code_id.eq(promo))
        .filter(promo_redemptions::status.ne("released"))
        .count()
        .get_result(&mut conn)
        .unwrap();
    assert_eq!(held, reserved);
    assert!(held <= 5);
    let journal = crate::helpers::seal_and_verify(&mut conn);
    assert!(
        matches!(
            journal,
            kasir::services::journal::ChainVerdict::Intact { .. }
        ),
        "{journal}"
    );
}

#[actix_web::test]
async fn a_server_killed_mid_checkout_burst_leaves_no_partial_orders_on_sqlite() {
    killed_mid_checkout_burst_then_retried(Backend::Sqlite).await;
}

#[actix_web::test]
async fn a_server_killed_mid_checkout_burst_leaves_no_partial_orders_on_postgres() {
    killed_mid_checkout_burst_then_retried(Backend::Postgres).await;
}
