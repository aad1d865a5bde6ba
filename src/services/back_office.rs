//! What staff (and students, for their own invoices) read: invoice history
//! with filters, an order's whole story, the journal, revenue recaps.

use std::collections::BTreeMap;

use chrono::{NaiveDate, NaiveDateTime};
use diesel::prelude::*;

use crate::db::DbConnection;
use crate::db::schema::{financial_journals, orders, user_courses, users, webhook_events};
use crate::domain::{Currency, Money};
use crate::models::UserId;
use crate::models::journal::JournalRow;
use crate::models::order::Order;
use crate::models::webhook_event::WebhookEvent;
use crate::services::checkout::OrderView;
use crate::services::fulfillment::kind as fulfil_kind;
use crate::services::journal::{self, kind};

pub const PAGE_SIZE: i64 = 25;

fn money(minor: i64, currency: &str) -> String {
    match Currency::parse(currency) {
        Ok(c) => Money::new(minor, c).to_string(),
        Err(_) => format!("{minor} {currency}"),
    }
}

/// The order as its invoice shows it.
pub struct Invoice {
    pub view: OrderView,
    pub customer_name: String,
    pub customer_email: String,
    pub refunds: Vec<(String, String)>,
    pub refunded: Option<String>,
    pub balance: String,
}

/// The invoice of `number`, if `viewer` may see it (their own, or staff).
pub fn invoice(
    conn: &mut DbConnection,
    number: &str,
    viewer: UserId,
    is_staff: bool,
) -> QueryResult<Option<Invoice>> {
    let Some(order) = Order::find_by_number(conn, number)? else {
        return Ok(None);
    };
    if order.user_id != viewer && !is_staff {
        return Ok(None);
    }
    let (name, email): (String, String) = users::table
        .find(order.user_id)
        .select((users::name, users::email))
        .first(conn)?;
    let refunds = JournalRow::for_order(conn, order.id)?
        .into_iter()
        .filter(|row| row.kind == fulfil_kind::REFUND)
        .map(|row| {
            (
                row.created_at.format("%Y-%m-%d").to_string(),
                money(row.amount_cents, &row.currency),
            )
        })
        .collect();
    let refunded =
        (order.refunded_cents > 0).then(|| money(-order.refunded_cents, &order.currency));
    let balance = money(order.total_cents - order.refunded_cents, &order.currency);
    Ok(Some(Invoice {
        view: OrderView::load(conn, order)?,
        customer_name: name,
        customer_email: email,
        refunds,
        refunded,
        balance,
    }))
}

/// Staff's invoice-history filters, as typed in the form (all optional).
#[derive(Clone, Debug, Default, serde::Deserialize)]
pub struct OrderFilter {
    #[serde(default)]
    pub status: String,
    /// `YYYY-MM-DD`, inclusive, UTC.
    #[serde(default)]
    pub from: String,
    #[serde(default)]
    pub to: String,
    #[serde(default)]
    pub email: String,
    #[serde(default)]
    pub number: String,
    #[serde(default)]
    pub promo: String,
    #[serde(default)]
    pub page: Option<i64>,
}

/// `from`..`to` (inclusive days) as timestamps; a bad date is an error message.
pub fn date_range(
    from: &str,
    to: &str,
) -> Result<(Option<NaiveDateTime>, Option<NaiveDateTime>), String> {
    let parse = |label: &str, value: &str| -> Result<Option<NaiveDate>, String> {
        let value = value.trim();
        if value.is_empty() {
            return Ok(None);
        }
        NaiveDate::parse_from_str(value, "%Y-%m-%d")
            .map(Some)
            .map_err(|_| format!("{label} must be a date like 2026-11-24."))
    };
    let from = parse("From", from)?.map(|d| d.and_hms_opt(0, 0, 0).unwrap_or_default());
    let to = parse("To", to)?.map(|d| {
        d.succ_opt()
            .unwrap_or(d)
            .and_hms_opt(0, 0, 0)
            .unwrap_or_default()
    });
    Ok((from, to))
}

