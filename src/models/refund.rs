use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::{OrderId, UserId};
use crate::db::DbConnection;
use crate::db::schema::{refund_requests, refunds};
use crate::domain::{Currency, RefundStatus};

/// A refund the provider told us about, one row per provider refund id.
#[derive(Queryable, Selectable, Clone, Debug)]
#[diesel(table_name = refunds)]
pub struct RefundRow {
    pub id: i64,
    pub provider_refund_id: String,
    pub order_id: OrderId,
    pub amount_cents: i64,
    pub currency: Currency,
    pub status: RefundStatus,
    /// The refund's own `created` at the provider.
    pub provider_created_at: NaiveDateTime,
    /// The `created` of the event that said it failed or was canceled.
    pub reversed_as_of: Option<NaiveDateTime>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

/// What an event says of one refund.
pub struct ObservedRefund<'a> {
    pub provider_refund_id: &'a str,
    pub order_id: OrderId,
    pub amount_cents: i64,
    pub currency: Currency,
    pub status: RefundStatus,
    pub provider_created_at: NaiveDateTime,
}

impl RefundRow {
    pub fn find(conn: &mut DbConnection, provider_refund_id: &str) -> QueryResult<Option<Self>> {
        refunds::table
            .filter(refunds::provider_refund_id.eq(provider_refund_id))
            .select(Self::as_select())
            .first(conn)
            .optional()
    }

    /// Records the refund, or its new status. A reversed refund stays
    /// reversed: a late "succeeded" for it changes nothing.
    pub fn record(
        conn: &mut DbConnection,
        refund: &ObservedRefund<'_>,
        reversed_as_of: Option<NaiveDateTime>,
        now: NaiveDateTime,
    ) -> QueryResult<RefundRow> {
        match Self::find(conn, refund.provider_refund_id)? {
            Some(known) if known.status.is_reversed() => Ok(known),
            Some(known) => {
                diesel::update(refunds::table.find(known.id))
                    .set((
                        refunds::status.eq(refund.status),
                        refunds::reversed_as_of.eq(reversed_as_of),
                        refunds::updated_at.eq(now),
                    ))
                    .execute(conn)?;
                Ok(RefundRow {
                    status: refund.status,
                    reversed_as_of,
                    updated_at: now,
                    ..known
                })
            }
            None => diesel::insert_into(refunds::table)
                .values((
                    refunds::provider_refund_id.eq(refund.provider_refund_id),
                    refunds::order_id.eq(refund.order_id),
                    refunds::amount_cents.eq(refund.amount_cents),
                    refunds::currency.eq(refund.currency),
                    refunds::status.eq(refund.status),
                    refunds::provider_created_at.eq(refund.provider_created_at),
                    refunds::reversed_as_of.eq(reversed_as_of),
                    refunds::created_at.eq(now),
                    refunds::updated_at.eq(now),
                ))
                .returning(refunds::all_columns)
                .get_result(conn),
        }
    }

    /// The order's refunds that failed or were canceled.
    pub fn reversed_for_order(
        conn: &mut DbConnection,
        order_id: OrderId,
    ) -> QueryResult<Vec<Self>> {
        refunds::table
            .filter(refunds::order_id.eq(order_id))
            .filter(refunds::reversed_as_of.is_not_null())
            .order(refunds::id.asc())
            .select(Self::as_select())
            .load(conn)
    }
}

/// A refund staff asked for, kept from before the provider is asked until
/// a journal row gives its reason.
#[derive(Queryable, Selectable, Clone, Debug)]
#[diesel(table_name = refund_requests)]
pub struct RefundRequestRow {
    pub id: i64,
    pub order_id: OrderId,
    pub amount_cents: i64,
    pub currency: Currency,
    pub reason: String,
    pub requested_by: UserId,
    pub idempotency_key: String,
    pub provider_refund_id: Option<String>,
    pub journalled_at: Option<NaiveDateTime>,
    pub created_at: NaiveDateTime,
}

/// A refund request before it is sent.
pub struct NewRefundRequest {
    pub order_id: OrderId,
    pub amount_cents: i64,
    pub currency: Currency,
    pub reason: String,
    pub requested_by: UserId,
    pub idempotency_key: String,
}

impl RefundRequestRow {
    /// Notes the request; the same key twice (the same form sent twice)
    /// is one request. Returns whether it was new.
    pub fn note(
        conn: &mut DbConnection,
        request: &NewRefundRequest,
        now: NaiveDateTime,
    ) -> QueryResult<bool> {
        crate::db::per_engine!(conn, c => diesel::insert_into(refund_requests::table)
            .values((
                refund_requests::order_id.eq(request.order_id),
                refund_requests::amount_cents.eq(request.amount_cents),
                refund_requests::currency.eq(request.currency),
                refund_requests::reason.eq(&request.reason),
                refund_requests::requested_by.eq(request.requested_by),
                refund_requests::idempotency_key.eq(&request.idempotency_key),
                refund_requests::created_at.eq(now),
            ))
            .on_conflict_do_nothing()
            .execute(c))
        .map(|n| n == 1)
    }

    /// The provider made the refund.
    pub fn answered(
        conn: &mut DbConnection,
        idempotency_key: &str,
        provider_refund_id: &str,
    ) -> QueryResult<()> {
        diesel::update(
            refund_requests::table.filter(refund_requests::idempotency_key.eq(idempotency_key)),
        )
        .set(refund_requests::provider_refund_id.eq(provider_refund_id))
        .execute(conn)
        .map(drop)
    }

    /// The provider refused: nothing was refunded, so nothing to explain.
    pub fn forget(conn: &mut DbConnection, idempotency_key: &str) -> QueryResult<()> {
        diesel::delete(
            refund_requests::table
                .filter(refund_requests::idempotency_key.eq(idempotency_key))
                .filter(refund_requests::provider_refund_id.is_null())
                .filter(refund_requests::journalled_at.is_null()),
        )
        .execute(conn)
        .map(drop)
    }

    /// The requests a refund of `amount` on the order accounts for, oldest
    /// first, as many as fit in it; marked journalled.
    pub fn explain(
        conn: &mut DbConnection,
        order_id: OrderId,
        amount: i64,
        now: NaiveDateTime,
    ) -> QueryResult<Vec<Self>> {
        let waiting: Vec<Self> = refund_requests::table
            .filter(refund_requests::order_id.eq(order_id))
            .filter(refund_requests::journalled_at.is_null())
            .order(refund_requests::id.asc())
            .select(Self::as_select())
            .load(conn)?;
        let mut left = amount;
        let mut taken = Vec::new();
        for request in waiting {
            if request.amount_cents > left {
                break;
            }
            left -= request.amount_cents;
            taken.push(request);
        }
        let ids: Vec<i64> = taken.iter().map(|r| r.id).collect();
        if !ids.is_empty() {
            diesel::update(refund_requests::table.filter(refund_requests::id.eq_any(&ids)))
                .set(refund_requests::journalled_at.eq(now))
                .execute(conn)?;
        }
        Ok(taken)
    }
}
