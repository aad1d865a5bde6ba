//! One batch of historical orders with everything their life left
//! behind: lines, grants, promo uses and their journal rows.

use chrono::{NaiveDateTime, TimeDelta};
use diesel::prelude::*;

use crate::db::schema::{order_items, orders, promo_redemptions, user_courses};
use crate::db::{self, DbConnection};
use crate::domain::{
    AccessEnd, Currency, IntentStatus, JournalKind, JournalStatus, OrderStatus, Provider,
    RedemptionStatus, StripeEvent,
};
use crate::models::{CourseId, OrderId, PromoCodeId, UserId};
use crate::payments::stripe_json;
use crate::services::journal::{JournalEntry, append_history};

use super::seed::price_of;
use super::{BATCH, PROMO_BPS, PROMO_CODE, order_number};

pub(super) struct PlannedOrder {
    pub(super) id: OrderId,
    pub(super) user: u32,
    pub(super) lines: Vec<u32>,
    pub(super) pending: bool,
    pub(super) promo: bool,
    pub(super) refunded: bool,
    pub(super) created: NaiveDateTime,
    pub(super) spacing: TimeDelta,
}

impl PlannedOrder {
    fn intent(&self) -> String {
        format!("pi_bench_{}", self.id.0)
    }
}

#[derive(Default)]
pub(super) struct Written {
    pub(super) journal_rows: u64,
    pub(super) grants: u64,
    pub(super) redemptions: i64,
}

/// Orders, their lines, grants, promo redemptions and chained journal rows,
/// as the checkout and the webhook would have left them.
#[allow(clippy::too_many_arguments)]
pub(super) fn insert_orders(
    conn: &mut DbConnection,
    planned: &[PlannedOrder],
    currency: Currency,
    promo_id: PromoCodeId,
    titles: &[String],
    course_id: &dyn Fn(u32) -> CourseId,
    user_id: &dyn Fn(u32) -> UserId,
) -> anyhow::Result<Written> {
    let mut written = Written::default();
    let mut order_rows = Vec::with_capacity(planned.len());
    let mut item_rows = Vec::new();
    let mut grant_rows = Vec::new();
    let mut redemption_rows = Vec::new();
    // The journal's texts, kept alive for the borrowed entries below.
    let mut texts: Vec<JournalTexts> = Vec::with_capacity(planned.len());
    for order in planned {
        let number = order_number(order.created, order.id);
        let mut subtotal = 0;
        let mut discount = 0;
        for &c in &order.lines {
            let unit = price_of(c);
            let off = if order.promo {
                unit * PROMO_BPS / 10_000
            } else {
                0
            };
            subtotal += unit;
            discount += off;
            item_rows.push((
                order_items::order_id.eq(order.id),
                order_items::course_id.eq(course_id(c)),
                order_items::title.eq(&titles[c as usize]),
                order_items::unit_price_cents.eq(unit),
                order_items::discount_cents.eq(off),
                order_items::total_cents.eq(unit - off),
            ));
        }
        let total = subtotal - discount;
        let paid_at = (!order.pending).then(|| order.created + order.spacing / 4);
        let refunded_at = order.created + order.spacing / 2;
        let status = match (order.pending, order.refunded) {
            (true, _) => OrderStatus::Pending,
            (false, true) => OrderStatus::Refunded,
            (false, false) => OrderStatus::Paid,
        };
        if !order.pending {
            for &c in &order.lines {
                grant_rows.push((
                    user_courses::user_id.eq(user_id(order.user)),
                    user_courses::course_id.eq(course_id(c)),
                    user_courses::order_id.eq(Some(order.id)),
                    user_courses::granted_at.eq(paid_at.unwrap_or(order.created)),
                    user_courses::revoked_at.eq(order.refunded.then_some(refunded_at)),
                    user_courses::revoke_reason.eq(order.refunded.then_some(AccessEnd::Refunded)),
                    user_courses::changed_at.eq(if order.refunded {
                        refunded_at
                    } else {
                        paid_at.unwrap_or(order.created)
                    }),
                ));
            }
        }
        if order.promo {
            redemption_rows.push((
                promo_redemptions::promo_code_id.eq(promo_id),
                promo_redemptions::order_id.eq(order.id),
                promo_redemptions::user_id.eq(user_id(order.user)),
                promo_redemptions::status.eq(RedemptionStatus::Redeemed),
                promo_redemptions::created_at.eq(order.created),
                promo_redemptions::updated_at.eq(paid_at.unwrap_or(order.created)),
            ));
        }
        order_rows.push((
            orders::id.eq(order.id),
            orders::number.eq(number.clone()),
            orders::user_id.eq(user_id(order.user)),
            orders::status.eq(status),
            orders::subtotal_cents.eq(subtotal),
            orders::discount_cents.eq(discount),
            orders::total_cents.eq(total),
            orders::refunded_cents.eq(if order.refunded { total } else { 0 }),
            orders::currency.eq(currency),
            orders::promo_code_id.eq(order.promo.then_some(promo_id)),
            orders::promo_code.eq(order.promo.then_some(PROMO_CODE)),
            orders::provider.eq(Provider::Sandbox),
            orders::payment_intent_id.eq(Some(order.intent())),
            orders::paid_at.eq(paid_at),
            orders::created_at.eq(order.created),
            orders::updated_at.eq(order.created),
        ));
        texts.push(JournalTexts::new(order, &number, total, currency));
    }
    db::insert_batch!(&mut *conn, orders::table, &order_rows)?;
    for chunk in item_rows.chunks(BATCH) {
        db::insert_batch!(&mut *conn, order_items::table, chunk)?;
    }
    for chunk in grant_rows.chunks(BATCH) {
        written.grants += db::insert_batch!(&mut *conn, user_courses::table, chunk)? as u64;
    }
    if !redemption_rows.is_empty() {
        written.redemptions =
            db::insert_batch!(&mut *conn, promo_redemptions::table, &redemption_rows)? as i64;
    }
    let mut entries = Vec::with_capacity(planned.len() * 3);
    for (order, t) in planned.iter().zip(&texts) {
        entries.push((
            JournalEntry {
                kind: JournalKind::PaymentInitiated,
                status: JournalStatus::Pending,
                amount_cents: t.total,
                currency,
                description: &t.initiated,
                order_id: Some(order.id),
                metadata: &t.intent_json,
                provider_event_id: None,
                idempotency_key: &t.initiated_key,
            },
            order.created,
        ));
        if order.pending {
            continue;
        }
        entries.push((
            JournalEntry {
                kind: JournalKind::Income,
                status: JournalStatus::Success,
                amount_cents: t.total,
                currency,
                description: &t.income,
                order_id: Some(order.id),
                metadata: &t.event_json,
                provider_event_id: Some(&t.event_id),
                idempotency_key: &t.income_key,
            },
            order.created + order.spacing / 4,
        ));
        if order.refunded {
            entries.push((
                JournalEntry {
                    kind: JournalKind::Refund,
                    status: JournalStatus::Success,
                    amount_cents: t.total,
                    currency,
                    description: &t.refund,
                    order_id: Some(order.id),
                    metadata: &t.refund_json,
                    provider_event_id: None,
                    idempotency_key: &t.refund_key,
                },
                order.created + order.spacing / 2,
            ));
        }
    }
    // ~1 KiB of metadata per row: batches of 200 keep statements modest.
    for chunk in entries.chunks(200) {
        append_history(conn, chunk)?;
        written.journal_rows += chunk.len() as u64;
    }
    Ok(written)
}

