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
    let DbConnection::Sqlite(sqlite) = conn else {
        return conn.transaction(work);
    };
    let _turn = lock(&SQLITE_WRITER);
    let _timer = Timer(std::time::Instant::now());
    AnsiTransactionManager::begin_transaction_sql(sqlite, "BEGIN IMMEDIATE")?;
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
            let result = conn.transaction(|conn| (self.work)(conn, &item));
            if let Err(e) = &result {
                (self.after_failure)(conn, &item, e)?;
            }
            return result;
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
        let begun = match conn {
            DbConnection::Sqlite(sqlite) => {
                AnsiTransactionManager::begin_transaction_sql(sqlite, "BEGIN IMMEDIATE")
            }
            DbConnection::Postgresql(_) => Manager::begin_transaction(conn),
        };
        if let Err(e) = begun {
            return answer_all(batch, &e);
        }
        let t0 = std::time::Instant::now();
        let results: Vec<_> = batch.iter().map(|q| self.one(conn, &q.item)).collect();
        let t1 = std::time::Instant::now();
        let committed = Manager::commit_transaction(conn);
        {
            use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
            static N: AtomicU64 = AtomicU64::new(0);
            static ITEMS: AtomicU64 = AtomicU64::new(0);
            static WORK: AtomicU64 = AtomicU64::new(0);
            static COMMIT: AtomicU64 = AtomicU64::new(0);
            ITEMS.fetch_add(batch.len() as u64, Relaxed);
            WORK.fetch_add((t1 - t0).as_micros() as u64, Relaxed);
            COMMIT.fetch_add(t1.elapsed().as_micros() as u64, Relaxed);
            if N.fetch_add(1, Relaxed) % 500 == 499 {
                eprintln!(
                    "STATS batches=500 items={} work_us={} commit_us={}",
                    ITEMS.swap(0, Relaxed),
                    WORK.swap(0, Relaxed),
                    COMMIT.swap(0, Relaxed)
                );
            }
        }
        if let Err(e) = committed {
            tracing::error!(error = %e, writes = batch.len(), "a group commit failed");
            return answer_all(batch, &e);
        }
        for (queued, result) in batch.into_iter().zip(results) {
            // The request may have gone (a client that hung up): its write stands.
            let _ = queued.answer.send(result);
        }
    }

    /// One write in its own savepoint of the group's transaction.
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
mod tests {
    use std::sync::mpsc::channel;
    use std::time::{Duration, Instant};

    use diesel::RunQueryDsl;
    use diesel::connection::SimpleConnection;

    use super::*;
    use crate::db::DatabaseUrl;

    /// A SQLite database of its own, connected as the shop connects, with
    /// `schema` run in it; removed when the test ends.
    struct Scratch(std::path::PathBuf);

    impl Scratch {
        fn new(name: &str, schema: &str) -> Self {
            let dir = std::env::temp_dir().join(format!("kasir-{name}-{}", std::process::id()));
            let _ = std::fs::remove_dir_all(&dir);
            std::fs::create_dir_all(&dir).unwrap();
            let scratch = Self(dir);
            scratch.connect().batch_execute(schema).unwrap();
            scratch
        }

        fn connect(&self) -> DbConnection {
            DatabaseUrl::Sqlite(self.0.join("k.db")).connect().unwrap()
        }
    }

    impl Drop for Scratch {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    #[derive(diesel::QueryableByName, Debug, PartialEq)]
    struct Row {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        x: i64,
        #[diesel(sql_type = diesel::sql_types::Text)]
        writer: String,
    }

    fn rows(conn: &mut DbConnection, table: &str) -> Vec<Row> {
        diesel::sql_query(format!("SELECT x, writer FROM {table} ORDER BY x"))
            .load(conn)
            .unwrap()
    }

    fn writer() -> String {
        format!("{:?}", std::thread::current().id())
    }

    /// Writes `items` through `group` from a thread each, all queued while
    /// another transaction holds the writer's turn, then lets it go: what
    /// each write answered, in the order of `items`.
    fn queued_behind_a_writer<T: Send, E: Send + From<Error>>(
        scratch: &Scratch,
        group: &WriteGroup<i64, T, E>,
        items: &[i64],
    ) -> Vec<Result<T, E>> {
        let (entered, inside) = channel();
        let (release, released) = channel::<()>();
        std::thread::scope(|s| {
            let mut holder_conn = scratch.connect();
            s.spawn(move || {
                write_transaction(&mut holder_conn, |_| {
                    entered.send(()).unwrap();
                    released.recv().unwrap();
                    Ok::<_, Error>(())
                })
                .unwrap();
            });
            inside.recv().unwrap();
            let writes: Vec<_> = items
                .iter()
                .map(|&x| {
                    let mut conn = scratch.connect();
                    s.spawn(move || group.write(&mut conn, x))
                })
                .collect();
            let deadline = Instant::now() + Duration::from_secs(30);
            while lock(&group.state).queued.len() < items.len() {
                assert!(Instant::now() < deadline, "the writes never queued");
                std::thread::sleep(Duration::from_millis(1));
            }
            release.send(()).unwrap();
            writes.into_iter().map(|w| w.join().unwrap()).collect()
        })
    }

