//! The student's own pages: courses they own and their orders.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, get, web};
use askama::Template;

use super::layout::{Layout, Viewer, render};
use super::{AppState, with_db};
use crate::error::AppError;
use crate::services::student::{self, OrderRow, OwnedCourse};

#[derive(Template)]
#[template(path = "student/my_courses.html")]
struct MyCoursesPage {
    layout: Layout,
    courses: Vec<OwnedCourse>,
}

#[get("/my-courses")]
pub(super) async fn my_courses(
    req: HttpRequest,
    viewer: Viewer,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let user_id = viewer.require_login(&req)?.id;
    let courses = with_db(&state, move |conn| student::owned_courses(conn, user_id)).await??;
    render(
        StatusCode::OK,
        &MyCoursesPage {
            layout: Layout::new(&req, &viewer),
            courses,
        },
    )
}

#[derive(Template)]
#[template(path = "student/orders.html")]
struct OrdersPage {
    layout: Layout,
    orders: Vec<OrderRow>,
}

#[get("/orders")]
pub(super) async fn orders(
    req: HttpRequest,
    viewer: Viewer,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let user_id = viewer.require_login(&req)?.id;
    let orders = with_db(&state, move |conn| student::order_history(conn, user_id)).await??;
    render(
        StatusCode::OK,
        &OrdersPage {
            layout: Layout::new(&req, &viewer),
            orders,
        },
    )
}
