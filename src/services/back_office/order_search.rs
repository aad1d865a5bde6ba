//! The invoice history: orders filtered by status, dates, student, number
//! and promo code, a page of them, and the totals of the whole set.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::{date_range, escape_like};
use crate::db::DbConnection;
use crate::db::schema::{orders, users};
use crate::domain::{Currency, Money, OrderStatus};
use crate::i18n::Message;
use crate::msg;

pub const PAGE_SIZE: i64 = 25;

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

/// The filters, checked.
#[derive(Clone, Debug, Default)]
pub struct OrderQuery {
    pub status: Option<OrderStatus>,
    pub from: Option<NaiveDateTime>,
    pub to: Option<NaiveDateTime>,
    /// Lower-cased; matched as a substring.
    pub email: String,
    /// Upper-cased; matched as a substring.
    pub number: String,
    /// Upper-cased; matched exactly.
    pub promo: String,
    pub page: i64,
}

impl OrderFilter {
    /// Checks what was typed; the message says what to fix.
    pub fn parse(&self) -> Result<OrderQuery, Message> {
        let (from, to) = date_range(&self.from, &self.to)?;
        let status = match self.status.trim() {
            "" => None,
            raw => Some(
                OrderStatus::parse(raw).map_err(|_| msg!("staff-unknown-status", value = raw))?,
            ),
        };
        Ok(OrderQuery {
            status,
            from,
            to,
            email: self.email.trim().to_lowercase(),
            number: self.number.trim().to_uppercase(),
            promo: self.promo.trim().to_uppercase(),
            page: self.page.unwrap_or(1),
        })
    }
}

#[derive(Clone, Debug, Queryable)]
pub struct StaffOrderRow {
    pub number: String,
    pub created_at: NaiveDateTime,
    pub email: String,
    pub status: OrderStatus,
    pub total_cents: i64,
    pub refunded_cents: i64,
    pub currency: Currency,
    pub promo_code: Option<String>,
    pub review_note: Option<String>,
    pub invoice_number: Option<String>,
}

impl StaffOrderRow {
    pub fn total(&self) -> Money {
        Money::new(self.total_cents, self.currency)
    }
}

pub struct OrderList {
    pub rows: Vec<StaffOrderRow>,
    pub count: i64,
    pub sum_total: Money,
    pub sum_refunded: Money,
    pub page: i64,
    pub pages: i64,
}

/// The filtered invoice history, a page of it, and totals of the whole set.
pub fn staff_orders(
    conn: &mut DbConnection,
    query: &OrderQuery,
    currency: Currency,
) -> QueryResult<OrderList> {
    // The same filters over `orders` alone (the totals: no student is read
    // for each of the set's rows) or joined with `users` (the page's rows).
    macro_rules! filtered {
        ($from:expr) => {{
            let mut sql = $from.into_boxed();
            if let Some(status) = query.status {
                sql = sql.filter(orders::status.eq(status));
            }
            if let Some(from) = query.from {
                sql = sql.filter(orders::created_at.ge(from));
            }
            if let Some(to) = query.to {
                sql = sql.filter(orders::created_at.lt(to));
            }
            if !query.email.is_empty() {
                // Aliased: the page's query has `users` joined already.
                let students = diesel::alias!(users as students);
                let ids = students
                    .filter(
                        students
                            .field(users::email)
                            .like(format!("%{}%", escape_like(&query.email)))
                            .escape('\\'),
                    )
                    .select(students.field(users::id));
                sql = sql.filter(orders::user_id.eq_any(ids));
            }
            if !query.number.is_empty() {
                // An order, invoice or former number.
                let pattern = format!("%{}%", escape_like(&query.number));
                sql = sql.filter(
                    orders::number
                        .like(pattern.clone())
                        .escape('\\')
                        .or(orders::invoice_number.like(pattern.clone()).escape('\\'))
                        .or(orders::legacy_number.like(pattern).escape('\\')),
                );
            }
            if !query.promo.is_empty() {
                sql = sql.filter(orders::promo_code.eq(query.promo.clone()));
            }
            sql
        }};
    }
    // SUM(BIGINT) is NUMERIC on PostgreSQL: cast back to BIGINT, which both
    // engines return as an integer (never through a float).
    use diesel::dsl::sql;
    use diesel::sql_types::{BigInt, Nullable};
    let (count, sum_total, sum_refunded): (i64, Option<i64>, Option<i64>) =
        filtered!(orders::table)
            .select((
                diesel::dsl::count_star(),
                sql::<Nullable<BigInt>>("CAST(SUM(orders.total_cents) AS BIGINT)"),
                sql::<Nullable<BigInt>>("CAST(SUM(orders.refunded_cents) AS BIGINT)"),
            ))
            .first(conn)?;
    let pages = ((count + PAGE_SIZE - 1) / PAGE_SIZE).max(1);
    let page = query.page.clamp(1, pages);
    let rows = filtered!(orders::table.inner_join(users::table))
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
            orders::invoice_number,
        ))
        .load::<StaffOrderRow>(conn)?;
    Ok(OrderList {
        rows,
        count,
        sum_total: Money::new(sum_total.unwrap_or(0), currency),
        sum_refunded: Money::new(sum_refunded.unwrap_or(0), currency),
        page,
        pages,
    })
}
