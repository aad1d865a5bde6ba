//! Bearer tokens of the read API. Only a SHA-256 of each token is stored:
//! a token is 32 random bytes, so a slow hash adds nothing.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::DbConnection;
use crate::db::schema::api_tokens;

#[derive(Queryable, Selectable, Clone, Debug)]
#[diesel(table_name = api_tokens)]
pub struct ApiToken {
    pub id: i64,
    pub name: String,
    pub token_hash: String,
    pub prefix: String,
    pub created_at: NaiveDateTime,
    pub last_used_at: Option<NaiveDateTime>,
    pub revoked_at: Option<NaiveDateTime>,
}

impl ApiToken {
    pub fn insert(
        conn: &mut DbConnection,
        name: &str,
        token_hash: &str,
        prefix: &str,
        now: NaiveDateTime,
    ) -> QueryResult<Self> {
        diesel::insert_into(api_tokens::table)
            .values((
                api_tokens::name.eq(name),
                api_tokens::token_hash.eq(token_hash),
                api_tokens::prefix.eq(prefix),
                api_tokens::created_at.eq(now),
            ))
            .returning(api_tokens::all_columns)
            .get_result(conn)
    }

    /// The live token with this hash.
    pub fn find_active(conn: &mut DbConnection, token_hash: &str) -> QueryResult<Option<Self>> {
        api_tokens::table
            .filter(api_tokens::token_hash.eq(token_hash))
            .filter(api_tokens::revoked_at.is_null())
            .select(Self::as_select())
            .first(conn)
            .optional()
    }

    /// Notes a use.
    pub fn touch(conn: &mut DbConnection, id: i64, now: NaiveDateTime) -> QueryResult<()> {
        diesel::update(api_tokens::table.find(id))
            .set(api_tokens::last_used_at.eq(now))
            .execute(conn)
            .map(drop)
    }

    pub fn list(conn: &mut DbConnection) -> QueryResult<Vec<Self>> {
        api_tokens::table
            .order(api_tokens::id.desc())
            .select(Self::as_select())
            .load(conn)
    }

    /// Revokes a live token; returns whether there was one.
    pub fn revoke(conn: &mut DbConnection, id: i64, now: NaiveDateTime) -> QueryResult<bool> {
        let updated = diesel::update(
            api_tokens::table
                .find(id)
                .filter(api_tokens::revoked_at.is_null()),
        )
        .set(api_tokens::revoked_at.eq(now))
        .execute(conn)?;
        Ok(updated == 1)
    }
}
