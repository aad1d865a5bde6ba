//! API tokens: made once, shown once, kept as a SHA-256.

use sha2::{Digest, Sha256};

use crate::db::{self, DbConnection};
use crate::models::api_token::ApiToken;

/// Every token starts with this, so a leaked one is easy to recognise
/// (secret scanners, logs).
pub const PREFIX: &str = "kasir_";

pub fn hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// Makes a token named `name`; returns it (the only time it is seen) and
/// its row.
pub fn create(conn: &mut DbConnection, name: &str) -> Result<(String, ApiToken), String> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 100 {
        return Err("A token needs a name of 1 to 100 characters.".into());
    }
    let token = format!("{PREFIX}{}", crate::session::new_token());
    let shown: String = token.chars().take(PREFIX.len() + 6).collect();
    let row = ApiToken::insert(conn, name, &hash(&token), &shown, db::now())
        .map_err(|e| format!("could not store the token: {e}"))?;
    Ok((token, row))
}

/// The live token presented as `Authorization: Bearer <token>`.
pub fn authenticate(
    conn: &mut DbConnection,
    presented: &str,
) -> diesel::QueryResult<Option<ApiToken>> {
    let Some(found) = ApiToken::find_active(conn, &hash(presented.trim()))? else {
        return Ok(None);
    };
    let now = db::now();
    // At most one write a minute per token, not one per request.
    if found
        .last_used_at
        .is_none_or(|at| now - at > chrono::TimeDelta::minutes(1))
    {
        ApiToken::touch(conn, found.id, now)?;
    }
    Ok(Some(found))
}
