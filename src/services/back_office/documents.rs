//! The documents the accountant books: invoices (when an order was paid),
//! credit notes (a refund or chargeback took money back) and debit notes
//! (either was undone), newest first.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::DbConnection;
use crate::db::schema::{credit_notes, orders, users};
use crate::domain::{Currency, Money, NoteCause};
use crate::i18n::Message;

/// Which documents to list.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DocumentType {
    Invoice,
    CreditNote,
    DebitNote,
}

impl DocumentType {
    pub const ALL: &'static [Self] = &[Self::Invoice, Self::CreditNote, Self::DebitNote];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Invoice => "invoice",
            Self::CreditNote => "credit_note",
            Self::DebitNote => "debit_note",
        }
    }

    /// Its name's message id.
    pub fn message_id(self) -> &'static str {
        match self {
            Self::Invoice => "invoice-heading",
            Self::CreditNote => "credit-note-heading",
            Self::DebitNote => "debit-note-heading",
        }
    }

    /// An empty filter is every type.
    pub fn parse_filter(value: &str) -> Result<Option<Self>, Message> {
        match value.trim() {
            "" => Ok(None),
            v => Self::ALL
                .iter()
                .copied()
                .find(|t| t.as_str() == v)
                .map(Some)
                .ok_or_else(|| Message::new("documents-bad-type")),
        }
    }
}

/// One document as the list and the CSV show it.
#[derive(Clone, Debug)]
pub struct DocumentRow {
    pub kind: DocumentType,
    pub number: String,
    pub issued_at: NaiveDateTime,
    pub order_number: String,
    /// For a credit or debit note: the invoice it corrects.
    pub credits: Option<String>,
    pub buyer_name: String,
    pub buyer_email: String,
    pub buyer_company: Option<String>,
    pub buyer_tax_id: Option<String>,
    /// What the document is for; negative for a credit note.
    pub amount: Money,
    /// The sales tax in `amount` (same sign).
    pub tax: Money,
}

/// The filter, parsed.
pub struct DocumentQuery {
    pub kind: Option<DocumentType>,
    pub from: Option<NaiveDateTime>,
    pub to: Option<NaiveDateTime>,
}

type Buyer = (String, String, Option<String>, Option<String>);
/// (amount, tax) in minor units.
type Amounts = (i64, i64);
/// An invoice as selected: number, paid at, order, amounts, currency, buyer.
type InvoiceFound = (String, NaiveDateTime, String, Amounts, Currency, Buyer);
/// A note as selected: number, issued at, order, corrected invoice,
/// amounts, currency, cause, buyer.
type NoteFound = (
    String,
    NaiveDateTime,
    String,
    String,
    Amounts,
    Currency,
    NoteCause,
    Buyer,
);

/// The documents issued in the range, newest first.
pub fn documents(conn: &mut DbConnection, query: &DocumentQuery) -> QueryResult<Vec<DocumentRow>> {
    let mut rows = Vec::new();
    if query.kind.is_none_or(|k| k == DocumentType::Invoice) {
        let mut invoices = orders::table
            .inner_join(users::table)
            .filter(orders::invoice_number.is_not_null())
            .into_boxed();
        if let Some(from) = query.from {
            invoices = invoices.filter(orders::paid_at.ge(from));
        }
        if let Some(to) = query.to {
            invoices = invoices.filter(orders::paid_at.lt(to));
        }
        let found: Vec<InvoiceFound> = invoices
            .select((
                orders::invoice_number.assume_not_null(),
                orders::paid_at.assume_not_null(),
                orders::number,
                (orders::total_cents, orders::tax_cents),
                orders::currency,
                (
                    users::name,
                    users::email,
                    orders::buyer_company,
                    orders::buyer_tax_id,
                ),
            ))
            .load(conn)?;
        rows.extend(
            found
                .into_iter()
                .map(|(number, at, order, (total, tax), currency, buyer)| {
                    row(
                        DocumentType::Invoice,
                        number,
                        at,
                        order,
                        None,
                        (Money::new(total, currency), Money::new(tax, currency)),
                        buyer,
                    )
                }),
        );
    }
    if query.kind != Some(DocumentType::Invoice) {
        let mut notes = credit_notes::table
            .inner_join(orders::table.inner_join(users::table))
            .into_boxed();
        match query.kind {
            Some(DocumentType::CreditNote) => {
                notes = notes.filter(credit_notes::number.like("CN-%"));
            }
            Some(DocumentType::DebitNote) => {
                notes = notes.filter(credit_notes::number.like("DN-%"));
            }
            _ => {}
        }
        if let Some(from) = query.from {
            notes = notes.filter(credit_notes::issued_at.ge(from));
        }
        if let Some(to) = query.to {
            notes = notes.filter(credit_notes::issued_at.lt(to));
        }
        let found: Vec<NoteFound> = notes
            .select((
                credit_notes::number,
                credit_notes::issued_at,
                orders::number,
                credit_notes::invoice_number,
                (credit_notes::amount_cents, credit_notes::tax_cents),
                credit_notes::currency,
                credit_notes::cause,
                (
                    users::name,
                    users::email,
                    orders::buyer_company,
                    orders::buyer_tax_id,
                ),
            ))
            .load(conn)?;
        rows.extend(found.into_iter().map(
            |(number, at, order, credits, (amount, tax), currency, cause, buyer)| {
                let (kind, sign) = if cause.is_credit() {
                    (DocumentType::CreditNote, -1)
                } else {
                    (DocumentType::DebitNote, 1)
                };
                row(
                    kind,
                    number,
                    at,
                    order,
                    Some(credits),
                    (
                        Money::new(sign * amount, currency),
                        Money::new(sign * tax, currency),
                    ),
                    buyer,
                )
            },
        ));
    }
    rows.sort_by(|a, b| (b.issued_at, &b.number).cmp(&(a.issued_at, &a.number)));
    Ok(rows)
}

fn row(
    kind: DocumentType,
    number: String,
    issued_at: NaiveDateTime,
    order_number: String,
    credits: Option<String>,
    (amount, tax): (Money, Money),
    (buyer_name, buyer_email, buyer_company, buyer_tax_id): Buyer,
) -> DocumentRow {
    DocumentRow {
        kind,
        number,
        issued_at,
        order_number,
        credits,
        buyer_name,
        buyer_email,
        buyer_company,
        buyer_tax_id,
        amount,
        tax,
    }
}
