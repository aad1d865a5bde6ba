//! The Stripe provider against localstripe, a stateful fake Stripe server.

use crate::checkout::{all_orders, journal_kinds};
use crate::helpers::{Backend, TestApp, localstripe_url, location, select_all, stripe_overrides};

const SECRET: &str = "sk_test_kasir";

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

async fn stripe_post(path: &str, form: &[(&str, &str)]) -> serde_json::Value {
    let response = reqwest::Client::new()
        .post(format!("{}{path}", localstripe_url()))
        .bearer_auth(SECRET)
        .form(form)
        .send()
        .await
        .unwrap();
    assert!(
        response.status().is_success(),
        "{path}: {}",
        response.status()
    );
    response.json().await.unwrap()
}

/// Pays the intent with 4242 through localstripe's API (a payment method,
/// attached, then confirm), as a browser with real Stripe.js would.
pub async fn pay_with_test_card(intent_id: &str) -> serde_json::Value {
    let method = stripe_post(
        "/v1/payment_methods",
        &[
            ("type", "card"),
            ("card[number]", "4242424242424242"),
            ("card[exp_month]", "12"),
            ("card[exp_year]", "2040"),
            ("card[cvc]", "123"),
        ],
    )
    .await;
    let method_id = method["id"].as_str().expect("payment method id");
    stripe_post(
        &format!("/v1/payment_intents/{intent_id}"),
        &[("payment_method", method_id)],
    )
    .await;
    stripe_post(&format!("/v1/payment_intents/{intent_id}/confirm"), &[]).await
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
    assert_eq!(intent["metadata"]["order_id"], order.id.to_string());
    assert_eq!(intent["metadata"]["order_number"], order.number.as_str());

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

    // The payment page hands the Card Element what it needs, and nothing
    // that would let the browser set the amount.
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
