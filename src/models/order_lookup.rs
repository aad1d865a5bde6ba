//! Finding orders by the numbers people hold, and the short form of an
//! order that lists show.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::UserId;
use super::order::Order;
use crate::db::DbConnection;
use crate::db::schema::orders;
use crate::domain::{Currency, OrderStatus};

impl Order {
    /// The order with this order number, else invoice number, else number
    /// from before the two parted (an old number may since have become
    /// another order's invoice number: the current meaning wins).
    pub fn find_by_number(conn: &mut DbConnection, number: &str) -> QueryResult<Option<Self>> {
        Ok(Self::best_match(
            Self::matching(conn, number, None)?,
            number,
        ))
    }

    /// As [`Order::find_by_number`], among `user`'s orders only.
    pub fn find_by_number_for_user(
        conn: &mut DbConnection,
        number: &str,
        user: UserId,
    ) -> QueryResult<Option<Self>> {
        Ok(Self::best_match(
            Self::matching(conn, number, Some(user))?,
            number,
        ))
    }

    fn matching(
        conn: &mut DbConnection,
        number: &str,
        user: Option<UserId>,
    ) -> QueryResult<Vec<Self>> {
        let mut query = orders::table
            .filter(
                orders::number
                    .eq(number)
                    .or(orders::invoice_number.eq(number))
                    .or(orders::legacy_number.eq(number)),
            )
            .into_boxed();
        if let Some(user) = user {
            query = query.filter(orders::user_id.eq(user));
        }
        query.select(Self::as_select()).load(conn)
    }

    fn best_match(found: Vec<Self>, number: &str) -> Option<Self> {
        found.into_iter().min_by_key(|o| {
            if o.number == number {
                0
            } else if o.invoice_number.as_deref() == Some(number) {
                1
            } else {
                2
            }
        })
    }
}

/// An order as a list shows it.
#[derive(Queryable, Selectable, Clone, Debug)]
#[diesel(table_name = orders)]
pub struct OrderSummary {
    pub number: String,
    pub status: OrderStatus,
    pub total_cents: i64,
    pub currency: Currency,
    pub created_at: NaiveDateTime,
    pub invoice_number: Option<String>,
}

impl OrderSummary {
    /// The user's orders, newest first.
    pub fn list_for_user(conn: &mut DbConnection, user_id: UserId) -> QueryResult<Vec<Self>> {
        orders::table
            .filter(orders::user_id.eq(user_id))
            .order((orders::created_at.desc(), orders::id.desc()))
            .select(Self::as_select())
            .load(conn)
    }
}
