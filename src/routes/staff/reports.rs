//! Revenue reports: recaps by day, month, course and promo code, a chart,
//! and whether the journal's chain is intact.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, get, web};
use askama::Template;
use serde::Deserialize;

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
    chain: Message,
    chain_ok: bool,
    error: Option<Message>,
}

impl ReportsPage {
    /// Each recap table: its title's message id and rows.
    fn sections(&self) -> [(&'static str, &[RecapRow]); 4] {
        [
            ("reports-by-month", &self.months),
            ("reports-by-day", &self.days),
            ("reports-by-course", &self.courses),
            ("reports-by-promo", &self.promos),
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
    let (status, report, error) = match date_range(&query.from, &query.to) {
        Ok((from, to)) => {
            let shared = state.clone();
            let report = with_db(&state, move |conn| {
                let report = if from.is_none() && to.is_none() {
                    shared.revenue.to_date(conn)?
                } else {
                    revenue::revenue_report(conn, from, to)?
                };
                Ok::<_, diesel::result::Error>((report, shared.chain.verify(conn, false)?))
            })
            .await??;
            (StatusCode::OK, Some(report), None)
        }
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
    let bars = bars(series, |minor| {
        i18n.money(crate::domain::Money::new(minor, currency))
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
