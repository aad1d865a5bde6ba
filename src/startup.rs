//! Builds the application: database, middleware, routes, the bound socket.
//! `main` and the tests start it the same way.

use std::net::TcpListener;
use std::time::Duration;

use actix_session::SessionMiddleware;
use actix_session::config::{CookieContentSecurity, PersistentSession};
use actix_session::storage::CookieSessionStore;
use actix_web::cookie::{Key, SameSite};
use actix_web::dev::Server;
use actix_web::middleware::{Compress, Condition, from_fn};
use actix_web::{App, HttpServer, web};
use tracing_actix_web::TracingLogger;

use crate::config::Settings;
use crate::db::{self, DbPool};
use crate::payments::Payments;
use crate::routes::{self, AppState, layout};
use crate::services::journal::ChainVerdict;
use crate::services::{accounts, demo, reconcile};

/// Forms are small; anything bigger is refused with 413 before it is read.
const FORM_LIMIT_BYTES: usize = 64 * 1024;
/// How long the browser keeps the cookie: the session's absolute limit
/// (the idle limit is checked on the server, see `session.rs`).
const SESSION_TTL: Duration = Duration::from_secs(30 * 24 * 3600);
pub const SESSION_COOKIE: &str = "kasir_session";

pub struct Application {
    port: u16,
    server: Server,
    /// The metrics listener's port, when `METRICS_ADDR` is set.
    metrics_port: Option<u16>,
}

impl Application {
    /// Opens the database (migrating it), seeds the demo catalog when the
    /// shop is empty and allowed to, and binds the listener (port 0 picks a
    /// free port: see [`Application::port`]).
    pub async fn build(settings: Settings) -> anyhow::Result<Self> {
        let pool = open_database(&settings).await?;
        let listener = TcpListener::bind(settings.bind_addr)
            .map_err(|e| anyhow::anyhow!("could not listen on {}: {e}", settings.bind_addr))?;
        let port = listener.local_addr()?.port();
        tracing::info!(
            address = %listener.local_addr()?,
            database = settings.database_url.engine(),
            payments = %settings.provider(),
            "kasir listening"
        );
        routes::assets::init(settings.static_dir.clone());
        let payments = Payments::from_settings(&settings, pool.clone())?;
        let state = web::Data::new(AppState::new(pool, settings, payments));
        spawn_housekeeping(state.clone());
        spawn_sealer(state.clone());
        spawn_lms_delivery(state.clone());
        let mailer = crate::services::mail::delivery::Mailer::new(
            &state.settings.mail,
            &state.settings.public_url,
            state.settings.default_locale,
        )?;
        spawn_mail_delivery(state.clone(), std::sync::Arc::new(mailer));
        let metrics = crate::metrics::serve(state.clone())?;
        let metrics_port = metrics.as_ref().map(|(_, port)| *port);
        let server = run(listener, state, metrics_port.is_some())?;
        if let Some((metrics_server, _)) = metrics {
            actix_web::rt::spawn(metrics_server);
        }
        Ok(Self {
            port,
            server,
            metrics_port,
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn metrics_port(&self) -> Option<u16> {
        self.metrics_port
    }

    /// Stops the server from elsewhere (tests shut their apps down with it).
    pub fn handle(&self) -> actix_web::dev::ServerHandle {
        self.server.handle()
    }

    /// Serves until SIGINT/SIGTERM, then finishes in-flight requests.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        self.server.await
    }
}

async fn open_database(settings: &Settings) -> anyhow::Result<DbPool> {
    let url = settings.database_url.clone();
    let size = settings.db_pool_size;
    let seed = settings.seed_demo_on_empty;
    let currency = settings.currency;
    tokio_blocking(move || -> anyhow::Result<DbPool> {
        let pool = db::open(&url, size)?;
        let mut conn = pool.get()?;
        if seed {
            let added = demo::seed_if_empty(&mut conn, currency)?;
            if added > 0 {
                tracing::info!(courses = added, "empty shop: demo catalog added");
            }
        }
        let foreign = crate::models::course::Course::priced_in_other_currencies(&mut conn, currency)?;
        if !foreign.is_empty() {
            tracing::warn!(
                shop_currency = %currency,
                courses = %foreign.join(", "),
                "published courses are priced in another currency than CURRENCY: they cannot be bought until repriced"
            );
        }
        drop(conn);
        db::warm(&pool)?;
        Ok(pool)
    })
    .await
}

async fn tokio_blocking<T: Send + 'static>(
    work: impl FnOnce() -> anyhow::Result<T> + Send + 'static,
) -> anyhow::Result<T> {
    web::block(work)
        .await
        .map_err(|e| anyhow::anyhow!("blocking task failed: {e}"))?
}

/// How often the outboxes (mail, the learning platform's events) are
/// looked at for due work.
const OUTBOX_POLL: Duration = Duration::from_secs(1);

/// Delivers the learning platform's events while `serve` runs (when
/// `LMS_WEBHOOK_URL` is set); a full batch is followed at once by the next.
fn spawn_lms_delivery(state: web::Data<AppState>) {
    let Some(hook) = state.settings.lms_webhook.clone() else {
        return;
    };
    actix_web::rt::spawn(async move {
        let client = crate::services::lms::delivery::client();
        loop {
            match crate::services::lms::delivery::deliver_due(&state.pool, &client, &hook).await {
                Ok(pass) if pass.delivered + pass.failed > 0 => {
                    tracing::debug!(
                        delivered = pass.delivered,
                        failed = pass.failed,
                        "LMS events"
                    );
                    if pass.failed > 0 {
                        tracing::warn!(
                            failed = pass.failed,
                            "LMS webhook deliveries failed; they are retried"
                        );
                    }
                    continue;
                }
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "LMS event delivery pass failed"),
            }
            actix_web::rt::time::sleep(OUTBOX_POLL).await;
        }
    });
}

