//! Register, log in, log out.

use actix_session::SessionExt;
use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, get, post, web};
use askama::Template;
use serde::Deserialize;

use super::csrf::{CsrfForm, NoFields};
use super::layout::{Layout, Viewer, render, see_other};
use super::{AppState, with_db};
use crate::error::AppError;
use crate::services::accounts::{self, AccountError, Registration};
use crate::session::{AppSession, FlashLevel};

#[derive(Deserialize, Default)]
struct NextQuery {
    next: Option<String>,
}

/// Where to go after logging in: only a path on this site, never an
/// absolute or protocol-relative URL (an open redirect).
fn safe_next(next: Option<&str>) -> String {
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

fn client_ip(req: &HttpRequest) -> String {
    req.peer_addr()
        .map_or_else(|| "unknown".to_owned(), |addr| addr.ip().to_string())
}

#[derive(Template)]
#[template(path = "auth/register.html")]
struct RegisterPage {
    layout: Layout,
    email: String,
    name: String,
    next: String,
    error: Option<String>,
}

#[derive(Template)]
#[template(path = "auth/login.html")]
struct LoginPage {
    layout: Layout,
    email: String,
    next: String,
    error: Option<String>,
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
            error: None,
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
    let result = with_db(&state, move |conn| {
        accounts::register(
            conn,
            &Registration {
                email: &email,
                name: &name,
                password: &password,
            },
        )
    })
    .await?;
    let (status, error) = match result {
        Ok(user) => {
            let session = req.get_session();
            let session = AppSession(&session);
            session.log_in(user.id, user.session_version).map_err(|e| {
                AppError::Internal(anyhow::Error::new(e).context("session insert failed"))
            })?;
            tracing::info!(user.id = %user.id, "account registered");
            session.flash(
                FlashLevel::Success,
                format!("Welcome to kasir, {}! Your account is ready.", user.name),
            );
            return Ok(see_other(&next));
        }
        Err(AccountError::Invalid(message)) => (StatusCode::BAD_REQUEST, message),
        Err(AccountError::EmailTaken) => (
            StatusCode::CONFLICT,
            "An account with this email already exists. Log in instead, or use another address."
                .to_owned(),
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
            error: Some(error),
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
    let (email, password, ip) = (form.email.clone(), form.password, client_ip(&req));
    let result = with_db(&state, move |conn| {
        accounts::authenticate(conn, &email, &password, &ip)
    })
    .await?;
    let (status, error, retry_after) = match result {
        Ok(user) => {
            let session = req.get_session();
            let session = AppSession(&session);
            session.log_in(user.id, user.session_version).map_err(|e| {
                AppError::Internal(anyhow::Error::new(e).context("session insert failed"))
            })?;
            tracing::info!(user.id = %user.id, "logged in");
            session.flash(FlashLevel::Success, format!("Welcome back, {}.", user.name));
            return Ok(see_other(&next));
        }
        Err(AccountError::InvalidCredentials) => (
            StatusCode::UNAUTHORIZED,
            "Invalid email or password.".to_owned(),
            None,
        ),
        Err(AccountError::Throttled {
            retry_after_minutes,
        }) => (
            StatusCode::TOO_MANY_REQUESTS,
            format!(
                "Too many failed attempts. For your security, logging in is paused; try again in {retry_after_minutes} minute{}.",
                if retry_after_minutes == 1 { "" } else { "s" }
            ),
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
        tracing::info!(user.id = %user_id, "logged out");
    }
    let session = req.get_session();
    let session = AppSession(&session);
    session.log_out();
    session.flash(FlashLevel::Info, "You have been logged out.");
    Ok(see_other("/"))
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
