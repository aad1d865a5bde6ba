//! Credit and debit notes: the documents that correct an invoice after it
//! was issued (a refund, a chargeback, and their reversals). Immutable once
//! written (database triggers refuse UPDATE and DELETE).

use chrono::{Datelike, NaiveDateTime};
use diesel::prelude::*;

use super::OrderId;
use super::document_sequence::{self, DocumentKind};
use crate::db::DbConnection;
use crate::db::schema::credit_notes;
use crate::domain::{Currency, Money, NoteCause};

#[derive(Queryable, Selectable, Clone, Debug)]
#[diesel(table_name = credit_notes)]
pub struct CreditNote {
    pub id: i64,
    pub number: String,
    pub order_id: OrderId,
    /// The invoice it corrects, as numbered when it was issued.
    pub invoice_number: String,
    /// Positive: what it takes off the invoice, or puts back.
    pub amount_cents: i64,
    pub currency: Currency,
    /// The invoice's credited total with this note counted (credit notes
    /// less debit notes).
    pub credited_cents: i64,
    pub reason: Option<String>,
    pub issued_at: NaiveDateTime,
    /// The tax part of `amount_cents`.
    pub tax_cents: i64,
    pub cause: NoteCause,
    /// The dispute or refund it is about (none for a refund counted from
    /// the charge's refunded total).
    pub source_id: Option<String>,
}

/// What a new note says.
pub struct NewCreditNote<'a> {
    pub order_id: OrderId,
    pub invoice_number: &'a str,
    pub amount_cents: i64,
    pub currency: Currency,
    pub reason: Option<&'a str>,
    pub tax_cents: i64,
    pub cause: NoteCause,
    pub source_id: Option<&'a str>,
}

impl CreditNote {
    /// Issues the next `CN-<year>-NNNNNN` (or `DN-…`) in the caller's
    /// transaction, counted on top of the order's earlier notes.
    pub fn issue(
        conn: &mut DbConnection,
        note: &NewCreditNote<'_>,
        now: NaiveDateTime,
    ) -> QueryResult<Self> {
        let kind = if note.cause.is_credit() {
            DocumentKind::CreditNote
        } else {
            DocumentKind::DebitNote
        };
        let signed = if note.cause.is_credit() {
            note.amount_cents
        } else {
            -note.amount_cents
        };
        let credited = Self::credited_total(conn, note.order_id)? + signed;
        let number = document_sequence::next(conn, kind, now.year())?;
        diesel::insert_into(credit_notes::table)
            .values((
                credit_notes::number.eq(&number),
                credit_notes::order_id.eq(note.order_id),
                credit_notes::invoice_number.eq(note.invoice_number),
                credit_notes::amount_cents.eq(note.amount_cents),
                credit_notes::currency.eq(note.currency),
                credit_notes::credited_cents.eq(credited),
                credit_notes::reason.eq(note.reason),
                credit_notes::issued_at.eq(now),
                credit_notes::tax_cents.eq(note.tax_cents),
                credit_notes::cause.eq(note.cause),
                credit_notes::source_id.eq(note.source_id),
            ))
            .returning(credit_notes::all_columns)
            .get_result(conn)
    }

    /// The order's credited total so far: its credit notes less its debit
    /// notes.
    pub fn credited_total(conn: &mut DbConnection, order_id: OrderId) -> QueryResult<i64> {
        let notes: Vec<(NoteCause, i64)> = credit_notes::table
            .filter(credit_notes::order_id.eq(order_id))
            .select((credit_notes::cause, credit_notes::amount_cents))
            .load(conn)?;
        Ok(notes
            .into_iter()
            .map(|(cause, amount)| if cause.is_credit() { amount } else { -amount })
            .sum())
    }

    /// The note of `cause` about `source_id`, if one was issued.
    pub fn find_for(
        conn: &mut DbConnection,
        cause: NoteCause,
        source_id: &str,
    ) -> QueryResult<Option<Self>> {
        credit_notes::table
            .filter(credit_notes::cause.eq(cause))
            .filter(credit_notes::source_id.eq(source_id))
            .select(Self::as_select())
            .first(conn)
            .optional()
    }

    pub fn for_order(conn: &mut DbConnection, order_id: OrderId) -> QueryResult<Vec<Self>> {
        credit_notes::table
            .filter(credit_notes::order_id.eq(order_id))
            .order(credit_notes::id.asc())
            .select(Self::as_select())
            .load(conn)
    }

    pub fn find(conn: &mut DbConnection, number: &str) -> QueryResult<Option<Self>> {
        credit_notes::table
            .filter(credit_notes::number.eq(number))
            .select(Self::as_select())
            .first(conn)
            .optional()
    }

    /// The amount as it changes the invoice: negative for a credit note.
    pub fn credited(&self) -> Money {
        Money::new(self.signed(self.amount_cents), self.currency)
    }

    /// The tax part of it, with the same sign.
    pub fn tax_credited(&self) -> Money {
        Money::new(self.signed(self.tax_cents), self.currency)
    }

    fn signed(&self, amount: i64) -> i64 {
        if self.cause.is_credit() {
            -amount
        } else {
            amount
        }
    }

    /// A credit note (else a debit note).
    pub fn is_credit(&self) -> bool {
        self.cause.is_credit()
    }

    /// What the invoice holds once this note is counted.
    pub fn remaining(&self, invoice_total: impl std::borrow::Borrow<i64>) -> Money {
        Money::new(*invoice_total.borrow() - self.credited_cents, self.currency)
    }
}