/// Sends queued mail while `serve` runs; a full batch is followed at once
/// by the next.
fn spawn_mail_delivery(
    state: web::Data<AppState>,
    mailer: std::sync::Arc<crate::services::mail::delivery::Mailer>,
) {
    actix_web::rt::spawn(async move {
        loop {
            match mailer.send_due(&state.pool).await {
                Ok(pass) if pass.sent + pass.failed > 0 => {
                    tracing::debug!(sent = pass.sent, failed = pass.failed, "mail");
                    continue;
                }
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "mail delivery pass failed"),
            }
            actix_web::rt::time::sleep(OUTBOX_POLL).await;
        }
    });
}

/// Seals committed journal rows within a second (DESIGN.md §2); a pass
/// that filled its batch is followed at once by the next.
fn spawn_sealer(state: web::Data<AppState>) {
    use crate::services::journal::seal::{SEAL_BATCH, SEAL_EVERY};
    actix_web::rt::spawn(async move {
        loop {
            let sealer = state.clone();
            match routes::with_db(&state, move |conn| sealer.sealer.seal_pending(conn)).await {
                Ok(Ok(sealed)) if sealed as i64 >= SEAL_BATCH => continue,
                Ok(Ok(_)) => {}
                Ok(Err(e)) => tracing::warn!(error = %e, "journal sealing failed"),
                Err(e) => tracing::warn!(error = %e, "journal sealing failed"),
            }
            actix_web::rt::time::sleep(SEAL_EVERY).await;
        }
    });
}

/// Periodic upkeep inside `serve`: the reconciliation sweep for payments
/// whose webhook never came, a full journal verification, and forgetting
/// stale login failures.
fn spawn_housekeeping(state: web::Data<AppState>) {
    actix_web::rt::spawn(async move {
        let mut interval = actix_web::rt::time::interval(Duration::from_secs(300));
        loop {
            interval.tick().await;
            match reconcile::reconcile(&state.payments, &state.pool, chrono::TimeDelta::minutes(10))
                .await
            {
                Ok(report)
                    if report.fulfilled.is_empty()
                        && report.canceled.is_empty()
                        && report.disagreements.is_empty() => {}
                Ok(report) => {
                    tracing::warn!(report = %report, "reconciliation changed or found something")
                }
                Err(e) => tracing::warn!(error = %e, "reconciliation sweep failed"),
            }
            // Ready before staff ask, and before the paced full check (seconds
            // on a long journal): the first view then adds only new rows.
            let recap = state.clone();
            if let Ok(Err(e)) =
                routes::with_db(&state, move |conn| recap.revenue.to_date(conn)).await
            {
                tracing::warn!(error = %e, "revenue recap failed");
            }
            let verifier = state.clone();
            let verified = routes::with_db(&state, move |conn| {
                // Rows a very long transaction committed below the
                // sealer's floor are found by this whole-journal pass.
                verifier.sealer.seal_all(conn)?;
                verifier.chain.verify(conn, verifier.sealer.key(), true)
            });
            match verified.await {
                Ok(Ok(verdict @ ChainVerdict::Intact { .. })) => {
                    crate::metrics::journal_verified(&verdict);
                }
                Ok(Ok(verdict)) => {
                    crate::metrics::journal_verified(&verdict);
                    tracing::error!(verdict = %verdict, "journal verification");
                }
                Ok(Err(e)) => tracing::warn!(error = %e, "journal verification failed"),
                Err(e) => tracing::warn!(error = %e, "journal verification failed"),
            }
            match routes::with_db(&state, accounts::prune_login_attempts).await {
                Ok(Ok(0)) => {}
                Ok(Ok(pruned)) => tracing::debug!(pruned, "old login attempts pruned"),
                Ok(Err(e)) => tracing::warn!(error = %e, "pruning login attempts failed"),
                Err(e) => tracing::warn!(error = %e, "pruning login attempts failed"),
            }
        }
    });
}

