use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, get, web};
use askama::Template;

use super::AppState;
use super::layout::{Layout, Viewer, render};
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
    state: web::Data<AppState>,
    query: web::Query<PageQuery>,
) -> Result<HttpResponse, AppError> {
    let page = query.page.unwrap_or(1);
    let shared = state.clone();
    let (viewer, catalog) = Viewer::with_kept_page(
        &req,
        |state| Some(state.catalog.get(page)?.for_visitor()),
        move |conn, viewer| {
            catalog::published_courses(
                conn,
                &shared.catalog,
                page,
                viewer.user_id(),
                &viewer.cart_course_ids,
            )
        },
    )
    .await?;
    let catalog = catalog?;
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
    slug: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let slug = slug.into_inner();
    let (viewer, card) = Viewer::with_page(&req, move |conn, viewer| {
        catalog::published_course(conn, &slug, viewer.user_id(), &viewer.cart_course_ids)
    })
    .await?;
    let card = card?.ok_or(AppError::NotFound)?;
    render(
        StatusCode::OK,
        &CoursePage {
            layout: Layout::new(&req, &viewer),
            card,
        },
    )
}
