//! An order's invoice, and its whole story for staff: the journal trail,
//! the webhook events, the access it gave.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::escape_like;
use super::journal_queries::{JournalLine, with_running_sum};
use crate::config::Seller;
use crate::db::DbConnection;
use crate::db::schema::{courses, user_courses, users, webhook_events};
use crate::domain::{AccessEnd, Money};
use crate::models::UserId;
use crate::models::credit_note::CreditNote;
use crate::models::journal::JournalRow;
use crate::models::order::Order;
use crate::models::webhook_event::WebhookEvent;
use crate::services::orders::OrderView;

/// The order as its invoice shows it.
pub struct Invoice {
    pub view: OrderView,
    pub customer_name: String,
    pub customer_email: String,
    /// The credit and debit notes that corrected it, oldest first.
    pub credit_notes: Vec<CreditNote>,
    /// The seller as they were when the order was placed; none for older
    /// orders.
    pub seller: Option<Seller>,
    /// What the invoice holds with its notes counted.
    pub balance: Money,
}

/// The invoice of `number`, if `viewer` may see it (their own, or staff).
pub fn invoice(
    conn: &mut DbConnection,
    number: &str,
    viewer: UserId,
    is_staff: bool,
) -> QueryResult<Option<Invoice>> {
    let found = if is_staff {
        Order::find_by_number(conn, number)?
    } else {
        Order::find_by_number_for_user(conn, number, viewer)?
    };
    let Some(order) = found else {
        return Ok(None);
    };
    let (name, email): (String, String) = users::table
        .find(order.user_id)
        .select((users::name, users::email))
        .first(conn)?;
    let credit_notes = CreditNote::for_order(conn, order.id)?;
    let balance = Money::new(
        order.total_cents + credit_notes.iter().map(|n| n.credited().minor).sum::<i64>(),
        order.currency,
    );
    let seller = Seller::from_snapshot(order.seller_details.as_deref());
    Ok(Some(Invoice {
        view: OrderView::load(conn, order)?,
        customer_name: name,
        customer_email: email,
        credit_notes,
        seller,
        balance,
    }))
}

impl Invoice {
    /// The tax's name as the order kept it (`PPN`).
    pub fn tax_name(&self) -> String {
        self.seller
            .as_ref()
            .and_then(|s| s.tax.as_ref())
            .map_or_else(|| "Tax".to_owned(), |t| t.name.clone())
    }

    /// `PPN 11%`, in the reader's way of writing a percentage.
    pub fn tax_label(&self, i18n: impl std::borrow::Borrow<crate::i18n::I18n>) -> String {
        let rate = self
            .seller
            .as_ref()
            .and_then(|s| s.tax.as_ref())
            .map(|t| t.bps);
        match rate {
            Some(bps) => format!("{} {}", self.tax_name(), i18n.borrow().percent(bps)),
            None => self.tax_name(),
        }
    }
}

/// A credit note with the invoice it credits, if `viewer` may see it.
pub struct CreditNoteDoc {
    pub note: CreditNote,
    pub invoice: Invoice,
}

/// The credit note `note_number` of order `number` (either of its numbers).
pub fn credit_note(
    conn: &mut DbConnection,
    number: &str,
    note_number: &str,
    viewer: UserId,
    is_staff: bool,
) -> QueryResult<Option<CreditNoteDoc>> {
    let Some(invoice) = invoice(conn, number, viewer, is_staff)? else {
        return Ok(None);
    };
    let note = invoice
        .credit_notes
        .iter()
        .find(|n| n.number == note_number)
        .cloned();
    Ok(note.map(|note| CreditNoteDoc { note, invoice }))
}

/// A grant the order gave, and whether and why it ended.
pub struct Grant {
    pub title: String,
    pub granted_at: NaiveDateTime,
    pub revoked_at: Option<NaiveDateTime>,
    pub revoke_reason: Option<AccessEnd>,
}

/// Everything an order went through: journal, webhook events, grants.
pub struct OrderStory {
    pub invoice: Invoice,
    pub journal: Vec<JournalLine>,
    pub events: Vec<WebhookEvent>,
    pub grants: Vec<Grant>,
}

pub fn order_story(
    conn: &mut DbConnection,
    number: &str,
    staff: UserId,
) -> QueryResult<Option<OrderStory>> {
    let Some(invoice) = invoice(conn, number, staff, true)? else {
        return Ok(None);
    };
    let order = &invoice.view.order;
    let journal = with_running_sum(JournalRow::for_order(conn, order.id)?, |_| {
        Some(order.number.clone())
    });
    let events = match &order.payment_intent_id {
        Some(intent) => webhook_events::table
            .filter(
                webhook_events::payload
                    .like(format!("%\"{}\"%", escape_like(intent)))
                    .escape('\\'),
            )
            .order(webhook_events::received_at.asc())
            .select(WebhookEvent::as_select())
            .load(conn)?,
        None => Vec::new(),
    };
    let grants = user_courses::table
        .inner_join(courses::table)
        .filter(user_courses::order_id.eq(order.id))
        .order(user_courses::id.asc())
        .select((
            courses::title,
            user_courses::granted_at,
            user_courses::revoked_at,
            user_courses::revoke_reason,
        ))
        .load::<(
            String,
            NaiveDateTime,
            Option<NaiveDateTime>,
            Option<AccessEnd>,
        )>(conn)?
        .into_iter()
        .map(|(title, granted_at, revoked_at, revoke_reason)| Grant {
            title,
            granted_at,
            revoked_at,
            revoke_reason,
        })
        .collect();
    Ok(Some(OrderStory {
        invoice,
        journal,
        events,
        grants,
    }))
}
