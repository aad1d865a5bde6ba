//! Gap-free numbers for documents (invoices, credit and debit notes): one counter
//! per kind and year, moved in the transaction that issues the document.

use diesel::prelude::*;
use diesel::sql_types as sql;

use crate::db::{DbConnection, kept_statement};
kept_statement! {
    /// The year's counter, taken or started.
    struct NextNumber<'a> -> sql::BigInt {
        "INSERT INTO document_sequences (kind, year, last_number) VALUES (" {kind: sql::Text = &'a str}
        ", " {year: sql::Integer = i32}
        ", 1) ON CONFLICT (kind, year) DO UPDATE SET last_number = document_sequences.last_number + 1 RETURNING last_number"
    }
}

/// What a sequence numbers, and the prefix of its numbers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DocumentKind {
    Invoice,
    CreditNote,
    DebitNote,
}

impl DocumentKind {
    pub(crate) fn key(self) -> &'static str {
        match self {
            Self::Invoice => "invoice",
            Self::CreditNote => "credit_note",
            Self::DebitNote => "debit_note",
        }
    }

    /// What every number of this kind in `year` starts with (`INV-2026-`).
    pub(crate) fn prefix(self, year: i32) -> String {
        format!("{}-{year}-", self.code())
    }

    fn code(self) -> &'static str {
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
    let n: i64 = NextNumber {
        kind: kind.key(),
        year,
    }
    .get_result(conn)?;
    Ok(format!("{}{n:06}", kind.prefix(year)))
}
