//! The learning platform's side, for staff: where its events go, which
//! are waiting or failing (with their last error, and a retry), and the
//! read API's tokens (listed and revoked here; made with the CLI).

use actix_session::SessionExt;
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, get, post, web};
use askama::Template;
use chrono::NaiveDateTime;

use crate::db;
use crate::error::AppError;
use crate::models::api_token::ApiToken;
use crate::models::lms_outbox::{OutboxCounts, OutboxEvent};
use crate::msg;
use crate::routes::csrf::{CsrfForm, NoFields};
use crate::routes::layout::{Layout, Viewer, render, see_other};
use crate::routes::{AppState, with_db};
use crate::session::{AppSession, FlashLevel};

/// Undelivered events shown on the page.
const SHOWN: i64 = 50;

/// An undelivered event, as staff read it.
struct WaitingEvent {
    event: OutboxEvent,
    student: String,
    course: String,
}

impl From<OutboxEvent> for WaitingEvent {
    fn from(event: OutboxEvent) -> Self {
        let payload: serde_json::Value = serde_json::from_str(&event.payload).unwrap_or_default();
        let field = |path: &str| {
            payload
                .pointer(path)
                .and_then(serde_json::Value::as_str)
                .unwrap_or("?")
                .to_owned()
        };
        Self {
            student: field("/data/student/email"),
            course: field("/data/course/title"),
            event,
        }
    }
}

#[derive(Template)]
#[template(path = "staff/integrations.html")]
struct IntegrationsPage {
    layout: Layout,
    webhook_url: Option<String>,
    counts: OutboxCounts,
    waiting: Vec<WaitingEvent>,
    tokens: Vec<ApiToken>,
    now: NaiveDateTime,
}

#[get("/staff/integrations")]
pub(super) async fn integrations(
    req: HttpRequest,
    viewer: Viewer,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    viewer.require_staff(&req)?;
    let (counts, waiting, tokens) = with_db(&state, |conn| {
        Ok::<_, diesel::result::Error>((
            OutboxEvent::counts(conn)?,
            OutboxEvent::undelivered(conn, SHOWN)?,
            ApiToken::list(conn)?,
        ))
    })
    .await??;
    render(
        StatusCode::OK,
        &IntegrationsPage {
            layout: Layout::new(&req, &viewer),
            webhook_url: state.settings.lms_webhook.as_ref().map(|h| h.url.clone()),
            counts,
            waiting: waiting.into_iter().map(WaitingEvent::from).collect(),
            tokens,
            now: db::now(),
        },
    )
}

fn id_in(path: &str) -> Result<i64, AppError> {
    path.trim().parse().map_err(|_| AppError::NotFound)
}

#[post("/staff/integrations/events/{id}/retry")]
pub(super) async fn retry_event(
    req: HttpRequest,
    viewer: Viewer,
    state: web::Data<AppState>,
    path: web::Path<String>,
    _form: CsrfForm<NoFields>,
) -> Result<HttpResponse, AppError> {
    viewer.require_staff(&req)?;
    let id = id_in(&path)?;
    if !with_db(&state, move |conn| {
        OutboxEvent::retry_now(conn, id, db::now())
    })
    .await??
    {
        return Err(AppError::NotFound);
    }
    let session = req.get_session();
    AppSession(&session).flash(FlashLevel::Info, msg!("integrations-retried"));
    Ok(see_other("/staff/integrations"))
}

#[post("/staff/integrations/tokens/{id}/revoke")]
pub(super) async fn revoke_token(
    req: HttpRequest,
    viewer: Viewer,
    state: web::Data<AppState>,
    path: web::Path<String>,
    _form: CsrfForm<NoFields>,
) -> Result<HttpResponse, AppError> {
    viewer.require_staff(&req)?;
    let id = id_in(&path)?;
    if !with_db(&state, move |conn| ApiToken::revoke(conn, id, db::now())).await?? {
        return Err(AppError::NotFound);
    }
    let session = req.get_session();
    AppSession(&session).flash(FlashLevel::Info, msg!("integrations-token-revoked"));
    Ok(see_other("/staff/integrations"))
}
