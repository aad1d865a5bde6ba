//! Credit notes: the document a refund issues against an invoice.
//! Immutable once written (database triggers refuse UPDATE and DELETE).

use chrono::{Datelike, NaiveDateTime};
use diesel::prelude::*;

use super::OrderId;
use super::document_sequence::{self, DocumentKind};
use crate::db::DbConnection;
use crate::db::schema::credit_notes;
use crate::domain::{Currency, Money};

#[derive(Queryable, Selectable, Clone, Debug)]
#[diesel(table_name = credit_notes)]
pub struct CreditNote {
    pub id: i64,
    pub number: String,
    pub order_id: OrderId,
    /// The invoice it credits, as numbered when it was issued.
    pub invoice_number: String,
    pub amount_cents: i64,
    pub currency: Currency,
    /// The order's refunded total with this note counted.
    pub refunded_cents: i64,
    pub reason: Option<String>,
    pub issued_at: NaiveDateTime,
    /// The tax part of the amount credited.
    pub tax_cents: i64,
}

/// What a new credit note says.
pub struct NewCreditNote<'a> {
    pub order_id: OrderId,
    pub invoice_number: &'a str,
    pub amount_cents: i64,
    pub currency: Currency,
    pub refunded_cents: i64,
    pub reason: Option<&'a str>,
    pub tax_cents: i64,
}

impl CreditNote {
    /// Issues the next `CN-<year>-NNNNNN` in the caller's transaction.
    pub fn issue(
        conn: &mut DbConnection,
        note: &NewCreditNote<'_>,
        now: NaiveDateTime,
    ) -> QueryResult<Self> {
        let number = document_sequence::next(conn, DocumentKind::CreditNote, now.year())?;
        diesel::insert_into(credit_notes::table)
            .values((
                credit_notes::number.eq(&number),
                credit_notes::order_id.eq(note.order_id),
                credit_notes::invoice_number.eq(note.invoice_number),
                credit_notes::amount_cents.eq(note.amount_cents),
                credit_notes::currency.eq(note.currency),
                credit_notes::refunded_cents.eq(note.refunded_cents),
                credit_notes::reason.eq(note.reason),
                credit_notes::issued_at.eq(now),
                credit_notes::tax_cents.eq(note.tax_cents),
            ))
            .returning(credit_notes::all_columns)
            .get_result(conn)
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

    /// The amount credited, negative as it reduces the invoice.
    pub fn credited(&self) -> Money {
        Money::new(-self.amount_cents, self.currency)
    }

    /// The tax part of the amount credited, negative.
    pub fn tax_credited(&self) -> Money {
        Money::new(-self.tax_cents, self.currency)
    }

    /// What the invoice holds once this note is counted.
    pub fn remaining(&self, invoice_total: impl std::borrow::Borrow<i64>) -> Money {
        Money::new(*invoice_total.borrow() - self.refunded_cents, self.currency)
    }
}
