//! The financial journal: the only writer of `financial_journals`. Rows are
//! appended inside the caller's transaction, next to the change they record,
//! and keyed so that a retried step cannot write twice.

use crate::db::{self, DbConnection};
use crate::models::OrderId;
use crate::models::journal::{JournalChain, JournalRow, NewJournalRow};

/// Journal `type` values.
pub mod kind {
    pub const PAYMENT_INITIATED: &str = "payment_initiated";
    pub const INCOME: &str = "income";
    pub const CANCELED: &str = "canceled";
}

/// Journal `status` values.
pub mod status {
    pub const PENDING: &str = "pending";
    pub const SUCCESS: &str = "success";
    pub const FAILED: &str = "failed";
}

pub struct JournalEntry<'a> {
    pub kind: &'a str,
    pub status: &'a str,
    pub amount_cents: i64,
    pub currency: &'a str,
    pub description: &'a str,
    pub order_id: Option<OrderId>,
    /// The provider's JSON as it came, or our own JSON describing the step.
    pub metadata: &'a str,
    pub provider_event_id: Option<&'a str>,
    pub idempotency_key: &'a str,
}

/// Appends the entry unless one with its idempotency key exists; returns
/// whether it wrote. Call it inside the transaction that makes the change.
/// The row is chained: it stores the previous row's hash and its own.
pub fn record_journal_entry(
    conn: &mut DbConnection,
    entry: &JournalEntry<'_>,
) -> diesel::QueryResult<bool> {
    if JournalRow::exists(conn, entry.idempotency_key)? {
        return Ok(false);
    }
    let (prev_hash, _) = JournalChain::lock_head(conn)?;
    let created_at = db::now();
    let row_hash = chain_hash(
        &prev_hash,
        &HashedFields {
            kind: entry.kind,
            amount_cents: entry.amount_cents,
            currency: entry.currency,
            status: entry.status,
            description: entry.description,
            reference_id: entry.order_id.map(|id| id.0),
            metadata: entry.metadata,
            provider_event_id: entry.provider_event_id,
            idempotency_key: entry.idempotency_key,
            created_at,
        },
    );
    NewJournalRow {
        kind: entry.kind,
        amount_cents: entry.amount_cents,
        currency: entry.currency,
        status: entry.status,
        description: entry.description,
        reference_id: entry.order_id,
        metadata: entry.metadata,
        provider_event_id: entry.provider_event_id,
        idempotency_key: entry.idempotency_key,
        created_at,
        prev_hash: Some(&prev_hash),
        row_hash: Some(&row_hash),
    }
    .insert(conn)?;
    JournalChain::set_head(conn, &row_hash)?;
    Ok(true)
}

/// What a row's hash covers: every column but its id and the hashes.
struct HashedFields<'a> {
    kind: &'a str,
    amount_cents: i64,
    currency: &'a str,
    status: &'a str,
    description: &'a str,
    reference_id: Option<i64>,
    metadata: &'a str,
    provider_event_id: Option<&'a str>,
    idempotency_key: &'a str,
    created_at: chrono::NaiveDateTime,
}

impl<'a> From<&'a JournalRow> for HashedFields<'a> {
    fn from(row: &'a JournalRow) -> Self {
        Self {
            kind: &row.kind,
            amount_cents: row.amount_cents,
            currency: &row.currency,
            status: &row.status,
            description: &row.description,
            reference_id: row.reference_id.map(|id| id.0),
            metadata: &row.metadata,
            provider_event_id: row.provider_event_id.as_deref(),
            idempotency_key: &row.idempotency_key,
            created_at: row.created_at,
        }
    }
}

/// SHA-256 over the previous hash and the row's fields, as a JSON array
/// (unambiguous, whatever the strings contain).
fn chain_hash(prev_hash: &str, row: &HashedFields<'_>) -> String {
    use sha2::{Digest, Sha256};
    let canonical = serde_json::json!([
        prev_hash,
        row.kind,
        row.amount_cents,
        row.currency,
        row.status,
        row.description,
        row.reference_id,
        row.metadata,
        row.provider_event_id,
        row.idempotency_key,
        row.created_at.format("%Y-%m-%dT%H:%M:%S%.6f").to_string(),
    ]);
    hex::encode(Sha256::digest(canonical.to_string().as_bytes()))
}

/// The verdict of `kasir journal verify`.
#[derive(Debug, PartialEq, Eq)]
pub enum ChainVerdict {
    Intact {
        rows: i64,
    },
    /// The first row whose hash or link does not match.
    Broken {
        row_id: i64,
        reason: String,
    },
}

impl std::fmt::Display for ChainVerdict {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Intact { rows } => write!(f, "journal chain intact ({rows} rows)"),
            Self::Broken { row_id, reason } => {
                write!(f, "journal chain BROKEN at row {row_id}: {reason}")
            }
        }
    }
}

/// Recomputes every chained row's hash and link, and checks the head.
pub fn verify_chain(conn: &mut DbConnection) -> diesel::QueryResult<ChainVerdict> {
    let mut prev = String::new();
    let mut chained = 0i64;
    for row in JournalRow::all_in_order(conn)? {
        let (Some(stored_prev), Some(stored_hash)) = (&row.prev_hash, &row.row_hash) else {
            if chained > 0 {
                return Ok(ChainVerdict::Broken {
                    row_id: row.id,
                    reason: "a row without a hash inside the chain".into(),
                });
            }
            continue; // written before the chain existed
        };
        if *stored_prev != prev {
            return Ok(ChainVerdict::Broken {
                row_id: row.id,
                reason: "it does not link to the row before it (a row was removed or inserted)"
                    .into(),
            });
        }
        if chain_hash(&prev, &HashedFields::from(&row)) != *stored_hash {
            return Ok(ChainVerdict::Broken {
                row_id: row.id,
                reason: "its content no longer matches its hash (the row was altered)".into(),
            });
        }
        prev = stored_hash.clone();
        chained += 1;
    }
    let (head, length) = JournalChain::head(conn)?;
    if head != prev || length != chained {
        return Ok(ChainVerdict::Broken {
            row_id: 0,
            reason: format!(
                "the chain head counts {length} rows, the table has {chained} (rows were removed at the end)"
            ),
        });
    }
    Ok(ChainVerdict::Intact { rows: chained })
}
