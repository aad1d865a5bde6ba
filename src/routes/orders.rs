//! A student's invoice (staff see every one).

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, get, web};
use askama::Template;

use super::layout::{Layout, Viewer, render};
use super::{AppState, with_db};
use crate::domain::{NoteCause, Provider};
use crate::error::AppError;
use crate::services::back_office::invoices::{self, CreditNoteDoc, Invoice};

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

    /// Columns before the amounts: one more with a tax column.
    fn span(&self) -> usize {
        if self.invoice.view.tax.is_some() {
            4
        } else {
            3
        }
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

#[derive(Template)]
#[template(path = "orders/credit_note.html")]
struct CreditNotePage {
    layout: Layout,
    doc: CreditNoteDoc,
}

/// A credit note, printable like its invoice; the same access rule.
#[get("/orders/{order_number}/credit-notes/{note_number}")]
pub(super) async fn credit_note_page(
    req: HttpRequest,
    viewer: Viewer,
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, AppError> {
    let user = viewer.require_login(&req)?;
    let (user_id, staff) = (user.id, user.is_staff());
    let (number, note) = path.into_inner();
    let doc = with_db(&state, move |conn| {
        invoices::credit_note(conn, &number, &note, user_id, staff)
    })
    .await??
    .ok_or(AppError::NotFound)?;
    render(
        StatusCode::OK,
        &CreditNotePage {
            layout: Layout::new(&req, &viewer),
            doc,
        },
    )
}
