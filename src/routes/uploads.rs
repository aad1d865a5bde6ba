//! Uploaded cover images, served from the uploads directory: only names
//! the upload code made, with their checked type, never sniffed, and
//! cached for good (a new image gets a new name).

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, get, web};

use crate::error::AppError;
use crate::routes::AppState;
use crate::services::uploads;

#[get("/uploads/{name}")]
pub(super) async fn upload(
    req: HttpRequest,
    state: web::Data<AppState>,
    name: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let content_type = uploads::content_type(&name).ok_or(AppError::NotFound)?;
    let path = uploads::path_of(&state.settings.uploads_dir, &name).ok_or(AppError::NotFound)?;
    let file = actix_files::NamedFile::open_async(&path)
        .await
        .map_err(|_| AppError::NotFound)?
        .set_content_type(content_type.parse().map_err(|_| AppError::NotFound)?)
        .use_etag(true)
        .use_last_modified(true);
    let mut response = file.into_response(&req);
    let headers = response.headers_mut();
    headers.insert(
        header::CACHE_CONTROL,
        header::HeaderValue::from_static("public, max-age=31536000, immutable"),
    );
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        header::HeaderValue::from_static("default-src 'none'; sandbox"),
    );
    Ok(response)
}
