//! Revenue reports: recaps by day, month, course and promo code, a chart,
//! and whether the journal's chain is intact.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, get, web};
use askama::Template;
use serde::Deserialize;

use crate::domain::Locale;
use crate::error::AppError;
use crate::i18n::Message;
use crate::msg;
use crate::routes::layout::{Layout, Viewer, render};
use crate::routes::{AppState, with_db};
use crate::services::back_office::date_range;
use crate::services::back_office::revenue::{self, Recap, Report};
use crate::services::journal::ChainVerdict;

mod chart;
use chart::{CHART_WIDTH, Chart, MAX_DAILY_BARS, Preset, chart, presets, range_message};

/// What the page says of the journal's chain.
fn chain_message(verdict: &ChainVerdict) -> Message {
    match verdict {
        ChainVerdict::Intact { rows, .. } => msg!("reports-chain-intact", rows = *rows),
        ChainVerdict::Unsealed { rows, late, first } => msg!(
            "reports-chain-unsealed",
            rows = *rows,
            late = *late,
            row = *first
        ),
        ChainVerdict::Checking { rows } => msg!("reports-chain-checking", rows = *rows),
        ChainVerdict::Broken { row_id, reason } => {
            msg!(
                "reports-chain-broken",
                row = *row_id,
                reason = reason.as_str()
            )
        }
    }
}

#[derive(Deserialize, Default)]
struct ReportQuery {
    #[serde(default)]
    from: String,
    #[serde(default)]
    to: String,
}

/// A recap row ready to show.
pub(super) struct RecapRow {
    pub(super) label: String,
    pub(super) recap: Recap,
}

#[derive(Template)]
#[template(path = "staff/reports.html")]
struct ReportsPage {
    layout: Layout,
    from: String,
    to: String,
    presets: Vec<Preset>,
    /// The range in words, with its time zone.
    range: Message,
    csv_query: String,
    total: Recap,
    days: Vec<RecapRow>,
    months: Vec<RecapRow>,
    courses: Vec<RecapRow>,
    promos: Vec<RecapRow>,
    chart: Chart,
    /// "day" or "month": a range longer than two months is charted by month.
    chart_unit: &'static str,
    chain: Message,
    /// "ok", "checking" (a view's check ran out of its budget) or "broken":
    /// the chain's line's class.
    chain_state: &'static str,
    error: Option<Message>,
    /// The shop charges tax, or did in this range: tax columns.
    show_tax: bool,
}

impl ReportsPage {
    /// Each recap table: its title's message id, its first column's, and rows.
    fn sections(&self) -> [(&'static str, &'static str, &[RecapRow]); 4] {
        [
            ("reports-by-month", "reports-month", &self.months),
            ("reports-by-day", "reports-day", &self.days),
            ("reports-by-course", "reports-course", &self.courses),
            ("reports-by-promo", "summary-promo", &self.promos),
        ]
    }

    /// Askama hands fields over by value or by reference depending on the
    /// expression; either will do.
    fn money(&self, minor: impl std::borrow::Borrow<i64>) -> String {
        self.layout
            .money(crate::domain::Money::new(*minor.borrow(), self.currency()))
    }

    fn currency(&self) -> crate::domain::Currency {
        crate::domain::Currency::parse(self.layout.currency_code)
            .unwrap_or_else(|_| crate::domain::Currency::parse("USD").expect("USD is a currency"))
    }

    fn chart_width(&self) -> f64 {
        CHART_WIDTH
    }
}

