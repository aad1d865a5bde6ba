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
    page: i64,
    pages: i64,
}

#[derive(serde::Deserialize)]
struct PageQuery {
    page: Option<i64>,
}

#[get("/")]
pub(super) async fn index(
    req: HttpRequest,
    viewer: Viewer,
    state: web::Data<AppState>,
    query: web::Query<PageQuery>,
) -> Result<HttpResponse, AppError> {
    let user_id = viewer.user.as_ref().map(|u| u.id);
    let cart = viewer.cart_course_ids.clone();
    let page = query.page.unwrap_or(1);
    let catalog = with_db(&state, move |conn| {
        catalog::published_courses(conn, page, user_id, &cart)
    })
    .await??;
    render(
        StatusCode::OK,
        &CatalogPage {
            layout: Layout::new(&req, &viewer),
            courses: catalog.cards,
            page: catalog.page,
            pages: catalog.pages,
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
