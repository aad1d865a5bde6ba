//! The database: one connection type for both engines, a pool, embedded
//! migrations, and the bridge that runs blocking diesel work off the
//! request threads.

mod kept;
mod pool;
pub mod schema;
mod url;
mod write;

pub(crate) use kept::kept_statement;
use pool::build_pool;
pub use pool::{ConnectionManager, PoolConnection, TRUSTED_FOR, warm};
pub use url::DatabaseUrl;
pub use write::{WriteGroup, write_transaction};

use std::path::{Path, PathBuf};

use diesel::Connection;
use diesel::connection::SimpleConnection;
use diesel::pg::PgConnection;
use diesel::r2d2;
use diesel::sqlite::SqliteConnection;
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};

const POSTGRES_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/postgres");
const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/sqlite");

/// How long a SQLite writer waits for the lock before giving up.
const SQLITE_BUSY_TIMEOUT_MS: u32 = 5_000;

/// One connection type that serves both engines; the variant is chosen from
/// `DATABASE_URL`, never by trial (diesel's derived `establish` would hide
/// the real connection error behind the last engine it tried).
#[derive(diesel::MultiConnection)]
pub enum DbConnection {
    Postgresql(PgConnection),
    Sqlite(SqliteConnection),
}

pub type DbPool = r2d2::Pool<ConnectionManager>;
pub type PooledConnection = r2d2::PooledConnection<ConnectionManager>;

/// WAL lets readers run beside the writer; busy_timeout makes concurrent
/// writers queue instead of failing; SQLite leaves foreign keys off unless asked.
/// `synchronous = FULL`: in WAL mode NORMAL can lose the last commits on a
/// power loss or an OS crash, and a webhook answered 2xx is never sent
/// again, so its commit must be on disk before the answer goes out.
/// A 1 MiB page cache per connection (SQLite's default is 2 MiB): the
/// operating system caches the file anyway, and the pool's connections
/// together stayed over the 64 MB RSS budget (bench/results.md).
fn configure_sqlite(conn: &mut SqliteConnection) -> diesel::QueryResult<()> {
    conn.batch_execute(&format!("PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS};"))?;
    // Turning a new database to WAL needs it alone for a moment, and SQLite
    // answers "locked" at once, without waiting, when another process (a
    // second instance starting) is in it: try again for a while.
    let deadline = std::time::Instant::now()
        + std::time::Duration::from_millis(u64::from(SQLITE_BUSY_TIMEOUT_MS));
    loop {
        match conn.batch_execute("PRAGMA journal_mode = WAL;") {
            Err(e) if is_locked(&e) && std::time::Instant::now() < deadline => {
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            result => break result,
        }
    }?;
    conn.batch_execute(&format!(
        "PRAGMA synchronous = {}; PRAGMA foreign_keys = ON; PRAGMA cache_size = -1024;",
        sqlite_synchronous()
    ))
}

fn is_locked(e: &diesel::result::Error) -> bool {
    matches!(e, diesel::result::Error::DatabaseError(_, info) if info.message().contains("locked"))
}

#[cfg(not(feature = "bench"))]
fn sqlite_synchronous() -> &'static str {
    "FULL"
}

/// The benchmark measures what `FULL` costs against `NORMAL`
/// (`KASIR_BENCH_SQLITE_SYNCHRONOUS=NORMAL`); only a build with the
/// `bench` feature reads it, so no deployment can weaken durability.
#[cfg(feature = "bench")]
fn sqlite_synchronous() -> &'static str {
    match std::env::var("KASIR_BENCH_SQLITE_SYNCHRONOUS").as_deref() {
        Ok("NORMAL") => "NORMAL",
        _ => "FULL",
    }
}

