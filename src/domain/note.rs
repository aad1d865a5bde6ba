//! Why a note corrects an invoice after it was issued.

use super::text_enum::{UnknownValue, text_enum};

text_enum! {
    /// What a credit or debit note records. Credit notes take money off
    /// an invoice; debit notes put back what a credit note took off.
    pub enum NoteCause {
        /// A refund was counted.
        Refund = "refund", "Refund";
        /// A chargeback took the money back.
        Dispute = "dispute", "Chargeback";
        /// A counted refund failed or was canceled: the money stayed.
        RefundReversed = "refund_reversed", "Refund reversed";
        /// The chargeback was decided for the shop: its money came back.
        DisputeWon = "dispute_won", "Chargeback won";
    }
}

impl NoteCause {
    /// A credit note (`CN-…`) takes money off the invoice; else it is a
    /// debit note (`DN-…`) that puts it back.
    pub fn is_credit(self) -> bool {
        matches!(self, Self::Refund | Self::Dispute)
    }

    /// The id of the document's name in the message files.
    pub fn document_message_id(self) -> &'static str {
        if self.is_credit() {
            "credit-note-heading"
        } else {
            "debit-note-heading"
        }
    }
}
