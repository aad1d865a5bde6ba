//! An order turning paid, with its invoice number.

use chrono::{Datelike, NaiveDateTime};
use diesel::prelude::*;
use diesel::sql_types as sql;

use super::OrderId;
use super::document_sequence::{self, DocumentKind};
use super::order::Order;
use crate::db::{DbConnection, kept_statement};
use crate::domain::{OrderStatus, Provider};

kept_statement! {
    /// [`Order::mark_paid`] on SQLite, after the number was taken.
    struct MarkPaid<'a> {
        "UPDATE orders SET status = " {paid: sql::Text = OrderStatus}
        ", provider = " {provider: sql::Text = Provider}
        ", charge_id = " {charge_id: sql::Nullable<sql::Text> = Option<&'a str>}
        ", paid_at = " {now: sql::Timestamp = NaiveDateTime}
        ", updated_at = " {updated_at: sql::Timestamp = NaiveDateTime}
        ", invoice_number = " {invoice_number: sql::Text = &'a str}
        " WHERE id = " {id: sql::BigInt = OrderId}
        " AND status = " {pending: sql::Text = OrderStatus}
    }
}

kept_statement! {
    /// [`Order::mark_paid`] on PostgreSQL: the counter's upsert and the
    /// UPDATE in one statement, so the counter's row, which every payment
    /// queues on, is held for one round trip less. The number is written
    /// as [`document_sequence::next`] writes it: the prefix, then at least
    /// six digits.
    struct MarkPaidNumbered<'a> {
        "WITH n AS (INSERT INTO document_sequences (kind, year, last_number) VALUES (" {kind: sql::Text = &'a str}
        ", " {year: sql::Integer = i32}
        ", 1) ON CONFLICT (kind, year) DO UPDATE SET last_number = document_sequences.last_number + 1 \
         RETURNING last_number) \
         UPDATE orders SET status = " {paid: sql::Text = OrderStatus}
        ", provider = " {provider: sql::Text = Provider}
        ", charge_id = " {charge_id: sql::Nullable<sql::Text> = Option<&'a str>}
        ", paid_at = " {now: sql::Timestamp = NaiveDateTime}
        ", updated_at = " {updated_at: sql::Timestamp = NaiveDateTime}
        ", invoice_number = " {prefix: sql::Text = &'a str}
        " || lpad(n.last_number::text, greatest(6, length(n.last_number::text)), '0') \
         FROM n WHERE orders.id = " {id: sql::BigInt = OrderId}
        " AND orders.status = " {pending: sql::Text = OrderStatus}
    }
}

impl Order {
    /// `pending -> paid` with the year's next invoice number (gap-free, in
    /// payment order), in one UPDATE. Call it as the payment's last write,
    /// on an order the transaction holds and saw pending: the year's
    /// counter row stays locked from here to commit, so every payment
    /// queues on it only for that long. An order not pending is an error
    /// (`NotFound`): the transaction must roll back, or its number would
    /// be lost.
    pub fn mark_paid(
        conn: &mut DbConnection,
        id: OrderId,
        provider: Provider,
        charge_id: Option<&str>,
        now: NaiveDateTime,
    ) -> QueryResult<()> {
        let (paid, pending) = (OrderStatus::Paid, OrderStatus::Pending);
        let kind = DocumentKind::Invoice;
        let year = now.year();
        let moved = match conn {
            DbConnection::Postgresql(pg) => MarkPaidNumbered {
                kind: kind.key(),
                year,
                paid,
                provider,
                charge_id,
                now,
                updated_at: now,
                prefix: &kind.prefix(year),
                id,
                pending,
            }
            .execute(pg)?,
            DbConnection::Sqlite(_) => MarkPaid {
                paid,
                provider,
                charge_id,
                now,
                updated_at: now,
                invoice_number: &document_sequence::next(conn, kind, year)?,
                id,
                pending,
            }
            .execute(conn)?,
        };
        if moved == 1 {
            Ok(())
        } else {
            Err(diesel::result::Error::NotFound)
        }
    }
}
