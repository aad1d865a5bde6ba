//! The financial journal: the only writer of `financial_journals`. Rows are
//! appended inside the caller's transaction, next to the change they record,
//! and keyed so that a retried step cannot write twice.

use crate::db::{self, DbConnection};
use crate::domain::{Currency, JournalKind, JournalStatus};
use crate::models::OrderId;
use crate::models::journal::{JournalChain, JournalRow, NewJournalRow};

pub struct JournalEntry<'a> {
    pub kind: JournalKind,
    pub status: JournalStatus,
    pub amount_cents: i64,
    pub currency: Currency,
    pub description: &'a str,
    pub order_id: Option<OrderId>,
    /// The provider's JSON as it came, or our own JSON describing the step.
    pub metadata: &'a str,
    pub provider_event_id: Option<&'a str>,
    pub idempotency_key: &'a str,
}

/// Appends the entry unless one with its idempotency key exists; returns
/// whether it wrote. Call it inside the transaction that makes the change.
/// The row is chained: it stores the previous row's hash and its own. Its
/// metadata keeps only the allow-listed facts ([`allowed_facts`]).
pub fn record_journal_entry(
    conn: &mut DbConnection,
    entry: &JournalEntry<'_>,
) -> diesel::QueryResult<bool> {
    if JournalRow::exists(conn, entry.idempotency_key)? {
        return Ok(false);
    }
    let facts = allowed_facts(entry.metadata);
    let entry = &JournalEntry {
        metadata: &facts,
        ..*entry
    };
    let (prev_hash, _) = JournalChain::lock_head(conn)?;
    let created_at = db::now();
    let row_hash = chain_hash(&prev_hash, &HashedFields::of(entry, created_at));
    new_row(entry, created_at, &prev_hash, &row_hash).insert(conn)?;
    JournalChain::set_head(conn, &row_hash)?;
    Ok(true)
}

/// Appends rows that happened at the given times, in order, chained, with
/// one lock of the chain head and one multi-row insert: for importing a
/// history (the benchmark's 100,000 orders). Keys must be new; a taken one
/// fails the whole batch on the unique constraint.
#[cfg(feature = "bench")]
pub fn append_history(
    conn: &mut DbConnection,
    entries: &[(JournalEntry<'_>, chrono::NaiveDateTime)],
) -> diesel::QueryResult<()> {
    if entries.is_empty() {
        return Ok(());
    }
    let (mut prev_hash, _) = JournalChain::lock_head(conn)?;
    let mut hashes = Vec::with_capacity(entries.len());
    for (entry, at) in entries {
        let row_hash = chain_hash(&prev_hash, &HashedFields::of(entry, *at));
        hashes.push((prev_hash, row_hash.clone()));
        prev_hash = row_hash;
    }
    let rows: Vec<NewJournalRow<'_>> = entries
        .iter()
        .zip(&hashes)
        .map(|((entry, at), (prev, hash))| new_row(entry, *at, prev, hash))
        .collect();
    NewJournalRow::insert_many(conn, &rows)?;
    // `lock_head` counted the first row.
    JournalChain::set_head_counting(conn, &prev_hash, entries.len() as i64 - 1)?;
    Ok(())
}

/// What the journal keeps of a provider's JSON: ids, amounts, statuses,
/// times, reasons, the event's id and type, and kasir's own metadata keys.
/// Never client secrets, billing details, emails or card data: those stay
/// in the webhook inbox, which `kasir prune-events` empties after a while.
pub fn allowed_facts(metadata: &str) -> String {
    const KEPT: &[&str] = &[
        "id",
        "object",
        "type",
        "created",
        "livemode",
        "api_version",
        "amount",
        "amount_received",
        "amount_refunded",
        "amount_capturable",
        "currency",
        "status",
        "payment_intent",
        "charge",
        "latest_charge",
        "customer",
        "disputed",
        "captured",
        "reason",
        "failure_reason",
        "failure_code",
        "cancellation_reason",
        "last_payment_error",
        "code",
        "decline_code",
        "message",
        "metadata",
        "data",
        // kasir's own step descriptions.
        "free_order",
        "promo_code",
    ];
    fn keep(value: serde_json::Value, depth: usize) -> serde_json::Value {
        match value {
            serde_json::Value::Object(fields) if depth < 4 => fields
                .into_iter()
                .filter(|(key, _)| KEPT.contains(&key.as_str()))
                .map(|(key, value)| {
                    let kept = match key.as_str() {
                        // Only the keys kasir wrote.
                        "metadata" => match value {
                            serde_json::Value::Object(meta) => serde_json::Value::Object(
                                meta.into_iter()
                                    .filter(|(k, _)| k.starts_with("kasir_"))
                                    .collect(),
                            ),
                            _ => serde_json::Value::Null,
                        },
                        _ => keep(value, depth + 1),
                    };
                    (key, kept)
                })
                .collect(),
            serde_json::Value::Object(_) | serde_json::Value::Array(_) => serde_json::Value::Null,
            scalar => scalar,
        }
    }
    match serde_json::from_str::<serde_json::Value>(metadata) {
        Ok(value @ serde_json::Value::Object(_)) => keep(value, 0).to_string(),
        _ => "{}".to_owned(),
    }
}

fn new_row<'a>(
    entry: &'a JournalEntry<'a>,
    created_at: chrono::NaiveDateTime,
    prev_hash: &'a str,
    row_hash: &'a str,
) -> NewJournalRow<'a> {
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
        prev_hash: Some(prev_hash),
        row_hash: Some(row_hash),
    }
}

