//! HTTP handlers, grouped by feature. A handler parses input, calls one
//! service function (database work through [`with_db`]), and renders a
//! template. No handler calls another.

mod api;
pub mod assets;
mod auth;
mod cart;
mod catalog;
mod checkout;
pub mod csrf;
pub mod error_pages;
mod filters;
mod health;
mod language;
pub mod layout;
mod orders;
mod password;
mod sandbox;
mod session_users;
mod staff;
mod student;
mod uploads;
pub mod viewer;
pub mod webhooks;

use actix_web::web;

use crate::config::Settings;
use crate::db::{self, DbConnection, DbPool};
use crate::error::AppError;
use crate::payments::Payments;
use crate::services::back_office::revenue::RevenueCache;
use crate::services::catalog::CatalogCache;
use crate::services::journal::ChainMonitor;
use crate::services::journal::seal::Sealer;
use crate::services::webhook_inbox::InboxSettings;

/// Shared by every handler through `web::Data`.
pub struct AppState {
    pub pool: DbPool,
    pub settings: Settings,
    pub payments: Payments,
    /// How webhook deliveries are checked.
    pub inbox: InboxSettings,
    /// The journal chain's last verified point.
    pub chain: ChainMonitor,
    /// Seals committed journal rows (the background task and the reports
    /// page before it reads).
    pub sealer: Sealer,
    /// The whole history's revenue recap.
    pub revenue: RevenueCache,
    /// Session users seen in the last second.
    pub users: viewer::SessionUsers,
    /// Catalog pages shown in the last second.
    pub catalog: CatalogCache,
    /// The read API's per-token rate.
    pub api_limiter: api::ApiLimiter,
}

impl AppState {
    pub fn new(pool: DbPool, settings: Settings, payments: Payments) -> Self {
        let inbox = InboxSettings {
            secret: settings.webhook_secret(),
            livemode: settings.livemode(),
        };
        Self {
            sealer: Sealer::new(settings.journal_key.clone()),
            pool,
            settings,
            payments,
            inbox,
            chain: ChainMonitor::default(),
            revenue: RevenueCache::default(),
            users: viewer::SessionUsers::default(),
            catalog: CatalogCache::default(),
            api_limiter: api::limiter(),
        }
    }
}

/// Runs blocking diesel work (see [`db::run`]) for a handler. The outer
/// `Result` is the infrastructure (no connection, task failed); the inner
/// one is the service's own answer.
pub async fn with_db<T, E, F>(state: &AppState, work: F) -> Result<Result<T, E>, AppError>
where
    F: FnOnce(&mut DbConnection) -> Result<T, E> + Send + 'static,
    T: Send + 'static,
    E: Send + 'static,
{
    Ok(db::run(&state.pool, work).await?)
}

/// Where to go back to after a form: only a path on this site, never an
/// absolute or protocol-relative URL (an open redirect).
pub fn safe_next(next: Option<&str>) -> String {
    match next.map(str::trim) {
        Some(path)
            if path.starts_with('/')
                && !path.starts_with("//")
                && !path.contains('\\')
                && !path.chars().any(char::is_control) =>
        {
            path.to_owned()
        }
        _ => "/".to_owned(),
    }
}

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(catalog::index)
        .service(catalog::course_page)
        .service(auth::register_form)
        .service(auth::register)
        .service(auth::login_form)
        .service(auth::login)
        .service(auth::logout)
        .service(password::forgot_form)
        .service(password::forgot)
        .service(password::reset_form)
        .service(password::reset)
        .service(cart::cart_page)
        .service(cart::cart_count)
        .service(cart::add_item)
        .service(cart::remove_item)
        .service(cart::apply_promo)
        .service(cart::remove_promo)
        .service(cart::save_billing)
        .service(checkout::start_checkout)
        .service(checkout::payment_page)
        .service(sandbox::sandbox_pay)
        .service(sandbox::sandbox_authenticate)
        .service(checkout::complete_page)
        .service(orders::invoice_page)
        .service(orders::credit_note_page)
        .service(student::my_courses)
        .service(student::orders)
        .configure(staff::configure)
        .service(uploads::upload)
        .service(assets::serve)
        .service(api::list_enrollments)
        .service(api::check_enrollment)
        .service(health::healthz)
        .service(language::set_language)
        .service(
            web::resource("/webhooks/stripe")
                .app_data(web::PayloadConfig::new(webhooks::MAX_BODY_BYTES))
                .route(web::post().to(webhooks::receive)),
        );
}

#[cfg(test)]
mod tests {
    use super::safe_next;

    #[test]
    fn next_is_kept_only_when_it_is_a_local_path() {
        assert_eq!(safe_next(Some("/courses/rust")), "/courses/rust");
        assert_eq!(safe_next(Some("/cart?x=1")), "/cart?x=1");
        for hostile in [
            "https://evil.example",
            "//evil.example",
            "/\\evil.example",
            "evil",
            "",
            "/\nx",
        ] {
            assert_eq!(safe_next(Some(hostile)), "/", "{hostile:?}");
        }
        assert_eq!(safe_next(None), "/");
    }
}
