//! HTTP handlers, grouped by feature. A handler parses input, calls one
//! service function inside [`with_db`], and renders a template.

mod auth;
mod back_office;
mod cart;
mod catalog;
mod checkout;
pub mod csrf;
mod health;
pub mod layout;
mod staff;
mod student;
pub mod webhooks;

use actix_web::web;

use crate::config::Settings;
use crate::db::{DbConnection, DbPool};
use crate::error::AppError;
use crate::payments::Payments;

/// Shared by every handler through `web::Data`.
pub struct AppState {
    pub pool: DbPool,
    pub settings: Settings,
    pub payments: Payments,
    /// Where the last intact journal verification got to: the reports page
    /// checks only the rows after it; housekeeping re-checks everything.
    pub chain_checkpoint: std::sync::Mutex<crate::services::journal::ChainCheckpoint>,
    /// The whole history's revenue recap and the last journal row it
    /// covers: each view adds only the rows appended since.
    pub revenue_cache: std::sync::Mutex<(i64, crate::services::back_office::Report)>,
}

impl AppState {
    pub fn new(pool: DbPool, settings: Settings, payments: Payments) -> Self {
        Self {
            pool,
            settings,
            payments,
            chain_checkpoint: Default::default(),
            revenue_cache: Default::default(),
        }
    }

    /// The revenue recap of the whole history, brought up to date.
    pub fn revenue_to_date(
        &self,
        conn: &mut DbConnection,
    ) -> diesel::QueryResult<crate::services::back_office::Report> {
        use crate::services::back_office::{journal_high_water, revenue_between};
        let lock = || {
            self.revenue_cache
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
        };
        let high = journal_high_water(conn)?;
        let (covered, mut report) = lock().clone();
        if high <= covered {
            return Ok(report);
        }
        report.merge(revenue_between(conn, None, None, covered, high)?);
        let mut cache = lock();
        if high > cache.0 {
            *cache = (high, report.clone());
        }
        Ok(report)
    }

    /// Verifies the journal chain from the last checkpoint (`full`: from
    /// the first row) and moves the checkpoint on when it is intact.
    pub fn verify_journal(
        &self,
        conn: &mut DbConnection,
        full: bool,
    ) -> diesel::QueryResult<crate::services::journal::ChainVerdict> {
        use crate::services::journal::{ChainCheckpoint, verify_chain_from};
        let lock = || {
            self.chain_checkpoint
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
        };
        let from = if full {
            ChainCheckpoint::default()
        } else {
            lock().clone()
        };
        let (verdict, reached) = verify_chain_from(conn, &from)?;
        let mut checkpoint = lock();
        match reached {
            Some(reached) if full || reached.rows > checkpoint.rows => *checkpoint = reached,
            Some(_) => {}
            // Broken: later views start from the beginning and show it too.
            None => *checkpoint = ChainCheckpoint::default(),
        }
        Ok(verdict)
    }
}

/// Runs blocking diesel work on the blocking pool, inside the caller's
/// tracing span. The outer `Result` is the infrastructure (no connection,
/// task failed); the inner one is the service's own answer.
pub async fn with_db<T, E, F>(state: &AppState, work: F) -> Result<Result<T, E>, AppError>
where
    F: FnOnce(&mut DbConnection) -> Result<T, E> + Send + 'static,
    T: Send + 'static,
    E: Send + 'static,
{
    let pool = state.pool.clone();
    let span = tracing::Span::current();
    web::block(move || {
        let _entered = span.enter();
        let mut conn = pool.get()?;
        Ok::<_, AppError>(work(&mut conn))
    })
    .await?
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
        .service(cart::cart_page)
        .service(cart::cart_count)
        .service(cart::add_item)
        .service(cart::remove_item)
        .service(checkout::start_checkout)
        .service(checkout::payment_page)
        .service(checkout::sandbox_pay)
        .service(checkout::sandbox_authenticate)
        .service(checkout::complete_page)
        .service(staff::promo_codes)
        .service(staff::create_promo_code)
        .service(staff::deactivate_promo_code)
        .service(back_office::invoice_page)
        .service(back_office::staff_orders)
        .service(back_office::staff_order)
        .service(back_office::refund_order)
        .service(back_office::staff_journal)
        .service(back_office::staff_journal_csv)
        .service(back_office::staff_reports)
        .service(student::my_courses)
        .service(student::orders)
        .service(health::healthz)
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
