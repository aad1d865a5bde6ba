use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, get, web};
use askama::Template;

use super::layout::{Layout, Viewer, render};
use super::{AppState, with_db};
use crate::error::AppError;
use crate::services::catalog::{self, CourseCard};

#[derive(Template)]
#[template(path = "catalog/index.html")]
struct CatalogPage {
    layout: Layout,
    courses: Vec<CourseCard>,
}

#[get("/")]
pub(super) async fn index(
    req: HttpRequest,
    viewer: Viewer,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let user_id = viewer.user.as_ref().map(|u| u.id);
    let cart = viewer.cart_course_ids.clone();
    let courses = with_db(&state, move |conn| {
        catalog::published_courses(conn, user_id, &cart)
    })
    .await??;
    render(
        StatusCode::OK,
        &CatalogPage {
            layout: Layout::new(&req, &viewer),
            courses,
        },
    )
}

#[derive(Template)]
#[template(path = "catalog/course.html")]
struct CoursePage {
    layout: Layout,
    card: CourseCard,
}

#[get("/courses/{slug}")]
pub(super) async fn course_page(
    req: HttpRequest,
    viewer: Viewer,
    state: web::Data<AppState>,
    slug: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let slug = slug.into_inner();
    let user_id = viewer.user.as_ref().map(|u| u.id);
    let cart = viewer.cart_course_ids.clone();
    let card = with_db(&state, move |conn| {
        catalog::published_course(conn, &slug, user_id, &cart)
    })
    .await??
    .ok_or(AppError::NotFound)?;
    render(
        StatusCode::OK,
        &CoursePage {
            layout: Layout::new(&req, &viewer),
            card,
        },
    )
}
