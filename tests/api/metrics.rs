//! `/metrics` for Prometheus: on its own listener (`METRICS_ADDR`), never
//! on the shop's port; requests per route pattern and status, webhook
//! events per type and outcome, database waits, outbox backlogs.

use crate::helpers::events::intent_event;
use crate::helpers::{Backend, TestApp};

/// The value of the sample `name{labels}` (labels in the exporter's order).
fn sample(scrape: &str, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    scrape.lines().find_map(|line| {
        let (series, value) = line.rsplit_once(' ')?;
        let (metric, rest) = series.split_once('{').unwrap_or((series, "}"));
        if metric != name {
            return None;
        }
        let all = labels
            .iter()
            .all(|(k, v)| rest.contains(&format!("{k}=\"{v}\"")));
        all.then(|| value.parse().ok()).flatten()
    })
}

async fn scrape(app: &TestApp) -> String {
    let port = app.metrics_port.expect("METRICS_ADDR is set");
    let response = reqwest::get(format!("http://127.0.0.1:{port}/metrics"))
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain"),
        "Prometheus' text format"
    );
    response.text().await.unwrap()
}

#[actix_web::test]
async fn metrics_are_served_apart_and_count_what_the_shop_does() {
    let app = TestApp::spawn_with(Backend::Sqlite, &[("METRICS_ADDR", "127.0.0.1:0")]).await;
    // Not on the shop's own port.
    assert_eq!(app.get("/metrics").await.status(), 404);

    let before = scrape(&app).await;
    let catalog = [("method", "GET"), ("route", "/"), ("status", "200")];
    let start = sample(&before, "kasir_http_requests_total", &catalog).unwrap_or(0.0);
    for _ in 0..3 {
        assert_eq!(app.get("/").await.status(), 200);
    }
    app.get("/no/such/page").await;

    // A payment delivered as Stripe would, and the same event again.
    let (order, intent, total) = app
        .pending_order("ada@example.com", &["rust-for-web-developers"])
        .await;
    let paid = intent_event(
        "evt_paid",
        "payment_intent.succeeded",
        &intent,
        total,
        order,
        None,
    );
    assert_eq!(app.deliver(&paid).await.status(), 200);
    assert_eq!(app.deliver(&paid).await.status(), 200);
    assert_eq!(
        app.deliver_with(&paid, Some("t=1,v1=forged"))
            .await
            .status(),
        400
    );

    let after = scrape(&app).await;
    assert!(
        sample(&after, "kasir_http_requests_total", &catalog).unwrap() >= start + 3.0,
        "three catalog views counted"
    );
    assert!(
        sample(
            &after,
            "kasir_http_requests_total",
            &[("route", "unmatched"), ("status", "404")]
        )
        .unwrap()
            >= 1.0,
        "unknown paths share one series"
    );
    assert!(
        !after.contains("/no/such/page"),
        "no series per unknown path"
    );
    let checkout = [("method", "POST"), ("route", "/checkout")];
    assert!(
        sample(
            &after,
            "kasir_http_request_duration_seconds_count",
            &checkout
        )
        .unwrap()
            >= 1.0
    );
    let webhook = |outcome: &str| {
        sample(
            &after,
            "kasir_webhook_events_total",
            &[("type", "payment_intent.succeeded"), ("outcome", outcome)],
        )
    };
    assert!(webhook("processed").unwrap() >= 1.0);
    assert!(webhook("duplicate").unwrap() >= 1.0);
    assert!(
        sample(
            &after,
            "kasir_webhook_events_total",
            &[("type", "other"), ("outcome", "refused")]
        )
        .unwrap()
            >= 1.0
    );
    assert!(
        sample(
            &after,
            "kasir_webhook_processing_seconds_count",
            &[("type", "payment_intent.succeeded")]
        )
        .unwrap()
            >= 2.0,
        "fulfilment time"
    );
    assert!(sample(&after, "kasir_db_pool_wait_seconds_count", &[]).unwrap() > 0.0);
    assert!(sample(&after, "kasir_blocking_queue_seconds_count", &[]).unwrap() > 0.0);
    // The receipt waits in the mail outbox until the sender takes it.
    assert!(sample(&after, "kasir_outbox_waiting", &[("outbox", "mail")]).is_some());
    assert!(sample(&after, "kasir_db_pool_connections", &[]).unwrap() >= 1.0);
}

#[actix_web::test]
async fn without_metrics_addr_there_is_no_metrics_listener() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    assert_eq!(app.metrics_port, None);
    assert_eq!(app.get("/metrics").await.status(), 404);
}