const STATUSES: [&str; 5] = [
    "pending",
    "paid",
    "partially_refunded",
    "refunded",
    "canceled",
];

#[derive(Clone, Debug, Queryable)]
pub struct StaffOrderRow {
    pub number: String,
    pub created_at: NaiveDateTime,
    pub email: String,
    pub status: String,
    pub total_cents: i64,
    pub refunded_cents: i64,
    pub currency: String,
    pub promo_code: Option<String>,
    pub review_note: Option<String>,
}

impl StaffOrderRow {
    pub fn total(&self) -> String {
        money(self.total_cents, &self.currency)
    }

    pub fn placed_on(&self) -> String {
        self.created_at.format("%Y-%m-%d %H:%M").to_string()
    }
}

pub struct OrderList {
    pub rows: Vec<StaffOrderRow>,
    pub count: i64,
    pub sum_total: String,
    pub sum_refunded: String,
    pub page: i64,
    pub pages: i64,
}

/// The filtered invoice history, a page of it, and totals of the whole set.
pub fn staff_orders(
    conn: &mut DbConnection,
    filter: &OrderFilter,
    currency: Currency,
) -> Result<OrderList, String> {
    let (from, to) = date_range(&filter.from, &filter.to)?;
    let status = filter.status.trim();
    if !status.is_empty() && !STATUSES.contains(&status) {
        return Err(format!("Unknown status {status:?}."));
    }
    macro_rules! filtered {
        () => {{
            let mut query = orders::table.inner_join(users::table).into_boxed();
            if !status.is_empty() {
                query = query.filter(orders::status.eq(status));
            }
            if let Some(from) = from {
                query = query.filter(orders::created_at.ge(from));
            }
            if let Some(to) = to {
                query = query.filter(orders::created_at.lt(to));
            }
            let email = filter.email.trim().to_lowercase();
            if !email.is_empty() {
                query = query.filter(
                    users::email
                        .like(format!("%{}%", escape_like(&email)))
                        .escape('\\'),
                );
            }
            let number = filter.number.trim().to_uppercase();
            if !number.is_empty() {
                query = query.filter(
                    orders::number
                        .like(format!("%{}%", escape_like(&number)))
                        .escape('\\'),
                );
            }
            let promo = filter.promo.trim().to_uppercase();
            if !promo.is_empty() {
                query = query.filter(orders::promo_code.eq(promo));
            }
            query
        }};
    }
    let db_error = |e: diesel::result::Error| format!("database: {e}");
    // SUM(BIGINT) is NUMERIC on PostgreSQL: cast back to BIGINT, which both
    // engines return as an integer (never through a float).
    use diesel::dsl::sql;
    use diesel::sql_types::{BigInt, Nullable};
    let (count, sum_total, sum_refunded): (i64, Option<i64>, Option<i64>) = filtered!()
        .select((
            diesel::dsl::count_star(),
            sql::<Nullable<BigInt>>("CAST(SUM(orders.total_cents) AS BIGINT)"),
            sql::<Nullable<BigInt>>("CAST(SUM(orders.refunded_cents) AS BIGINT)"),
        ))
        .first(conn)
        .map_err(db_error)?;
    let pages = ((count + PAGE_SIZE - 1) / PAGE_SIZE).max(1);
    let page = filter.page.unwrap_or(1).clamp(1, pages);
    let rows = filtered!()
        .order((orders::created_at.desc(), orders::id.desc()))
        .limit(PAGE_SIZE)
        .offset((page - 1) * PAGE_SIZE)
        .select((
            orders::number,
            orders::created_at,
            users::email,
            orders::status,
            orders::total_cents,
            orders::refunded_cents,
            orders::currency,
            orders::promo_code,
            orders::review_note,
        ))
        .load::<StaffOrderRow>(conn)
        .map_err(db_error)?;
    Ok(OrderList {
        rows,
        count,
        sum_total: Money::new(sum_total.unwrap_or(0), currency).to_string(),
        sum_refunded: Money::new(sum_refunded.unwrap_or(0), currency).to_string(),
        page,
        pages,
    })
}

