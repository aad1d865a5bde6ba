//! What the outboxes (mail, the learning platform's events) share: a
//! worker leases due rows, then marks each done or failed.

/// `lease` (claim the rows the caller found) and `mark_failed`, for the
/// outbox row type `Self` of `$table`.
macro_rules! outbox_rows {
    ($table:ident) => {
        /// Leases the rows `ids` (found, and locked, by the caller: see
        /// `db::lock_rows_skip_locked!`) to this worker until `until`, and
        /// returns them, oldest first. Run it in a write transaction.
        fn lease(
            conn: &mut DbConnection,
            ids: Vec<i64>,
            until: NaiveDateTime,
        ) -> QueryResult<Vec<Self>> {
            if ids.is_empty() {
                return Ok(Vec::new());
            }
            diesel::update($table::table.filter($table::id.eq_any(&ids)))
                .set($table::claimed_until.eq(until))
                .execute(conn)?;
            $table::table
                .filter($table::id.eq_any(&ids))
                .order($table::id.asc())
                .select(Self::as_select())
                .load(conn)
        }

        /// A try failed: why, and when to try again.
        pub fn mark_failed(
            conn: &mut DbConnection,
            id: i64,
            error: &str,
            next_attempt_at: NaiveDateTime,
        ) -> QueryResult<()> {
            diesel::update($table::table.find(id))
                .set((
                    $table::attempts.eq($table::attempts + 1),
                    $table::next_attempt_at.eq(next_attempt_at),
                    $table::claimed_until.eq(None::<NaiveDateTime>),
                    $table::last_error.eq(error),
                ))
                .execute(conn)
                .map(drop)
        }
    };
}
pub(crate) use outbox_rows;
