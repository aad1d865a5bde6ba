//! Invoices for students, and the staff back office: invoice history,
//! an order's story with the refund action, the journal (and its CSV), and
//! revenue reports. Staff routes check the role on the server, every time.

use actix_session::SessionExt;
use actix_web::http::StatusCode;
use actix_web::web::Bytes;
use actix_web::{HttpRequest, HttpResponse, get, post, web};
use askama::Template;
use futures_util::StreamExt;
use serde::Deserialize;

use super::csrf::CsrfForm;
use super::layout::{Layout, Viewer, render, see_other};
use super::{AppState, with_db};
use crate::error::AppError;
use crate::models::order::{PAID, PARTIALLY_REFUNDED};
use crate::payments::Payments;
use crate::services::back_office::{
    self, Invoice, JournalFilter, JournalLine, OrderFilter, OrderList, OrderStory, Recap, Report,
};
use crate::services::journal::ChainVerdict;
use crate::session::{AppSession, FlashLevel};

#[derive(Template)]
#[template(path = "orders/invoice.html")]
struct InvoicePage {
    layout: Layout,
    invoice: Invoice,
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
        back_office::invoice(conn, &number, user_id, staff)
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
#[template(path = "staff/orders.html")]
struct StaffOrdersPage {
    layout: Layout,
    filter: OrderFilter,
    list: Option<OrderList>,
    error: Option<String>,
}

impl StaffOrdersPage {
    /// The query string for another page of the same filters.
    fn page_query(&self, page: i64) -> String {
        let f = &self.filter;
        serde_urlencoded::to_string([
            ("status", f.status.as_str()),
            ("from", f.from.as_str()),
            ("to", f.to.as_str()),
            ("email", f.email.as_str()),
            ("number", f.number.as_str()),
            ("promo", f.promo.as_str()),
            ("page", page.to_string().as_str()),
        ])
        .unwrap_or_default()
    }
}

#[get("/staff/orders")]
pub(super) async fn staff_orders(
    req: HttpRequest,
    viewer: Viewer,
    state: web::Data<AppState>,
    query: web::Query<OrderFilter>,
) -> Result<HttpResponse, AppError> {
    viewer.require_staff(&req)?;
    let filter = query.into_inner();
    let currency = state.settings.currency;
    let wanted = filter.clone();
    let result = with_db(&state, move |conn| {
        Ok::<_, diesel::result::Error>(back_office::staff_orders(conn, &wanted, currency))
    })
    .await??;
    let (status, list, error) = match result {
        Ok(list) => (StatusCode::OK, Some(list), None),
        Err(message) => (StatusCode::BAD_REQUEST, None, Some(message)),
    };
    render(
        status,
        &StaffOrdersPage {
            layout: Layout::new(&req, &viewer),
            filter,
            list,
            error,
        },
    )
}

#[derive(Template)]
#[template(path = "staff/order.html")]
struct StaffOrderPage {
    layout: Layout,
    story: OrderStory,
    refundable: Option<String>,
    refundable_cents: i64,
}

#[get("/staff/orders/{order_number}")]
pub(super) async fn staff_order(
    req: HttpRequest,
    viewer: Viewer,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let staff = viewer.require_staff(&req)?.id;
    let number = path.into_inner();
    let story = with_db(&state, move |conn| {
        back_office::order_story(conn, &number, staff)
    })
    .await??
    .ok_or(AppError::NotFound)?;
    let order = &story.invoice.view.order;
    let refundable_cents = if order.status == PAID || order.status == PARTIALLY_REFUNDED {
        order.total_cents - order.refunded_cents
    } else {
        0
    };
    let refundable = (refundable_cents > 0).then(|| story.invoice.balance.clone());
    render(
        StatusCode::OK,
        &StaffOrderPage {
            layout: Layout::new(&req, &viewer),
            story,
            refundable,
            refundable_cents,
        },
    )
}

#[derive(Deserialize)]
struct RefundForm {
    #[serde(default)]
    amount_cents: String,
    #[serde(default)]
    reason: String,
}

/// Asks the provider to refund; the refund row, the order's status and the
/// end of access follow from the provider's `charge.refunded` event.
#[post("/staff/orders/{order_number}/refund")]
pub(super) async fn refund_order(
    req: HttpRequest,
    viewer: Viewer,
    state: web::Data<AppState>,
    path: web::Path<String>,
    form: CsrfForm<RefundForm>,
) -> Result<HttpResponse, AppError> {
    let staff = viewer.require_staff(&req)?;
    let (staff_id, staff_email) = (staff.id, staff.email.clone());
    let number = path.into_inner();
    let back = format!("/staff/orders/{number}");
    let lookup = number.clone();
    let order = with_db(&state, move |conn| {
        crate::models::order::Order::find_by_number(conn, &lookup)
    })
    .await??
    .ok_or(AppError::NotFound)?;
    let reason = form.0.reason.trim().to_owned();
    if reason.is_empty() || reason.chars().count() > 500 {
        return Err(AppError::BadRequest(
            "Give a reason for the refund (at most 500 characters).".into(),
        ));
    }
    let left = order.total_cents - order.refunded_cents;
    if !(order.status == PAID || order.status == PARTIALLY_REFUNDED) || left <= 0 {
        return Err(AppError::Conflict(
            "Only a paid order with something left to refund can be refunded.".into(),
        ));
    }
    let amount = match form.0.amount_cents.trim() {
        "" => left,
        raw => raw.parse::<i64>().ok().filter(|a| *a > 0).ok_or_else(|| {
            AppError::BadRequest(
                "The amount is a whole number of minor units (cents), above 0.".into(),
            )
        })?,
    };
    if amount > left {
        return Err(AppError::BadRequest(format!(
            "That is more than is left to refund ({left} minor units)."
        )));
    }
    let Some(intent) = order.payment_intent_id.clone() else {
        return Err(AppError::Conflict(
            "This order was not paid through a provider (a free order).".into(),
        ));
    };
    let key = format!(
        "order-{}-refund-{}-{amount}",
        order.id.0, order.refunded_cents
    );
    tracing::info!(order.id = %order.id, amount, staff.id = %staff_id, reason = %reason, "refund requested");
    let outcome = match &state.payments {
        Payments::Stripe(stripe) => stripe
            .refund(&intent, amount, &key, &reason)
            .await
            .map(|_| ()),
        Payments::Sandbox(sandbox) => match sandbox.refund(&intent, amount).await {
            Ok((_, event)) => {
                let signature = crate::payments::webhook::sign(
                    event.as_bytes(),
                    &state.settings.webhook_secret(),
                    chrono::Utc::now().timestamp(),
                );
                super::webhooks::deliver(&state, Some(&signature), event.as_bytes()).await?;
                Ok(())
            }
            Err(e) => Err(e),
        },
    };
    let session = req.get_session();
    let session = AppSession(&session);
    match outcome {
        Ok(()) => session.flash(
            FlashLevel::Success,
            format!("Refund of {amount} minor units requested by {staff_email}. It shows here once the provider confirms it."),
        ),
        Err(e) => {
            tracing::warn!(order.id = %order.id, error = %e, "refund refused by the provider");
            session.flash(FlashLevel::Error, format!("The provider did not refund: {e}"));
        }
    }
    Ok(see_other(&back))
}

#[derive(Template)]
#[template(path = "staff/journal.html")]
struct JournalPage {
    layout: Layout,
    filter: JournalFilter,
    lines: Vec<JournalLine>,
    more: bool,
    error: Option<String>,
    csv_query: String,
}

const JOURNAL_PAGE_ROWS: i64 = 500;

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
    let wanted = filter.clone();
    let result = with_db(&state, move |conn| {
        Ok::<_, diesel::result::Error>(back_office::journal_page(conn, &wanted, JOURNAL_PAGE_ROWS))
    })
    .await??;
    let (status, lines, more, error) = match result {
        Ok((lines, more)) => (StatusCode::OK, lines, more, None),
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
    let filter = query.into_inner();
    // Check the filters once, before the 200 is sent.
    back_office::date_range(&filter.from, &filter.to).map_err(AppError::BadRequest)?;
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
                Ok::<_, diesel::result::Error>(back_office::journal_rows(
                    conn,
                    &filter,
                    after,
                    CSV_CHUNK_ROWS,
                ))
            })
            .await;
            let rows = match fetched {
                Ok(Ok(Ok(rows))) => rows,
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
                    let formatted = crate::domain::Currency::parse(&row.currency)
                        .map(|c| crate::domain::Money::new(row.amount_cents, c).to_string())
                        .unwrap_or_default();
                    w.write_record([
                        row.id.to_string().as_str(),
                        &row.created_at.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string(),
                        &row.kind,
                        &row.status,
                        &row.amount_cents.to_string(),
                        &row.currency,
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
fn csv_bytes(
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

#[derive(Deserialize, Default)]
struct ReportQuery {
    #[serde(default)]
    from: String,
    #[serde(default)]
    to: String,
}

/// A recap row ready to show.
struct RecapRow {
    label: String,
    recap: Recap,
}

/// One bar of the chart (SVG coordinates computed here, not in the template).
struct Bar {
    x: i64,
    y: i64,
    height: i64,
    label: String,
    /// Under the bar: the day of the month, or the month.
    short: String,
    value: String,
}

#[derive(Template)]
#[template(path = "staff/reports.html")]
struct ReportsPage {
    layout: Layout,
    from: String,
    to: String,
    total: Recap,
    days: Vec<RecapRow>,
    months: Vec<RecapRow>,
    courses: Vec<RecapRow>,
    promos: Vec<RecapRow>,
    bars: Vec<Bar>,
    chart_width: i64,
    /// "day" or "month": a range longer than two months is charted by month.
    chart_unit: &'static str,
    chain: String,
    chain_ok: bool,
    error: Option<String>,
}

impl ReportsPage {
    fn sections(&self) -> [(&'static str, &[RecapRow]); 4] {
        [
            ("By month", &self.months),
            ("By day", &self.days),
            ("By course", &self.courses),
            ("By promo code", &self.promos),
        ]
    }

    /// Askama hands fields over by value or by reference depending on the
    /// expression; either will do.
    fn money(&self, minor: impl std::borrow::Borrow<i64>) -> String {
        crate::domain::Money::new(*minor.borrow(), self.currency()).to_string()
    }

    fn currency(&self) -> crate::domain::Currency {
        crate::domain::Currency::parse(self.layout.currency_code)
            .unwrap_or_else(|_| crate::domain::Currency::parse("USD").expect("USD is a currency"))
    }
}

const CHART_HEIGHT: i64 = 160;
const BAR_WIDTH: i64 = 22;
const BAR_GAP: i64 = 6;

/// Days beyond which the chart shows months: a year of daily bars would
/// be ten thousand pixels wide.
const MAX_DAILY_BARS: usize = 62;

fn bars(days: &[RecapRow], money: impl Fn(i64) -> String) -> Vec<Bar> {
    let peak = days
        .iter()
        .map(|d| d.recap.net().max(0))
        .max()
        .unwrap_or(0)
        .max(1);
    days.iter()
        .enumerate()
        .map(|(i, day)| {
            let height = day.recap.net().max(0) * CHART_HEIGHT / peak;
            Bar {
                x: i as i64 * (BAR_WIDTH + BAR_GAP),
                y: CHART_HEIGHT - height,
                height,
                label: day.label.clone(),
                // `YYYY-MM-DD` → `DD`, `YYYY-MM` → `MM`.
                short: day.label.rsplit('-').next().unwrap_or_default().to_owned(),
                value: money(day.recap.net()),
            }
        })
        .collect()
}

#[get("/staff/reports")]
pub(super) async fn staff_reports(
    req: HttpRequest,
    viewer: Viewer,
    state: web::Data<AppState>,
    query: web::Query<ReportQuery>,
) -> Result<HttpResponse, AppError> {
    viewer.require_staff(&req)?;
    let query = query.into_inner();
    let (status, report, error) = match back_office::date_range(&query.from, &query.to) {
        Ok((from, to)) => {
            let verifier = state.clone();
            let report = with_db(&state, move |conn| {
                let report = if from.is_none() && to.is_none() {
                    verifier.revenue_to_date(conn)?
                } else {
                    back_office::revenue_report(conn, from, to)?
                };
                Ok::<_, diesel::result::Error>((report, verifier.verify_journal(conn, false)?))
            })
            .await??;
            (StatusCode::OK, Some(report), None)
        }
        Err(message) => (StatusCode::BAD_REQUEST, None, Some(message)),
    };
    let rows = |map: std::collections::BTreeMap<String, Recap>| -> Vec<RecapRow> {
        map.into_iter()
            .map(|(label, recap)| RecapRow { label, recap })
            .collect()
    };
    let currency = state.settings.currency;
    let (total, days, months, courses, promos, chain, chain_ok) = match report {
        Some((
            Report {
                total,
                by_day,
                by_month,
                by_course,
                by_promo,
            },
            verdict,
        )) => {
            let ok = matches!(verdict, ChainVerdict::Intact { .. });
            (
                total,
                rows(by_day),
                rows(by_month),
                rows(by_course),
                rows(by_promo),
                verdict.to_string(),
                ok,
            )
        }
        None => Default::default(),
    };
    let (chart_unit, series) = if days.len() > MAX_DAILY_BARS {
        ("month", &months)
    } else {
        ("day", &days)
    };
    let bars = bars(series, |minor| {
        crate::domain::Money::new(minor, currency).to_string()
    });
    let chart_width = (bars.len() as i64 * (BAR_WIDTH + BAR_GAP)).max(BAR_WIDTH);
    render(
        status,
        &ReportsPage {
            layout: Layout::new(&req, &viewer),
            from: query.from,
            to: query.to,
            total,
            days,
            months,
            courses,
            promos,
            bars,
            chart_width,
            chart_unit,
            chain,
            chain_ok,
            error,
        },
    )
}