/// The report for the query's range (the cached whole history without
/// one) and the journal chain's verdict.
async fn load(
    state: &web::Data<AppState>,
    query: &ReportQuery,
) -> Result<Result<(Report, ChainVerdict), Message>, AppError> {
    let (from, to) = match date_range(&query.from, &query.to) {
        Ok(range) => range,
        Err(message) => return Ok(Err(message)),
    };
    let shared = state.clone();
    let report = with_db(state, move |conn| {
        // What has committed is sealed first, so the recap and the check
        // include it.
        shared.sealer.seal_pending(conn)?;
        let report = if from.is_none() && to.is_none() {
            shared.revenue.to_date(conn)?
        } else {
            revenue::revenue_report(conn, from, to)?
        };
        Ok::<_, diesel::result::Error>((
            report,
            shared.chain.verify(conn, shared.sealer.key(), false)?,
        ))
    })
    .await??;
    Ok(Ok(report))
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
    let (status, report, error) = match load(&state, &query).await? {
        Ok(report) => (StatusCode::OK, Some(report), None),
        Err(message) => (StatusCode::BAD_REQUEST, None, Some(message)),
    };
    let i18n = viewer.i18n();
    let rows = |map: std::collections::BTreeMap<String, Recap>| -> Vec<RecapRow> {
        map.into_iter()
            .map(|(label, recap)| RecapRow { label, recap })
            .collect()
    };
    let currency = state.settings.currency;
    let (total, days, months, courses, promos, chain, chain_state) = match report {
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
            let state = match verdict {
                ChainVerdict::Intact { .. } => "ok",
                ChainVerdict::Checking { .. } => "checking",
                ChainVerdict::Unsealed { .. } | ChainVerdict::Broken { .. } => "broken",
            };
            (
                total,
                rows(by_day),
                rows(by_month),
                rows(by_course),
                rows(by_promo),
                chain_message(&verdict),
                state,
            )
        }
        None => (
            Recap::default(),
            Vec::new(),
            Vec::new(),
            Vec::new(),
            Vec::new(),
            Message::new("reports-chain-unknown"),
            "broken",
        ),
    };
    let (chart_unit, series) = if days.len() > MAX_DAILY_BARS {
        ("month", &months)
    } else {
        ("day", &days)
    };
    let chart = chart(series, |minor| {
        i18n.money(crate::domain::Money::new(minor, currency))
    });
    let today = chrono::Utc::now().date_naive();
    let show_tax = state.settings.tax.is_some() || total.tax != 0;
    render(
        status,
        &ReportsPage {
            layout: Layout::new(&req, &viewer),
            presets: presets(today, &query.from, &query.to),
            range: range_message(&i18n, &query.from, &query.to),
            csv_query: serde_urlencoded::to_string([("from", &query.from), ("to", &query.to)])
                .unwrap_or_default(),
            from: query.from,
            to: query.to,
            total,
            days,
            months,
            courses,
            promos,
            chart,
            chart_unit,
            show_tax,
            chain,
            chain_state,
            error,
        },
    )
}

/// The recap as CSV, for the books: one row per period, course and promo
/// code, amounts in the currency's major unit.
#[get("/staff/reports.csv")]
pub(super) async fn staff_reports_csv(
    req: HttpRequest,
    viewer: Viewer,
    state: web::Data<AppState>,
    query: web::Query<ReportQuery>,
) -> Result<HttpResponse, AppError> {
    viewer.require_staff(&req)?;
    let (report, _) = match load(&state, &query).await? {
        Ok(report) => report,
        Err(message) => return Err(AppError::BadRequest(message)),
    };
    let currency = state.settings.currency;
    let amount =
        |minor: i64| crate::domain::Money::new(minor, currency).to_major_string_in(Locale::En);
    let body = super::journal::csv_bytes(|w| {
        w.write_record([
            "section",
            "label",
            "orders",
            "gross",
            "discounts",
            "refunds",
            "disputes_lost",
            "net",
            "currency",
            "tax",
            "net_of_tax",
        ])?;
        let sections = [
            (
                "total",
                std::iter::once(("all".to_owned(), report.total)).collect(),
            ),
            ("month", report.by_month),
            ("day", report.by_day),
            ("course", report.by_course),
            ("promo", report.by_promo),
        ];
        for (section, rows) in sections {
            let rows: std::collections::BTreeMap<String, Recap> = rows;
            for (label, r) in rows {
                w.write_record([
                    section.to_owned(),
                    label,
                    r.orders.to_string(),
                    amount(r.gross),
                    amount(r.discounts),
                    amount(r.refunds),
                    amount(r.disputes),
                    amount(r.net()),
                    currency.code().to_owned(),
                    amount(r.tax),
                    amount(r.net_of_tax()),
                ])?;
            }
        }
        Ok(())
    })?;
    let name = match (query.from.trim(), query.to.trim()) {
        ("", "") => "kasir-recap.csv".to_owned(),
        (from, to) => format!("kasir-recap-{from}-{to}.csv")
            .replace("--", "-")
            .replace("-.csv", ".csv"),
    };
    Ok(HttpResponse::Ok()
        .content_type("text/csv; charset=utf-8")
        .insert_header((
            actix_web::http::header::CONTENT_DISPOSITION,
            format!("attachment; filename=\"{name}\""),
        ))
        .body(body))
}
