//! The chain written before sealing (DESIGN.md §2): each row stores the
//! previous row's SHA-256 and its own, and `journal_chain` counts them.
//! No row is added to it any more; its rows are sealed like every other,
//! and their hashes are still checked here.

use super::feed_canonical;
use super::verify::ChainVerdict;
use crate::db::DbConnection;
use crate::models::journal::{JournalChain, JournalRow};

const VERIFY_BATCH: i64 = 1_000;

/// SHA-256 over the previous hash and the row's content.
#[doc(hidden)]
pub fn chain_hash(prev_hash: &str, row: &JournalRow) -> String {
    use sha2::{Digest, Sha256};
    let mut digest = Sha256::new();
    feed_canonical(&mut digest, &prev_hash, row);
    hex::encode(digest.finalize())
}

/// Recomputes every chained row's hash and link, and checks the head.
/// `Intact` counts the chained rows.
pub(super) fn verify(conn: &mut DbConnection) -> diesel::QueryResult<ChainVerdict> {
    let broken = |row_id: i64, reason: &str| {
        Ok(ChainVerdict::Broken {
            row_id,
            reason: reason.to_owned(),
        })
    };
    let (head, length) = JournalChain::head(conn)?;
    if length == 0 {
        // Never chained (a database made after sealing came): its seals
        // alone hold it.
        return Ok(ChainVerdict::Intact {
            rows: 0,
            unsealed: 0,
        });
    }
    let (mut last_id, mut last_hash, mut rows) = (0, String::new(), 0);
    // Ends at the chain's last row: the rows after it were never chained.
    'rows: loop {
        let page = JournalRow::page_after(conn, last_id, VERIFY_BATCH)?;
        if page.is_empty() {
            break;
        }
        for row in page {
            let (Some(stored_prev), Some(stored_hash)) = (&row.prev_hash, &row.row_hash) else {
                if rows > 0 {
                    return broken(row.id, "a row without a hash inside the chain");
                }
                last_id = row.id; // written before the chain existed
                continue;
            };
            if *stored_prev != last_hash {
                return broken(
                    row.id,
                    "it does not link to the row before it (a row was removed or inserted)",
                );
            }
            if chain_hash(&last_hash, &row) != *stored_hash {
                return broken(
                    row.id,
                    "its content no longer matches its hash (the row was altered)",
                );
            }
            last_id = row.id;
            last_hash.clone_from(stored_hash);
            rows += 1;
            if rows == length {
                break 'rows;
            }
        }
    }
    if head != last_hash || length != rows {
        return Ok(ChainVerdict::Broken {
            row_id: 0,
            reason: format!(
                "the chain head counts {length} rows, the table has {rows} (rows were removed at the end)"
            ),
        });
    }
    Ok(ChainVerdict::Intact { rows, unsealed: 0 })
}
