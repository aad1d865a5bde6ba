use diesel::prelude::*;

use crate::db::DbConnection;
use crate::db::schema::installation;

/// This database's random id, made by its first migration. It prefixes
/// idempotency keys and tags what the shop creates at the provider.
pub struct Installation;

impl Installation {
    pub fn id(conn: &mut DbConnection) -> QueryResult<String> {
        installation::table
            .find(1)
            .select(installation::installation_id)
            .first(conn)
    }
}
