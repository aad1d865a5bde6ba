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

use crate::helpers::{Backend, TestDb, test_settings};

const ORDERS: usize = 40;
const SECRET_KEY: &str = "crash-test-secret-key-that-is-long-enough-for-the-cookie-signing-1234";

fn start_server(db: &TestDb, port: u16) -> Child {
    start_server_with(db, port, SECRET_KEY)
}

/// `kasir serve` on `db` (sandbox payments, demo catalog on first start).
pub fn start_server_with(db: &TestDb, port: u16, secret_key: &str) -> Child {
    Command::new(env!("CARGO_BIN_EXE_kasir"))
        .arg("serve")
        .env("DATABASE_URL", &db.url)
        .env("BIND_ADDR", format!("127.0.0.1:{port}"))
        .env("SECRET_KEY", secret_key)
        .env("RUST_LOG", "error")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start kasir")
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

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
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

fn event(n: usize, order: i64, intent: &str, amount: i64) -> String {
    serde_json::json!({
        "id": format!("evt_crash_{n}"), "object": "event", "type": "payment_intent.succeeded",
        "data": { "object": { "id": intent, "object": "payment_intent", "amount": amount, "currency": "usd",
            "status": "succeeded", "metadata": { "order_id": order.to_string() } } }
    })
    .to_string()
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

async fn killed_mid_burst_then_redelivered(backend: Backend) {
    let db = TestDb::create(backend);
    // The first start migrates and seeds; then the orders are arranged.
    let port = free_port();
    let mut server = start_server(&db, port);
    wait_healthy(port).await;
    let mut conn = db.connect();
    let arranged = arrange_orders(&mut conn);
    let secret = test_settings(&db, &[("SECRET_KEY", SECRET_KEY)]).webhook_secret();
    let events: Vec<String> = arranged
        .iter()
        .enumerate()
        .map(|(n, (order, intent, amount))| event(n, *order, intent, *amount))
        .collect();

    let burst = send_all(port, &events, &secret);
    // Kill it as soon as the first events are through: the rest are then
    // mid-flight (in the socket, in a transaction, or not yet read).
    let url = db.url.clone();
    let kill = async {
        actix_web::web::block(move || {
            let mut watcher = kasir::db::DatabaseUrl::parse(&url)
                .unwrap()
                .connect()
                .unwrap();
            let deadline = Instant::now() + Duration::from_secs(20);
            while Instant::now() < deadline {
                let done: i64 = webhook_events::table
                    .filter(webhook_events::processed_at.is_not_null())
                    .count()
                    .get_result(&mut watcher)
                    .unwrap_or(0);
                if done >= 3 {
                    break;
                }
                std::thread::sleep(Duration::from_millis(1));
            }
        })
        .await
        .unwrap();
        server.kill().expect("SIGKILL");
        server.wait().unwrap();
    };
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
    let port = free_port();
    let mut server = start_server(&db, port);
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
    income_orders.sort();
    income_orders.dedup();
    assert_eq!(paid as usize, ORDERS, "every order paid");
    assert_eq!(
        income_orders.len(),
        ORDERS,
        "one income row per order, none twice"
    );
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
