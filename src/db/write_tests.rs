//! The group commit, against SQLite files of their own.

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
    // `release` moves in: when an assertion fails, it goes with the
    // unwinding and the holder's wait ends, so the test fails, not hangs.
    std::thread::scope(move |s| {
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
        let deadline = Instant::now() + Duration::from_secs(10);
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
         CREATE TABLE undone (x BIGINT NOT NULL, writer TEXT NOT NULL);",
    );
    fn work(conn: &mut DbConnection, x: &i64) -> Result<i64, Error> {
        diesel::sql_query(format!("INSERT INTO done VALUES ({x}, '{}')", writer()))
            .execute(conn)?;
        Ok(*x)
    }
    fn after_failure(conn: &mut DbConnection, x: &i64, _: &Error) -> Result<(), Error> {
        diesel::sql_query(format!("INSERT INTO undone VALUES ({x}, '{}')", writer()))
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
    let undone = rows(&mut conn, "undone");
    assert_eq!(undone.iter().map(|r| r.x).collect::<Vec<_>>(), [-1, 2]);
    let writers: std::collections::HashSet<_> =
        done.iter().chain(&undone).map(|r| &r.writer).collect();
    assert_eq!(writers.len(), 1, "{done:?} {undone:?}");
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