/// Why the database could not be opened; printed as is at startup.
#[derive(Debug, thiserror::Error)]
pub enum DbSetupError {
    #[error("could not create the SQLite directory {}: {source}", path.display())]
    CreateDir {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("could not connect to the {engine} database at {url}: {source}")]
    Connect {
        engine: &'static str,
        url: String,
        source: diesel::ConnectionError,
    },
    #[error("could not apply the database migrations: {0}")]
    Migrate(String),
    #[error("could not build the connection pool: {0}")]
    Pool(String),
}

/// Connects once (so a bad URL fails at once, with the engine's own reason),
/// applies pending migrations, and builds the pool.
pub fn open(url: &DatabaseUrl, max_connections: u32) -> Result<DbPool, DbSetupError> {
    let mut conn = connect_checked(url)?;
    run_migrations(&mut conn)?;
    drop(conn);
    build_pool(url, max_connections)
}

/// Connects once and applies pending migrations; `kasir migrate` is this.
pub fn migrate(url: &DatabaseUrl) -> Result<Vec<String>, DbSetupError> {
    let mut conn = connect_checked(url)?;
    run_migrations(&mut conn)
}

fn connect_checked(url: &DatabaseUrl) -> Result<DbConnection, DbSetupError> {
    if let DatabaseUrl::Sqlite(path) = url {
        create_parent_dir(path)?;
    }
    url.connect().map_err(|source| DbSetupError::Connect {
        engine: url.engine(),
        url: url.redacted(),
        source,
    })
}

fn create_parent_dir(path: &Path) -> Result<(), DbSetupError> {
    match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => {
            std::fs::create_dir_all(dir).map_err(|source| DbSetupError::CreateDir {
                path: dir.to_owned(),
                source,
            })
        }
        _ => Ok(()),
    }
}

/// Key of the PostgreSQL advisory lock that serialises migrations ("kasir").
const MIGRATION_LOCK_KEY: i64 = 0x6b_61_73_69_72;

/// Applies pending migrations. Instances starting at the same moment on an
/// empty database take turns: on PostgreSQL behind an advisory lock, on
/// SQLite inside one `BEGIN IMMEDIATE` transaction. The second finds
/// nothing left to do.
fn run_migrations(conn: &mut DbConnection) -> Result<Vec<String>, DbSetupError> {
    type Failure = Box<dyn std::error::Error + Send + Sync>;
    let names = |versions: Vec<diesel::migration::MigrationVersion<'_>>| -> Vec<String> {
        versions.into_iter().map(|v| v.to_string()).collect()
    };
    let applied: Result<Vec<String>, Failure> = match conn {
        DbConnection::Postgresql(pg) => {
            use diesel::RunQueryDsl;
            diesel::sql_query(format!("SELECT pg_advisory_lock({MIGRATION_LOCK_KEY})"))
                .execute(pg)
                .map_err(|e| {
                    DbSetupError::Migrate(format!("could not take the migration lock: {e}"))
                })?;
            let applied = pg.run_pending_migrations(POSTGRES_MIGRATIONS).map(names);
            // The lock also ends with the session; unlocking is a courtesy.
            let _ = diesel::sql_query(format!("SELECT pg_advisory_unlock({MIGRATION_LOCK_KEY})"))
                .execute(pg);
            applied
        }
        DbConnection::Sqlite(sqlite) => {
            sqlite.immediate_transaction(|c| c.run_pending_migrations(SQLITE_MIGRATIONS).map(names))
        }
    };
    applied.map_err(|e| DbSetupError::Migrate(e.to_string()))
}

/// Runs `$body` on the engine's own connection, bound to `$c`, for what
/// diesel's `MultiConnection` cannot express: multi-row INSERTs and
/// `ON CONFLICT DO NOTHING`. It runs inside whatever transaction the caller
/// holds.
macro_rules! per_engine {
    ($conn:expr, $c:ident => $body:expr) => {{
        #[allow(unused_imports)]
        use diesel::RunQueryDsl as _;
        match $conn {
            $crate::db::DbConnection::Postgresql($c) => $body,
            $crate::db::DbConnection::Sqlite($c) => $body,
        }
    }};
}
pub(crate) use per_engine;

