//! The documents page: invoices and credit notes for the books, with the
//! accountant's CSV.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, get, web};
use askama::Template;
use serde::Deserialize;

use crate::domain::{Locale, Money};
use crate::error::AppError;
use crate::i18n::Message;
use crate::routes::layout::{Layout, Viewer, render};
use crate::routes::{AppState, with_db};
use crate::services::back_office::date_range;
use crate::services::back_office::documents::{self, DocumentQuery, DocumentRow, DocumentType};

#[derive(Deserialize, Default)]
struct DocumentFilter {
    #[serde(default, rename = "type")]
    kind: String,
    #[serde(default)]
    from: String,
    #[serde(default)]
    to: String,
}

impl DocumentFilter {
    fn parse(&self) -> Result<DocumentQuery, Message> {
        let kind = DocumentType::parse_filter(&self.kind)?;
        let (from, to) = date_range(&self.from, &self.to)?;
        Ok(DocumentQuery { kind, from, to })
    }

    fn query_string(&self) -> String {
        serde_urlencoded::to_string([
            ("type", self.kind.as_str()),
            ("from", self.from.as_str()),
            ("to", self.to.as_str()),
        ])
        .unwrap_or_default()
    }
}

#[derive(Template)]
#[template(path = "staff/documents.html")]
struct DocumentsPage {
    layout: Layout,
    filter: DocumentFilter,
    rows: Vec<DocumentRow>,
    error: Option<Message>,
}

impl DocumentsPage {
    fn types(&self) -> &'static [DocumentType] {
        DocumentType::ALL
    }
}

#[get("/staff/documents")]
pub(super) async fn staff_documents(
    req: HttpRequest,
    viewer: Viewer,
    state: web::Data<AppState>,
    query: web::Query<DocumentFilter>,
) -> Result<HttpResponse, AppError> {
    viewer.require_staff(&req)?;
    let filter = query.into_inner();
    let (status, rows, error) = match filter.parse() {
        Ok(query) => {
            let rows = with_db(&state, move |conn| documents::documents(conn, &query)).await??;
            (StatusCode::OK, rows, None)
        }
        Err(message) => (StatusCode::BAD_REQUEST, Vec::new(), Some(message)),
    };
    render(
        status,
        &DocumentsPage {
            layout: Layout::new(&req, &viewer),
            filter,
            rows,
            error,
        },
    )
}

/// One row per document: what an accountant books.
#[get("/staff/documents.csv")]
pub(super) async fn staff_documents_csv(
    req: HttpRequest,
    viewer: Viewer,
    state: web::Data<AppState>,
    query: web::Query<DocumentFilter>,
) -> Result<HttpResponse, AppError> {
    viewer.require_staff(&req)?;
    let query = query.parse().map_err(AppError::BadRequest)?;
    let rows = with_db(&state, move |conn| documents::documents(conn, &query)).await??;
    let body = super::journal::csv_bytes(|w| {
        w.write_record([
            "type",
            "number",
            "issued_at",
            "order_number",
            "credits_invoice",
            "buyer_name",
            "buyer_email",
            "buyer_company",
            "buyer_tax_id",
            "amount",
            "currency",
            "tax",
            "net_of_tax",
        ])?;
        for row in &rows {
            w.write_record([
                row.kind.as_str(),
                &row.number,
                &row.issued_at.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
                &row.order_number,
                row.credits.as_deref().unwrap_or(""),
                &row.buyer_name,
                &row.buyer_email,
                row.buyer_company.as_deref().unwrap_or(""),
                row.buyer_tax_id.as_deref().unwrap_or(""),
                &row.amount.to_major_string_in(Locale::En),
                row.amount.currency.code(),
                &row.tax.to_major_string_in(Locale::En),
                &Money::new(row.amount.minor - row.tax.minor, row.amount.currency)
                    .to_major_string_in(Locale::En),
            ])?;
        }
        Ok(())
    })?;
    Ok(HttpResponse::Ok()
        .content_type("text/csv; charset=utf-8")
        .insert_header((
            "Content-Disposition",
            "attachment; filename=\"kasir-documents.csv\"",
        ))
        .body(body))
}
