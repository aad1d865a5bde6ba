//! Write transactions: one writer at a time on SQLite, and the writes of
//! many requests at once (webhook deliveries) committed together there.

use std::sync::mpsc::{SyncSender, TryRecvError, sync_channel};
use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};

use diesel::Connection;
use diesel::connection::{AnsiTransactionManager, TransactionManager};
use diesel::result::{DatabaseErrorKind, Error};

use super::DbConnection;

type Manager = <DbConnection as Connection>::TransactionManager;

/// Runs `work` in a transaction that takes the write lock up front.
///
/// On SQLite a plain (deferred) transaction that reads before it writes can
/// fail with SQLITE_BUSY at once when another writer got there first, busy
/// timeout or not; `BEGIN IMMEDIATE` makes concurrent writers queue instead.
/// Writers of this process queue on [`SQLITE_WRITER`] first. On PostgreSQL
/// it is an ordinary transaction: row locks taken by conditional UPDATEs do
/// the queueing there.
pub fn write_transaction<T, E>(
    conn: &mut DbConnection,
    work: impl FnOnce(&mut DbConnection) -> Result<T, E>,
) -> Result<T, E>
where
    E: From<diesel::result::Error>,
{
    if !matches!(conn, DbConnection::Sqlite(_)) {
        return conn.transaction(work);
    }
    let _turn = lock(&SQLITE_WRITER);
    begin_writing(conn)?;
    // The multi-backend manager hands commit and rollback to the SQLite
    // connection's own manager, which began the transaction above.
    match work(conn) {
        Ok(value) => {
            Manager::commit_transaction(conn)?;
            Ok(value)
        }
        Err(e) => {
            Manager::rollback_transaction(conn)?;
            Err(e)
        }
    }
}

/// `BEGIN IMMEDIATE` on SQLite: the write lock up front.
fn begin_writing(conn: &mut DbConnection) -> diesel::QueryResult<()> {
    match conn {
        DbConnection::Sqlite(sqlite) => {
            AnsiTransactionManager::begin_transaction_sql(sqlite, "BEGIN IMMEDIATE")
        }
        DbConnection::Postgresql(_) => Manager::begin_transaction(conn),
    }
}

/// The turn of this process's SQLite write transactions. Waiting in
/// SQLite's busy handler means sleeping 1, 2, 5 ... 100 ms between tries:
/// under a burst the lock sat idle between writers and the unlucky waited a
/// second (webhook p99 1,025 ms in bench/results.md). A mutex hands the
/// turn over at once. It is one per process, whatever the file: a process
/// serves one database (the test suite's many are only slower for it).
/// Other processes still wait through the busy timeout.
static SQLITE_WRITER: Mutex<()> = Mutex::new(());

/// A lock whose holder panicked is still good: what it guards is `()` or
/// a queue of requests, both whole whatever the panic.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Writes of one kind that many requests make at once, committed together
/// on SQLite.
///
/// SQLite runs one write transaction at a time, and a commit is a fifth
/// of a webhook delivery's time (bench/results.md). So each request queues
/// its write; one of them leads: it waits for the writer's turn, writes
/// everything queued by then, each write in its own savepoint, in one
/// transaction, and answers each request once the commit is done. The
/// others wait for their answer, not for the turn (answered ones must not
/// wait behind the next transaction), and one of those still unanswered
/// leads next. A
/// request is answered only after its write is on disk, as before; a write
/// that fails is rolled back to its savepoint alone, and a commit that
/// fails fails every write in it. On PostgreSQL, whose writers run side by
/// side, each write is its own transaction.
pub struct WriteGroup<I, T, E> {
    /// The write, inside a transaction.
    work: fn(&mut DbConnection, &I) -> Result<T, E>,
    /// What is kept of a write that failed, after its rollback.
    after_failure: fn(&mut DbConnection, &I, &E) -> Result<(), E>,
    state: Mutex<Waiting<I, T, E>>,
    /// Told when a leader is done: answers are out, another may lead.
    led: Condvar,
}

struct Waiting<I, T, E> {
    queued: Vec<Queued<I, T, E>>,
    /// Whether a request is leading (writing, or waiting for the turn).
    leading: bool,
}

struct Queued<I, T, E> {
    item: I,
    answer: SyncSender<Result<T, E>>,
}

