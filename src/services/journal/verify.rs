//! `kasir journal verify`, the reports page's check and housekeeping's:
//! the legacy chain, then every seal in order, then rows left unsealed.

use std::sync::{Mutex, PoisonError};

use super::{legacy, seal::seal_mac};
use crate::config::SecretKey;
use crate::db::DbConnection;
use crate::models::journal::{JournalRow, JournalSeal};

/// Seals read per query: memory stays flat however long the journal grows.
const VERIFY_BATCH: i64 = 1_000;

/// A row unsealed for longer than this is reported: the sealer seals
/// within a second of the commit.
pub const UNSEALED_TOO_LONG: chrono::TimeDelta = chrono::TimeDelta::minutes(1);

/// Seals a staff view checks at most: on a long journal that no check of
/// this process has covered yet (after a restart), the page shows how far
/// it got and the next view goes on from there, while housekeeping's full
/// check covers the rest in the background (the first view over 250,000
/// seals took 1.8 to 4.6 s, bench/results.md).
pub const VIEW_BUDGET: i64 = 10_000;

/// The verdict of `kasir journal verify`.
#[derive(Debug, PartialEq, Eq)]
pub enum ChainVerdict {
    /// Every seal (and legacy hash) checks out. `unsealed`: rows younger
    /// than [`UNSEALED_TOO_LONG`] waiting for their seal (counted by full
    /// verifications only).
    Intact { rows: i64, unsealed: i64 },
    /// The first row or seal that does not match.
    Broken { row_id: i64, reason: String },
    /// The seals are intact, but rows have waited too long for one: no
    /// sealer is running, or a row was written around the journal.
    Unsealed { rows: i64, late: i64, first: i64 },
    /// A staff view's check ran out of its [`VIEW_BUDGET`]: intact as far
    /// as it got, `rows` seals; there are more to check.
    Checking { rows: i64 },
}

impl std::fmt::Display for ChainVerdict {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Intact { rows, unsealed: 0 } => write!(f, "journal chain intact ({rows} rows)"),
            Self::Intact { rows, unsealed } => write!(
                f,
                "journal chain intact ({rows} rows, {unsealed} more waiting for their seal)"
            ),
            Self::Broken { row_id, reason } => {
                write!(f, "journal chain BROKEN at row {row_id}: {reason}")
            }
            Self::Unsealed { rows, late, first } => write!(
                f,
                "journal chain intact ({rows} rows), but {late} rows have waited over a minute \
                 for their seal, the first is row {first}: is `kasir serve` running?"
            ),
            Self::Checking { rows } => write!(
                f,
                "journal chain intact in its first {rows} rows, the rest is still being checked"
            ),
        }
    }
}

/// How far an intact verification got: later checks start after it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ChainCheckpoint {
    pub seq: i64,
    pub mac: String,
}

/// Verifies the legacy chain, every seal and the rows left unsealed.
pub fn verify_chain(conn: &mut DbConnection, key: &SecretKey) -> diesel::QueryResult<ChainVerdict> {
    verify_from(conn, key, &ChainCheckpoint::default(), Pass::FULL).map(|(verdict, _)| verdict)
}

/// How a verification goes.
#[derive(Clone, Copy)]
struct Pass {
    /// Also look for rows unsealed for too long (a scan of the journal).
    late_rows: bool,
    /// A background check, which rests after each batch as long as the
    /// batch took, so that re-checking a long journal on a busy server
    /// takes at most half a core (the check at startup, over 250,000
    /// seals, put 30 % of the server's time there and the catalog's p99 at
    /// 140 ms in bench/results.md).
    paced: bool,
    /// At most this many seals, then [`ChainVerdict::Checking`].
    budget: Option<i64>,
}

impl Pass {
    /// `kasir journal verify`: everything, at full speed.
    const FULL: Self = Self {
        late_rows: true,
        paced: false,
        budget: None,
    };
    /// Housekeeping's: everything, paced.
    const BACKGROUND: Self = Self {
        paced: true,
        ..Self::FULL
    };
    /// A staff view's: the seals after the checkpoint, up to a budget.
    const VIEW: Self = Self {
        late_rows: false,
        paced: false,
        budget: Some(VIEW_BUDGET),
    };
}

