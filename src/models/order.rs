use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::UserId;
use crate::db::DbConnection;
use crate::db::schema::orders;

/// An order as a list shows it.
#[derive(Queryable, Selectable, Clone, Debug)]
#[diesel(table_name = orders)]
pub struct OrderSummary {
    pub number: String,
    pub status: String,
    pub total_cents: i64,
    pub currency: String,
    pub created_at: NaiveDateTime,
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
