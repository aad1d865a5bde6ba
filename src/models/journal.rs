use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::OrderId;
use crate::db::DbConnection;
use crate::db::schema::{financial_journals, journal_chain};
use crate::domain::{Currency, JournalKind, JournalStatus};

/// A journal row to append. There is no update and no delete: the
/// database refuses both.
#[derive(Insertable, Debug)]
#[diesel(table_name = financial_journals)]
pub struct NewJournalRow<'a> {
    #[diesel(column_name = type_)]
    pub kind: JournalKind,
    pub amount_cents: i64,
    pub currency: Currency,
    pub status: JournalStatus,
    pub description: &'a str,
    pub reference_id: Option<OrderId>,
    pub metadata: &'a str,
    pub provider_event_id: Option<&'a str>,
    pub idempotency_key: &'a str,
    pub created_at: NaiveDateTime,
    pub prev_hash: Option<&'a str>,
    pub row_hash: Option<&'a str>,
}

#[derive(Queryable, Selectable, Clone, Debug)]
#[diesel(table_name = financial_journals)]
pub struct JournalRow {
    pub id: i64,
    #[diesel(column_name = type_)]
    pub kind: JournalKind,
    pub amount_cents: i64,
    pub currency: Currency,
    pub status: JournalStatus,
    pub description: String,
    pub reference_id: Option<OrderId>,
    pub metadata: String,
    pub provider_event_id: Option<String>,
    pub idempotency_key: String,
    pub created_at: NaiveDateTime,
    pub prev_hash: Option<String>,
    pub row_hash: Option<String>,
}

impl NewJournalRow<'_> {
    pub fn insert(&self, conn: &mut DbConnection) -> QueryResult<usize> {
        diesel::insert_into(financial_journals::table)
            .values(self)
            .execute(conn)
    }

    /// One multi-row INSERT (the caller keeps batches under the engines'
    /// bind-parameter limits).
    pub fn insert_many(conn: &mut DbConnection, rows: &[Self]) -> QueryResult<usize> {
        crate::db::insert_batch!(conn, financial_journals::table, rows)
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

    /// Every row in append order (for verification and exports).
    /// Up to `limit` rows after `after_id`, in append order.
    pub fn page_after(
        conn: &mut DbConnection,
        after_id: i64,
        limit: i64,
    ) -> QueryResult<Vec<Self>> {
        financial_journals::table
            .filter(financial_journals::id.gt(after_id))
            .order(financial_journals::id.asc())
            .limit(limit)
            .select(Self::as_select())
            .load(conn)
    }

    pub fn first_unchained_after(
        conn: &mut DbConnection,
        after_id: i64,
    ) -> QueryResult<Option<i64>> {
        financial_journals::table
            .filter(financial_journals::id.gt(after_id))
            .filter(financial_journals::row_hash.is_null())
            .order(financial_journals::id.asc())
            .select(financial_journals::id)
            .first(conn)
            .optional()
    }

    pub fn for_order(conn: &mut DbConnection, order_id: OrderId) -> QueryResult<Vec<Self>> {
        financial_journals::table
            .filter(financial_journals::reference_id.eq(order_id))
            .order(financial_journals::id.asc())
            .select(Self::as_select())
            .load(conn)
    }
}

/// The head of the hash chain.
pub struct JournalChain;

impl JournalChain {
    /// Takes the head's row lock (held until the transaction ends) and
    /// returns the last hash and the chain's length before this append.
    pub fn lock_head(conn: &mut DbConnection) -> QueryResult<(String, i64)> {
        // One round trip: the lock is held from here to commit.
        let (last, length): (String, i64) = diesel::update(journal_chain::table.find(1))
            .set(journal_chain::length.eq(journal_chain::length + 1))
            .returning((journal_chain::last_hash, journal_chain::length))
            .get_result(conn)?;
        Ok((last, length - 1))
    }

    pub fn set_head(conn: &mut DbConnection, hash: &str) -> QueryResult<usize> {
        diesel::update(journal_chain::table.find(1))
            .set(journal_chain::last_hash.eq(hash))
            .execute(conn)
    }

    /// Sets the head after a batch: `more` rows beyond the one `lock_head` counted.
    pub fn set_head_counting(conn: &mut DbConnection, hash: &str, more: i64) -> QueryResult<usize> {
        diesel::update(journal_chain::table.find(1))
            .set((
                journal_chain::last_hash.eq(hash),
                journal_chain::length.eq(journal_chain::length + more),
            ))
            .execute(conn)
    }

    pub fn head(conn: &mut DbConnection) -> QueryResult<(String, i64)> {
        journal_chain::table
            .find(1)
            .select((journal_chain::last_hash, journal_chain::length))
            .first(conn)
    }
}
