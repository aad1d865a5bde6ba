//! The sealer (DESIGN.md §2): payments append journal rows concurrently
//! and do no chain work; one sealer per deployment chains the committed
//! rows in batches into `journal_seals`. Each seal's MAC is HMAC-SHA256
//! under `JOURNAL_KEY`, which is never in the database, over its place in
//! the order, the previous MAC and the row's whole content: whoever can
//! write the database cannot make a seal that verifies.

use std::collections::VecDeque;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use hmac::{Hmac, Mac};

use super::canonical;
use crate::config::SecretKey;
use crate::db::{self, DbConnection};
use crate::models::journal::{JournalRow, JournalSeal};

/// Rows sealed per transaction.
pub const SEAL_BATCH: i64 = 1_000;

/// How often `serve` looks for rows to seal: each row is sealed within
/// about this long after it commits (DESIGN.md asks for a second).
pub const SEAL_EVERY: Duration = Duration::from_millis(250);

/// Past this, a transaction that took a row id has long committed or
/// rolled back (fulfilments take milliseconds), so no row will still
/// appear below an id sealed this long ago.
const SETTLED: Duration = Duration::from_secs(60);

/// The MAC of the `seq`th seal, of `row`, after the seal whose MAC is
/// `prev_mac` ("" for the first). It covers the row's id and its legacy
/// hashes too: moving a seal to another row, or stripping a chained row of
/// its hashes, breaks it.
pub fn seal_mac(key: &SecretKey, seq: i64, prev_mac: &str, row: &JournalRow) -> String {
    let head = serde_json::json!([
        "seal-v1",
        seq,
        row.id,
        prev_mac,
        row.prev_hash,
        row.row_hash
    ]);
    let mut mac =
        Hmac::<sha2::Sha256>::new_from_slice(key.expose()).expect("HMAC takes keys of any length");
    mac.update(canonical(head, row).as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

/// This process's sealer. Several may call [`Sealer::seal_pending`] (the
/// background task, the reports page before it reads): they take turns,
/// and across instances of one PostgreSQL database an advisory lock
/// leaves the work to one at a time.
pub struct Sealer {
    key: SecretKey,
    /// Ids are not commit order on PostgreSQL: a row may commit after a
    /// higher id was sealed. So each pass looks above the highest id that
    /// was sealed at least [`SETTLED`] ago, not above the newest.
    marks: Mutex<Marks>,
}

#[derive(Default)]
struct Marks {
    /// (when, highest id sealed by then), oldest first.
    recent: VecDeque<(Instant, i64)>,
    floor: i64,
    highest: i64,
}

impl Marks {
    fn note(&mut self, highest: i64) {
        let now = Instant::now();
        self.highest = self.highest.max(highest);
        if self.recent.back().is_none_or(|(_, h)| *h < self.highest) {
            self.recent.push_back((now, self.highest));
        }
        while let Some(&(at, high)) = self.recent.front() {
            if now.duration_since(at) < SETTLED {
                break;
            }
            self.floor = high;
            self.recent.pop_front();
        }
    }
}

impl Sealer {
    pub fn new(key: SecretKey) -> Self {
        Self {
            key,
            marks: Mutex::new(Marks::default()),
        }
    }

    pub fn key(&self) -> &SecretKey {
        &self.key
    }

    /// Seals up to [`SEAL_BATCH`] committed, unsealed rows in one
    /// transaction, oldest id first, and returns how many. `everything`
    /// looks at the whole journal instead of the recent ids (housekeeping
    /// does, in case a transaction outlived [`SETTLED`]).
    pub fn seal_pending(
        &self,
        conn: &mut DbConnection,
        everything: bool,
    ) -> diesel::QueryResult<usize> {
        let floor = if everything { 0 } else { self.lock().floor };
        let sealed = db::write_transaction(conn, |conn| {
            if !JournalSeal::try_take_turn(conn)? {
                return Ok::<_, diesel::result::Error>(Vec::new());
            }
            let rows = JournalRow::unsealed_after(conn, floor, SEAL_BATCH)?;
            if rows.is_empty() {
                return Ok(Vec::new());
            }
            let (mut seq, mut prev_mac) = JournalSeal::last(conn)?.unwrap_or_default();
            let sealed_at = db::now();
            let seals: Vec<JournalSeal> = rows
                .iter()
                .map(|row| {
                    seq += 1;
                    let mac = seal_mac(&self.key, seq, &prev_mac, row);
                    JournalSeal {
                        seq,
                        journal_id: row.id,
                        prev_mac: std::mem::replace(&mut prev_mac, mac.clone()),
                        mac,
                        sealed_at,
                    }
                })
                .collect();
            JournalSeal::insert_many(conn, &seals)?;
            Ok(seals)
        })?;
        let highest = sealed.iter().map(|s| s.journal_id).max().unwrap_or(0);
        self.lock().note(highest);
        crate::metrics::journal_sealed(sealed.len());
        Ok(sealed.len())
    }

    /// Seals until nothing is left (a history import, the first start
    /// after the migration to seals).
    pub fn seal_all(&self, conn: &mut DbConnection) -> diesel::QueryResult<usize> {
        let mut total = 0;
        loop {
            let sealed = self.seal_pending(conn, true)?;
            total += sealed;
            if (sealed as i64) < SEAL_BATCH {
                return Ok(total);
            }
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Marks> {
        self.marks.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_floor_is_the_highest_id_sealed_a_minute_ago() {
        let mut marks = Marks::default();
        marks.note(10);
        assert_eq!((marks.floor, marks.highest), (0, 10));
        // Pretend the first mark is old: the next note moves the floor to it.
        marks.recent[0].0 -= SETTLED;
        marks.note(25);
        assert_eq!((marks.floor, marks.highest), (10, 25));
        // A pass that sealed only older ids keeps the highest.
        marks.note(7);
        assert_eq!(marks.highest, 25);
        assert_eq!(marks.recent.len(), 1);
    }
}
