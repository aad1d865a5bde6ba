//! A student's invoice (staff see every one).

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, get, web};
use askama::Template;

use super::layout::{Layout, Viewer, render};
use super::{AppState, with_db};
use crate::domain::Provider;
use crate::error::AppError;
use crate::services::back_office::invoices::{self, Invoice};

#[derive(Template)]
#[template(path = "orders/invoice.html")]
struct InvoicePage {
    layout: Layout,
    invoice: Invoice,
}

impl InvoicePage {
    fn free(&self) -> bool {
        self.invoice.view.order.provider == Provider::Free
    }
}

#[get("/orders/{order_number}")]
pub(super) async fn invoice_page(
    req: HttpRequest,
    viewer: Viewer,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let user = viewer.require_login(&req)?;
    let (user_id, staff, number) = (user.id, user.is_staff(), path.into_inner());
    // Anyone else's order is "not found", not "forbidden": order numbers
    // are guessable, and their existence is nobody else's business.
    let invoice = with_db(&state, move |conn| {
        invoices::invoice(conn, &number, user_id, staff)
    })
    .await??
    .ok_or(AppError::NotFound)?;
    render(
        StatusCode::OK,
        &InvoicePage {
            layout: Layout::new(&req, &viewer),
            invoice,
        },
    )
}
