//! Every state-changing request proves it came from our own page: the
//! form's `csrf_token` field (or the `X-CSRF-Token` header, for scripts)
//! must equal the token in the session.

use actix_session::SessionExt;
use actix_web::web::Bytes;
use actix_web::{FromRequest, HttpRequest, dev::Payload};
use futures_util::future::LocalBoxFuture;
use serde::Deserialize;
use serde::de::DeserializeOwned;

use crate::error::AppError;
use crate::session::AppSession;

pub const CSRF_HEADER: &str = "X-CSRF-Token";

/// No field of any form is longer (a course description is the longest
/// thing anyone types); longer values are a 400 before any work.
pub const MAX_FIELD_CHARS: usize = 10_000;

/// Checks a token presented by a form that `CsrfForm` does not read (a
/// multipart upload); the `X-CSRF-Token` header counts too.
pub fn check(req: &HttpRequest, presented: Option<&str>) -> Result<(), AppError> {
    let from_header = req.headers().get(CSRF_HEADER).and_then(|v| v.to_str().ok());
    let session = req.get_session();
    if AppSession(&session).csrf_matches(from_header.or(presented).unwrap_or("")) {
        Ok(())
    } else {
        Err(AppError::Forbidden(crate::msg!("error-csrf")))
    }
}

/// A url-encoded form whose CSRF token has been checked.
pub struct CsrfForm<T>(pub T);

/// A form with no fields but the token (logout, delete buttons).
#[derive(Deserialize)]
pub struct NoFields {}

#[derive(Deserialize)]
struct TokenField {
    #[serde(default)]
    csrf_token: Option<String>,
}

impl<T: DeserializeOwned + 'static> FromRequest for CsrfForm<T> {
    type Error = AppError;
    type Future = LocalBoxFuture<'static, Result<Self, AppError>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let req = req.clone();
        // `Bytes` honours the app's PayloadConfig limit.
        let body = Bytes::from_request(&req, payload);
        Box::pin(async move {
            let body = body.await.map_err(|e| {
                if e.as_response_error().status_code()
                    == actix_web::http::StatusCode::PAYLOAD_TOO_LARGE
                {
                    AppError::PayloadTooLarge
                } else {
                    AppError::BadRequest(crate::msg!("error-form-unreadable"))
                }
            })?;
            let presented = serde_urlencoded::from_bytes::<TokenField>(&body)
                .ok()
                .and_then(|field| field.csrf_token);
            check(&req, presented.as_deref())?;
            let fields: Vec<(String, String)> =
                serde_urlencoded::from_bytes(&body).unwrap_or_default();
            if let Some((name, _)) = fields
                .iter()
                .find(|(_, value)| value.chars().count() > MAX_FIELD_CHARS)
            {
                let name: String = name.chars().take(40).collect();
                return Err(AppError::BadRequest(crate::msg!(
                    "error-field-too-long",
                    field = name,
                    max = MAX_FIELD_CHARS
                )));
            }
            serde_html_form::from_bytes::<T>(&body)
                .map(CsrfForm)
                .map_err(|e| {
                    AppError::BadRequest(crate::msg!(
                        "error-form-malformed",
                        detail = e.to_string()
                    ))
                })
        })
    }
}
