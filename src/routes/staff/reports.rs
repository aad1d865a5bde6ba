//! Revenue reports: recaps by day, month, course and promo code, a chart,
//! and whether the journal's chain is intact.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, get, web};
use askama::Template;
use chrono::{Datelike, NaiveDate};
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

/// What the page says of the journal's chain.
fn chain_message(verdict: &ChainVerdict) -> Message {
    match verdict {
        ChainVerdict::Intact { rows } => msg!("reports-chain-intact", rows = *rows),
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
struct RecapRow {
    label: String,
    recap: Recap,
}

/// One bar of the chart (SVG coordinates computed here, not in the template).
#[derive(Debug)]
struct Bar {
    x: f64,
    y: f64,
    width: f64,
    height: f64,
    /// Below the axis: the period lost money.
    negative: bool,
    label: String,
    /// Under the bar: the day of the month, or the month with its year;
    /// empty where labels would crowd.
    short: String,
    value: String,
}

/// The chart's drawing: bars around a zero axis.
#[derive(Debug)]
struct Chart {
    bars: Vec<Bar>,
    axis_y: f64,
}

/// A quick choice of range.
struct Preset {
    /// Its name's message id.
    name: &'static str,
    query: String,
    current: bool,
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
    chain_ok: bool,
    error: Option<Message>,
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

const CHART_WIDTH: f64 = 720.0;
const CHART_TOP: f64 = 8.0;
const CHART_HEIGHT: f64 = 160.0;
/// The widest a bar gets, so that one day is not one slab.
const MAX_BAR_WIDTH: f64 = 48.0;
/// Labels under the bars, at most.
const MAX_LABELS: usize = 16;

/// Days beyond which the chart shows months: a year of daily bars would
/// be too thin to read.
const MAX_DAILY_BARS: usize = 62;

/// Bars across the whole width, positive above the zero axis and negative
/// below it, scaled to the largest of either.
fn chart(periods: &[RecapRow], money: impl Fn(i64) -> String) -> Chart {
    let up = periods
        .iter()
        .map(|p| p.recap.net().max(0))
        .max()
        .unwrap_or(0);
    let down = periods
        .iter()
        .map(|p| (-p.recap.net()).max(0))
        .max()
        .unwrap_or(0);
    let span = (up + down).max(1) as f64;
    let axis_y = CHART_TOP + CHART_HEIGHT * up as f64 / span;
    let slot = CHART_WIDTH / periods.len().max(1) as f64;
    let width = (slot * 0.75).min(MAX_BAR_WIDTH);
    let every = periods.len().div_ceil(MAX_LABELS).max(1);
    let bars = periods
        .iter()
        .enumerate()
        .map(|(i, period)| {
            let net = period.recap.net();
            let height = CHART_HEIGHT * net.unsigned_abs() as f64 / span;
            let short = if i % every == 0 {
                match period.label.len() {
                    // `YYYY-MM-DD` → `DD`; months keep their year.
                    10 => period.label[8..].to_owned(),
                    _ => period.label.clone(),
                }
            } else {
                String::new()
            };
            Bar {
                x: (i as f64 * slot + (slot - width) / 2.0).round(),
                y: if net < 0 { axis_y } else { axis_y - height },
                width: width.round(),
                height: height.max(if net == 0 { 0.0 } else { 1.0 }),
                negative: net < 0,
                label: period.label.clone(),
                short,
                value: money(net),
            }
        })
        .collect();
    Chart { bars, axis_y }
}

/// This month, last month, this year and everything, as of `today` (UTC).
fn presets(today: NaiveDate, from: &str, to: &str) -> Vec<Preset> {
    let month_start = today.with_day(1).unwrap_or(today);
    let last_month_end = month_start.pred_opt().unwrap_or(month_start);
    let last_month_start = last_month_end.with_day(1).unwrap_or(last_month_end);
    let year_start = today.with_ordinal(1).unwrap_or(today);
    let day = |d: NaiveDate| d.format("%Y-%m-%d").to_string();
    [
        ("reports-this-month", day(month_start), day(today)),
        (
            "reports-last-month",
            day(last_month_start),
            day(last_month_end),
        ),
        ("reports-this-year", day(year_start), day(today)),
        ("reports-all-time", String::new(), String::new()),
    ]
    .into_iter()
    .map(|(name, start, end)| Preset {
        name,
        current: start == from.trim() && end == to.trim(),
        query: serde_urlencoded::to_string([("from", &start), ("to", &end)]).unwrap_or_default(),
    })
    .collect()
}

/// The range in words: both ends inclusive, in UTC.
fn range_message(i18n: &crate::i18n::I18n, from: &str, to: &str) -> Message {
    let day = |value: &str| {
        NaiveDate::parse_from_str(value.trim(), "%Y-%m-%d")
            .ok()
            .and_then(|d| d.and_hms_opt(0, 0, 0))
            .map(|d| i18n.date(d))
    };
    match (day(from), day(to)) {
        (None, None) => msg!("reports-range-all"),
        (Some(from), None) => msg!("reports-range-from", from = from),
        (None, Some(to)) => msg!("reports-range-to", to = to),
        (Some(from), Some(to)) => msg!("reports-range", from = from, to = to),
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
        let report = if from.is_none() && to.is_none() {
            shared.revenue.to_date(conn)?
        } else {
            revenue::revenue_report(conn, from, to)?
        };
        Ok::<_, diesel::result::Error>((report, shared.chain.verify(conn, false)?))
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
                chain_message(&verdict),
                ok,
            )
        }
        None => (
            Recap::default(),
            Vec::new(),
            Vec::new(),
            Vec::new(),
            Vec::new(),
            Message::new("reports-chain-unknown"),
            false,
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
            chain,
            chain_ok,
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

#[cfg(test)]
mod tests {
    use super::*;

    fn period(label: &str, gross: i64, refunds: i64) -> RecapRow {
        RecapRow {
            label: label.to_owned(),
            recap: Recap {
                gross,
                refunds,
                ..Recap::default()
            },
        }
    }

    #[test]
    fn a_day_that_lost_money_is_drawn_below_the_axis() {
        let chart = chart(
            &[period("2026-11-01", 300, 0), period("2026-11-02", 0, 100)],
            |m| m.to_string(),
        );
        // 300 up and 100 down share the height: the axis at three quarters.
        assert_eq!(chart.axis_y, CHART_TOP + CHART_HEIGHT * 0.75);
        let (up, down) = (&chart.bars[0], &chart.bars[1]);
        assert!(!up.negative && up.y + up.height == chart.axis_y);
        assert_eq!(up.height, CHART_HEIGHT * 0.75);
        assert!(down.negative && down.y == chart.axis_y);
        assert_eq!(down.height, CHART_HEIGHT * 0.25);
        assert_eq!((up.short.as_str(), down.short.as_str()), ("01", "02"));
    }

    #[test]
    fn the_bars_use_the_width_one_day_included() {
        let one = chart(&[period("2026-11-30", 500, 0)], |m| m.to_string());
        assert_eq!(one.bars.len(), 1);
        assert_eq!(one.bars[0].width, MAX_BAR_WIDTH);
        assert_eq!(
            one.bars[0].x,
            ((CHART_WIDTH - MAX_BAR_WIDTH) / 2.0).round(),
            "centred"
        );
        let days: Vec<RecapRow> = (1..=30)
            .map(|d| period(&format!("2026-11-{d:02}"), 100, 0))
            .collect();
        let month = chart(&days, |m| m.to_string());
        let last = month.bars.last().unwrap();
        assert!(
            last.x + last.width > CHART_WIDTH - 24.0,
            "reaches the right edge"
        );
        let labelled = month.bars.iter().filter(|b| !b.short.is_empty()).count();
        assert!(
            labelled <= MAX_LABELS && labelled >= MAX_LABELS / 2,
            "{labelled}"
        );
    }

    #[test]
    fn months_are_labelled_with_their_year() {
        let chart = chart(
            &[period("2025-12", 100, 0), period("2026-01", 100, 0)],
            |m| m.to_string(),
        );
        let shorts: Vec<&str> = chart.bars.iter().map(|b| b.short.as_str()).collect();
        assert_eq!(shorts, vec!["2025-12", "2026-01"]);
    }

    #[test]
    fn presets_cover_this_month_last_month_and_this_year() {
        let today = NaiveDate::from_ymd_opt(2026, 1, 15).unwrap();
        let presets = presets(today, "2025-12-01", "2025-12-31");
        let queries: Vec<&str> = presets.iter().map(|p| p.query.as_str()).collect();
        assert_eq!(
            queries,
            vec![
                "from=2026-01-01&to=2026-01-15",
                "from=2025-12-01&to=2025-12-31",
                "from=2026-01-01&to=2026-01-15",
                "from=&to=",
            ]
        );
        let current: Vec<&str> = presets
            .iter()
            .filter(|p| p.current)
            .map(|p| p.name)
            .collect();
        assert_eq!(current, vec!["reports-last-month"]);
    }
}
