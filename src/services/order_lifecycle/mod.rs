//! Every transition of an order (DESIGN §3) and the journal row that goes
//! with it, in one place: placed, payment started, paid, payment failed,
//! canceled, refunded (and a refund reversed), disputed, access granted and
//! revoked. Other services call these; these call only models and the
//! journal. Each runs inside the caller's write transaction and locks the
//! rows it changes before it reads them, in one order everywhere:
//! the cart, then orders, then promo codes; journal rows are appended last.

pub mod access;
mod dispute;
mod notes;
mod payment;
mod place;
mod refund;
mod tax;
mod unapplied;

pub use dispute::{DisputePhase, apply_dispute};
pub use payment::{
    FulfillOutcome, ObservedIntent, attach_payment_intent, cancel_pending_order, fulfill_found,
    fulfill_in_transaction, fulfill_payment, record_failed_payment, record_stray_payment,
};
pub use place::{
    CheckoutError, CheckoutOutcome, CheckoutRequest, PlacedOrder, Superseded, place_order,
};
pub use refund::{apply_charge_refunded, apply_refund_update};

/// The event a change comes from: its id, its `created` and its JSON.
#[derive(Clone, Copy, Debug)]
pub struct EventMeta<'a> {
    pub id: &'a str,
    /// When the provider made the event (its snapshot of the object).
    pub created: chrono::NaiveDateTime,
    pub raw: &'a str,
}

/// Why an event could not be applied.
#[derive(Debug, thiserror::Error)]
pub enum EventError {
    /// The event is for an order that is not there or not paid yet: answer
    /// non-2xx so the provider delivers it again.
    #[error("not ready: {0}")]
    NotReady(String),
    /// A verified event whose object lacks what its type needs.
    #[error("unreadable event: {0}")]
    Unreadable(String),
    #[error(transparent)]
    Database(#[from] diesel::result::Error),
}
