use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::DbConnection;
use crate::db::schema::sandbox_payment_intents;
use crate::domain::IntentStatus;

/// The sandbox provider's PaymentIntents, kept in the shop's own database.
#[derive(Queryable, Selectable, Insertable, Clone, Debug)]
#[diesel(table_name = sandbox_payment_intents)]
#[diesel(treat_none_as_default_value = false)]
pub struct SandboxIntent {
    pub id: String,
    pub client_secret: String,
    pub amount: i64,
    pub currency: String,
    pub status: IntentStatus,
    pub metadata: String,
    pub last_error: Option<String>,
    pub idempotency_key: String,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    pub amount_refunded: i64,
}

impl SandboxIntent {
    pub fn find(conn: &mut DbConnection, id: &str) -> QueryResult<Option<Self>> {
        sandbox_payment_intents::table
            .find(id)
            .select(Self::as_select())
            .first(conn)
            .optional()
    }

    pub fn find_by_idempotency_key(
        conn: &mut DbConnection,
        key: &str,
    ) -> QueryResult<Option<Self>> {
        sandbox_payment_intents::table
            .filter(sandbox_payment_intents::idempotency_key.eq(key))
            .select(Self::as_select())
            .first(conn)
            .optional()
    }

    pub fn insert(&self, conn: &mut DbConnection) -> QueryResult<usize> {
        diesel::insert_into(sandbox_payment_intents::table)
            .values(self)
            .execute(conn)
    }

    /// Moves the intent from one of `from` to `to`; returns whether it moved.
    pub fn transition(
        conn: &mut DbConnection,
        id: &str,
        from: &[IntentStatus],
        to: IntentStatus,
        last_error: Option<&str>,
        now: NaiveDateTime,
    ) -> QueryResult<bool> {
        let moved = diesel::update(
            sandbox_payment_intents::table
                .find(id)
                .filter(sandbox_payment_intents::status.eq_any(from)),
        )
        .set((
            sandbox_payment_intents::status.eq(to),
            sandbox_payment_intents::last_error.eq(last_error),
            sandbox_payment_intents::updated_at.eq(now),
        ))
        .execute(conn)?;
        Ok(moved == 1)
    }

    /// Adds a refund to a succeeded intent, never beyond its amount.
    pub fn add_refund(
        conn: &mut DbConnection,
        id: &str,
        amount: i64,
        now: NaiveDateTime,
    ) -> QueryResult<bool> {
        let moved = diesel::update(
            sandbox_payment_intents::table
                .find(id)
                .filter(sandbox_payment_intents::status.eq(IntentStatus::Succeeded))
                .filter(
                    sandbox_payment_intents::amount_refunded
                        .le(sandbox_payment_intents::amount - amount),
                ),
        )
        .set((
            sandbox_payment_intents::amount_refunded
                .eq(sandbox_payment_intents::amount_refunded + amount),
            sandbox_payment_intents::updated_at.eq(now),
        ))
        .execute(conn)?;
        Ok(moved == 1)
    }
}

/// A refund the sandbox made, keyed like Stripe's by its idempotency key.
#[derive(Queryable, Selectable, Insertable, Clone, Debug)]
#[diesel(table_name = crate::db::schema::sandbox_refunds)]
#[diesel(treat_none_as_default_value = false)]
pub struct SandboxRefund {
    pub id: String,
    pub payment_intent_id: String,
    pub amount: i64,
    pub idempotency_key: String,
    pub created_at: NaiveDateTime,
}

impl SandboxRefund {
    pub fn find_by_key(conn: &mut DbConnection, key: &str) -> QueryResult<Option<Self>> {
        use crate::db::schema::sandbox_refunds;
        sandbox_refunds::table
            .filter(sandbox_refunds::idempotency_key.eq(key))
            .select(Self::as_select())
            .first(conn)
            .optional()
    }

    pub fn insert(&self, conn: &mut DbConnection) -> QueryResult<usize> {
        diesel::insert_into(crate::db::schema::sandbox_refunds::table)
            .values(self)
            .execute(conn)
    }
}
