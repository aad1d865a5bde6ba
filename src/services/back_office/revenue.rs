//! Revenue from the journal: gross, discounts, refunds, lost disputes and
//! net, by day, month, course and promo code, summed by the database; and
//! the whole history's recap kept in memory and brought up to date.

use std::collections::BTreeMap;
use std::sync::{Mutex, MutexGuard, PoisonError};

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::DbConnection;
use crate::domain::{JournalKind, JournalStatus};
use crate::models::journal::JournalSeal;

/// One bucket of a revenue recap.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Recap {
    pub gross: i64,
    pub discounts: i64,
    pub refunds: i64,
    pub disputes: i64,
    pub orders: i64,
    /// Sales tax collected, less the tax part of refunds: in `gross`, owed
    /// to the state.
    pub tax: i64,
}

impl Recap {
    pub fn net(&self) -> i64 {
        self.gross - self.refunds - self.disputes
    }

    /// What the shop keeps once the tax is paid over.
    pub fn net_of_tax(&self) -> i64 {
        self.net() - self.tax
    }
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Report {
    pub total: Recap,
    pub by_day: BTreeMap<String, Recap>,
    pub by_month: BTreeMap<String, Recap>,
    pub by_course: BTreeMap<String, Recap>,
    pub by_promo: BTreeMap<String, Recap>,
}

/// One group of money movements, summed by the database.
#[derive(QueryableByName)]
struct MovementGroup {
    #[diesel(sql_type = diesel::sql_types::Text)]
    kind: JournalKind,
    #[diesel(sql_type = diesel::sql_types::Text)]
    status: JournalStatus,
    /// A day (`YYYY-MM-DD`) or a course title, by query.
    #[diesel(sql_type = diesel::sql_types::Text)]
    bucket: String,
    #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Text>)]
    promo: Option<String>,
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    amount: i64,
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    discount: i64,
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    row_count: i64,
}

impl MovementGroup {
    /// What these rows add to a recap; `None` for rows that move no money.
    fn recap(&self) -> Option<Recap> {
        let mut delta = Recap::default();
        match (self.kind, self.status) {
            (JournalKind::Income, _) => {
                delta.gross = self.amount;
                delta.discounts = self.discount;
                delta.orders = self.row_count;
            }
            (JournalKind::Refund, _) => delta.refunds = self.amount,
            // A refund that failed: the money stayed, refunds go down.
            (JournalKind::RefundReversed, _) => delta.refunds = -self.amount,
            (JournalKind::Dispute, JournalStatus::Failed) => delta.disputes = self.amount,
            (JournalKind::Tax, _) => delta.tax = self.amount,
            (JournalKind::TaxRefunded, _) => delta.tax = -self.amount,
            _ => return None,
        }
        Some(delta)
    }
}

/// Revenue from the journal: income (gross, with the order's discount),
/// refunds, lost disputes; by day, month, course and promo code.
///
/// The database sums (two GROUP BY queries), so the page costs the same
/// whatever the history's length in memory and nearly so in time. A
/// course's share of an order's money is its line's share of the order's
/// total, rounded down per row.
pub fn revenue_report(
    conn: &mut DbConnection,
    from: Option<NaiveDateTime>,
    to: Option<NaiveDateTime>,
) -> QueryResult<Report> {
    revenue_between(conn, from, to, None)
}

/// The newest seal's sequence number: with [`revenue_between`], a recap
/// can be brought up to date by adding only the rows sealed since. Seals,
/// not row ids: ids are not commit order on PostgreSQL (a lower id may
/// commit after a higher one is seen), while a seal is only ever added
/// after every earlier one.
pub fn journal_high_water(conn: &mut DbConnection) -> QueryResult<i64> {
    Ok(JournalSeal::last(conn)?.map_or(0, |(seq, _)| seq))
}

impl Report {
    /// Adds a recap of other rows (the journal only grows: sums add up).
    pub fn merge(&mut self, other: Report) {
        add(&mut self.total, &other.total);
        for (mine, theirs) in [
            (&mut self.by_day, other.by_day),
            (&mut self.by_month, other.by_month),
            (&mut self.by_course, other.by_course),
            (&mut self.by_promo, other.by_promo),
        ] {
            for (key, recap) in theirs {
                add(mine.entry(key).or_default(), &recap);
            }
        }
    }
}

/// The recap of the journal rows in the range; with `sealed: Some((after,
/// upto))`, only of the rows whose seal is in `after < seq <= upto`.
pub fn revenue_between(
    conn: &mut DbConnection,
    from: Option<NaiveDateTime>,
    to: Option<NaiveDateTime>,
    sealed: Option<(i64, i64)>,
) -> QueryResult<Report> {
    let postgres = matches!(conn, DbConnection::Postgresql(_));
    // Timestamps are TIMESTAMP on PostgreSQL and ISO text on SQLite.
    let day = if postgres {
        "to_char(j.created_at, 'YYYY-MM-DD')"
    } else {
        "substr(j.created_at, 1, 10)"
    };
    let mut placeholder = 0;
    let mut next = || {
        placeholder += 1;
        if postgres {
            format!("${placeholder}")
        } else {
            "?".to_owned()
        }
    };
    let (seals, mut range) = match sealed {
        Some(_) => (
            " JOIN journal_seals s ON s.journal_id = j.id",
            format!(" AND s.seq > {} AND s.seq <= {}", next(), next()),
        ),
        None => ("", String::new()),
    };
    if from.is_some() {
        range += &format!(" AND j.created_at >= {}", next());
    }
    if to.is_some() {
        range += &format!(" AND j.created_at < {}", next());
    }
    let moving = format!(
        "j.type IN ('{}', '{}', '{}', '{}', '{}', '{}'){range}",
        JournalKind::Income,
        JournalKind::Refund,
        JournalKind::RefundReversed,
        JournalKind::Dispute,
        JournalKind::Tax,
        JournalKind::TaxRefunded
    );
    let share = |value: &str| {
        format!(
            "CASE WHEN o.total_cents = 0 THEN 0 ELSE {value} * i.total_cents / o.total_cents END"
        )
    };
    let by_day = format!(
        "SELECT j.type AS kind, j.status AS status, {day} AS bucket, o.promo_code AS promo, \
                CAST(SUM(j.amount_cents) AS BIGINT) AS amount, \
                CAST(SUM(o.discount_cents) AS BIGINT) AS discount, COUNT(*) AS row_count \
         FROM financial_journals j{seals} JOIN orders o ON o.id = j.reference_id \
         WHERE {moving} GROUP BY j.type, j.status, {day}, o.promo_code"
    );
    let by_course = format!(
        "SELECT j.type AS kind, j.status AS status, i.title AS bucket, NULL AS promo, \
                CAST(SUM({}) AS BIGINT) AS amount, CAST(SUM({}) AS BIGINT) AS discount, \
                COUNT(*) AS row_count \
         FROM financial_journals j{seals} JOIN orders o ON o.id = j.reference_id \
              JOIN order_items i ON i.order_id = o.id \
         WHERE {moving} GROUP BY j.type, j.status, i.title",
        share("j.amount_cents"),
        share("o.discount_cents"),
    );
    let load = |conn: &mut DbConnection, sql: &str| -> QueryResult<Vec<MovementGroup>> {
        use diesel::sql_types::{BigInt, Timestamp};
        let mut query =
            diesel::sql_query(sql).into_boxed::<'_, <DbConnection as Connection>::Backend>();
        if let Some((after, upto)) = sealed {
            query = query.bind::<BigInt, _>(after).bind::<BigInt, _>(upto);
        }
        if let Some(from) = from {
            query = query.bind::<Timestamp, _>(from);
        }
        if let Some(to) = to {
            query = query.bind::<Timestamp, _>(to);
        }
        query.load(conn)
    };
    let mut report = Report {
        total: Recap::default(),
        by_day: BTreeMap::new(),
        by_month: BTreeMap::new(),
        by_course: BTreeMap::new(),
        by_promo: BTreeMap::new(),
    };
    for group in load(conn, &by_day)? {
        let Some(delta) = group.recap() else { continue };
        add(&mut report.total, &delta);
        add(
            report
                .by_month
                .entry(group.bucket[..7.min(group.bucket.len())].to_owned())
                .or_default(),
            &delta,
        );
        if let Some(code) = &group.promo {
            add(report.by_promo.entry(code.clone()).or_default(), &delta);
        }
        add(report.by_day.entry(group.bucket).or_default(), &delta);
    }
    for group in load(conn, &by_course)? {
        let Some(delta) = group.recap() else { continue };
        add(
            report.by_course.entry(group.bucket.clone()).or_default(),
            &delta,
        );
    }
    Ok(report)
}

fn add(into: &mut Recap, delta: &Recap) {
    into.gross += delta.gross;
    into.discounts += delta.discounts;
    into.refunds += delta.refunds;
    into.disputes += delta.disputes;
    into.orders += delta.orders;
    into.tax += delta.tax;
}

/// The whole history's recap and the last seal it covers: each view adds
/// only the rows sealed since (the reports page seals what has committed
/// just before).
#[derive(Default)]
pub struct RevenueCache(Mutex<(i64, Report)>);

impl RevenueCache {
    /// The revenue recap of the whole history, brought up to date.
    pub fn to_date(&self, conn: &mut DbConnection) -> QueryResult<Report> {
        let high = journal_high_water(conn)?;
        let (covered, mut report) = self.lock().clone();
        if high <= covered {
            return Ok(report);
        }
        report.merge(revenue_between(conn, None, None, Some((covered, high)))?);
        self.keep(high, &report);
        Ok(report)
    }

    fn lock(&self) -> MutexGuard<'_, (i64, Report)> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Keeps `report` as the recap up to seal `high`, unless a view that
    /// ran meanwhile kept one that covers as much or more.
    fn keep(&self, high: i64, report: &Report) {
        let mut cache = self.lock();
        if high > cache.0 {
            *cache = (high, report.clone());
        }
    }
}

#[cfg(test)]
#[path = "revenue_tests.rs"]
mod tests;
