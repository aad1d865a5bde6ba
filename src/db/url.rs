//! `DATABASE_URL`: which engine, where, and how to connect.

use std::path::PathBuf;

use diesel::Connection;
use diesel::pg::PgConnection;
use diesel::sqlite::SqliteConnection;

use super::{DbConnection, configure_sqlite};

/// A parsed `DATABASE_URL`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DatabaseUrl {
    Postgres(String),
    /// A file path (`sqlite://data/kasir.db`, `sqlite:///abs/path.db`, or a bare path).
    Sqlite(PathBuf),
}

impl DatabaseUrl {
    pub fn parse(raw: &str) -> Result<Self, String> {
        let raw = raw.trim();
        if raw.is_empty() {
            return Err("DATABASE_URL is empty".into());
        }
        if raw.starts_with("postgres://") || raw.starts_with("postgresql://") {
            return Ok(Self::Postgres(raw.to_owned()));
        }
        let path = raw
            .strip_prefix("sqlite://")
            .or_else(|| raw.strip_prefix("sqlite:"))
            .unwrap_or(raw);
        if path.is_empty() || path == ":memory:" {
            return Err(format!(
                "DATABASE_URL {raw:?} names no database file (an in-memory SQLite database cannot be shared by a pool)"
            ));
        }
        if let Some((scheme, _)) = path.split_once("://") {
            return Err(format!(
                "DATABASE_URL scheme {scheme:?} is not supported: use postgres://... or sqlite://path/to/file.db"
            ));
        }
        Ok(Self::Sqlite(PathBuf::from(path)))
    }

    pub fn engine(&self) -> &'static str {
        match self {
            Self::Postgres(_) => "postgresql",
            Self::Sqlite(_) => "sqlite",
        }
    }

    /// `DB_POOL_SIZE` when unset: per core, 3 SQLite or 2 PostgreSQL
    /// connections. Each connection is a blocking thread too, and on two
    /// cores more of them only take turns on the CPU (`bench/results.md`,
    /// ninth round). Against 8, SQLite at 6 served its pages 9-12 % faster
    /// in 5 MB less memory (a malloc arena per busy thread) and its
    /// webhooks 7 % slower (at 4: 20 %); PostgreSQL at 4 served the cart
    /// 14 % faster with a third less p99.
    pub fn default_pool_size(&self, cores: usize) -> u32 {
        let per_core = match self {
            Self::Postgres(_) => 2,
            Self::Sqlite(_) => 3,
        };
        u32::try_from(cores.saturating_mul(per_core))
            .unwrap_or(u32::MAX)
            .clamp(2, 256)
    }

    /// The URL with any password blanked, for logs.
    pub fn redacted(&self) -> String {
        match self {
            Self::Sqlite(path) => format!("sqlite://{}", path.display()),
            Self::Postgres(url) => match (url.find("://"), url.rfind('@')) {
                (Some(scheme_end), Some(at)) if at > scheme_end => {
                    let userinfo = &url[scheme_end + 3..at];
                    let user = userinfo.split(':').next().unwrap_or("");
                    format!("{}{}:***{}", &url[..scheme_end + 3], user, &url[at..])
                }
                _ => url.clone(),
            },
        }
    }

    /// Opens one connection, with the per-connection settings of its engine.
    pub fn connect(&self) -> Result<DbConnection, diesel::ConnectionError> {
        match self {
            Self::Postgres(url) => PgConnection::establish(url).map(DbConnection::Postgresql),
            Self::Sqlite(path) => {
                let mut conn = SqliteConnection::establish(&path.to_string_lossy())?;
                configure_sqlite(&mut conn)
                    .map_err(diesel::ConnectionError::CouldntSetupConfiguration)?;
                Ok(DbConnection::Sqlite(conn))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_sqlite_and_postgres_urls() {
        assert_eq!(
            DatabaseUrl::parse("sqlite://data/kasir.db").unwrap(),
            DatabaseUrl::Sqlite(PathBuf::from("data/kasir.db"))
        );
        assert_eq!(
            DatabaseUrl::parse("sqlite:///tmp/k.db").unwrap(),
            DatabaseUrl::Sqlite(PathBuf::from("/tmp/k.db"))
        );
        assert_eq!(
            DatabaseUrl::parse("shop.db").unwrap(),
            DatabaseUrl::Sqlite(PathBuf::from("shop.db"))
        );
        assert_eq!(
            DatabaseUrl::parse("postgres://u@h/db").unwrap().engine(),
            "postgresql"
        );
        assert!(DatabaseUrl::parse("mysql://u@h/db").is_err());
        assert!(DatabaseUrl::parse("sqlite://:memory:").is_err());
        assert!(DatabaseUrl::parse("  ").is_err());
    }

    #[test]
    fn redacts_the_postgres_password() {
        let url = DatabaseUrl::parse("postgres://kasir:s3cret@db:5432/kasir").unwrap();
        assert_eq!(url.redacted(), "postgres://kasir:***@db:5432/kasir");
        assert!(!url.redacted().contains("s3cret"));
    }

    #[test]
    fn the_default_pool_is_three_sqlite_or_two_postgres_connections_a_core() {
        let sqlite = DatabaseUrl::parse("sqlite://data/kasir.db").unwrap();
        let postgres = DatabaseUrl::parse("postgres://u@localhost/kasir").unwrap();
        assert_eq!(sqlite.default_pool_size(2), 6);
        assert_eq!(postgres.default_pool_size(2), 4);
        assert_eq!(postgres.default_pool_size(1), 2);
        assert_eq!(
            sqlite.default_pool_size(1000),
            256,
            "at most DB_POOL_SIZE's limit"
        );
    }
}
