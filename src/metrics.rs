//! Prometheus metrics, served on their own listener (`METRICS_ADDR`) and
//! only when it is set: never on the shop's port, so never public by
//! accident. Requests are counted and timed per route pattern and status;
//! webhook events per type and outcome, with their processing time (a
//! payment's fulfilment is its `payment_intent.succeeded`); the time a
//! request waits for a blocking thread and for a database connection; and,
//! read when scraped, the outboxes' backlogs, the pool's connections and
//! the journal chain's last verdict.

use std::sync::OnceLock;
use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{Server, ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::{HttpResponse, web};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

use crate::routes::AppState;

/// Latency buckets, in seconds: a page is expected well under 20 ms.
const BUCKETS: &[f64] = &[
    0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0,
];

/// The process's recorder, installed the first time an app asks for
/// metrics (one per process: tests start many apps in one).
fn recorder() -> Option<&'static PrometheusHandle> {
    static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            PrometheusBuilder::new()
                .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), BUCKETS)
                .ok()?
                .install_recorder()
                .map_err(|e| tracing::warn!(error = %e, "metrics recorder not installed"))
                .ok()
        })
        .as_ref()
}

/// Starts the metrics listener when `METRICS_ADDR` is set; returns it and
/// the port it bound (`:0` picks one).
pub fn serve(state: web::Data<AppState>) -> anyhow::Result<Option<(Server, u16)>> {
    let Some(addr) = state.settings.metrics_addr else {
        return Ok(None);
    };
    let handle = recorder().ok_or_else(|| anyhow::anyhow!("no metrics recorder"))?;
    let listener = std::net::TcpListener::bind(addr)
        .map_err(|e| anyhow::anyhow!("could not listen on METRICS_ADDR {addr}: {e}"))?;
    let port = listener.local_addr()?.port();
    tracing::info!(address = %listener.local_addr()?, "metrics listening");
    let server = actix_web::HttpServer::new(move || {
        actix_web::App::new()
            .app_data(state.clone())
            .app_data(web::Data::new(handle))
            .route("/metrics", web::get().to(scrape))
    })
    .workers(1)
    .shutdown_timeout(1)
    .listen(listener)?
    .run();
    Ok(Some((server, port)))
}

async fn scrape(
    state: web::Data<AppState>,
    handle: web::Data<&'static PrometheusHandle>,
) -> HttpResponse {
    let pool = state.pool.state();
    metrics::gauge!("kasir_db_pool_connections").set(f64::from(pool.connections));
    metrics::gauge!("kasir_db_pool_idle_connections").set(f64::from(pool.idle_connections));
    let backlog = crate::routes::with_db(&state, |conn| {
        Ok::<_, diesel::result::Error>((
            crate::models::mail_outbox::QueuedMail::waiting(conn)?,
            crate::models::lms_outbox::OutboxEvent::counts(conn)?,
        ))
    })
    .await;
    match backlog {
        Ok(Ok((mail, lms))) => {
            metrics::gauge!("kasir_outbox_waiting", "outbox" => "mail").set(mail as f64);
            metrics::gauge!("kasir_outbox_waiting", "outbox" => "lms").set(lms.waiting as f64);
            metrics::gauge!("kasir_outbox_failing", "outbox" => "lms").set(lms.failing as f64);
        }
        Ok(Err(e)) => tracing::warn!(error = %e, "metrics: outbox backlog not read"),
        Err(e) => tracing::warn!(error = %e, "metrics: outbox backlog not read"),
    }
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4")
        .body(handle.render())
}

/// Counts and times every request by method, route pattern and status.
pub async fn track_requests(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let start = Instant::now();
    let method = req.method().as_str().to_owned();
    let result = next.call(req).await;
    let (route, status) = match &result {
        Ok(res) => (
            res.request().match_pattern(),
            res.status().as_u16().to_string(),
        ),
        Err(e) => (
            None,
            e.as_response_error().status_code().as_u16().to_string(),
        ),
    };
    // Unmatched paths share one label: scanners cannot grow the series.
    let route = route.unwrap_or_else(|| "unmatched".to_owned());
    metrics::counter!("kasir_http_requests_total", "method" => method.clone(), "route" => route.clone(), "status" => status)
        .increment(1);
    metrics::histogram!("kasir_http_request_duration_seconds", "method" => method, "route" => route)
        .record(start.elapsed().as_secs_f64());
    result
}

/// A webhook event's outcome, and how long applying it took.
pub fn webhook_event(kind: &str, outcome: &'static str, started: Instant) {
    // Only the types kasir handles become labels; a signed event of
    // another type is counted as `other`.
    let kind =
        crate::domain::StripeEvent::parse(kind).map_or("other", crate::domain::StripeEvent::as_str);
    metrics::counter!("kasir_webhook_events_total", "type" => kind, "outcome" => outcome)
        .increment(1);
    metrics::histogram!("kasir_webhook_processing_seconds", "type" => kind)
        .record(started.elapsed().as_secs_f64());
}

/// The last full verification: whether the seals are intact, and how many
/// rows were still unsealed.
pub fn journal_verified(verdict: &crate::services::journal::ChainVerdict) {
    use crate::services::journal::ChainVerdict;
    let (intact, unsealed) = match verdict {
        ChainVerdict::Intact { unsealed, .. } => (true, *unsealed),
        ChainVerdict::Unsealed { late, .. } => (true, *late),
        ChainVerdict::Broken { .. } => (false, 0),
        // Intact as far as it got (a full check has no budget).
        ChainVerdict::Checking { .. } => (true, 0),
    };
    metrics::gauge!("kasir_journal_chain_intact").set(if intact { 1.0 } else { 0.0 });
    metrics::gauge!("kasir_journal_unsealed_rows").set(unsealed as f64);
}

/// Rows a sealing pass sealed.
pub fn journal_sealed(rows: usize) {
    metrics::counter!("kasir_journal_sealed_rows_total").increment(rows as u64);
}

/// How long a request waited for a blocking thread, then for a connection.
pub fn db_waits(queued: std::time::Duration, pool_wait: std::time::Duration) {
    metrics::histogram!("kasir_blocking_queue_seconds").record(queued.as_secs_f64());
    metrics::histogram!("kasir_db_pool_wait_seconds").record(pool_wait.as_secs_f64());
}