/// What a row's hash covers: every column but its id and the hashes.
struct HashedFields<'a> {
    kind: JournalKind,
    amount_cents: i64,
    currency: Currency,
    status: JournalStatus,
    description: &'a str,
    reference_id: Option<i64>,
    metadata: &'a str,
    provider_event_id: Option<&'a str>,
    idempotency_key: &'a str,
    created_at: chrono::NaiveDateTime,
}

impl<'a> HashedFields<'a> {
    fn of(entry: &'a JournalEntry<'a>, created_at: chrono::NaiveDateTime) -> Self {
        Self {
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
        }
    }
}

impl<'a> From<&'a JournalRow> for HashedFields<'a> {
    fn from(row: &'a JournalRow) -> Self {
        Self {
            kind: row.kind,
            amount_cents: row.amount_cents,
            currency: row.currency,
            status: row.status,
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
        row.kind.as_str(),
        row.amount_cents,
        row.currency.code(),
        row.status.as_str(),
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

/// How far a verification got: later checks start after it instead of
/// re-reading the whole journal (the reports page runs one per view).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ChainCheckpoint {
    pub last_id: i64,
    pub last_hash: String,
    pub rows: i64,
}

/// Rows read per query while verifying: memory stays flat however long
/// the journal grows.
const VERIFY_BATCH: i64 = 1_000;

/// Recomputes every chained row's hash and link, and checks the head.
pub fn verify_chain(conn: &mut DbConnection) -> diesel::QueryResult<ChainVerdict> {
    verify_chain_from(conn, &ChainCheckpoint::default()).map(|(verdict, _)| verdict)
}

/// Verifies the rows after `from` (a checkpoint an earlier, intact
/// verification returned) up to the chain head, and returns where it got.
///
/// The head is read first: rows appended while this runs lie beyond it and
/// are left for the next check, so concurrent writers cannot make an intact
/// journal look broken.
pub fn verify_chain_from(
    conn: &mut DbConnection,
    from: &ChainCheckpoint,
) -> diesel::QueryResult<(ChainVerdict, Option<ChainCheckpoint>)> {
    let broken = |row_id: i64, reason: String| Ok((ChainVerdict::Broken { row_id, reason }, None));
    let (head, length) = JournalChain::head(conn)?;
    let mut at = from.clone();
    'rows: while at.rows < length {
        let rows = JournalRow::page_after(conn, at.last_id, VERIFY_BATCH)?;
        if rows.is_empty() {
            break;
        }
        for row in rows {
            let (Some(stored_prev), Some(stored_hash)) = (&row.prev_hash, &row.row_hash) else {
                if at.rows > 0 {
                    return broken(row.id, "a row without a hash inside the chain".into());
                }
                at.last_id = row.id; // written before the chain existed
                continue;
            };
            if *stored_prev != at.last_hash {
                return broken(
                    row.id,
                    "it does not link to the row before it (a row was removed or inserted)".into(),
                );
            }
            if chain_hash(&at.last_hash, &HashedFields::from(&row)) != *stored_hash {
                return broken(
                    row.id,
                    "its content no longer matches its hash (the row was altered)".into(),
                );
            }
            at.last_id = row.id;
            at.last_hash = stored_hash.clone();
            at.rows += 1;
            if at.rows == length {
                break 'rows;
            }
        }
    }
    if head != at.last_hash || length != at.rows {
        return broken(
            0,
            format!(
                "the chain head counts {length} rows, the table has {} (rows were removed at the end)",
                at.rows
            ),
        );
    }
    // Rows past the head are appends still being committed, and carry
    // hashes; one without is a write that went around the chain.
    if at.rows > 0
        && let Some(row_id) = JournalRow::first_unchained_after(conn, at.last_id)?
    {
        return broken(row_id, "a row without a hash after the chain's head".into());
    }
    Ok((ChainVerdict::Intact { rows: at.rows }, Some(at)))
}