/// Verifies the seals after `from` (a checkpoint an earlier, intact
/// verification returned; the default starts with the legacy chain) and
/// returns where it got.
fn verify_from(
    conn: &mut DbConnection,
    key: &SecretKey,
    from: &ChainCheckpoint,
    pass: Pass,
) -> diesel::QueryResult<(ChainVerdict, Option<ChainCheckpoint>)> {
    let broken = |row_id: i64, reason: &str| {
        let reason = reason.to_owned();
        Ok((ChainVerdict::Broken { row_id, reason }, None))
    };
    if from.seq == 0
        && let verdict @ ChainVerdict::Broken { .. } = legacy::verify(conn)?
    {
        return Ok((verdict, None));
    }
    // The seals only grow: fewer than a check already saw were removed.
    if from.seq > 0 && JournalSeal::last(conn)?.is_none_or(|(seq, _)| seq < from.seq) {
        return broken(0, "seals were removed at the end");
    }
    let mut at = from.clone();
    loop {
        let batch_started = std::time::Instant::now();
        let page = JournalSeal::page_after(conn, at.seq, VERIFY_BATCH)?;
        if page.is_empty() {
            break;
        }
        if pass
            .budget
            .is_some_and(|budget| at.seq - from.seq >= budget)
        {
            return Ok((ChainVerdict::Checking { rows: at.seq }, Some(at)));
        }
        for (seal, row) in page {
            if seal.seq != at.seq + 1 {
                return broken(
                    seal.journal_id,
                    "the seal before it is missing (seals were removed)",
                );
            }
            let Some(row) = row else {
                return broken(
                    seal.journal_id,
                    "the sealed row is gone (a row was removed)",
                );
            };
            if seal.prev_mac != at.mac {
                return broken(row.id, "its seal does not link to the seal before it");
            }
            if seal_mac(key, seal.seq, &seal.prev_mac, &row) != seal.mac {
                return broken(
                    row.id,
                    "its content no longer matches its seal (the row was altered)",
                );
            }
            at = ChainCheckpoint {
                seq: seal.seq,
                mac: seal.mac,
            };
        }
        if pass.paced {
            std::thread::sleep(batch_started.elapsed());
        }
    }
    let rows = at.seq;
    let verdict = if pass.late_rows {
        let cutoff = crate::db::now() - UNSEALED_TOO_LONG;
        match JournalRow::unsealed_before(conn, cutoff)? {
            // A first row exactly when the count is not 0.
            (late, Some(first)) => ChainVerdict::Unsealed { rows, late, first },
            _ => ChainVerdict::Intact {
                rows,
                unsealed: JournalRow::unsealed_before(conn, crate::db::now())?.0,
            },
        }
    } else {
        ChainVerdict::Intact { rows, unsealed: 0 }
    };
    Ok((verdict, Some(at)))
}

/// Where the last intact verification got to: the reports page checks only
/// the seals after it; housekeeping re-checks everything.
#[derive(Default)]
pub struct ChainMonitor(Mutex<ChainCheckpoint>);

impl ChainMonitor {
    /// Verifies from the last checkpoint, at most [`VIEW_BUDGET`] seals
    /// (`full`: from the first row to the last, paced, and looks for rows
    /// unsealed too long) and moves the checkpoint on when intact.
    pub fn verify(
        &self,
        conn: &mut DbConnection,
        key: &SecretKey,
        full: bool,
    ) -> diesel::QueryResult<ChainVerdict> {
        let lock = || self.0.lock().unwrap_or_else(PoisonError::into_inner);
        let (from, known) = {
            let checkpoint = lock();
            let from = if full {
                ChainCheckpoint::default()
            } else {
                checkpoint.clone()
            };
            (from, checkpoint.seq)
        };
        // The full check is housekeeping's, in the background: paced.
        let pass = if full { Pass::BACKGROUND } else { Pass::VIEW };
        let (mut verdict, mut reached) = verify_from(conn, key, &from, pass)?;
        // A full check cannot tell the newest seals were removed; this
        // process remembers having seen them. Seals only grow, so a check
        // that began after `known` was seen reaches at least that far
        // (a check running beside this one may have moved the checkpoint
        // further meanwhile: that is no removal).
        if reached.as_ref().is_some_and(|r| r.seq < known) {
            verdict = ChainVerdict::Broken {
                row_id: 0,
                reason: "seals were removed at the end".to_owned(),
            };
            reached = None;
        }
        lock().advance(reached);
        Ok(verdict)
    }
}

impl ChainCheckpoint {
    /// Where later checks start, after one that reached `reached` (`None`:
    /// it found the chain broken, and later views start from the beginning
    /// and show it too). Never backwards: a slower check that ran beside a
    /// faster one reached less, and moving back to it would forget seals
    /// this process has seen, so their removal would pass unnoticed.
    fn advance(&mut self, reached: Option<ChainCheckpoint>) {
        match reached {
            Some(reached) if reached.seq > self.seq => *self = reached,
            Some(_) => {}
            None => *self = ChainCheckpoint::default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::ChainCheckpoint;

    #[test]
    fn the_checkpoint_moves_only_forward_or_back_to_the_start_when_broken() {
        let at = |seq| ChainCheckpoint {
            seq,
            mac: format!("mac of seal {seq}"),
        };
        let mut checkpoint = at(100);
        // A check that ran beside a faster one, and saw fewer seals.
        checkpoint.advance(Some(at(80)));
        assert_eq!(checkpoint, at(100), "seals seen are not forgotten");
        checkpoint.advance(Some(at(120)));
        assert_eq!(checkpoint, at(120));
        checkpoint.advance(None);
        assert_eq!(checkpoint, ChainCheckpoint::default());
    }
}
