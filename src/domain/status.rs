//! Statuses and kinds: every value a TEXT column of ours can hold, as a
//! type. Each enum has `as_str` (what the column stores), `parse` (the
//! reverse, refusing anything else), `ALL` (for filters and menus, so a
//! new value cannot be forgotten there) and `label` (the words people
//! read). They map to TEXT columns on both engines through one generic
//! `ToSql`/`FromSql` pair, as the id newtypes do.

pub use super::text_enum::UnknownValue;
use super::text_enum::text_enum;

text_enum! {
    /// Where an order is in its life (DESIGN §3): it only moves forward,
    /// except that a refund that later fails takes back what it moved.
    pub enum OrderStatus {
        Pending = "pending", "Awaiting payment";
        Paid = "paid", "Paid";
        PartiallyRefunded = "partially_refunded", "Partly refunded";
        Refunded = "refunded", "Refunded";
        Canceled = "canceled", "Canceled";
    }
}

impl OrderStatus {
    /// Paid for, whatever was refunded since.
    pub fn was_paid(self) -> bool {
        matches!(self, Self::Paid | Self::PartiallyRefunded | Self::Refunded)
    }

    /// Waiting for its payment: its cart can still be changed.
    pub fn is_pending(self) -> bool {
        self == Self::Pending
    }

    /// Money is left on it that a refund could return.
    pub fn is_refundable(self) -> bool {
        matches!(self, Self::Paid | Self::PartiallyRefunded)
    }
}

text_enum! {
    /// What a journal row records.
    pub enum JournalKind {
        PaymentInitiated = "payment_initiated", "Payment started";
        Income = "income", "Income";
        FailedPayment = "failed_payment", "Failed payment";
        Refund = "refund", "Refund";
        /// A refund that failed or was canceled after it was counted: the
        /// money stayed with the shop.
        RefundReversed = "refund_reversed", "Refund reversed";
        /// Money returned for a payment never applied to its order (it
        /// succeeded after the order was canceled): not revenue.
        UnappliedRefund = "unapplied_refund", "Refund of an unapplied payment";
        Dispute = "dispute", "Dispute";
        Canceled = "canceled", "Order canceled";
        /// A payment that did not match its order, never applied.
        PaymentMismatch = "payment_mismatch", "Payment mismatch";
        /// The sales tax a payment's income holds: owed to the state.
        Tax = "tax_collected", "Tax collected";
        /// The tax part of a refund (a reversed refund's is collected again).
        TaxRefunded = "tax_refunded", "Tax refunded";
    }
}

text_enum! {
    pub enum JournalStatus {
        Pending = "pending", "Pending";
        Success = "success", "Success";
        Failed = "failed", "Failed";
    }
}

impl JournalKind {
    /// The amount as staff read it: money that left the shop (refunds,
    /// disputed charges) is negative.
    pub fn shown_amount(self, amount: i64) -> i64 {
        match self {
            Self::Refund | Self::Dispute | Self::TaxRefunded => -amount,
            _ => amount,
        }
    }

    /// What a row does to net revenue: + income and reversed refunds,
    /// - refunds and lost disputes; the rest moves no revenue.
    pub fn signed_amount(self, status: JournalStatus, amount: i64) -> i64 {
        match (self, status) {
            (Self::Income | Self::RefundReversed, _) => amount,
            (Self::Refund, _) => -amount,
            (Self::Dispute, JournalStatus::Failed) => -amount,
            _ => 0,
        }
    }
}

text_enum! {
    pub enum PromoKind {
        Percent = "percent", "Percentage";
        Fixed = "fixed", "Fixed amount";
    }
}

text_enum! {
    /// A promo code use: held by a pending order, spent by a paid one, or
    /// given back.
    pub enum RedemptionStatus {
        Reserved = "reserved", "Reserved";
        Redeemed = "redeemed", "Redeemed";
        Released = "released", "Released";
    }
}

text_enum! {
    /// Who took (or did not need to take) an order's payment.
    pub enum Provider {
        Stripe = "stripe", "Stripe";
        Sandbox = "sandbox", "Sandbox";
        /// Nothing to pay (a 100 % code): fulfilled at checkout.
        Free = "free", "Free";
    }
}

text_enum! {
    /// A PaymentIntent's status, as Stripe names them.
    pub enum IntentStatus {
        RequiresPaymentMethod = "requires_payment_method", "Waiting for a payment method";
        RequiresConfirmation = "requires_confirmation", "Waiting for confirmation";
        RequiresAction = "requires_action", "Waiting for the customer's bank";
        Processing = "processing", "Processing";
        RequiresCapture = "requires_capture", "Authorized";
        Succeeded = "succeeded", "Succeeded";
        Canceled = "canceled", "Canceled";
        /// A status this code does not know (a newer API).
        Unknown = "unknown", "Unknown";
    }
}