/// Where the last intact verification got to: the reports page checks only
/// the rows after it; housekeeping re-checks everything.
#[derive(Default)]
pub struct ChainMonitor(std::sync::Mutex<ChainCheckpoint>);

impl ChainMonitor {
    /// Verifies the chain from the last checkpoint (`full`: from the first
    /// row) and moves the checkpoint on when it is intact.
    pub fn verify(&self, conn: &mut DbConnection, full: bool) -> diesel::QueryResult<ChainVerdict> {
        let lock = || {
            self.0
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
        };
        let from = if full {
            ChainCheckpoint::default()
        } else {
            lock().clone()
        };
        let (verdict, reached) = verify_chain_from(conn, &from)?;
        let mut checkpoint = lock();
        match reached {
            Some(reached) if full || reached.rows > checkpoint.rows => *checkpoint = reached,
            Some(_) => {}
            // Broken: later views start from the beginning and show it too.
            None => *checkpoint = ChainCheckpoint::default(),
        }
        Ok(verdict)
    }
}

#[cfg(test)]
mod facts_tests {
    use super::allowed_facts;

    #[test]
    fn the_journal_keeps_facts_and_drops_secrets_and_personal_data() {
        let raw = serde_json::json!({
            "id": "evt_1", "type": "payment_intent.succeeded", "created": 5,
            "data": { "object": {
                "id": "pi_1", "amount": 8900, "currency": "usd", "status": "succeeded",
                "client_secret": "pi_1_secret_abc", "receipt_email": "ada@example.com",
                "metadata": { "kasir_order_id": "7", "newsletter": "yes" },
                "last_payment_error": { "code": "card_declined", "message": "Declined.",
                    "payment_method": { "billing_details": { "name": "Ada Lovelace" } } },
                "shipping": { "address": { "line1": "12 Rue" } },
            }},
        })
        .to_string();
        let kept: serde_json::Value = serde_json::from_str(&allowed_facts(&raw)).unwrap();
        let object = &kept["data"]["object"];
        assert_eq!(kept["type"], "payment_intent.succeeded");
        assert_eq!(
            (object["id"].as_str(), object["amount"].as_i64()),
            (Some("pi_1"), Some(8900))
        );
        assert_eq!(
            object["metadata"],
            serde_json::json!({ "kasir_order_id": "7" })
        );
        assert_eq!(object["last_payment_error"]["code"], "card_declined");
        let text = kept.to_string();
        for secret in [
            "secret_abc",
            "ada@example.com",
            "Ada Lovelace",
            "12 Rue",
            "newsletter",
        ] {
            assert!(!text.contains(secret), "{secret} kept: {text}");
        }
        assert_eq!(allowed_facts("not json"), "{}");
    }
}
