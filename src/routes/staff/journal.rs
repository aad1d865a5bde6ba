//! The journal, filterable, and its CSV export.

use actix_web::http::StatusCode;
use actix_web::web::Bytes;
use actix_web::{HttpRequest, HttpResponse, get, web};
use askama::Template;
use futures_util::StreamExt;

use super::filters;
use crate::domain::{JournalKind, JournalStatus, Money};
use crate::error::AppError;
use crate::routes::layout::{Layout, Viewer, render};
use crate::routes::{AppState, with_db};
use crate::services::back_office::journal_queries::{self, JournalFilter, JournalLine};

#[derive(Template)]
#[template(path = "staff/journal.html")]
struct JournalPage {
    layout: Layout,
    filter: JournalFilter,
    lines: Vec<JournalLine>,
    more: bool,
    error: Option<crate::i18n::Message>,
    csv_query: String,
}

const JOURNAL_PAGE_ROWS: i64 = 500;

impl JournalPage {
    fn kinds(&self) -> &'static [JournalKind] {
        JournalKind::ALL
    }

    fn statuses(&self) -> &'static [JournalStatus] {
        JournalStatus::ALL
    }
}

fn journal_query(filter: &JournalFilter) -> String {
    serde_urlencoded::to_string([
        ("type", filter.kind.as_str()),
        ("status", filter.status.as_str()),
        ("from", filter.from.as_str()),
        ("to", filter.to.as_str()),
        ("order", filter.order.as_str()),
    ])
    .unwrap_or_default()
}

#[get("/staff/journal")]
pub(super) async fn staff_journal(
    req: HttpRequest,
    viewer: Viewer,
    state: web::Data<AppState>,
    query: web::Query<JournalFilter>,
) -> Result<HttpResponse, AppError> {
    viewer.require_staff(&req)?;
    let filter = query.into_inner();
    let (status, lines, more, error) = match filter.parse() {
        Ok(wanted) => {
            let (lines, more) = with_db(&state, move |conn| {
                journal_queries::journal_page(conn, &wanted, JOURNAL_PAGE_ROWS)
            })
            .await??;
            (StatusCode::OK, lines, more, None)
        }
        Err(message) => (StatusCode::BAD_REQUEST, Vec::new(), false, Some(message)),
    };
    let csv_query = journal_query(&filter);
    render(
        status,
        &JournalPage {
            layout: Layout::new(&req, &viewer),
            filter,
            lines,
            more,
            error,
            csv_query,
        },
    )
}

/// Rows fetched per trip while streaming the CSV: memory stays flat
/// however long the journal is.
const CSV_CHUNK_ROWS: i64 = 1_000;

#[get("/staff/journal.csv")]
pub(super) async fn staff_journal_csv(
    req: HttpRequest,
    viewer: Viewer,
    state: web::Data<AppState>,
    query: web::Query<JournalFilter>,
) -> Result<HttpResponse, AppError> {
    viewer.require_staff(&req)?;
    // Checked once, before the 200 is sent.
    let filter = query.into_inner().parse().map_err(AppError::BadRequest)?;
    let header = csv_bytes(|w| {
        w.write_record([
            "id",
            "created_at",
            "type",
            "status",
            "amount_minor",
            "currency",
            "amount",
            "order_number",
            "description",
            "provider_event_id",
            "idempotency_key",
            "row_hash",
        ])
    })?;
    let state = state.into_inner();
    let rows = futures_util::stream::unfold(Some(0i64), move |after| {
        let (state, filter) = (state.clone(), filter.clone());
        async move {
            let after = after?;
            let fetched = with_db(&state, move |conn| {
                journal_queries::journal_rows(conn, &filter, after, CSV_CHUNK_ROWS)
            })
            .await;
            let rows = match fetched {
                Ok(Ok(rows)) => rows,
                _ => {
                    return Some((
                        Err(actix_web::error::ErrorInternalServerError(
                            "journal export failed",
                        )),
                        None,
                    ));
                }
            };
            if rows.is_empty() {
                return None;
            }
            let last = rows.last().map(|(row, _)| row.id);
            let next = (rows.len() as i64 == CSV_CHUNK_ROWS)
                .then_some(last)
                .flatten();
            let chunk = csv_bytes(|w| {
                for (row, number) in &rows {
                    let formatted = Money::new(row.amount_cents, row.currency).to_string();
                    w.write_record([
                        row.id.to_string().as_str(),
                        &row.created_at.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string(),
                        row.kind.as_str(),
                        row.status.as_str(),
                        &row.amount_cents.to_string(),
                        row.currency.code(),
                        &formatted,
                        number.as_deref().unwrap_or(""),
                        &row.description,
                        row.provider_event_id.as_deref().unwrap_or(""),
                        &row.idempotency_key,
                        row.row_hash.as_deref().unwrap_or(""),
                    ])?;
                }
                Ok(())
            })
            .map_err(|_| actix_web::error::ErrorInternalServerError("journal export failed"));
            Some((chunk, next))
        }
    });
    let body =
        futures_util::stream::once(async move { Ok::<_, actix_web::Error>(header) }).chain(rows);
    Ok(HttpResponse::Ok()
        .content_type("text/csv; charset=utf-8")
        .insert_header((
            "Content-Disposition",
            "attachment; filename=\"kasir-journal.csv\"",
        ))
        .streaming(body))
}

/// Writes CSV records (RFC 4180 quoting, CRLF line ends) into bytes.
pub(super) fn csv_bytes(
    write: impl FnOnce(&mut csv::Writer<Vec<u8>>) -> csv::Result<()>,
) -> Result<Bytes, AppError> {
    let mut writer = csv::WriterBuilder::new()
        .terminator(csv::Terminator::CRLF)
        .from_writer(Vec::new());
    write(&mut writer).map_err(|e| AppError::Internal(anyhow::Error::new(e)))?;
    let bytes = writer
        .into_inner()
        .map_err(|e| AppError::Internal(anyhow::anyhow!("csv: {e}")))?;
    Ok(Bytes::from(bytes))
}