impl IntentStatus {
    /// Stripe may add statuses: an unknown one is `Unknown`, not an error.
    pub fn from_provider(value: &str) -> Self {
        Self::parse(value).unwrap_or(Self::Unknown)
    }

    /// Nobody has paid yet and nobody is paying: safe to cancel.
    pub fn is_unpaid(self) -> bool {
        matches!(
            self,
            Self::RequiresPaymentMethod | Self::RequiresConfirmation | Self::RequiresAction
        )
    }
}

text_enum! {
    /// A dispute's status, as Stripe names them. `warning_*` are inquiries
    /// (no money taken yet); the rest are chargebacks.
    pub enum DisputeStatus {
        WarningNeedsResponse = "warning_needs_response", "Inquiry: needs response";
        WarningUnderReview = "warning_under_review", "Inquiry: under review";
        WarningClosed = "warning_closed", "Inquiry closed";
        NeedsResponse = "needs_response", "Dispute: needs response";
        UnderReview = "under_review", "Dispute: under review";
        Won = "won", "Dispute won";
        Lost = "lost", "Dispute lost";
        Prevented = "prevented", "Dispute prevented";
    }
}

impl DisputeStatus {
    /// A chargeback still being decided: the money is held, access suspended.
    pub fn is_open_chargeback(self) -> bool {
        matches!(self, Self::NeedsResponse | Self::UnderReview)
    }

    /// Decided: nothing later changes it.
    pub fn is_closed(self) -> bool {
        matches!(
            self,
            Self::WarningClosed | Self::Won | Self::Lost | Self::Prevented
        )
    }

    /// Whether one dispute can move from `self` to `next`. An inquiry can
    /// escalate to a chargeback on the same dispute, never the other way;
    /// a decided dispute stays decided. Anything else is a late delivery.
    pub fn can_become(self, next: Self) -> bool {
        let back_to_inquiry = self.is_open_chargeback()
            && matches!(
                next,
                Self::WarningNeedsResponse | Self::WarningUnderReview | Self::WarningClosed
            );
        !self.is_closed() && !back_to_inquiry
    }

    /// An order whose dispute is in this state can give access: none was
    /// taken (an inquiry, a prevented or won dispute).
    pub fn allows_access(self) -> bool {
        !(self.is_open_chargeback() || self == Self::Lost)
    }
}

text_enum! {
    /// A refund's status, as Stripe names them.
    pub enum RefundStatus {
        Pending = "pending", "Pending";
        RequiresAction = "requires_action", "Requires action";
        Succeeded = "succeeded", "Succeeded";
        Failed = "failed", "Failed";
        Canceled = "canceled", "Canceled";
    }
}

impl RefundStatus {
    /// The money did not go back after all.
    pub fn is_reversed(self) -> bool {
        matches!(self, Self::Failed | Self::Canceled)
    }
}

text_enum! {
    /// The Stripe event types kasir acts on. The webhook endpoint must
    /// listen to each (`kasir stripe doctor` checks it).
    pub enum StripeEvent {
        PaymentIntentSucceeded = "payment_intent.succeeded", "Payment succeeded";
        PaymentIntentFailed = "payment_intent.payment_failed", "Payment failed";
        PaymentIntentProcessing = "payment_intent.processing", "Payment processing";
        PaymentIntentCanceled = "payment_intent.canceled", "Payment canceled";
        ChargeRefunded = "charge.refunded", "Charge refunded";
        ChargeRefundUpdated = "charge.refund.updated", "Charge refund updated";
        RefundCreated = "refund.created", "Refund created";
        RefundUpdated = "refund.updated", "Refund updated";
        RefundFailed = "refund.failed", "Refund failed";
        DisputeCreated = "charge.dispute.created", "Dispute opened";
        DisputeUpdated = "charge.dispute.updated", "Dispute updated";
        DisputeClosed = "charge.dispute.closed", "Dispute closed";
    }
}

text_enum! {
    /// Why a student's access to a course ended.
    pub enum AccessEnd {
        Refunded = "refunded", "Refunded";
        DisputeOpened = "dispute opened", "Dispute opened";
        DisputeLost = "dispute lost", "Dispute lost";
    }
}

text_enum! {
    /// The events kasir sends the learning platform.
    pub enum LmsEvent {
        EnrollmentGranted = "enrollment.granted", "Access granted";
        EnrollmentRevoked = "enrollment.revoked", "Access revoked";
    }
}

text_enum! {
    /// Why a student's access to a course began or ended, as the learning
    /// platform reads it.
    pub enum EnrollmentReason {
        Purchase = "purchase", "Bought";
        Restored = "restored", "Given back (a dispute won or a refund that failed)";
        Refunded = "refunded", "Refunded";
        DisputeOpened = "dispute_opened", "Dispute opened";
        DisputeLost = "dispute_lost", "Dispute lost";
    }
}

