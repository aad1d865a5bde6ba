//! The connection pool (r2d2) and how it knows a connection is alive.

use std::time::{Duration, Instant};

use diesel::r2d2::{self, R2D2Connection};

use super::{DatabaseUrl, DbConnection, DbSetupError};

/// How long a PostgreSQL connection is trusted after it last answered a
/// ping: at most one `SELECT 1` per connection in this long, instead of
/// one before every request (on PostgreSQL a round trip more per page and
/// per payment; without it, pages served 10-20 % more: bench/results.md,
/// eighth round). A connection whose server went away in that window fails
/// the requests that get it until its next ping finds it dead and the pool
/// replaces it: for at most this long.
pub const TRUSTED_FOR: Duration = Duration::from_secs(1);

/// A pooled connection, and when it was last known to be alive. Derefs to
/// the [`DbConnection`] it holds.
pub struct PoolConnection {
    conn: DbConnection,
    alive_at: Instant,
}

impl std::ops::Deref for PoolConnection {
    type Target = DbConnection;
    fn deref(&self) -> &DbConnection {
        &self.conn
    }
}

impl std::ops::DerefMut for PoolConnection {
    fn deref_mut(&mut self) -> &mut DbConnection {
        &mut self.conn
    }
}

/// r2d2 manager that opens connections through [`DatabaseUrl::connect`], so
/// every pooled SQLite connection gets its pragmas.
#[derive(Clone, Debug)]
pub struct ConnectionManager {
    url: DatabaseUrl,
}

impl r2d2::ManageConnection for ConnectionManager {
    type Connection = PoolConnection;
    type Error = r2d2::Error;

    fn connect(&self) -> Result<PoolConnection, r2d2::Error> {
        let conn = self.url.connect().map_err(r2d2::Error::ConnectionError)?;
        Ok(PoolConnection {
            conn,
            alive_at: Instant::now(),
        })
    }

    /// Run on every checkout. A PostgreSQL connection can die with its
    /// server (a restart, a failover) and is pinged when it has not
    /// answered one for [`TRUSTED_FOR`]; a SQLite connection is a file
    /// handle in this process, which a `SELECT 1` cannot find dead.
    fn is_valid(&self, pooled: &mut PoolConnection) -> Result<(), r2d2::Error> {
        if let DbConnection::Sqlite(_) = pooled.conn {
            return Ok(());
        }
        if pooled.alive_at.elapsed() < TRUSTED_FOR {
            return Ok(());
        }
        pooled.conn.ping().map_err(r2d2::Error::QueryError)?;
        pooled.alive_at = Instant::now();
        Ok(())
    }

    fn has_broken(&self, pooled: &mut PoolConnection) -> bool {
        std::thread::panicking() || pooled.conn.is_broken()
    }
}

/// Connections are opened when asked for, never ahead in the background:
/// a connection half-open in r2d2's worker thread when a short command
/// (`kasir reconcile`) exits made libpq crash the process now and then
/// (SIGSEGV in its exit handlers; diesel#3441). `serve` opens them all at
/// start instead ([`warm`]). Once open they stay, idle or not: a new
/// PostgreSQL backend plans its first statements slowly, and under load
/// that was seconds (bench/results.md).
pub(super) fn build_pool(
    url: &DatabaseUrl,
    max_connections: u32,
) -> Result<super::DbPool, DbSetupError> {
    r2d2::Pool::builder()
        .max_size(max_connections)
        .min_idle(Some(0))
        .idle_timeout(None)
        .max_lifetime(None)
        .connection_timeout(Duration::from_secs(10))
        .build(ConnectionManager { url: url.clone() })
        .map_err(|e| DbSetupError::Pool(e.to_string()))
}

/// Opens every connection of the pool now (each checked out at once, then
/// returned), so the first burst of requests does not wait for them.
pub fn warm(pool: &super::DbPool) -> Result<(), r2d2::PoolError> {
    let held = (0..pool.max_size())
        .map(|_| pool.get())
        .collect::<Result<Vec<_>, _>>()?;
    drop(held);
    Ok(())
}
