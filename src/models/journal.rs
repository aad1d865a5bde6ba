use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::OrderId;
use crate::db::DbConnection;
use crate::db::schema::financial_journals;

/// A journal row to append. There is no update and no delete: the
/// database refuses both.
#[derive(Insertable, Debug)]
#[diesel(table_name = financial_journals)]
pub struct NewJournalRow<'a> {
    #[diesel(column_name = type_)]
    pub kind: &'a str,
    pub amount_cents: i64,
    pub currency: &'a str,
    pub status: &'a str,
    pub description: &'a str,
    pub reference_id: Option<OrderId>,
    pub metadata: &'a str,
    pub provider_event_id: Option<&'a str>,
    pub idempotency_key: &'a str,
    pub created_at: NaiveDateTime,
}

#[derive(Queryable, Selectable, Clone, Debug)]
#[diesel(table_name = financial_journals)]
pub struct JournalRow {
    pub id: i64,
    #[diesel(column_name = type_)]
    pub kind: String,
    pub amount_cents: i64,
    pub currency: String,
    pub status: String,
    pub description: String,
    pub reference_id: Option<OrderId>,
    pub metadata: String,
    pub idempotency_key: String,
    pub created_at: NaiveDateTime,
}

impl NewJournalRow<'_> {
    pub fn insert(&self, conn: &mut DbConnection) -> QueryResult<usize> {
        diesel::insert_into(financial_journals::table)
            .values(self)
            .execute(conn)
    }
}

impl JournalRow {
    pub fn exists(conn: &mut DbConnection, idempotency_key: &str) -> QueryResult<bool> {
        diesel::select(diesel::dsl::exists(
            financial_journals::table
                .filter(financial_journals::idempotency_key.eq(idempotency_key)),
        ))
        .get_result(conn)
    }

    pub fn for_order(conn: &mut DbConnection, order_id: OrderId) -> QueryResult<Vec<Self>> {
        financial_journals::table
            .filter(financial_journals::reference_id.eq(order_id))
            .order(financial_journals::id.asc())
            .select(Self::as_select())
            .load(conn)
    }
}
