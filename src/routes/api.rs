//! The read API for the learning platform (README: "The LMS hand-off"):
//! JSON, `Authorization: Bearer <token>`, rate-limited per token.
//!
//! - `GET /api/v1/enrollments?email=&course=&since=&cursor=&limit=`
//! - `GET /api/v1/enrollments/check?email=&course=` → `{"active": bool}`

use std::num::NonZeroU32;

use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, ResponseError, get, web};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, NaiveDateTime};
use governor::clock::{Clock, DefaultClock};
use serde::Deserialize;

use crate::db::DbConnection;
use crate::models::CourseId;
use crate::models::course::Course;
use crate::routes::{AppState, with_db};
use crate::services::lms::enrollments::{self, Filter};
use crate::services::lms::tokens;

/// Requests per second per token, and the burst allowed above that.
const PER_SECOND: u32 = 20;
const BURST: u32 = 100;
const DEFAULT_LIMIT: i64 = 100;
const MAX_LIMIT: i64 = 500;

pub type ApiLimiter = governor::DefaultKeyedRateLimiter<i64>;

pub fn limiter() -> ApiLimiter {
    let quota = governor::Quota::per_second(NonZeroU32::new(PER_SECOND).expect("non-zero"))
        .allow_burst(NonZeroU32::new(BURST).expect("non-zero"));
    governor::RateLimiter::keyed(quota)
}

/// Errors as JSON: `{"error": {"code": "...", "message": "..."}}`.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    Unauthorized(&'static str),
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    NotFound(String),
    #[error("too many requests")]
    TooManyRequests { retry_after_secs: u64 },
    #[error("the service is unavailable")]
    Unavailable,
}

impl ApiError {
    fn code(&self) -> &'static str {
        match self {
            Self::Unauthorized(_) => "unauthorized",
            Self::BadRequest(_) => "bad_request",
            Self::NotFound(_) => "not_found",
            Self::TooManyRequests { .. } => "rate_limited",
            Self::Unavailable => "unavailable",
        }
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            Self::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            Self::BadRequest(_) => StatusCode::BAD_REQUEST,
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
            Self::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let mut response = HttpResponse::build(self.status_code());
        match self {
            Self::Unauthorized(_) => {
                response.insert_header((header::WWW_AUTHENTICATE, "Bearer"));
            }
            Self::TooManyRequests { retry_after_secs } => {
                response.insert_header((header::RETRY_AFTER, retry_after_secs.to_string()));
            }
            Self::Unavailable => {
                response.insert_header((header::RETRY_AFTER, "5"));
            }
            _ => {}
        }
        response.json(serde_json::json!({
            "error": { "code": self.code(), "message": self.to_string() }
        }))
    }
}

impl From<crate::error::AppError> for ApiError {
    fn from(e: crate::error::AppError) -> Self {
        tracing::warn!(error = %e, "API request failed");
        Self::Unavailable
    }
}

impl From<diesel::result::Error> for ApiError {
    fn from(e: diesel::result::Error) -> Self {
        tracing::error!(error = %e, "API query failed");
        Self::Unavailable
    }
}

/// Checks the bearer token and the token's rate.
async fn authorize(req: &HttpRequest, state: &AppState) -> Result<(), ApiError> {
    let presented = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .ok_or(ApiError::Unauthorized(
            "Send a token: Authorization: Bearer <token> (kasir api-token create).",
        ))?
        .to_owned();
    let token = with_db(state, move |conn| tokens::authenticate(conn, &presented))
        .await??
        .ok_or(ApiError::Unauthorized("This token is unknown or revoked."))?;
    state.api_limiter.check_key(&token.id).map_err(|not_until| {
        let wait = not_until.wait_time_from(DefaultClock::default().now());
        ApiError::TooManyRequests {
            retry_after_secs: wait.as_secs().max(1),
        }
    })
}

fn parse_query<T: serde::de::DeserializeOwned>(req: &HttpRequest) -> Result<T, ApiError> {
    serde_urlencoded::from_str(req.query_string())
        .map_err(|e| ApiError::BadRequest(format!("The query string could not be read: {e}.")))
}

