//! HTTP handlers, grouped by feature. A handler parses input, calls one
//! service function inside [`with_db`], and renders a template.

mod auth;
mod catalog;
pub mod csrf;
mod health;
pub mod layout;

use actix_web::web;

use crate::config::Settings;
use crate::db::{DbConnection, DbPool};
use crate::error::AppError;

/// Shared by every handler through `web::Data`.
pub struct AppState {
    pub pool: DbPool,
    pub settings: Settings,
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

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(catalog::index)
        .service(catalog::course_page)
        .service(auth::register_form)
        .service(auth::register)
        .service(auth::login_form)
        .service(auth::login)
        .service(auth::logout)
        .service(health::healthz);
}
