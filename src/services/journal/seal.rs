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

use super::feed_canonical;
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
const SETTLED: Duration = Duration::from_secs(5);

/// The MAC of the `seq`th seal, of `row`, after the seal whose MAC is
/// `prev_mac` ("" for the first). It covers the row's id and its legacy
/// hashes too: moving a seal to another row, or stripping a chained row of
/// its hashes, breaks it.
pub fn seal_mac(key: &SecretKey, seq: i64, prev_mac: &str, row: &JournalRow) -> String {
    let head = (
        "seal-v1",
        seq,
        row.id,
        prev_mac,
        &row.prev_hash,
        &row.row_hash,
    );
    let mut mac =
        Hmac::<sha2::Sha256>::new_from_slice(key.expose()).expect("HMAC takes keys of any length");
    feed_canonical(&mut mac, &head, row);
    hex::encode(mac.finalize().into_bytes())
}

/// This process's sealer. Several may call [`Sealer::seal_pending`] (the
/// background task, the reports page before it reads): they take turns,
/// and across instances of one PostgreSQL database an advisory lock
/// leaves the work to one pass at a time.
pub struct Sealer {
    key: SecretKey,
    /// Ids are not commit order on PostgreSQL: a row may commit after a
    /// higher id was sealed. So each pass looks above the highest id that
    /// was sealed at least [`SETTLED`] ago, not above the newest. A new
    /// sealer starts above the highest id sealed so far; housekeeping's
    /// whole-journal pass (at start, then every five minutes) seals what
    /// a long transaction committed below it.
    marks: Mutex<Marks>,
}

#[derive(Default)]
struct Marks {
    /// (when, highest id sealed by then), oldest first.
    recent: VecDeque<(Instant, i64)>,
    /// `None` until the first pass reads where the seals are.
    floor: Option<i64>,
    highest: i64,
}

impl Marks {
    fn start(&mut self, highest_sealed: i64) {
        self.floor = Some(highest_sealed);
        self.highest = highest_sealed;
    }

    fn note(&mut self, highest: i64, now: Instant) {
        // `now` is the caller's, so a test can place it to the instant.
        self.highest = self.highest.max(highest);
        if self.recent.back().is_none_or(|(_, h)| *h < self.highest) {
            self.recent.push_back((now, self.highest));
        }
        while let Some(&(at, high)) = self.recent.front() {
            if now.duration_since(at) < SETTLED {
                break;
            }
            self.floor = Some(high);
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

    /// Seals up to [`SEAL_BATCH`] committed, unsealed rows among the
    /// recent ids in one transaction, oldest id first, and returns how
    /// many. (Housekeeping's [`Sealer::seal_all`] looks at the whole
    /// journal, in case a transaction outlived [`SETTLED`].)
    pub fn seal_pending(&self, conn: &mut DbConnection) -> diesel::QueryResult<usize> {
        let known = self.lock().floor;
        let floor = match known {
            Some(floor) => floor,
            None => {
                let highest = JournalSeal::highest_row(conn)?;
                self.lock().start(highest);
                highest
            }
        };
        Ok(self.seal_above(conn, floor)?.len())
    }

    /// One pass over the rows above `floor`; returns the seals it made.
    fn seal_above(
        &self,
        conn: &mut DbConnection,
        floor: i64,
    ) -> diesel::QueryResult<Vec<JournalSeal>> {
        // A read first: most passes find nothing, and need no write lock.
        // Their marks still age, so the floor catches up once writes stop.
        if JournalRow::unsealed_after(conn, floor, 1)?.is_empty() {
            self.lock().note(0, Instant::now());
            return Ok(Vec::new());
        }
        let sealed = db::write_transaction(conn, |conn| {
            JournalSeal::take_turn(conn)?;
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
            Ok::<_, diesel::result::Error>(seals)
        })?;
        let highest = sealed.iter().map(|s| s.journal_id).max().unwrap_or(0);
        self.lock().note(highest, Instant::now());
        crate::metrics::journal_sealed(sealed.len());
        Ok(sealed)
    }

    /// Seals every unsealed row of the whole journal (a history import,
    /// housekeeping, the first start after the migration to seals). Each
    /// batch takes the lowest unsealed ids, so the next one starts above the
    /// highest it sealed.
    pub fn seal_all(&self, conn: &mut DbConnection) -> diesel::QueryResult<usize> {
        let (mut total, mut floor) = (0, 0);
        loop {
            let sealed = self.seal_above(conn, floor)?;
            total += sealed.len();
            match sealed.iter().map(|s| s.journal_id).max() {
                Some(highest) if sealed.len() as i64 == SEAL_BATCH => floor = highest,
                _ => return Ok(total),
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
        let t0 = Instant::now();
        let mut marks = Marks::default();
        marks.start(4);
        marks.note(10, t0);
        assert_eq!((marks.floor, marks.highest), (Some(4), 10));
        // Just under a minute later the mark has not settled yet.
        let later = t0 + SETTLED;
        marks.note(10, later - Duration::from_millis(1));
        assert_eq!(marks.floor, Some(4));
        assert_eq!(marks.recent.len(), 1, "the same highest is marked once");
        // A minute on, to the instant, it has: the floor moves to it.
        marks.note(25, later);
        assert_eq!((marks.floor, marks.highest), (Some(10), 25));
        // The new highest is marked, to become the floor in its turn.
        assert_eq!(
            marks.recent.iter().map(|m| m.1).collect::<Vec<_>>(),
            vec![25]
        );
        // A pass that sealed only older ids keeps the highest.
        marks.note(7, later);
        assert_eq!(marks.highest, 25);
        assert_eq!(marks.recent.len(), 1);
        // Passes that seal nothing let the last mark age into the floor.
        marks.note(0, later + SETTLED);
        assert_eq!((marks.floor, marks.highest), (Some(25), 25));
        assert!(marks.recent.is_empty());
    }
}