/// A course named by id or slug.
fn find_course(conn: &mut DbConnection, named: &str) -> diesel::QueryResult<Option<CourseId>> {
    let named = named.trim();
    match named.parse::<i64>() {
        Ok(id) => Ok(Course::find(conn, CourseId(id))?.map(|c| c.id)),
        Err(_) => Ok(Course::find_by_slug(conn, named)?.map(|c| c.id)),
    }
}

#[derive(Deserialize)]
struct ListQuery {
    email: Option<String>,
    course: Option<String>,
    since: Option<String>,
    cursor: Option<String>,
    limit: Option<String>,
}

fn encode_cursor(at: NaiveDateTime, id: i64) -> String {
    URL_SAFE_NO_PAD.encode(format!("{}.{id}", at.and_utc().timestamp_micros()))
}

fn decode_cursor(cursor: &str) -> Option<(NaiveDateTime, i64)> {
    let text = String::from_utf8(URL_SAFE_NO_PAD.decode(cursor.trim()).ok()?).ok()?;
    let (micros, id) = text.split_once('.')?;
    let at = DateTime::from_timestamp_micros(micros.parse().ok()?)?.naive_utc();
    Some((at, id.parse().ok()?))
}

#[get("/api/v1/enrollments")]
pub(super) async fn list_enrollments(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    authorize(&req, &state).await?;
    let query: ListQuery = parse_query(&req)?;
    let limit = match &query.limit {
        None => DEFAULT_LIMIT,
        Some(raw) => raw
            .trim()
            .parse::<i64>()
            .ok()
            .filter(|n| (1..=MAX_LIMIT).contains(n))
            .ok_or_else(|| ApiError::BadRequest(format!("limit must be 1 to {MAX_LIMIT}.")))?,
    };
    let since = match &query.since {
        None => None,
        Some(raw) => Some(
            DateTime::parse_from_rfc3339(raw.trim())
                .map_err(|_| {
                    ApiError::BadRequest(
                        "since must be an RFC 3339 time, like 2026-11-30T08:00:00Z.".into(),
                    )
                })?
                .naive_utc(),
        ),
    };
    let after =
        match &query.cursor {
            None => None,
            Some(raw) => Some(decode_cursor(raw).ok_or_else(|| {
                ApiError::BadRequest("cursor is not one this API gave out.".into())
            })?),
        };
    let course_named = query.course.clone();
    let email = query.email.clone();
    let page = with_db(&state, move |conn| {
        let course = match &course_named {
            None => None,
            Some(named) => match find_course(conn, named)? {
                Some(id) => Some(id),
                None => return Ok(None),
            },
        };
        let filter = Filter {
            email,
            course,
            since,
            after,
            limit,
        };
        enrollments::list(conn, &filter).map(Some)
    })
    .await??
    .ok_or_else(|| ApiError::NotFound("No course has that id or slug.".into()))?;
    let next_cursor = (page.len() as i64 == limit)
        .then(|| {
            page.last()
                .map(|e| encode_cursor(e.changed_at.naive_utc(), e.grant_id))
        })
        .flatten();
    Ok(HttpResponse::Ok().json(serde_json::json!({
        "data": page,
        "next_cursor": next_cursor,
    })))
}

#[derive(Deserialize)]
struct CheckQuery {
    email: Option<String>,
    course: Option<String>,
}

#[get("/api/v1/enrollments/check")]
pub(super) async fn check_enrollment(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    authorize(&req, &state).await?;
    let query: CheckQuery = parse_query(&req)?;
    let (Some(email), Some(course)) = (query.email, query.course) else {
        return Err(ApiError::BadRequest(
            "Both email and course are needed.".into(),
        ));
    };
    let active = with_db(&state, move |conn| match find_course(conn, &course)? {
        Some(course) => enrollments::is_active(conn, &email, course).map(Some),
        None => Ok(None),
    })
    .await??
    .ok_or_else(|| ApiError::NotFound("No course has that id or slug.".into()))?;
    Ok(HttpResponse::Ok().json(serde_json::json!({ "active": active })))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cursor_reads_back_and_anything_else_is_refused() {
        let at = DateTime::from_timestamp_micros(1_764_460_800_123_456)
            .unwrap()
            .naive_utc();
        assert_eq!(decode_cursor(&encode_cursor(at, 42)), Some((at, 42)));
        for bad in ["", "nonsense", "MTIz", "!!!"] {
            assert_eq!(decode_cursor(bad), None, "{bad}");
        }
    }
}
