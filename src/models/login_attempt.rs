use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::DbConnection;
use crate::db::schema::login_attempts;

/// Failed logins, keyed by `email:<address>` or `ip:<address>`.
pub struct LoginAttempt;

impl LoginAttempt {
    /// Counts one try against `throttle_key` unless `limit` tries since
    /// `since` are counted already: `Ok(Some(id))` is the try's row, `Ok(None)`
    /// means throttled (with the oldest try, which decides when it frees).
    /// Tries for one key take turns (a transaction-scoped advisory lock on
    /// PostgreSQL, the write lock on SQLite), so concurrent guesses cannot
    /// all slip under the limit.
    pub fn reserve(
        conn: &mut DbConnection,
        throttle_key: &str,
        limit: i64,
        since: NaiveDateTime,
        now: NaiveDateTime,
    ) -> QueryResult<Result<i64, Option<NaiveDateTime>>> {
        crate::db::write_transaction(conn, |conn| {
            if let DbConnection::Postgresql(pg) = conn {
                diesel::sql_query("SELECT pg_advisory_xact_lock(hashtext($1))")
                    .bind::<diesel::sql_types::Text, _>(throttle_key)
                    .execute(pg)?;
            }
            let (tries, oldest) = Self::count_since(conn, throttle_key, since)?;
            if tries >= limit {
                return Ok(Err(oldest));
            }
            diesel::insert_into(login_attempts::table)
                .values((
                    login_attempts::throttle_key.eq(throttle_key),
                    login_attempts::attempted_at.eq(now),
                ))
                .returning(login_attempts::id)
                .get_result(conn)
                .map(Ok)
        })
    }

    /// Takes back a counted try (the password was right).
    pub fn forget(conn: &mut DbConnection, id: i64) -> QueryResult<usize> {
        diesel::delete(login_attempts::table.find(id)).execute(conn)
    }

    /// Failures for this key since `since`, and the oldest of them (which
    /// decides when the window frees up again).
    pub fn count_since(
        conn: &mut DbConnection,
        throttle_key: &str,
        since: NaiveDateTime,
    ) -> QueryResult<(i64, Option<NaiveDateTime>)> {
        login_attempts::table
            .filter(login_attempts::throttle_key.eq(throttle_key))
            .filter(login_attempts::attempted_at.gt(since))
            .select((
                diesel::dsl::count_star(),
                diesel::dsl::min(login_attempts::attempted_at),
            ))
            .first(conn)
    }

    pub fn clear(conn: &mut DbConnection, throttle_key: &str) -> QueryResult<usize> {
        diesel::delete(login_attempts::table.filter(login_attempts::throttle_key.eq(throttle_key)))
            .execute(conn)
    }

    /// Drops attempts too old to count toward any limit.
    pub fn prune_before(conn: &mut DbConnection, before: NaiveDateTime) -> QueryResult<usize> {
        diesel::delete(login_attempts::table.filter(login_attempts::attempted_at.le(before)))
            .execute(conn)
    }
}