fn escape_like(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_")
}

/// One journal row as staff read it.
#[derive(Clone, Debug)]
pub struct JournalLine {
    pub row: JournalRow,
    pub order_number: Option<String>,
    pub amount: String,
    /// Its effect on net revenue: + income, - refunds and lost disputes.
    pub signed_cents: i64,
    pub running: String,
}

impl JournalLine {
    pub fn at(&self) -> String {
        self.row.created_at.format("%Y-%m-%d %H:%M:%S").to_string()
    }
}

/// What a row does to net revenue.
pub fn signed_amount(row_kind: &str, status: &str, amount: i64) -> i64 {
    match (row_kind, status) {
        (kind::INCOME, _) => amount,
        (fulfil_kind::REFUND, _) => -amount,
        (fulfil_kind::DISPUTE, journal::status::FAILED) => -amount,
        _ => 0,
    }
}

/// Everything an order went through: journal, webhook events, grants.
pub struct OrderStory {
    pub invoice: Invoice,
    pub journal: Vec<JournalLine>,
    pub events: Vec<WebhookEvent>,
    pub grants: Vec<(String, NaiveDateTime, Option<NaiveDateTime>, Option<String>)>,
}

pub fn order_story(
    conn: &mut DbConnection,
    number: &str,
    staff: UserId,
) -> QueryResult<Option<OrderStory>> {
    let Some(invoice) = invoice(conn, number, staff, true)? else {
        return Ok(None);
    };
    let order = &invoice.view.order;
    let journal = with_running_sum(JournalRow::for_order(conn, order.id)?, |_| {
        Some(order.number.clone())
    });
    let events = match &order.payment_intent_id {
        Some(intent) => webhook_events::table
            .filter(
                webhook_events::payload
                    .like(format!("%\"{}\"%", escape_like(intent)))
                    .escape('\\'),
            )
            .order(webhook_events::received_at.asc())
            .select(WebhookEvent::as_select())
            .load(conn)?,
        None => Vec::new(),
    };
    let grants = user_courses::table
        .inner_join(crate::db::schema::courses::table)
        .filter(user_courses::order_id.eq(order.id))
        .order(user_courses::id.asc())
        .select((
            crate::db::schema::courses::title,
            user_courses::granted_at,
            user_courses::revoked_at,
            user_courses::revoke_reason,
        ))
        .load(conn)?;
    Ok(Some(OrderStory {
        invoice,
        journal,
        events,
        grants,
    }))
}

fn with_running_sum(
    rows: Vec<JournalRow>,
    number_of: impl Fn(&JournalRow) -> Option<String>,
) -> Vec<JournalLine> {
    let mut running = 0;
    rows.into_iter()
        .map(|row| {
            let signed = signed_amount(&row.kind, &row.status, row.amount_cents);
            running += signed;
            JournalLine {
                order_number: number_of(&row),
                amount: money(row.amount_cents, &row.currency),
                running: money(running, &row.currency),
                signed_cents: signed,
                row,
            }
        })
        .collect()
}

/// Journal filters (all optional).
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

/// A filtered query over the journal joined to order numbers, in append
/// order, starting after `after_id` (keyset paging for the CSV export).
pub fn journal_rows(
    conn: &mut DbConnection,
    filter: &JournalFilter,
    after_id: i64,
    limit: i64,
) -> Result<Vec<(JournalRow, Option<String>)>, String> {
    let (from, to) = date_range(&filter.from, &filter.to)?;
    let mut query = financial_journals::table
        .left_join(orders::table)
        .filter(financial_journals::id.gt(after_id))
        .into_boxed();
    if !filter.kind.trim().is_empty() {
        query = query.filter(financial_journals::type_.eq(filter.kind.trim().to_owned()));
    }
    if !filter.status.trim().is_empty() {
        query = query.filter(financial_journals::status.eq(filter.status.trim().to_owned()));
    }
    if let Some(from) = from {
        query = query.filter(financial_journals::created_at.ge(from));
    }
    if let Some(to) = to {
        query = query.filter(financial_journals::created_at.lt(to));
    }
    if !filter.order.trim().is_empty() {
        query = query.filter(orders::number.eq(filter.order.trim().to_uppercase()));
    }
    query
        .order(financial_journals::id.asc())
        .limit(limit)
        .select((JournalRow::as_select(), orders::number.nullable()))
        .load(conn)
        .map_err(|e| format!("database: {e}"))
}

