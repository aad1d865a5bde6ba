//! The Stripe provider against localstripe, a stateful fake Stripe server,
//! behind a proxy that holds every request to today's API as stripe-python
//! defines it (`tests/stripe/stripe_today.py`).

use std::collections::BTreeSet;

use crate::helpers::shop::{all_orders, journal_kinds};
use crate::helpers::{
    Backend, StripeToday, TestApp, localstripe_url, location, select_all, stripe_overrides,
};

use crate::helpers::stripe::{SECRET, pay_with_test_card, pay_with_test_card_at};

async fn stripe_get(path: &str) -> serde_json::Value {
    reqwest::Client::new()
        .get(format!("{}{path}", localstripe_url()))
        .bearer_auth(SECRET)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

/// The Stripe Customer stored on the student.
fn stripe_customer_of(conn: &mut kasir::db::DbConnection, email: &str) -> Option<String> {
    use diesel::prelude::*;
    use kasir::db::schema::users;
    users::table
        .filter(users::email.eq(email))
        .select(users::stripe_customer_id)
        .first(conn)
        .unwrap()
}

#[actix_web::test]
async fn the_payment_intent_carries_the_orders_amount_currency_and_ids() {
    let app = TestApp::spawn_stripe(Backend::Sqlite).await;
    let mut conn = app.db.connect();
    app.student("ada@example.com").await;
    app.add_course("rust-for-web-developers").await;
    app.add_course("modern-javascript").await;
    let response = app.checkout("").await;
    let order = &all_orders(&mut conn)[0];
    assert_eq!(location(&response), format!("/checkout/{}", order.number));
    assert_eq!(order.provider, "stripe");
    let intent_id = order
        .payment_intent_id
        .clone()
        .expect("PaymentIntent stored on the order");
    assert!(intent_id.starts_with("pi_"), "{intent_id}");

    let intent = stripe_get(&format!("/v1/payment_intents/{intent_id}")).await;
    assert_eq!(intent["amount"], 13_800);
    assert_eq!(intent["currency"], "usd");
    assert_eq!(intent["metadata"]["kasir_order_id"], order.id.to_string());
    assert_eq!(
        intent["metadata"]["kasir_order_number"],
        order.number.as_str()
    );

    let journal = journal_kinds(&mut conn, order.id);
    assert_eq!(journal.len(), 1);
    assert_eq!(journal[0].0, "payment_initiated");
    let raw: serde_json::Value = serde_json::from_str(&journal[0].2).unwrap();
    assert_eq!(
        raw["id"],
        intent_id.as_str(),
        "the provider's response is kept"
    );
    assert_eq!(raw["object"], "payment_intent");
    // For the student's Customer, made at the first checkout and kept.
    let customer = stripe_customer_of(&mut conn, "ada@example.com")
        .expect("the Customer is stored on the student");
    assert!(customer.starts_with("cus_"), "{customer}");
    assert_eq!(intent["customer"], customer.as_str());

    // The payment page hands the Payment Element what it needs, and
    // nothing that would let the browser set the amount.
    let page = app.get_html(&location(&response)).await;
    let secret = intent["client_secret"].as_str().unwrap();
    assert!(page.contains(&format!(r#"data-client-secret="{secret}""#)));
    assert!(page.contains(r#"data-stripe-key="pk_test_kasir""#));
    assert!(page.contains(&format!(
        r#"<script src="{}/js.stripe.com/v3/"></script>"#,
        localstripe_url()
    )));
}

#[actix_web::test]
async fn checking_out_again_creates_no_second_payment_intent() {
    let app = TestApp::spawn_stripe(Backend::Postgres).await;
    let mut conn = app.db.connect();
    app.student("ada@example.com").await;
    app.add_course("rust-for-web-developers").await;
    let first = app.checkout("").await;
    let intent = all_orders(&mut conn)[0].payment_intent_id.clone();
    let second = app.checkout("").await;
    app.get(&location(&second)).await;
    assert_eq!(location(&first), location(&second));
    let orders = all_orders(&mut conn);
    assert_eq!(orders.len(), 1);
    assert_eq!(orders[0].payment_intent_id, intent);
    assert_eq!(journal_kinds(&mut conn, orders[0].id).len(), 1);
}

#[actix_web::test]
async fn a_customer_stripe_does_not_know_is_replaced_at_checkout() {
    use diesel::prelude::*;
    use kasir::db::schema::users;
    let app = TestApp::spawn_stripe(Backend::Sqlite).await;
    let mut conn = app.db.connect();
    app.student("ada@example.com").await;
    // Made with the other mode's keys (test keys swapped for live ones).
    diesel::update(users::table.filter(users::email.eq("ada@example.com")))
        .set(users::stripe_customer_id.eq("cus_of_the_other_mode"))
        .execute(&mut conn)
        .unwrap();
    app.add_course("rust-for-web-developers").await;
    let placed = app.checkout("").await;
    assert!(
        location(&placed).starts_with("/checkout/ORD-"),
        "{placed:?}"
    );
    let stored =
        stripe_customer_of(&mut conn, "ada@example.com").expect("a new Customer is stored");
    assert!(
        stored.starts_with("cus_") && stored != "cus_of_the_other_mode",
        "{stored}"
    );
    let intent_id = all_orders(&mut conn)[0].payment_intent_id.clone().unwrap();
    let intent = stripe_get(&format!("/v1/payment_intents/{intent_id}")).await;
    assert_eq!(intent["customer"], stored.as_str());
}

#[actix_web::test]
async fn an_older_order_paid_meanwhile_is_fulfilled_when_the_cart_is_checked_out_again() {
    let app = TestApp::spawn_stripe(Backend::Sqlite).await;
    let mut conn = app.db.connect();
    app.student("ada@example.com").await;
    app.add_course("postgresql-in-practice").await;
    app.checkout("").await;
    let first = all_orders(&mut conn).remove(0);
    // Paid in another tab; the webhook has not come yet.
    let intent_id = first.payment_intent_id.clone().unwrap();
    assert_eq!(pay_with_test_card(&intent_id).await["status"], "succeeded");

    // A course more, and checkout again: the older order's intent cannot
    // be canceled any more, so it is fulfilled, and the new order is for
    // the course not yet paid.
    app.add_course("rust-for-web-developers").await;
    let placed = app.checkout("").await;
    assert!(
        location(&placed).starts_with("/checkout/ORD-"),
        "{placed:?}"
    );
    let orders = all_orders(&mut conn);
    assert_eq!(orders.len(), 2);
    let older = orders.iter().find(|o| o.id == first.id).unwrap();
    assert_eq!(older.status, "paid");
    let kinds: Vec<String> = journal_kinds(&mut conn, older.id)
        .into_iter()
        .map(|j| j.0)
        .collect();
    assert_eq!(kinds, vec!["payment_initiated", "income"]);
    let newer = orders.iter().find(|o| o.id != first.id).unwrap();
    assert_eq!(newer.status, "pending");
    let rust_price: i64 = {
        use diesel::prelude::*;
        use kasir::db::schema::courses;
        courses::table
            .filter(courses::slug.eq("rust-for-web-developers"))
            .select(courses::price_cents)
            .first(&mut conn)
            .unwrap()
    };
    assert_eq!(
        newer.subtotal_cents, rust_price,
        "only the course not yet paid"
    );
    let page = app.get_html("/my-courses").await;
    assert_eq!(
        select_all(&page, ".list-title"),
        vec!["PostgreSQL in Practice"]
    );
}

#[actix_web::test]
async fn the_return_page_fulfils_a_card_paid_through_stripe_without_waiting_for_the_webhook() {
    let app = TestApp::spawn_stripe(Backend::Sqlite).await;
    let mut conn = app.db.connect();
    app.student("ada@example.com").await;
    app.add_course("postgresql-in-practice").await;
    let pay_url = location(&app.checkout("").await);
    let intent_id = all_orders(&mut conn)[0].payment_intent_id.clone().unwrap();

    // Pay server-side, as localstripe's Stripe.js cannot confirm a fresh intent.
    let confirmed = pay_with_test_card(&intent_id).await;
    assert_eq!(confirmed["status"], "succeeded");

    // No webhook is registered for this app: the return page asks Stripe
    // and fulfils on its own.
    let done = app.get_html(&format!("{pay_url}/complete")).await;
    assert_eq!(select_all(&done, ".outcome h1"), vec!["You're in!"]);
    assert_eq!(all_orders(&mut conn)[0].status, "paid");
    assert_eq!(
        location(&app.get(&pay_url).await),
        format!("{pay_url}/complete")
    );
}

#[actix_web::test]
async fn stripe_down_keeps_the_order_and_says_to_try_again() {
    let unreachable = stripe_overrides("http://127.0.0.1:1");
    let pairs: Vec<(&str, &str)> = unreachable.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let app = TestApp::spawn_with(Backend::Sqlite, &pairs).await;
    let mut conn = app.db.connect();
    app.student("ada@example.com").await;
    app.add_course("rust-for-web-developers").await;
    let response = app.checkout("").await;
    let orders = all_orders(&mut conn);
    assert_eq!(orders.len(), 1, "the order is saved");
    assert_eq!(orders[0].status, "pending");
    assert_eq!(orders[0].payment_intent_id, None);
    assert!(journal_kinds(&mut conn, orders[0].id).is_empty());

    let page = app.get(&location(&response)).await;
    assert_eq!(page.status(), 503);
    let html = page.text().await.unwrap();
    assert_eq!(
        select_all(&html, ".form-error"),
        vec!["Payment could not be started. Your order is saved; please try again in a moment."]
    );
    assert_eq!(all_orders(&mut conn)[0].status, "pending");
}

/// `2026-09-30.endive` -> `endive`: Stripe's releases share a name; the
/// date moves with each monthly update inside one release.
fn release(version: &str) -> &str {
    version.split_once('.').map_or(version, |(_, name)| name)
}

#[actix_web::test]
async fn every_request_kasir_sends_to_stripe_is_one_todays_api_accepts() {
    let stripe = StripeToday::start(None);
    let mut overrides = stripe_overrides(&stripe.url);
    overrides.push(("STRIPE_PAYMENT_METHODS", "card,link".to_owned()));
    let pairs: Vec<(&str, &str)> = overrides.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let app = TestApp::spawn_with(Backend::Sqlite, &pairs).await;
    let mut conn = app.db.connect();

    // A student checks out (a Customer, a PaymentIntent), changes the cart
    // and checks out again (the first intent is canceled), opens the
    // payment page (the intent is retrieved), pays, and returns.
    app.student("ada@example.com").await;
    app.add_course("rust-for-web-developers").await;
    app.checkout("").await;
    app.add_course("modern-javascript").await;
    let pay_url = location(&app.checkout("").await);
    let page = app.get(&pay_url).await.status();
    assert_no_violations(&stripe).await;
    assert_eq!(page, 200);
    let order = all_orders(&mut conn).pop().unwrap();
    let intent = order.payment_intent_id.clone().unwrap();
    assert_eq!(
        pay_with_test_card_at(&stripe.url, &intent).await["status"],
        "succeeded"
    );
    let done = app.get_html(&format!("{pay_url}/complete")).await;
    assert_eq!(select_all(&done, ".outcome h1"), vec!["You're in!"]);
    // Staff refund part of it.
    let staff = TestApp::with_client_of(&app);
    staff.staff("boss@example.com").await;
    let refund = staff
        .submit(
            &format!("/staff/orders/{}/refund", order.number),
            &[
                ("amount", "10.00"),
                ("reason", "goodwill"),
                ("confirm", "yes"),
            ],
        )
        .await;
    assert_eq!(refund.status(), 303);

    let sent = assert_no_violations(&stripe).await;
    let endpoints: BTreeSet<&str> = sent
        .iter()
        .map(|r| r["endpoint"].as_str().unwrap())
        .collect();
    for expected in [
        "POST /v1/customers",
        "POST /v1/payment_intents",
        "GET /v1/payment_intents/{intent}",
        "POST /v1/payment_intents/{intent}/cancel",
        "POST /v1/refunds",
    ] {
        assert!(
            endpoints.contains(expected),
            "{expected} not exercised: {endpoints:?}"
        );
    }

    // The API release the Rust SDK pins is the one stripe-python holds.
    let pinned = kasir::payments::stripe::api_version();
    assert_eq!(
        release(&pinned),
        release(&stripe.api_version),
        "async-stripe pins Stripe-Version {pinned}, but stripe-python {} defines API {}: \
         install the stripe-python release whose `stripe.api_version` is of the {} release \
         (STRIPE_PYTHON_VERSION in scripts/lib.sh) so this test checks the API kasir speaks",
        stripe.stripe_python,
        stripe.api_version,
        release(&pinned),
    );
    for request in &sent {
        assert_eq!(request["stripe_version"], pinned.as_str(), "{request:#}");
        if request["method"] == "POST" {
            let key = request["idempotency_key"].as_str().unwrap_or_default();
            assert!(
                !key.is_empty(),
                "a POST without an idempotency key: {request:#}"
            );
        }
    }

    // What the intent carries: no payment_method_types; the shop's allowed
    // methods, the student's Customer and email, the order, namespaced.
    let created: Vec<&serde_json::Value> = sent
        .iter()
        .filter(|r| r["endpoint"] == "POST /v1/payment_intents")
        .collect();
    assert_eq!(created.len(), 2, "one intent per order");
    let create = created.last().unwrap();
    let values = &create["values"];
    let customer = sent
        .iter()
        .find(|r| r["endpoint"] == "POST /v1/customers")
        .unwrap();
    assert_eq!(customer["values"]["email"], "ada@example.com");
    assert_eq!(
        sent.iter()
            .filter(|r| r["endpoint"] == "POST /v1/customers")
            .count(),
        1,
        "one Customer per student"
    );
    assert!(values["customer"].as_str().unwrap().starts_with("cus_"));
    assert_eq!(values["receipt_email"], "ada@example.com");
    assert_eq!(values["description"], format!("Order {}", order.number));
    assert_eq!(values["metadata[kasir_order_id]"], order.id.to_string());
    assert_eq!(
        values["metadata[kasir_order_number]"],
        order.number.as_str()
    );
    assert_eq!(values["allowed_payment_method_types[0]"], "card");
    assert_eq!(values["allowed_payment_method_types[1]"], "link");
    let installation: String = {
        use diesel::prelude::*;
        kasir::db::schema::installation::table
            .select(kasir::db::schema::installation::installation_id)
            .first(&mut conn)
            .unwrap()
    };
    assert_eq!(
        values["metadata[kasir_installation]"],
        installation.as_str()
    );
    assert_eq!(
        create["idempotency_key"],
        format!("{installation}-order-{}-pi", order.id)
    );
}

/// What kasir (async-stripe's user agent) sent, after checking that
/// today's Stripe accepts every parameter of it.
async fn assert_no_violations(stripe: &StripeToday) -> Vec<serde_json::Value> {
    let sent: Vec<serde_json::Value> = stripe
        .requests()
        .await
        .into_iter()
        .filter(|r| {
            r["user_agent"]
                .as_str()
                .unwrap_or_default()
                .contains("RustBindings")
        })
        .collect();
    let violations: Vec<&serde_json::Value> = sent
        .iter()
        .flat_map(|r| r["violations"].as_array().unwrap())
        .collect();
    assert!(
        violations.is_empty(),
        "requests today's Stripe refuses: {violations:#?}"
    );
    sent
}

#[actix_web::test]
async fn the_contract_proxy_refuses_what_today_s_stripe_refuses() {
    // The test above is only as good as the proxy: it must refuse the
    // parameter Stripe removed, as Stripe does, and pass the ones it kept.
    let stripe = stripe_today_shared();
    let post = |form: &'static [(&'static str, &'static str)]| async move {
        reqwest::Client::new()
            .post(format!("{}/v1/payment_intents", stripe.url))
            .bearer_auth(SECRET)
            .form(form)
            .send()
            .await
            .unwrap()
    };
    let removed = post(&[
        ("amount", "100"),
        ("currency", "usd"),
        ("payment_method_types[0]", "card"),
    ])
    .await;
    assert_eq!(removed.status(), 400);
    let error: serde_json::Value = removed.json().await.unwrap();
    assert_eq!(error["error"]["code"], "parameter_unknown");
    assert_eq!(error["error"]["param"], "payment_method_types");
    let nested = post(&[
        ("amount", "100"),
        ("currency", "usd"),
        ("automatic_payment_methods[bogus]", "1"),
    ])
    .await;
    assert_eq!(nested.status(), 400);
    let kept = post(&[
        ("amount", "100"),
        ("currency", "usd"),
        ("automatic_payment_methods[enabled]", "true"),
        ("metadata[anything]", "x"),
    ])
    .await;
    assert_eq!(kept.status(), 200);
}

fn stripe_today_shared() -> &'static StripeToday {
    crate::helpers::stripe_today()
}

#[actix_web::test]
async fn with_stripe_keys_the_csp_allows_exactly_stripe_js_and_its_frames() {
    let app = TestApp::spawn_stripe(Backend::Sqlite).await;
    let response = app.get("/").await;
    let csp = response.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    let directive = |name: &str| -> Vec<String> {
        csp.split(';')
            .map(str::trim)
            .find(|d| d.starts_with(&format!("{name} ")))
            .unwrap_or_default()
            .split_whitespace()
            .skip(1)
            .map(str::to_owned)
            .collect()
    };
    let configured = localstripe_url().to_owned();
    assert_eq!(
        directive("script-src"),
        [
            "'self'",
            "https://js.stripe.com",
            "https://*.js.stripe.com",
            &configured
        ]
    );
    assert_eq!(
        directive("frame-src"),
        [
            "'self'",
            "https://js.stripe.com",
            "https://*.js.stripe.com",
            &configured,
            "https://hooks.stripe.com"
        ]
    );
    assert_eq!(
        directive("connect-src"),
        ["'self'", "https://api.stripe.com", &configured]
    );
    assert!(
        !csp.contains("unsafe-inline") && !csp.contains("unsafe-eval"),
        "{csp}"
    );
}

/// `kasir stripe ...` against the Stripe at `api_base`, for a shop at
/// `https://shop.example.com`; (success, stdout and stderr).
fn kasir_stripe(api_base: &str, db: &crate::helpers::TestDb, args: &[&str]) -> (bool, String) {
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_kasir"));
    command
        .arg("stripe")
        .args(args)
        .env("DATABASE_URL", &db.url)
        .env("SECRET_KEY", "k".repeat(64))
        .env("JOURNAL_KEY", crate::helpers::TEST_JOURNAL_KEY)
        .env("PUBLIC_URL", "https://shop.example.com");
    for (name, value) in stripe_overrides(api_base) {
        command.env(name, value);
    }
    let output = command.output().unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output.status.success(), text)
}

#[actix_web::test]
async fn the_doctor_finds_a_missing_endpoint_and_create_makes_exactly_the_one_kasir_needs() {
    let stripe = StripeToday::start(None);
    let db = crate::helpers::TestDb::create(Backend::Sqlite);
    let (healthy, said) = kasir_stripe(&stripe.url, &db, &["doctor"]);
    assert!(!healthy, "{said}");
    assert!(
        said.contains(&format!(
            "Stripe API version in use: {}",
            kasir::payments::stripe::api_version()
        )),
        "{said}"
    );
    assert!(
        said.contains("ok   the secret key works: account acct_localstripe"),
        "{said}"
    );
    assert!(said.contains("ok   the secret key is a test key"), "{said}");
    assert!(
        said.contains("FAIL no webhook endpoint for https://shop.example.com/webhooks/stripe: run `kasir stripe webhook-endpoint create`"),
        "{said}"
    );

    let (created, said) = kasir_stripe(&stripe.url, &db, &["webhook-endpoint", "create"]);
    assert!(created, "{said}");
    assert!(
        said.contains("set STRIPE_WEBHOOK_SECRET=whsec_"),
        "the secret is shown once: {said}"
    );
    let sent = assert_no_violations(&stripe).await;
    let create = sent
        .iter()
        .find(|r| r["endpoint"] == "POST /v1/webhook_endpoints")
        .expect("an endpoint was created");
    assert_eq!(
        create["values"]["url"],
        "https://shop.example.com/webhooks/stripe"
    );
    assert_eq!(
        create["values"]["api_version"],
        kasir::payments::stripe::api_version().as_str()
    );
    let events: BTreeSet<&str> = create["params"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p.as_str().unwrap().starts_with("enabled_events"))
        .map(|p| create["values"][p.as_str().unwrap()].as_str().unwrap())
        .collect();
    let handled: BTreeSet<&str> = kasir::domain::StripeEvent::ALL
        .iter()
        .map(|e| e.as_str())
        .collect();
    assert_eq!(events, handled, "exactly the events kasir handles");

    let (again, said) = kasir_stripe(&stripe.url, &db, &["webhook-endpoint", "create"]);
    assert!(
        again && said.contains("exists already"),
        "no second endpoint: {said}"
    );
    let (healthy, said) = kasir_stripe(&stripe.url, &db, &["doctor"]);
    assert!(healthy, "{said}");
    assert!(
        said.contains(&format!(
            "listens to all {} event types kasir handles",
            handled.len()
        )),
        "{said}"
    );
}

#[actix_web::test]
async fn the_doctor_says_clearly_when_stripe_cannot_be_reached() {
    let db = crate::helpers::TestDb::create(Backend::Sqlite);
    let (healthy, said) = kasir_stripe("http://127.0.0.1:1", &db, &["doctor"]);
    assert!(!healthy);
    assert!(
        said.contains("FAIL could not reach Stripe at http://127.0.0.1:1"),
        "{said}"
    );
    assert!(said.contains("Stripe is not ready for this shop"), "{said}");
    let (created, said) = kasir_stripe("http://127.0.0.1:1", &db, &["webhook-endpoint", "create"]);
    assert!(!created);
    assert!(said.contains("payment provider unreachable"), "{said}");
}
