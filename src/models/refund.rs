use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::OrderId;
use crate::db::DbConnection;
use crate::db::schema::refunds;
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