/// The journal page: at most `limit` rows with a running net sum.
pub fn journal_page(
    conn: &mut DbConnection,
    filter: &JournalFilter,
    limit: i64,
) -> Result<(Vec<JournalLine>, bool), String> {
    let mut rows = journal_rows(conn, filter, 0, limit + 1)?;
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

/// One bucket of a revenue recap.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Recap {
    pub gross: i64,
    pub discounts: i64,
    pub refunds: i64,
    pub disputes: i64,
    pub orders: i64,
}

impl Recap {
    pub fn net(&self) -> i64 {
        self.gross - self.refunds - self.disputes
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
    kind: String,
    #[diesel(sql_type = diesel::sql_types::Text)]
    status: String,
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
        match (self.kind.as_str(), self.status.as_str()) {
            (kind::INCOME, _) => {
                delta.gross = self.amount;
                delta.discounts = self.discount;
                delta.orders = self.row_count;
            }
            (fulfil_kind::REFUND, _) => delta.refunds = self.amount,
            (fulfil_kind::DISPUTE, journal::status::FAILED) => delta.disputes = self.amount,
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
    revenue_between(conn, from, to, 0, i64::MAX)
}

/// The highest journal row id: with [`revenue_between`], a recap can be
/// brought up to date by adding only what was appended since.
///
/// Rows become visible in id order (every append holds the chain head's
/// lock until it commits), so once a row is seen, every earlier one is.
pub fn journal_high_water(conn: &mut DbConnection) -> QueryResult<i64> {
    financial_journals::table
        .select(diesel::dsl::max(financial_journals::id))
        .first::<Option<i64>>(conn)
        .map(Option::unwrap_or_default)
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

/// The recap of journal rows with `after_id < id <= upto_id` in the range.
pub fn revenue_between(
    conn: &mut DbConnection,
    from: Option<NaiveDateTime>,
    to: Option<NaiveDateTime>,
    after_id: i64,
    upto_id: i64,
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
    let mut range = format!(" AND j.id > {} AND j.id <= {}", next(), next());
    if from.is_some() {
        range += &format!(" AND j.created_at >= {}", next());
    }
    if to.is_some() {
        range += &format!(" AND j.created_at < {}", next());
    }
    let moving = format!(
        "j.type IN ('{}', '{}', '{}'){range}",
        kind::INCOME,
        fulfil_kind::REFUND,
        fulfil_kind::DISPUTE
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
         FROM financial_journals j JOIN orders o ON o.id = j.reference_id \
         WHERE {moving} GROUP BY j.type, j.status, {day}, o.promo_code"
    );
    let by_course = format!(
        "SELECT j.type AS kind, j.status AS status, i.title AS bucket, NULL AS promo, \
                CAST(SUM({}) AS BIGINT) AS amount, CAST(SUM({}) AS BIGINT) AS discount, \
                COUNT(*) AS row_count \
         FROM financial_journals j JOIN orders o ON o.id = j.reference_id \
              JOIN order_items i ON i.order_id = o.id \
         WHERE {moving} GROUP BY j.type, j.status, i.title",
        share("j.amount_cents"),
        share("o.discount_cents"),
    );
    let load = |conn: &mut DbConnection, sql: &str| -> QueryResult<Vec<MovementGroup>> {
        use diesel::sql_types::{BigInt, Timestamp};
        let mut query = diesel::sql_query(sql)
            .into_boxed::<'_, <DbConnection as Connection>::Backend>()
            .bind::<BigInt, _>(after_id)
            .bind::<BigInt, _>(upto_id);
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
}
