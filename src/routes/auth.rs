//! Register, log in, log out.

use actix_session::SessionExt;
use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, get, post, web};
use askama::Template;
use serde::Deserialize;

use super::csrf::{CsrfForm, NoFields};
use super::layout::{Layout, Viewer, render, see_other};
use super::{AppState, safe_next, with_db};
use crate::error::AppError;
use crate::i18n::Message;
use crate::models::user::User;
use crate::msg;
use crate::services::accounts::{self, AccountError, Registration};
use crate::services::cart;
use crate::session::{AppSession, FlashLevel};

#[derive(Deserialize, Default)]
struct NextQuery {
    next: Option<String>,
}

/// The client's address: the TCP peer, or behind a trusted reverse proxy
/// the address it forwarded (`TRUSTED_PROXIES`).
pub(super) fn client_ip(req: &HttpRequest, state: &AppState) -> String {
    let forwarded = req
        .headers()
        .get_all(header::X_FORWARDED_FOR)
        .filter_map(|v| v.to_str().ok());
    crate::config::client_address(
        req.peer_addr().map(|a| a.ip()),
        forwarded,
        &state.settings.trusted_proxies,
    )
    .map_or_else(|| "unknown".to_owned(), |ip| ip.to_string())
}

/// Logs the user in under a fresh session and brings the guest cart along,
/// telling them about courses left out because they already own them.
async fn start_session(
    req: &HttpRequest,
    state: &AppState,
    user: &User,
    welcome: Message,
) -> Result<(), AppError> {
    let session = req.get_session();
    let session = AppSession(&session);
    let guest_cart = session.guest_cart_token();
    session
        .log_in(user.id, user.session_version)
        .map_err(|e| AppError::Internal(anyhow::Error::new(e).context("session insert failed")))?;
    session.flash(FlashLevel::Success, welcome);
    let Some(token) = guest_cart else {
        return Ok(());
    };
    let user_id = user.id;
    let merged = with_db(state, move |conn| {
        cart::merge_guest_cart(conn, &token, user_id)
    })
    .await?
    .map_err(|e| {
        AppError::Internal(anyhow::Error::new(e).context("merging the guest cart failed"))
    })?;
    if !merged.already_owned.is_empty() {
        session.flash(
            FlashLevel::Info,
            msg!(
                "cart-owned-taken-out",
                titles = merged.already_owned.join(", ")
            ),
        );
    }
    if !merged.over_limit.is_empty() {
        session.flash(
            FlashLevel::Error,
            msg!("cart-merge-full", titles = merged.over_limit.join(", ")),
        );
    }
    Ok(())
}

#[derive(Template)]
#[template(path = "auth/register.html")]
struct RegisterPage {
    layout: Layout,
    email: String,
    name: String,
    next: String,
    /// Each problem of the form.
    errors: Vec<Message>,
}

#[derive(Template)]
#[template(path = "auth/login.html")]
struct LoginPage {
    layout: Layout,
    email: String,
    next: String,
    error: Option<Message>,
}

#[get("/register")]
pub(super) async fn register_form(
    req: HttpRequest,
    viewer: Viewer,
    query: web::Query<NextQuery>,
) -> Result<HttpResponse, AppError> {
    let next = safe_next(query.next.as_deref());
    if viewer.user.is_some() {
        return Ok(see_other(&next));
    }
    render(
        StatusCode::OK,
        &RegisterPage {
            layout: Layout::new(&req, &viewer),
            email: String::new(),
            name: String::new(),
            next,
            errors: Vec::new(),
        },
    )
}

#[derive(Deserialize)]
struct RegisterForm {
    #[serde(default)]
    email: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    password: String,
    next: Option<String>,
}

