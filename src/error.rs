//! How failures reach people.
//!
//! Policy: a failure the user can fix or should know about (bad input, not
//! found, not allowed, too many attempts) is a 4xx with a message written
//! for them, and is logged at most at `info`. A failure they cannot fix
//! (database down, a bug) is a 500 with a generic message and the request
//! id; its cause chain is logged once, here, at `error`. Nothing is ever
//! shown to a user from an internal error's text.
//!
//! Handlers return `Result<_, AppError>`. The response carries an
//! [`ErrorPage`] in its extensions; the error-page middleware in
//! `routes::layout` renders it inside the site layout (or as JSON for
//! clients that asked for JSON).

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};

use crate::i18n::Message;

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("bad request: {}", .0.id)]
    BadRequest(Message),
    #[error("forbidden: {}", .0.id)]
    Forbidden(Message),
    #[error("not found")]
    NotFound,
    /// Not an error page: a 303 to the login form, which returns to `next`.
    #[error("login required")]
    LoginRequired { next: String },
    #[error("conflict: {}", .0.id)]
    Conflict(Message),
    #[error("payload too large")]
    PayloadTooLarge,
    #[error("too many requests: {}", .0.id)]
    TooManyRequests(Message),
    /// The cause is logged, never shown.
    #[error("service unavailable: {0}")]
    Unavailable(String),
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

/// What the error page shows, in message ids; attached to the response
/// for the layout middleware to render in the reader's language.
#[derive(Clone, Debug)]
pub struct ErrorPage {
    pub title: Message,
    pub message: Message,
}

impl ErrorPage {
    /// The page for a bare status (actix's own 404/405/413, extractor errors).
    pub fn for_status(status: StatusCode) -> Self {
        let id = match status.as_u16() {
            400 => "bad-request",
            401 => "unauthorized",
            403 => "forbidden",
            404 => "not-found",
            405 => "method-not-allowed",
            409 => "conflict",
            413 => "too-large",
            429 => "too-many",
            503 => "unavailable",
            s if s >= 500 => "internal",
            _ => "other",
        };
        Self {
            title: Message::new(format!("error-{id}-title")),
            message: Message::new(format!("error-{id}")),
        }
    }

    /// Every status the error pages name, for the message-file test.
    pub const STATUSES: [u16; 11] = [400, 401, 403, 404, 405, 409, 413, 429, 503, 500, 418];
}

impl ResponseError for AppError {
    fn status_code(&self) -> StatusCode {
        match self {
            Self::BadRequest(_) => StatusCode::BAD_REQUEST,
            Self::Forbidden(_) => StatusCode::FORBIDDEN,
            Self::NotFound => StatusCode::NOT_FOUND,
            Self::LoginRequired { .. } => StatusCode::SEE_OTHER,
            Self::Conflict(_) => StatusCode::CONFLICT,
            Self::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Self::TooManyRequests(_) => StatusCode::TOO_MANY_REQUESTS,
            Self::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        if let Self::LoginRequired { next } = self {
            let query = serde_urlencoded::to_string([("next", next)]).unwrap_or_default();
            return HttpResponse::SeeOther()
                .insert_header((actix_web::http::header::LOCATION, format!("/login?{query}")))
                .finish();
        }
        let status = self.status_code();
        let mut page = ErrorPage::for_status(status);
        match self {
            Self::BadRequest(m)
            | Self::Forbidden(m)
            | Self::Conflict(m)
            | Self::TooManyRequests(m) => {
                page.message = m.clone();
            }
            Self::Unavailable(cause) => tracing::warn!(error.cause = %cause, "service unavailable"),
            Self::Internal(e) => tracing::error!(error.cause_chain = ?e, "request failed"),
            Self::NotFound | Self::PayloadTooLarge | Self::LoginRequired { .. } => {}
        }
        let mut response = HttpResponse::build(status).finish();
        if let Self::Unavailable(_) = self {
            response.headers_mut().insert(
                actix_web::http::header::RETRY_AFTER,
                actix_web::http::header::HeaderValue::from_static("5"),
            );
        }
        response.extensions_mut().insert(page);
        response
    }
}

impl From<diesel::result::Error> for AppError {
    fn from(e: diesel::result::Error) -> Self {
        if is_busy(&e) {
            // Busy, not broken: nothing was written, the request may simply
            // be sent again (Stripe redelivers on any 5xx).
            return Self::Unavailable(format!("the database is busy: {e}"));
        }
        Self::Internal(anyhow::Error::new(e).context("database query failed"))
    }
}

/// A write that gave up waiting: SQLite's lock held past the busy timeout
/// by another process, or a PostgreSQL serialization failure or deadlock.
fn is_busy(e: &diesel::result::Error) -> bool {
    use diesel::result::{DatabaseErrorKind, Error};
    match e {
        Error::DatabaseError(DatabaseErrorKind::SerializationFailure, _) => true,
        Error::DatabaseError(_, info) => {
            let message = info.message();
            message.contains("database is locked")
                || message.contains("database table is locked")
                || message.contains("deadlock detected")
        }
        _ => false,
    }
}

impl From<crate::db::Unavailable> for AppError {
    fn from(e: crate::db::Unavailable) -> Self {
        match e {
            crate::db::Unavailable::Pool(e) => e.into(),
            crate::db::Unavailable::Task(e) => e.into(),
        }
    }
}

impl From<diesel::r2d2::PoolError> for AppError {
    fn from(e: diesel::r2d2::PoolError) -> Self {
        Self::Unavailable(format!("no database connection: {e}"))
    }
}

impl From<actix_web::error::BlockingError> for AppError {
    fn from(e: actix_web::error::BlockingError) -> Self {
        Self::Internal(anyhow::anyhow!("blocking task failed: {e}"))
    }
}

impl From<askama::Error> for AppError {
    fn from(e: askama::Error) -> Self {
        Self::Internal(anyhow::Error::new(e).context("template rendering failed"))
    }
}