/// Texts of one order's journal rows, shaped like what Stripe sends.
struct JournalTexts {
    total: i64,
    initiated: String,
    initiated_key: String,
    intent_json: String,
    income: String,
    income_key: String,
    event_id: String,
    event_json: String,
    refund: String,
    refund_key: String,
    refund_json: String,
}

impl JournalTexts {
    fn new(order: &PlannedOrder, number: &str, total: i64, currency: Currency) -> Self {
        let intent = order.intent();
        let object = intent_object(
            &intent,
            order.id,
            number,
            total,
            currency,
            IntentStatus::Succeeded,
        );
        let event_id = format!("evt_bench_hist_{}", order.id.0);
        Self {
            total,
            initiated: format!("Payment started for order {number}"),
            initiated_key: format!("pi-{intent}-initiated"),
            intent_json: intent_object(
                &intent,
                order.id,
                number,
                total,
                currency,
                IntentStatus::RequiresPaymentMethod,
            )
            .to_string(),
            income: format!("Payment received for order {number}"),
            income_key: format!("order-{}-income", order.id.0),
            event_json: event(
                &event_id,
                StripeEvent::PaymentIntentSucceeded,
                object,
                order.created,
            )
            .to_string(),
            event_id,
            refund: format!("Refund for order {number}"),
            refund_key: format!("charge-ch_bench_{}-refunded-{total}", order.id.0),
            refund_json: stripe_json::charge(
                &format!("ch_bench_{}", order.id.0),
                &intent,
                total,
                total,
                &currency.code().to_lowercase(),
            )
            .to_string(),
        }
    }
}

pub(super) fn intent_object(
    intent: &str,
    order: OrderId,
    number: &str,
    amount: i64,
    currency: Currency,
    status: IntentStatus,
) -> serde_json::Value {
    stripe_json::payment_intent(&stripe_json::Intent {
        id: intent,
        amount,
        currency: &currency.code().to_lowercase(),
        status: status.as_str(),
        metadata: serde_json::json!({
            crate::payments::METADATA_ORDER_ID: order.0.to_string(),
            crate::payments::METADATA_ORDER_NUMBER: number,
        }),
        last_error: None,
        latest_charge: None,
    })
}

pub(super) fn event(
    id: &str,
    kind: StripeEvent,
    object: serde_json::Value,
    at: NaiveDateTime,
) -> serde_json::Value {
    stripe_json::event(id, kind, object, at.and_utc().timestamp())
}
