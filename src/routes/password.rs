//! Forgotten passwords: ask for a link, follow it, choose a new password.

use actix_session::SessionExt;
use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, get, post, web};
use askama::Template;
use serde::Deserialize;

use super::auth::client_ip;
use super::csrf::CsrfForm;
use super::layout::{Layout, Viewer, render, see_other};
use super::{AppState, with_db};
use crate::error::AppError;
use crate::i18n::Message;
use crate::msg;
use crate::services::accounts::AccountError;
use crate::services::password_reset::{self, LINK_LIFETIME, ResetContext, ResetError};
use crate::session::{AppSession, FlashLevel};

#[derive(Template)]
#[template(path = "auth/forgot.html")]
struct ForgotPage {
    layout: Layout,
    email: String,
    /// The request went in: the page says so, whatever the address.
    sent: bool,
    error: Option<Message>,
}

#[derive(Template)]
#[template(path = "auth/reset.html")]
struct ResetPage {
    layout: Layout,
    /// None: the link is unknown, used or expired.
    token: Option<String>,
    error: Option<Message>,
}

/// A page whose URL holds a secret: no Referer leaves it.
fn private(mut response: HttpResponse) -> HttpResponse {
    response.headers_mut().insert(
        header::REFERRER_POLICY,
        header::HeaderValue::from_static("no-referrer"),
    );
    response.headers_mut().insert(
        header::CACHE_CONTROL,
        header::HeaderValue::from_static("no-store"),
    );
    response
}

#[get("/password/forgot")]
pub(super) async fn forgot_form(
    req: HttpRequest,
    viewer: Viewer,
) -> Result<HttpResponse, AppError> {
    render(
        StatusCode::OK,
        &ForgotPage {
            layout: Layout::new(&req, &viewer),
            email: String::new(),
            sent: false,
            error: None,
        },
    )
}

#[derive(Deserialize)]
struct ForgotForm {
    #[serde(default)]
    email: String,
}

#[post("/password/forgot")]
pub(super) async fn forgot(
    req: HttpRequest,
    viewer: Viewer,
    state: web::Data<AppState>,
    form: CsrfForm<ForgotForm>,
) -> Result<HttpResponse, AppError> {
    let email = form.0.email;
    let (address, ip) = (email.clone(), client_ip(&req, &state));
    let i18n = viewer.i18n();
    let shared = state.clone();
    let result = with_db(&state, move |conn| {
        password_reset::request(
            conn,
            &address,
            &ResetContext {
                i18n,
                public_url: &shared.settings.public_url,
                client_ip: &ip,
            },
        )
    })
    .await?;
    let (status, sent, error) = match result {
        Ok(()) => (StatusCode::OK, true, None),
        Err(AccountError::Invalid(mut problems)) => {
            (StatusCode::BAD_REQUEST, false, problems.pop())
        }
        Err(AccountError::Throttled {
            retry_after_minutes,
        }) => (
            StatusCode::TOO_MANY_REQUESTS,
            false,
            Some(msg!("reset-throttled", minutes = retry_after_minutes)),
        ),
        Err(other) => return Err(AppError::Internal(anyhow::Error::new(other))),
    };
    render(
        status,
        &ForgotPage {
            layout: Layout::new(&req, &viewer),
            email,
            sent,
            error,
        },
    )
}

#[get("/password/reset/{token}")]
pub(super) async fn reset_form(
    req: HttpRequest,
    viewer: Viewer,
    state: web::Data<AppState>,
    token: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let token = token.into_inner();
    let probe = token.clone();
    let live = with_db(&state, move |conn| password_reset::account_of(conn, &probe))
        .await??
        .is_some();
    let page = ResetPage {
        layout: Layout::new(&req, &viewer),
        token: live.then_some(token),
        error: None,
    };
    let status = if live {
        StatusCode::OK
    } else {
        StatusCode::GONE
    };
    Ok(private(render(status, &page)?))
}

#[derive(Deserialize)]
struct ResetForm {
    #[serde(default)]
    password: String,
}

#[post("/password/reset/{token}")]
pub(super) async fn reset(
    req: HttpRequest,
    viewer: Viewer,
    state: web::Data<AppState>,
    token: web::Path<String>,
    form: CsrfForm<ResetForm>,
) -> Result<HttpResponse, AppError> {
    let token = token.into_inner();
    let (used, password, ip) = (token.clone(), form.0.password, client_ip(&req, &state));
    let result = with_db(&state, move |conn| {
        password_reset::reset(conn, &used, &password, &ip)
    })
    .await?;
    let (status, page) = match result {
        Ok(user) => {
            state.users.forget(user.id);
            tracing::info!(user.id = %user.id, "password reset");
            let session = req.get_session();
            let session = AppSession(&session);
            session.log_in(user.id, user.session_version).map_err(|e| {
                AppError::Internal(anyhow::Error::new(e).context("session insert failed"))
            })?;
            session.flash(FlashLevel::Success, msg!("reset-done"));
            return Ok(see_other("/"));
        }
        Err(ResetError::InvalidLink) => (
            StatusCode::GONE,
            ResetPage {
                layout: Layout::new(&req, &viewer),
                token: None,
                error: None,
            },
        ),
        Err(ResetError::Password(problem)) => (
            StatusCode::BAD_REQUEST,
            ResetPage {
                layout: Layout::new(&req, &viewer),
                token: Some(token),
                error: Some(problem),
            },
        ),
        Err(other) => return Err(AppError::Internal(anyhow::Error::new(other))),
    };
    Ok(private(render(status, &page)?))
}

/// For the page: how long a link lasts.
impl ForgotPage {
    fn minutes(&self) -> i64 {
        LINK_LIFETIME.num_minutes()
    }
}