/// At most this many writes in one transaction: the first of them waits
/// for all the others.
const MOST_IN_ONE_COMMIT: usize = 32;

impl<I, T, E: From<Error>> WriteGroup<I, T, E> {
    pub const fn new(
        work: fn(&mut DbConnection, &I) -> Result<T, E>,
        after_failure: fn(&mut DbConnection, &I, &E) -> Result<(), E>,
    ) -> Self {
        Self {
            work,
            after_failure,
            state: Mutex::new(Waiting {
                queued: Vec::new(),
                leading: false,
            }),
            led: Condvar::new(),
        }
    }

    /// Writes `item`: returns once its transaction has committed (or failed).
    pub fn write(&self, conn: &mut DbConnection, item: I) -> Result<T, E> {
        if !matches!(conn, DbConnection::Sqlite(_)) {
            // Outside any transaction, its own transaction.
            return self.one(conn, &item);
        }
        let (answer, answered) = sync_channel(1);
        let mut state = lock(&self.state);
        state.queued.push(Queued { item, answer });
        loop {
            // A leader answers before it says it is done.
            match answered.try_recv() {
                Ok(result) => return result,
                Err(TryRecvError::Disconnected) => return Err(abandoned().into()),
                Err(TryRecvError::Empty) => {}
            }
            if state.leading {
                state = self.led.wait(state).unwrap_or_else(PoisonError::into_inner);
                continue;
            }
            state.leading = true;
            drop(state);
            let leader = Leader(self);
            {
                let _turn = lock(&SQLITE_WRITER);
                let batch: Vec<_> = {
                    let mut state = lock(&self.state);
                    let n = state.queued.len().min(MOST_IN_ONE_COMMIT);
                    state.queued.drain(..n).collect()
                };
                self.commit_together(conn, batch);
            }
            drop(leader);
            state = lock(&self.state);
        }
    }

    /// One SQLite transaction for `batch`, the writer's turn held.
    fn commit_together(&self, conn: &mut DbConnection, batch: Vec<Queued<I, T, E>>) {
        if let Err(e) = begin_writing(conn) {
            return answer_all(batch, &e);
        }
        let results: Vec<_> = batch.iter().map(|q| self.one(conn, &q.item)).collect();
        if let Err(e) = Manager::commit_transaction(conn) {
            tracing::error!(error = %e, writes = batch.len(), "a group commit failed");
            return answer_all(batch, &e);
        }
        for (queued, result) in batch.into_iter().zip(results) {
            // The request may have gone (a client that hung up): its write stands.
            let _ = queued.answer.send(result);
        }
    }

    /// One write in its own savepoint of the group's transaction (or its
    /// own transaction, outside one).
    fn one(&self, conn: &mut DbConnection, item: &I) -> Result<T, E> {
        let result = conn.transaction(|conn| (self.work)(conn, item));
        if let Err(e) = &result {
            (self.after_failure)(conn, item, e)?;
        }
        result
    }
}

/// A request's lead, ended when it is done or when it panicked: another
/// request may lead then, and every waiting one looks for its answer.
struct Leader<'a, I, T, E>(&'a WriteGroup<I, T, E>);

impl<I, T, E> Drop for Leader<'_, I, T, E> {
    fn drop(&mut self) {
        lock(&self.0.state).leading = false;
        self.0.led.notify_all();
    }
}

/// The same failure for every write of a transaction that did not happen.
fn answer_all<I, T, E: From<Error>>(batch: Vec<Queued<I, T, E>>, cause: &Error) {
    let kind = match cause {
        Error::DatabaseError(kind, _) => *kind,
        _ => DatabaseErrorKind::Unknown,
    };
    for queued in batch {
        let error = Error::DatabaseError(kind, Box::new(format!("group commit: {cause}")));
        let _ = queued.answer.send(Err(error.into()));
    }
}

/// The writer that took this write along panicked before answering: it
/// was rolled back with that writer's transaction.
fn abandoned() -> Error {
    Error::DatabaseError(
        DatabaseErrorKind::Unknown,
        Box::new("the write was abandoned by a writer that failed".to_owned()),
    )
}

#[cfg(test)]
#[path = "write_tests.rs"]
mod tests;
