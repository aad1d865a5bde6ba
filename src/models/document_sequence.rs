//! Gap-free numbers for documents (invoices, credit and debit notes): one counter
//! per kind and year, moved in the transaction that issues the document.

use diesel::prelude::*;

use crate::db::DbConnection;
use crate::db::schema::document_sequences;

/// What a sequence numbers, and the prefix of its numbers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DocumentKind {
    Invoice,
    CreditNote,
    DebitNote,
}

impl DocumentKind {
    fn key(self) -> &'static str {
        match self {
            Self::Invoice => "invoice",
            Self::CreditNote => "credit_note",
            Self::DebitNote => "debit_note",
        }
    }

    fn prefix(self) -> &'static str {
        match self {
            Self::Invoice => "INV",
            Self::CreditNote => "CN",
            Self::DebitNote => "DN",
        }
    }
}

/// The next number of `kind` in `year` (`INV-2026-000001`). The counter's
/// row is taken by an upsert, which holds it until the transaction ends:
/// concurrent payments take turns, and a transaction that rolls back
/// gives its number back, so numbers are neither shared nor skipped.
pub fn next(conn: &mut DbConnection, kind: DocumentKind, year: i32) -> QueryResult<String> {
    let n: i64 = crate::db::per_engine!(conn, c => diesel::insert_into(document_sequences::table)
        .values((
            document_sequences::kind.eq(kind.key()),
            document_sequences::year.eq(year),
            document_sequences::last_number.eq(1_i64),
        ))
        .on_conflict((document_sequences::kind, document_sequences::year))
        .do_update()
        .set(document_sequences::last_number.eq(document_sequences::last_number + 1))
        .returning(document_sequences::last_number)
        .get_result(c))?;
    Ok(format!("{}-{year}-{n:06}", kind.prefix()))
}
