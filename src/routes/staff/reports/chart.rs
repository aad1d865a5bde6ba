//! The report page's drawing and ranges: the chart's bars, the range
//! presets and the range in words.

use chrono::{Datelike, NaiveDate};

use super::RecapRow;
use crate::i18n::{I18n, Message};
use crate::msg;

/// One bar of the chart (SVG coordinates computed here, not in the template).
#[derive(Debug)]
pub(super) struct Bar {
    pub(super) x: f64,
    pub(super) y: f64,
    pub(super) width: f64,
    pub(super) height: f64,
    /// Below the axis: the period lost money.
    pub(super) negative: bool,
    pub(super) label: String,
    /// Under the bar: the day of the month, or the month with its year;
    /// empty where labels would crowd.
    pub(super) short: String,
    pub(super) value: String,
}

/// The chart's drawing: bars around a zero axis.
#[derive(Debug)]
pub(super) struct Chart {
    pub(super) bars: Vec<Bar>,
    pub(super) axis_y: f64,
}

/// A quick choice of range.
pub(super) struct Preset {
    /// Its name's message id.
    pub(super) name: &'static str,
    pub(super) query: String,
    pub(super) current: bool,
}

pub(super) const CHART_WIDTH: f64 = 720.0;
const CHART_TOP: f64 = 8.0;
const CHART_HEIGHT: f64 = 160.0;
/// The widest a bar gets, so that one day is not one slab.
const MAX_BAR_WIDTH: f64 = 48.0;
/// Labels under the bars, at most.
const MAX_LABELS: usize = 16;

/// Days beyond which the chart shows months: a year of daily bars would
/// be too thin to read.
pub(super) const MAX_DAILY_BARS: usize = 62;

/// Bars across the whole width, positive above the zero axis and negative
/// below it, scaled to the largest of either.
pub(super) fn chart(periods: &[RecapRow], money: impl Fn(i64) -> String) -> Chart {
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
pub(super) fn presets(today: NaiveDate, from: &str, to: &str) -> Vec<Preset> {
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
pub(super) fn range_message(i18n: &I18n, from: &str, to: &str) -> Message {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::services::back_office::revenue::Recap;

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
            (MAX_LABELS / 2..=MAX_LABELS).contains(&labelled),
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
