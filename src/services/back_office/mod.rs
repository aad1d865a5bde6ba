//! What staff (and students, for their own invoices) read: invoices and an
//! order's whole story, the invoice history, the journal, revenue recaps.
//! Filters arrive as typed queries (the handler parses what was typed);
//! results are typed values that templates format.

pub mod documents;
pub mod invoices;
pub mod journal_queries;
pub mod order_search;
pub mod revenue;

use crate::i18n::Message;
use chrono::{NaiveDate, NaiveDateTime};

/// `from`..`to` (inclusive days, UTC) as timestamps; a bad date is an
/// error message for the form.
pub fn date_range(
    from: &str,
    to: &str,
) -> Result<(Option<NaiveDateTime>, Option<NaiveDateTime>), Message> {
    let parse = |bound: &'static str, value: &str| -> Result<Option<NaiveDate>, Message> {
        let value = value.trim();
        if value.is_empty() {
            return Ok(None);
        }
        NaiveDate::parse_from_str(value, "%Y-%m-%d")
            .map(Some)
            .map_err(|_| Message::new(bound))
    };
    let from = parse("staff-bad-from", from)?.map(|d| d.and_hms_opt(0, 0, 0).unwrap_or_default());
    let to = parse("staff-bad-to", to)?.map(|d| {
        d.succ_opt()
            .unwrap_or(d)
            .and_hms_opt(0, 0, 0)
            .unwrap_or_default()
    });
    Ok((from, to))
}

/// `%`, `_` and `\` taken literally in a LIKE pattern (escape `\`).
fn escape_like(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_")
}
