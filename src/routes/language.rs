//! The footer's language switcher: a cookie for everyone, and the choice
//! kept on the account of a logged-in user (so mail speaks it too).

use actix_web::cookie::{Cookie, SameSite};
use actix_web::{HttpResponse, post, web};
use serde::Deserialize;

use super::csrf::CsrfForm;
use super::layout::{LANG_COOKIE, Viewer, see_other};
use super::{AppState, safe_next, with_db};
use crate::domain::Locale;
use crate::error::AppError;
use crate::models::user::User;

#[derive(Deserialize)]
struct LanguageForm {
    #[serde(default)]
    lang: String,
    next: Option<String>,
}

/// A year: the choice outlives sessions.
const COOKIE_DAYS: i64 = 365;

#[post("/language")]
pub(super) async fn set_language(
    viewer: Viewer,
    state: web::Data<AppState>,
    form: CsrfForm<LanguageForm>,
) -> Result<HttpResponse, AppError> {
    let form = form.0;
    let locale = Locale::parse(form.lang.trim())
        .map_err(|_| AppError::BadRequest(crate::msg!("language-unknown")))?;
    if let Some(user) = &viewer.user {
        let id = user.id;
        with_db(&state, move |conn| User::set_locale(conn, id, locale)).await??;
        state.users.forget(id);
    }
    let cookie = Cookie::build(LANG_COOKIE, locale.as_str())
        .path("/")
        .same_site(SameSite::Lax)
        .secure(state.settings.cookies_secure())
        .http_only(true)
        .max_age(actix_web::cookie::time::Duration::days(COOKIE_DAYS))
        .finish();
    let mut response = see_other(&safe_next(form.next.as_deref()));
    response
        .add_cookie(&cookie)
        .map_err(|e| AppError::Internal(anyhow::Error::new(e)))?;
    Ok(response)
}