/// Holds a row until the transaction ends: `SELECT ... FOR UPDATE` on
/// PostgreSQL; on SQLite the write transaction already holds the database.
/// `$query` is a diesel select of the row(s) to hold.
macro_rules! lock_rows {
    ($conn:expr, $query:expr) => {{
        use diesel::RunQueryDsl as _;
        match $conn {
            $crate::db::DbConnection::Postgresql(c) => $query.for_update().load(c),
            $crate::db::DbConnection::Sqlite(c) => $query.load(c),
        }
    }};
}
pub(crate) use lock_rows;

/// Like [`lock_rows!`], passing over rows another transaction holds
/// (`FOR UPDATE SKIP LOCKED`): workers of several instances each take
/// different rows of a queue.
macro_rules! lock_rows_skip_locked {
    ($conn:expr, $query:expr) => {{
        use diesel::RunQueryDsl as _;
        match $conn {
            $crate::db::DbConnection::Postgresql(c) => $query.for_update().skip_locked().load(c),
            $crate::db::DbConnection::Sqlite(c) => $query.load(c),
        }
    }};
}
pub(crate) use lock_rows_skip_locked;

/// A multi-row INSERT. Keep batches under the bind-parameter limits:
/// 32,766 on SQLite, 65,535 on PostgreSQL.
macro_rules! insert_batch {
    ($conn:expr, $table:expr, $rows:expr) => {
        $crate::db::per_engine!($conn, c => diesel::insert_into($table).values($rows).execute(c))
    };
}
pub(crate) use insert_batch;

/// Why blocking database work could not run at all (as opposed to the
/// work's own answer).
#[derive(Debug, thiserror::Error)]
pub enum Unavailable {
    /// Every connection is busy past the pool's wait, or the database is down.
    #[error("no database connection: {0}")]
    Pool(#[from] r2d2::PoolError),
    /// The blocking task panicked or was canceled.
    #[error("blocking task failed: {0}")]
    Task(#[from] actix_web::error::BlockingError),
}

/// Runs diesel work on the blocking pool, on a pooled connection, inside
/// the caller's tracing span: the one bridge from async code to the
/// database. The outer `Result` is the infrastructure; the inner one is the
/// work's own answer.
pub async fn run<T, E, F>(pool: &DbPool, work: F) -> Result<Result<T, E>, Unavailable>
where
    F: FnOnce(&mut DbConnection) -> Result<T, E> + Send + 'static,
    T: Send + 'static,
    E: Send + 'static,
{
    let pool = pool.clone();
    let span = tracing::Span::current();
    let queued = std::time::Instant::now();
    actix_web::web::block(move || {
        let _entered = span.enter();
        let started = std::time::Instant::now();
        let mut conn = pool.get()?;
        crate::metrics::db_waits(started - queued, started.elapsed());
        Ok::<_, Unavailable>(work(&mut conn))
    })
    .await?
}

/// Current UTC time at the microsecond precision both engines store, so a
/// value read back compares equal to the value written.
pub fn now() -> chrono::NaiveDateTime {
    use chrono::{DurationRound, TimeDelta};
    let now = chrono::Utc::now().naive_utc();
    now.duration_trunc(TimeDelta::microseconds(1))
        .unwrap_or(now)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_commits_are_durable_before_they_are_acknowledged() {
        use diesel::RunQueryDsl;
        #[derive(diesel::QueryableByName)]
        struct Pragma {
            #[diesel(sql_type = diesel::sql_types::Integer)]
            synchronous: i32,
        }
        let dir = std::env::temp_dir().join(format!("kasir-sync-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let url = DatabaseUrl::Sqlite(dir.join("k.db"));
        let mut conn = url.connect().unwrap();
        let pragma: Pragma = diesel::sql_query("PRAGMA synchronous")
            .get_result(&mut conn)
            .unwrap();
        // 2 is FULL: the WAL is synced at every commit.
        assert_eq!(pragma.synchronous, 2);
        drop(conn);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
