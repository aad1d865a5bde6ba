//! The journal as staff read it: filtered, with a running net, and in
//! chunks for the CSV export.

use std::collections::BTreeMap;

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::date_range;
use crate::db::DbConnection;
use crate::db::schema::{financial_journals, orders};
use crate::domain::{JournalKind, JournalStatus, Money};
use crate::i18n::Message;
use crate::models::journal::JournalRow;
use crate::msg;

/// Journal filters as typed (all optional).
#[derive(Clone, Debug, Default, serde::Deserialize)]
pub struct JournalFilter {
    #[serde(default, rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub status: String,
    #[serde(default)]
    pub from: String,
    #[serde(default)]
    pub to: String,
    /// An order number.
    #[serde(default)]
    pub order: String,
}

/// The filters, checked.
#[derive(Clone, Debug, Default)]
pub struct JournalQuery {
    pub kind: Option<JournalKind>,
    pub status: Option<JournalStatus>,
    pub from: Option<NaiveDateTime>,
    pub to: Option<NaiveDateTime>,
    /// Upper-cased order number, matched exactly.
    pub order: Option<String>,
}

impl JournalFilter {
    /// Checks what was typed; the message says what to fix.
    pub fn parse(&self) -> Result<JournalQuery, Message> {
        let (from, to) = date_range(&self.from, &self.to)?;
        let kind = match self.kind.trim() {
            "" => None,
            raw => {
                Some(JournalKind::parse(raw).map_err(|_| msg!("staff-unknown-type", value = raw))?)
            }
        };
        let status = match self.status.trim() {
            "" => None,
            raw => Some(
                JournalStatus::parse(raw).map_err(|_| msg!("staff-unknown-status", value = raw))?,
            ),
        };
        let order = Some(self.order.trim().to_uppercase()).filter(|o| !o.is_empty());
        Ok(JournalQuery {
            kind,
            status,
            from,
            to,
            order,
        })
    }
}

/// One journal row as staff read it.
#[derive(Clone, Debug)]
pub struct JournalLine {
    pub row: JournalRow,
    pub order_number: Option<String>,
    pub amount: Money,
    /// Its effect on net revenue: + income, - refunds and lost disputes.
    pub signed_cents: i64,
    pub running: Money,
}

/// The rows with a running net sum, in their order.
pub(super) fn with_running_sum(
    rows: Vec<JournalRow>,
    number_of: impl Fn(&JournalRow) -> Option<String>,
) -> Vec<JournalLine> {
    let mut running = 0;
    rows.into_iter()
        .map(|row| {
            let signed = row.kind.signed_amount(row.status, row.amount_cents);
            running += signed;
            JournalLine {
                order_number: number_of(&row),
                amount: Money::new(row.kind.shown_amount(row.amount_cents), row.currency),
                running: Money::new(running, row.currency),
                signed_cents: signed,
                row,
            }
        })
        .collect()
}

/// A filtered query over the journal joined to order numbers, in append
/// order, starting after `after_id` (keyset paging for the CSV export).
pub fn journal_rows(
    conn: &mut DbConnection,
    query: &JournalQuery,
    after_id: i64,
    limit: i64,
) -> QueryResult<Vec<(JournalRow, Option<String>)>> {
    let mut sql = financial_journals::table
        .left_join(orders::table)
        .filter(financial_journals::id.gt(after_id))
        .into_boxed();
    if let Some(kind) = query.kind {
        sql = sql.filter(financial_journals::type_.eq(kind));
    }
    if let Some(status) = query.status {
        sql = sql.filter(financial_journals::status.eq(status));
    }
    if let Some(from) = query.from {
        sql = sql.filter(financial_journals::created_at.ge(from));
    }
    if let Some(to) = query.to {
        sql = sql.filter(financial_journals::created_at.lt(to));
    }
    if let Some(number) = &query.order {
        sql = sql.filter(
            orders::number
                .eq(number.clone())
                .or(orders::invoice_number.eq(number.clone()))
                .or(orders::legacy_number.eq(number.clone())),
        );
    }
    sql.order(financial_journals::id.asc())
        .limit(limit)
        .select((JournalRow::as_select(), orders::number.nullable()))
        .load(conn)
}

/// The journal page: at most `limit` rows with a running net sum, and
/// whether there are more.
pub fn journal_page(
    conn: &mut DbConnection,
    query: &JournalQuery,
    limit: i64,
) -> QueryResult<(Vec<JournalLine>, bool)> {
    let mut rows = journal_rows(conn, query, 0, limit + 1)?;
    let more = rows.len() as i64 > limit;
    rows.truncate(limit as usize);
    let numbers: BTreeMap<i64, Option<String>> = rows
        .iter()
        .map(|(row, number)| (row.id, number.clone()))
        .collect();
    let lines = with_running_sum(rows.into_iter().map(|(row, _)| row).collect(), |row| {
        numbers.get(&row.id).cloned().flatten()
    });
    Ok((lines, more))
}