/// The course form with its cover image: the image (2 MiB at most,
/// checked again by content) and the text fields fit in 3 MiB.
fn multipart_config() -> actix_multipart::form::MultipartFormConfig {
    const LIMIT: usize = 3 * 1024 * 1024;
    actix_multipart::form::MultipartFormConfig::default()
        .total_limit(LIMIT)
        .memory_limit(LIMIT)
        .error_handler(|error, _req| {
            let refusal = match error {
                actix_multipart::MultipartError::Payload(
                    actix_web::error::PayloadError::Overflow,
                ) => crate::error::AppError::BadRequest(crate::msg!("error-upload-too-large")),
                other => crate::error::AppError::BadRequest(crate::msg!(
                    "error-form-malformed",
                    detail = other.to_string()
                )),
            };
            refusal.into()
        })
}

/// The cores this process may use: `serve` runs one worker per core.
pub fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, std::num::NonZero::get)
}

fn run(
    listener: TcpListener,
    state: web::Data<AppState>,
    metrics: bool,
) -> std::io::Result<Server> {
    let key = Key::from(state.settings.secret_key.expose());
    let secure = state.settings.cookies_secure();
    // A blocking thread beyond the pool's connections only waits for one:
    // each waiting thread costs its stack and a malloc arena (64 webhooks
    // at once took the server to 85 MB), and waits in r2d2's queue, which
    // is not first come, first served (with as many threads per worker as
    // connections, the course page's worst waits on PostgreSQL were over a
    // second). So the pool is split between the workers, and requests
    // queue for a thread, in order.
    let workers = cores();
    let blocking_threads = (state.settings.db_pool_size as usize).div_ceil(workers);
    let server = HttpServer::new(move || {
        let session = SessionMiddleware::builder(CookieSessionStore::default(), key.clone())
            .cookie_name(SESSION_COOKIE.to_owned())
            .cookie_http_only(true)
            .cookie_same_site(SameSite::Lax)
            .cookie_secure(secure)
            // Signed and encrypted: the user can neither read nor forge it.
            .cookie_content_security(CookieContentSecurity::Private)
            .session_lifecycle(PersistentSession::default().session_ttl(
                actix_web::cookie::time::Duration::seconds(SESSION_TTL.as_secs() as i64),
            ))
            .build();
        App::new()
            // Innermost first: error pages need the session and the state;
            // the logger and the headers see every final response.
            .wrap(from_fn(routes::error_pages::error_pages))
            .wrap(session)
            .wrap(Compress::default())
            .wrap(layout::security_headers(&state.settings))
            .wrap(TracingLogger::default())
            .wrap(Condition::new(
                metrics,
                from_fn(crate::metrics::track_requests),
            ))
            .app_data(state.clone())
            .app_data(web::PayloadConfig::new(FORM_LIMIT_BYTES))
            .app_data(web::FormConfig::default().limit(FORM_LIMIT_BYTES))
            .app_data(multipart_config())
            .configure(routes::configure)
    })
    .shutdown_timeout(10)
    .workers(workers)
    .worker_max_blocking_threads(blocking_threads)
    .listen(listener)?
    .run();
    Ok(server)
}