    #[test]
    fn writes_queued_together_commit_together_and_a_failed_one_alone_is_undone() {
        let scratch = Scratch::new(
            "group-commit",
            "CREATE TABLE done (x BIGINT PRIMARY KEY CHECK (x >= 0), writer TEXT NOT NULL);
             CREATE TABLE failed (x BIGINT NOT NULL, writer TEXT NOT NULL);",
        );
        fn work(conn: &mut DbConnection, x: &i64) -> Result<i64, Error> {
            diesel::sql_query(format!("INSERT INTO done VALUES ({x}, '{}')", writer()))
                .execute(conn)?;
            Ok(*x)
        }
        fn after_failure(conn: &mut DbConnection, x: &i64, _: &Error) -> Result<(), Error> {
            diesel::sql_query(format!("INSERT INTO failed VALUES ({x}, '{}')", writer()))
                .execute(conn)?;
            Ok(())
        }
        let group = WriteGroup::new(work, after_failure);

        let answers = queued_behind_a_writer(&scratch, &group, &[1, 2, -1, 3, 2]);

        let mut answers: Vec<_> = answers.into_iter().map(|a| a.ok()).collect();
        // The two writes of 2: whichever was queued first went through.
        answers[1..].sort();
        assert_eq!(answers, [Some(1), None, None, Some(2), Some(3)]);
        let mut conn = scratch.connect();
        let done = rows(&mut conn, "done");
        assert_eq!(done.iter().map(|r| r.x).collect::<Vec<_>>(), [1, 2, 3]);
        // One thread wrote them all, in one transaction, the failures too.
        let failed = rows(&mut conn, "failed");
        assert_eq!(failed.iter().map(|r| r.x).collect::<Vec<_>>(), [-1, 2]);
        let writers: std::collections::HashSet<_> =
            done.iter().chain(&failed).map(|r| &r.writer).collect();
        assert_eq!(writers.len(), 1, "{done:?} {failed:?}");
    }

    #[test]
    fn a_commit_that_fails_fails_every_write_in_it_and_the_next_goes_through() {
        // A deferred foreign key is checked at the commit, not at the
        // savepoint: a write that breaks it makes the whole commit fail.
        // (The shop's connections have foreign keys on.)
        let scratch = Scratch::new(
            "group-commit-fails",
            "CREATE TABLE parent (x BIGINT PRIMARY KEY);
             INSERT INTO parent VALUES (1);
             CREATE TABLE child (x BIGINT REFERENCES parent (x) DEFERRABLE INITIALLY DEFERRED,
                                 writer TEXT NOT NULL);",
        );
        fn work(conn: &mut DbConnection, x: &i64) -> Result<(), Error> {
            diesel::sql_query(format!("INSERT INTO child VALUES ({x}, '{}')", writer()))
                .execute(conn)?;
            Ok(())
        }
        fn after_failure(_: &mut DbConnection, _: &i64, _: &Error) -> Result<(), Error> {
            Ok(())
        }
        let group = WriteGroup::new(work, after_failure);

        let answers = queued_behind_a_writer(&scratch, &group, &[1, 0, 1]);

        for answer in &answers {
            let Err(Error::DatabaseError(kind, info)) = answer else {
                panic!("a write of a failed commit answered {answer:?}");
            };
            assert_eq!(
                *kind,
                DatabaseErrorKind::ForeignKeyViolation,
                "{}",
                info.message()
            );
        }
        let mut conn = scratch.connect();
        assert_eq!(rows(&mut conn, "child"), []);
        group.write(&mut conn, 1).unwrap();
        assert_eq!(rows(&mut conn, "child").len(), 1);
    }
}

struct Timer(std::time::Instant);
impl Drop for Timer {
    fn drop(&mut self) {
        use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
        static N: AtomicU64 = AtomicU64::new(0);
        static T: AtomicU64 = AtomicU64::new(0);
        T.fetch_add(self.0.elapsed().as_micros() as u64, Relaxed);
        if N.fetch_add(1, Relaxed) % 20 == 19 {
            eprintln!("OTHER writes=20 held_us={}", T.swap(0, Relaxed));
        }
    }
}
