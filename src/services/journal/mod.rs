//! The financial journal: the only writer of `financial_journals`. Rows are
//! appended inside the caller's transaction, next to the change they record,
//! and keyed so that a retried step cannot write twice. The sealer
//! ([`seal`]) then chains them under a key kept outside the database;
//! [`verify_chain`] checks the seals and the older SHA-256 chain ([`legacy`]).

use crate::db::{self, DbConnection};
use crate::domain::{Currency, JournalKind, JournalStatus};
use crate::models::OrderId;
use crate::models::journal::{JournalRow, NewJournalRow};

pub mod legacy;
pub mod seal;
mod verify;

pub use verify::{ChainMonitor, ChainVerdict, VIEW_BUDGET, verify_chain};

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
/// No chain work here: payments append concurrently, and the sealer
/// ([`seal::Sealer`]) chains the row once it is committed. Its metadata
/// keeps only the allow-listed facts ([`allowed_facts`]).
pub fn record_journal_entry(
    conn: &mut DbConnection,
    entry: &JournalEntry<'_>,
) -> diesel::QueryResult<bool> {
    // An entry whose key is recorded already is not appended again: the
    // insert skips it (ON CONFLICT DO NOTHING) in its one statement, and
    // says so.
    let facts = allowed_facts(entry.metadata);
    let entry = &JournalEntry {
        metadata: &facts,
        ..*entry
    };
    let appended = new_row(entry, db::now()).insert(conn)?;
    Ok(appended)
}

/// Appends rows that happened at the given times, in order, with one
/// multi-row insert: for importing a history (the benchmark's 100,000
/// orders). Keys must be new; a taken one fails the whole batch on the
/// unique constraint. The sealer seals them like any other row.
#[cfg(feature = "bench")]
pub fn append_history(
    conn: &mut DbConnection,
    entries: &[(JournalEntry<'_>, chrono::NaiveDateTime)],
) -> diesel::QueryResult<()> {
    let rows: Vec<NewJournalRow<'_>> = entries
        .iter()
        .map(|(entry, at)| new_row(entry, *at))
        .collect();
    if !rows.is_empty() {
        NewJournalRow::insert_many(conn, &rows)?;
    }
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
        prev_hash: None,
        row_hash: None,
    }
}

/// Feeds a row's content, as one canonical JSON array with `head` first
/// (the previous hash or MAC and, for seals, their position), into `digest`:
/// unambiguous, whatever the strings contain. Every column but the id is
/// covered. Streamed: no copy of the row is made (a full verification
/// feeds every row there is).
fn feed_canonical(
    digest: &mut impl std::io::Write,
    head: &impl serde::Serialize,
    row: &JournalRow,
) {
    let content = (
        head,
        row.kind.as_str(),
        row.amount_cents,
        row.currency.code(),
        row.status.as_str(),
        &row.description,
        row.reference_id.map(|id| id.0),
        &row.metadata,
        &row.provider_event_id,
        &row.idempotency_key,
        row.created_at.format("%Y-%m-%dT%H:%M:%S%.6f").to_string(),
    );
    serde_json::to_writer(digest, &content).expect("a digest takes every byte");
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

    #[test]
    fn objects_nested_past_the_fourth_level_are_not_kept() {
        // An event's deepest fact is `data.object.last_payment_error.code`.
        let raw = r#"{"data":{"object":{"data":{"object":{"id":"deep"}},"id":"pi_1"}}}"#;
        let kept: serde_json::Value = serde_json::from_str(&allowed_facts(raw)).unwrap();
        assert_eq!(
            kept,
            serde_json::json!({"data": {"object": {"data": {"object": null}, "id": "pi_1"}}})
        );
    }
}

/// Seals and hashes already written must verify forever: these answers
/// were computed by the first implementation (a `serde_json::Value` array
/// made into a string) and hold the canonical form, byte for byte.
#[cfg(test)]
mod canonical_tests {
    use crate::config::SecretKey;
    use crate::domain::{Currency, JournalKind, JournalStatus};
    use crate::models::{OrderId, journal::JournalRow};

    fn row(reference_id: Option<OrderId>, prev_hash: Option<&str>) -> JournalRow {
        JournalRow {
            id: 41,
            kind: JournalKind::Income,
            amount_cents: 890_000,
            currency: Currency::parse("IDR").unwrap(),
            status: JournalStatus::Success,
            description: "Pembayaran \"INV-2026-7\" \\ é 🙂\n\t\u{1}</script>".into(),
            reference_id,
            metadata: r#"{"id":"evt_1","data":{"object":{"amount":890000}}}"#.into(),
            provider_event_id: reference_id.map(|_| "evt_1".into()),
            idempotency_key: "order-7-income".into(),
            created_at: chrono::NaiveDate::from_ymd_opt(2026, 11, 30)
                .unwrap()
                .and_hms_micro_opt(23, 59, 58, 123_456)
                .unwrap(),
            prev_hash: prev_hash.map(str::to_owned),
            row_hash: prev_hash.map(|_| "ab".repeat(32)),
        }
    }

    #[test]
    fn seals_and_legacy_hashes_keep_their_known_answers() {
        let key = SecretKey::from_bytes("JOURNAL_KEY", (0..64).collect()).unwrap();
        let seal = |row: &JournalRow, seq, prev: &str| super::seal::seal_mac(&key, seq, prev, row);
        let answers = [
            seal(&row(Some(OrderId(7)), Some("")), 1, ""),
            seal(&row(None, None), 2, &"cd".repeat(32)),
            super::legacy::chain_hash("", &row(Some(OrderId(7)), None)),
            super::legacy::chain_hash(&"ef".repeat(32), &row(None, None)),
        ];
        assert_eq!(
            answers,
            [
                "900b5d43f68c711cc3aa0592ffb180539bbf8a9db469296717f488702de8b498",
                "decee7f1f3cbd5f7e4692f9d944c07cae09492345c6fef94bab8c4abda573112",
                "04a703b892f8419fac28fa436567eeea2e461e7d78cd518cec880e22086b59f5",
                "09360e0ad1463c826d26185fe787b4eed513151b01400c53bed442d79cdd4812",
            ]
        );
    }
}