#[post("/register")]
pub(super) async fn register(
    req: HttpRequest,
    viewer: Viewer,
    state: web::Data<AppState>,
    form: CsrfForm<RegisterForm>,
) -> Result<HttpResponse, AppError> {
    let form = form.0;
    let next = safe_next(form.next.as_deref());
    let (email, name, password) = (form.email.clone(), form.name.clone(), form.password);
    let ip = client_ip(&req, &state);
    let limit = state.settings.sign_ups_per_hour;
    let locale = viewer.locale;
    let result = with_db(&state, move |conn| {
        accounts::register(
            conn,
            &Registration {
                email: &email,
                name: &name,
                password: &password,
                locale,
            },
            &ip,
            limit,
        )
    })
    .await?;
    let (status, errors) = match result {
        Ok(user) => {
            tracing::info!(user.id = %user.id, "account registered");
            let welcome = msg!("auth-welcome-new", name = user.name.clone());
            start_session(&req, &state, &user, welcome).await?;
            return Ok(see_other(&next));
        }
        Err(AccountError::Invalid(problems)) => (StatusCode::BAD_REQUEST, problems),
        Err(AccountError::EmailTaken) => (StatusCode::CONFLICT, vec![msg!("auth-email-taken")]),
        Err(AccountError::Throttled {
            retry_after_minutes,
        }) => (
            StatusCode::TOO_MANY_REQUESTS,
            vec![msg!(
                "auth-sign-up-throttled",
                minutes = retry_after_minutes
            )],
        ),
        Err(other) => return Err(AppError::Internal(anyhow::Error::new(other))),
    };
    render(
        status,
        &RegisterPage {
            layout: Layout::new(&req, &viewer),
            email: form.email,
            name: form.name,
            next,
            errors,
        },
    )
}

#[get("/login")]
pub(super) async fn login_form(
    req: HttpRequest,
    viewer: Viewer,
    query: web::Query<NextQuery>,
) -> Result<HttpResponse, AppError> {
    let next = safe_next(query.next.as_deref());
    if viewer.user.is_some() {
        return Ok(see_other(&next));
    }
    render(
        StatusCode::OK,
        &LoginPage {
            layout: Layout::new(&req, &viewer),
            email: String::new(),
            next,
            error: None,
        },
    )
}

#[derive(Deserialize)]
struct LoginForm {
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
    next: Option<String>,
}

#[post("/login")]
pub(super) async fn login(
    req: HttpRequest,
    viewer: Viewer,
    state: web::Data<AppState>,
    form: CsrfForm<LoginForm>,
) -> Result<HttpResponse, AppError> {
    let form = form.0;
    let next = safe_next(form.next.as_deref());
    let (email, password, ip) = (form.email.clone(), form.password, client_ip(&req, &state));
    let locale = viewer.locale;
    let result = with_db(&state, move |conn| {
        let user = accounts::authenticate(conn, &email, &password, &ip)?;
        // An account without a language takes the one they log in with.
        User::adopt_locale(conn, user.id, locale)?;
        Ok::<_, AccountError>(user)
    })
    .await?;
    let (status, error, retry_after) = match result {
        Ok(user) => {
            tracing::info!(user.id = %user.id, "logged in");
            let welcome = msg!("auth-welcome-back", name = user.name.clone());
            start_session(&req, &state, &user, welcome).await?;
            return Ok(see_other(&next));
        }
        Err(AccountError::InvalidCredentials) => (
            StatusCode::UNAUTHORIZED,
            msg!("auth-invalid-credentials"),
            None,
        ),
        Err(AccountError::Throttled {
            retry_after_minutes,
        }) => (
            StatusCode::TOO_MANY_REQUESTS,
            msg!("auth-login-throttled", minutes = retry_after_minutes),
            Some(retry_after_minutes * 60),
        ),
        Err(other) => return Err(AppError::Internal(anyhow::Error::new(other))),
    };
    let mut response = render(
        status,
        &LoginPage {
            layout: Layout::new(&req, &viewer),
            email: form.email,
            next,
            error: Some(error),
        },
    )?;
    if let Some(seconds) = retry_after {
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, header::HeaderValue::from(seconds));
    }
    Ok(response)
}

#[post("/logout")]
pub(super) async fn logout(
    req: HttpRequest,
    viewer: Viewer,
    state: web::Data<AppState>,
    _form: CsrfForm<NoFields>,
) -> Result<HttpResponse, AppError> {
    if let Some(user) = viewer.user {
        let user_id = user.id;
        with_db(&state, move |conn| accounts::end_sessions(conn, user_id))
            .await?
            .map_err(|e| AppError::Internal(anyhow::Error::new(e)))?;
        state.users.forget(user_id);
        tracing::info!(user.id = %user_id, "logged out");
    }
    let session = req.get_session();
    let session = AppSession(&session);
    session.log_out();
    session.flash(FlashLevel::Info, msg!("auth-logged-out"));
    Ok(see_other("/"))
}
