use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::OrderId;
use crate::db::DbConnection;
use crate::db::schema::{financial_journals, journal_chain, journal_seals};
use crate::domain::{Currency, JournalKind, JournalStatus};

/// A journal row to append. There is no update and no delete: the
/// database refuses both.
#[derive(Insertable, Debug)]
#[diesel(table_name = financial_journals)]
#[diesel(treat_none_as_default_value = false)]
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
    /// Appends the row unless a row with its idempotency key is there
    /// already; returns whether it was appended. One statement, and no
    /// unique violation to abort a PostgreSQL transaction.
    pub fn insert(&self, conn: &mut DbConnection) -> QueryResult<bool> {
        crate::db::per_engine!(conn, c => diesel::insert_into(financial_journals::table)
            .values(self)
            .on_conflict(financial_journals::idempotency_key)
            .do_nothing()
            .execute(c))
        .map(|inserted| inserted == 1)
    }

    /// One multi-row INSERT (the caller keeps batches under the engines'
    /// bind-parameter limits).
    pub fn insert_many(conn: &mut DbConnection, rows: &[Self]) -> QueryResult<usize> {
        crate::db::insert_batch!(conn, financial_journals::table, rows)
    }
}

impl JournalRow {
    /// Up to `limit` rows after `after_id`, in id order.
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
    /// The last hash and the length of the chain written before sealing.
    pub fn head(conn: &mut DbConnection) -> QueryResult<(String, i64)> {
        journal_chain::table
            .find(1)
            .select((journal_chain::last_hash, journal_chain::length))
            .first(conn)
    }
}

/// A seal: the row's place in the sealed order and its MAC.
#[derive(Queryable, Selectable, Insertable, Clone, Debug)]
#[diesel(table_name = journal_seals)]
#[diesel(treat_none_as_default_value = false)]
pub struct JournalSeal {
    pub seq: i64,
    pub journal_id: i64,
    pub prev_mac: String,
    pub mac: String,
    pub sealed_at: NaiveDateTime,
}

/// PostgreSQL advisory lock key of the sealer ("kasir-seal").
const SEALER_LOCK_KEY: i64 = 0x6b61_7369_725f_736c;

impl JournalSeal {
    /// Takes the sealer's turn for this transaction, waiting while another
    /// pass (this process's or another instance's) has it: a pass that
    /// skipped instead would let a reader count seals still being written
    /// (the reports page seals, then reads). On SQLite the write
    /// transaction is the turn.
    pub fn take_turn(conn: &mut DbConnection) -> QueryResult<()> {
        if let DbConnection::Postgresql(c) = conn {
            diesel::sql_query(format!("SELECT pg_advisory_xact_lock({SEALER_LOCK_KEY})"))
                .execute(c)?;
        }
        Ok(())
    }

    /// The newest seal's sequence number and MAC.
    pub fn last(conn: &mut DbConnection) -> QueryResult<Option<(i64, String)>> {
        journal_seals::table
            .order(journal_seals::seq.desc())
            .select((journal_seals::seq, journal_seals::mac))
            .first(conn)
            .optional()
    }

    /// The highest row id sealed so far (0: none).
    pub fn highest_row(conn: &mut DbConnection) -> QueryResult<i64> {
        journal_seals::table
            .select(diesel::dsl::max(journal_seals::journal_id))
            .first::<Option<i64>>(conn)
            .map(Option::unwrap_or_default)
    }

    pub fn insert_many(conn: &mut DbConnection, seals: &[Self]) -> QueryResult<usize> {
        crate::db::insert_batch!(conn, journal_seals::table, seals)
    }

    /// Up to `limit` seals after `after_seq`, in order, each with its row
    /// (`None`: the sealed row is gone). The seals, then their rows by id:
    /// as one join, PostgreSQL's plan for it (kept prepared, so made for
    /// any `after_seq` and `limit`) hashed the whole journal at every page,
    /// and the check at startup held a core for half a minute
    /// (bench/results.md, eighth round).
    pub fn page_after(
        conn: &mut DbConnection,
        after_seq: i64,
        limit: i64,
    ) -> QueryResult<Vec<(Self, Option<JournalRow>)>> {
        let seals: Vec<Self> = journal_seals::table
            .filter(journal_seals::seq.gt(after_seq))
            .order(journal_seals::seq.asc())
            .limit(limit)
            .select(Self::as_select())
            .load(conn)?;
        let ids: Vec<i64> = seals.iter().map(|seal| seal.journal_id).collect();
        let mut rows: std::collections::HashMap<i64, JournalRow> = financial_journals::table
            .filter(financial_journals::id.eq_any(&ids))
            .select(JournalRow::as_select())
            .load(conn)?
            .into_iter()
            .map(|row: JournalRow| (row.id, row))
            .collect();
        Ok(seals
            .into_iter()
            .map(|seal| {
                let row = rows.remove(&seal.journal_id);
                (seal, row)
            })
            .collect())
    }
}

impl JournalRow {
    /// Committed rows without a seal and with an id above `floor`, oldest
    /// id first.
    pub fn unsealed_after(
        conn: &mut DbConnection,
        floor: i64,
        limit: i64,
    ) -> QueryResult<Vec<Self>> {
        // The seals' side bounded too: with only the journal's, PostgreSQL
        // hashed every seal there is at each pass (a sequential scan that
        // grows with the journal: bench/results.md, eighth round).
        financial_journals::table
            .left_join(
                journal_seals::table.on(journal_seals::journal_id
                    .eq(financial_journals::id)
                    .and(journal_seals::journal_id.gt(floor))),
            )
            .filter(financial_journals::id.gt(floor))
            .filter(journal_seals::seq.is_null())
            .order(financial_journals::id.asc())
            .limit(limit)
            .select(Self::as_select())
            .load(conn)
    }

    /// How many rows written before `before` still have no seal, and the
    /// first of them.
    pub fn unsealed_before(
        conn: &mut DbConnection,
        before: NaiveDateTime,
    ) -> QueryResult<(i64, Option<i64>)> {
        financial_journals::table
            .left_join(journal_seals::table)
            .filter(financial_journals::created_at.lt(before))
            .filter(journal_seals::seq.is_null())
            .select((
                diesel::dsl::count_star(),
                diesel::dsl::min(financial_journals::id),
            ))
            .first(conn)
    }
}
