//! The error pages: every error response gets a body people can read, in
//! their language.

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header;
use actix_web::middleware::Next;
use actix_web::{FromRequest, HttpMessage, HttpResponse};
use askama::Template;
use tracing_actix_web::RequestId;

use super::layout::{Layout, Viewer, wants_json};
use crate::error::ErrorPage;

#[derive(Template)]
#[template(path = "errors/error.html")]
struct ErrorTemplate {
    layout: Layout,
    status: u16,
    title: String,
    message: String,
    request_id: Option<String>,
}

/// Middleware: gives every error response a body people can read. An
/// error that already has an HTML or JSON body is left alone; the rest
/// (ours, carrying an [`ErrorPage`], and actix's own 404/405/413) become
/// the error page in the site layout, or `{"error": ...}` for clients that
/// asked for JSON.
pub async fn error_pages(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, actix_web::Error> {
    let res = next.call(req).await?;
    let status = res.status();
    let has_body_of_its_own = res
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.starts_with("text/html") || ct.starts_with("application/json"));
    if !(status.is_client_error() || status.is_server_error()) || has_body_of_its_own {
        return Ok(res.map_into_left_body());
    }
    let page = res
        .response()
        .extensions()
        .get::<ErrorPage>()
        .cloned()
        .unwrap_or_else(|| ErrorPage::for_status(status));
    let (req, original) = res.into_parts();
    let viewer = Viewer::extract(&req)
        .await
        .unwrap_or_else(|_| Viewer::anonymous(&req, None));
    let i18n = viewer.i18n();
    let mut response = if wants_json(&req) {
        HttpResponse::build(status)
            .json(serde_json::json!({ "error": i18n.message(&page.message) }))
    } else {
        let request_id = req.extensions().get::<RequestId>().map(|id| id.to_string());
        let template = ErrorTemplate {
            layout: Layout::for_error(&req, &viewer),
            status: status.as_u16(),
            title: i18n.message(&page.title),
            message: i18n.message(&page.message),
            request_id: request_id.filter(|_| status.is_server_error()),
        };
        match template.render() {
            Ok(html) => HttpResponse::build(status)
                .content_type(header::ContentType::html())
                .body(html),
            Err(e) => {
                tracing::error!(error = %e, "error page template failed");
                HttpResponse::build(status)
                    .content_type(header::ContentType::plaintext())
                    .body(i18n.message(&page.message))
            }
        }
    };
    // Keep what the handler set beside the error, e.g. Retry-After.
    for (name, value) in original.headers() {
        if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
            response.headers_mut().insert(name.clone(), value.clone());
        }
    }
    Ok(ServiceResponse::new(req, response).map_into_right_body())
}