impl From<AccessEnd> for EnrollmentReason {
    fn from(end: AccessEnd) -> Self {
        match end {
            AccessEnd::Refunded => Self::Refunded,
            AccessEnd::DisputeOpened => Self::DisputeOpened,
            AccessEnd::DisputeLost => Self::DisputeLost,
        }
    }
}

text_enum! {
    /// The mail kasir sends.
    pub enum MailKind {
        Receipt = "receipt", "Payment receipt";
        RefundNotice = "refund_notice", "Refund notice";
        DisputeNotice = "dispute_notice", "Dispute notice (to staff)";
        PasswordReset = "password_reset", "Password reset";
    }
}

text_enum! {
    /// The languages kasir speaks; each label is the language's own name.
    pub enum Locale {
        En = "en", "English";
        Id = "id", "Bahasa Indonesia";
    }
}

text_enum! {
    pub enum Role {
        Student = "student", "Student";
        Staff = "staff", "Staff";
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_value_parses_back_to_itself_and_nothing_else_parses() {
        fn round_trip<T: Copy + PartialEq + std::fmt::Debug>(
            all: &[T],
            as_str: fn(T) -> &'static str,
            parse: fn(&str) -> Result<T, UnknownValue>,
        ) {
            for value in all {
                assert_eq!(parse(as_str(*value)), Ok(*value));
            }
            assert!(parse("").is_err());
            assert!(parse("PAID").is_err());
        }
        round_trip(OrderStatus::ALL, OrderStatus::as_str, OrderStatus::parse);
        round_trip(JournalKind::ALL, JournalKind::as_str, JournalKind::parse);
        round_trip(
            JournalStatus::ALL,
            JournalStatus::as_str,
            JournalStatus::parse,
        );
        round_trip(PromoKind::ALL, PromoKind::as_str, PromoKind::parse);
        round_trip(
            RedemptionStatus::ALL,
            RedemptionStatus::as_str,
            RedemptionStatus::parse,
        );
        round_trip(Provider::ALL, Provider::as_str, Provider::parse);
        round_trip(IntentStatus::ALL, IntentStatus::as_str, IntentStatus::parse);
        round_trip(
            DisputeStatus::ALL,
            DisputeStatus::as_str,
            DisputeStatus::parse,
        );
        round_trip(RefundStatus::ALL, RefundStatus::as_str, RefundStatus::parse);
        round_trip(Role::ALL, Role::as_str, Role::parse);
        round_trip(StripeEvent::ALL, StripeEvent::as_str, StripeEvent::parse);
        round_trip(AccessEnd::ALL, AccessEnd::as_str, AccessEnd::parse);
        assert_eq!(
            IntentStatus::from_provider("requires_source"),
            IntentStatus::Unknown
        );
    }

    #[test]
    fn revenue_signs_follow_the_kind_and_status() {
        use JournalKind::*;
        use JournalStatus::*;
        assert_eq!(Income.signed_amount(Success, 500), 500);
        assert_eq!(Refund.signed_amount(Success, 500), -500);
        assert_eq!(RefundReversed.signed_amount(Success, 500), 500);
        assert_eq!(Dispute.signed_amount(Failed, 500), -500);
        assert_eq!(Dispute.signed_amount(Pending, 500), 0);
        assert_eq!(Dispute.signed_amount(Success, 500), 0);
        assert_eq!(UnappliedRefund.signed_amount(Success, 500), 0);
        assert_eq!(PaymentMismatch.signed_amount(Failed, 500), 0);
        assert_eq!(PaymentInitiated.signed_amount(Pending, 500), 0);
        assert_eq!(Canceled.signed_amount(Success, 500), 0);
    }

    #[test]
    fn a_dispute_escalates_from_inquiry_to_chargeback_to_decision_only() {
        use DisputeStatus::*;
        assert!(WarningNeedsResponse.can_become(NeedsResponse));
        assert!(WarningUnderReview.can_become(WarningClosed));
        assert!(NeedsResponse.can_become(UnderReview));
        assert!(UnderReview.can_become(Lost));
        assert!(!NeedsResponse.can_become(WarningUnderReview));
        assert!(!UnderReview.can_become(WarningClosed));
        for closed in [WarningClosed, Won, Lost, Prevented] {
            assert!(
                DisputeStatus::ALL
                    .iter()
                    .all(|next| !closed.can_become(*next))
            );
        }
    }

    #[test]
    fn only_open_and_lost_chargebacks_take_access() {
        let taking: Vec<DisputeStatus> = DisputeStatus::ALL
            .iter()
            .copied()
            .filter(|s| !s.allows_access())
            .collect();
        assert_eq!(
            taking,
            [
                DisputeStatus::NeedsResponse,
                DisputeStatus::UnderReview,
                DisputeStatus::Lost
            ]
        );
    }
}
