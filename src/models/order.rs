use chrono::NaiveDateTime;
use diesel::prelude::*;

pub use super::order_item::OrderItem;
use super::{CourseId, OrderId, PromoCodeId, UserId};
use crate::db::DbConnection;
use crate::db::schema::{order_items, orders};
use crate::domain::{Currency, DisputeStatus, OrderStatus, Provider};

#[derive(Queryable, Selectable, Identifiable, Clone, Debug)]
#[diesel(table_name = orders)]
pub struct Order {
    pub id: OrderId,
    pub number: String,
    pub user_id: UserId,
    pub status: OrderStatus,
    pub subtotal_cents: i64,
    pub discount_cents: i64,
    pub total_cents: i64,
    pub refunded_cents: i64,
    pub currency: Currency,
    pub promo_code_id: Option<PromoCodeId>,
    pub promo_code: Option<String>,
    pub promo_snapshot: Option<String>,
    pub provider: Provider,
    pub payment_intent_id: Option<String>,
    pub paid_at: Option<NaiveDateTime>,
    pub canceled_at: Option<NaiveDateTime>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    pub cart_fingerprint: Option<String>,
    /// Why staff must look at this order (a payment that did not match).
    pub review_note: Option<String>,
    /// The charge that paid it, for events that name only the charge.
    pub charge_id: Option<String>,
    pub dispute_id: Option<String>,
    /// The order's dispute as the last dispute event left it.
    pub dispute_status: Option<DisputeStatus>,
    /// When the charge snapshot that set `refunded_cents` was taken.
    pub refunds_as_of: Option<NaiveDateTime>,
    /// Given when the order is paid, from a gap-free yearly sequence.
    pub invoice_number: Option<String>,
    /// The number the order had before order and invoice numbers parted.
    pub legacy_number: Option<String>,
    /// The seller's details when the order was placed (JSON of
    /// `config::Seller`); none for orders placed before they were kept.
    pub seller_details: Option<String>,
    /// The buyer's billing details when the order was placed.
    pub buyer_company: Option<String>,
    pub buyer_address: Option<String>,
    pub buyer_tax_id: Option<String>,
    /// The sales tax in `total_cents`; 0 when untaxed. Its name and rate
    /// are in `seller_details`.
    pub tax_cents: i64,
    /// The prices included the tax (`total = subtotal - discount`), or it
    /// was added on top (`total = subtotal - discount + tax`).
    pub tax_inclusive: bool,
}

#[derive(Insertable)]
#[diesel(table_name = orders)]
#[diesel(treat_none_as_default_value = false)]
pub struct NewOrder<'a> {
    /// A unique placeholder; the real number is derived from the id.
    pub number: &'a str,
    pub user_id: UserId,
    pub status: OrderStatus,
    pub subtotal_cents: i64,
    pub discount_cents: i64,
    pub total_cents: i64,
    pub currency: Currency,
    pub promo_code_id: Option<PromoCodeId>,
    pub promo_code: Option<&'a str>,
    pub promo_snapshot: Option<&'a str>,
    pub provider: Provider,
    pub cart_fingerprint: Option<&'a str>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    pub seller_details: Option<&'a str>,
    pub buyer_company: Option<&'a str>,
    pub buyer_address: Option<&'a str>,
    pub buyer_tax_id: Option<&'a str>,
    pub tax_cents: i64,
    pub tax_inclusive: bool,
}

impl Order {
    pub fn find(conn: &mut DbConnection, id: OrderId) -> QueryResult<Option<Self>> {
        orders::table
            .find(id)
            .select(Self::as_select())
            .first(conn)
            .optional()
    }

    /// The order, held until the transaction ends, so its status read here
    /// is the one every write of this transaction starts from.
    pub fn lock(conn: &mut DbConnection, id: OrderId) -> QueryResult<Option<Self>> {
        let rows: Vec<Self> =
            crate::db::lock_rows!(conn, orders::table.find(id).select(Self::as_select()))?;
        Ok(rows.into_iter().next())
    }

    /// [`Order::lock`] by PaymentIntent.
    pub fn lock_by_payment_intent(
        conn: &mut DbConnection,
        intent_id: &str,
    ) -> QueryResult<Option<Self>> {
        let rows: Vec<Self> = crate::db::lock_rows!(
            conn,
            orders::table
                .filter(orders::payment_intent_id.eq(intent_id))
                .select(Self::as_select())
        )?;
        Ok(rows.into_iter().next())
    }

    /// [`Order::lock`] by the charge that paid it.
    pub fn lock_by_charge(conn: &mut DbConnection, charge_id: &str) -> QueryResult<Option<Self>> {
        let rows: Vec<Self> = crate::db::lock_rows!(
            conn,
            orders::table
                .filter(orders::charge_id.eq(charge_id))
                .select(Self::as_select())
        )?;
        Ok(rows.into_iter().next())
    }

    pub fn pending_for_user(conn: &mut DbConnection, user_id: UserId) -> QueryResult<Vec<Self>> {
        orders::table
            .filter(orders::user_id.eq(user_id))
            .filter(orders::status.eq(OrderStatus::Pending))
            .order(orders::id.desc())
            .select(Self::as_select())
            .load(conn)
    }

    pub fn items(&self, conn: &mut DbConnection) -> QueryResult<Vec<OrderItem>> {
        order_items::table
            .filter(order_items::order_id.eq(self.id))
            .order(order_items::id.asc())
            .select(OrderItem::as_select())
            .load(conn)
    }

    /// `pending -> canceled`, only from pending; returns whether it moved.
    pub fn cancel_if_pending(
        conn: &mut DbConnection,
        id: OrderId,
        now: NaiveDateTime,
    ) -> QueryResult<bool> {
        let moved = diesel::update(
            orders::table
                .find(id)
                .filter(orders::status.eq(OrderStatus::Pending)),
        )
        .set((
            orders::status.eq(OrderStatus::Canceled),
            orders::canceled_at.eq(now),
            orders::updated_at.eq(now),
        ))
        .execute(conn)?;
        Ok(moved == 1)
    }

    pub fn find_by_payment_intent(
        conn: &mut DbConnection,
        intent_id: &str,
    ) -> QueryResult<Option<Self>> {
        orders::table
            .filter(orders::payment_intent_id.eq(intent_id))
            .select(Self::as_select())
            .first(conn)
            .optional()
    }

    /// Flags the order for staff with the reason; the first reason stays.
    pub fn flag_for_review(
        conn: &mut DbConnection,
        id: OrderId,
        note: &str,
        now: NaiveDateTime,
    ) -> QueryResult<usize> {
        diesel::update(orders::table.find(id).filter(orders::review_note.is_null()))
            .set((orders::review_note.eq(note), orders::updated_at.eq(now)))
            .execute(conn)
    }

    /// Sets what has been refunded (a refund that fails later lowers it
    /// again), the status that goes with it, and the time of the charge
    /// snapshot it was read from. Call it with the order locked.
    pub fn set_refunded(
        conn: &mut DbConnection,
        id: OrderId,
        refunded_cents: i64,
        status: OrderStatus,
        as_of: Option<NaiveDateTime>,
        now: NaiveDateTime,
    ) -> QueryResult<usize> {
        diesel::update(orders::table.find(id))
            .set((
                orders::refunded_cents.eq(refunded_cents),
                orders::status.eq(status),
                orders::refunds_as_of.eq(as_of),
                orders::updated_at.eq(now),
            ))
            .execute(conn)
    }

    /// Records the order's dispute as the latest dispute event has it.
    pub fn set_dispute(
        conn: &mut DbConnection,
        id: OrderId,
        dispute_id: &str,
        status: DisputeStatus,
        now: NaiveDateTime,
    ) -> QueryResult<usize> {
        diesel::update(orders::table.find(id))
            .set((
                orders::dispute_id.eq(dispute_id),
                orders::dispute_status.eq(status),
                orders::updated_at.eq(now),
            ))
            .execute(conn)
    }

    /// The other orders of the user that hold this course and may give
    /// access: paid or partly refunded, with no chargeback open or lost.
    pub fn other_access_sources(
        conn: &mut DbConnection,
        user_id: UserId,
        course_id: CourseId,
        except: OrderId,
    ) -> QueryResult<Vec<OrderId>> {
        let harmless: Vec<DisputeStatus> = DisputeStatus::ALL
            .iter()
            .copied()
            .filter(|s| s.allows_access())
            .collect();
        orders::table
            .inner_join(order_items::table)
            .filter(orders::user_id.eq(user_id))
            .filter(orders::id.ne(except))
            .filter(orders::status.eq_any([OrderStatus::Paid, OrderStatus::PartiallyRefunded]))
            .filter(
                orders::dispute_status
                    .is_null()
                    .or(orders::dispute_status.eq_any(harmless)),
            )
            .filter(order_items::course_id.eq(course_id))
            .order(orders::id.asc())
            .select(orders::id)
            .load(conn)
    }

    /// Marks the order as looked at now (its payment page was shown): the
    /// sweep gives up only on orders left alone.
    pub fn touch(conn: &mut DbConnection, id: OrderId, now: NaiveDateTime) -> QueryResult<usize> {
        diesel::update(orders::table.find(id))
            .set(orders::updated_at.eq(now))
            .execute(conn)
    }

    /// Pending orders without a PaymentIntent untouched since `before`
    /// (the provider was down at checkout, or nobody came back).
    pub fn pending_without_intent_idle_since(
        conn: &mut DbConnection,
        before: NaiveDateTime,
    ) -> QueryResult<Vec<Self>> {
        orders::table
            .filter(orders::status.eq(OrderStatus::Pending))
            .filter(orders::payment_intent_id.is_null())
            .filter(orders::updated_at.lt(before))
            .order(orders::id.asc())
            .select(Self::as_select())
            .load(conn)
    }

    /// Pending orders with a PaymentIntent, created before `before`.
    pub fn pending_with_intent_before(
        conn: &mut DbConnection,
        before: NaiveDateTime,
    ) -> QueryResult<Vec<Self>> {
        orders::table
            .filter(orders::status.eq(OrderStatus::Pending))
            .filter(orders::payment_intent_id.is_not_null())
            .filter(orders::created_at.lt(before))
            .order(orders::id.asc())
            .select(Self::as_select())
            .load(conn)
    }

    /// Stores the PaymentIntent id unless one is stored already (compare and
    /// set); returns whether this call stored it.
    pub fn attach_payment_intent(
        conn: &mut DbConnection,
        id: OrderId,
        intent_id: &str,
    ) -> QueryResult<bool> {
        let moved = diesel::update(
            orders::table
                .find(id)
                .filter(orders::payment_intent_id.is_null()),
        )
        .set((
            orders::payment_intent_id.eq(intent_id),
            orders::updated_at.eq(crate::db::now()),
        ))
        .execute(conn)?;
        Ok(moved == 1)
    }
}

impl NewOrder<'_> {
    /// Inserts the order and its lines, and gives it its order number
    /// (`ORD-<year>-<id, 6 digits>`), unique because the id is. Its invoice
    /// number comes when it is paid.
    pub fn insert(&self, conn: &mut DbConnection, lines: &[OrderItem]) -> QueryResult<Order> {
        let id: OrderId = diesel::insert_into(orders::table)
            .values(self)
            .returning(orders::id)
            .get_result(conn)?;
        let number = format!("ORD-{}-{:06}", self.created_at.format("%Y"), id.0);
        diesel::update(orders::table.find(id))
            .set(orders::number.eq(&number))
            .execute(conn)?;
        for line in lines {
            diesel::insert_into(order_items::table)
                .values((
                    order_items::order_id.eq(id),
                    order_items::course_id.eq(line.course_id),
                    order_items::title.eq(&line.title),
                    order_items::unit_price_cents.eq(line.unit_price_cents),
                    order_items::discount_cents.eq(line.discount_cents),
                    order_items::total_cents.eq(line.total_cents),
                    order_items::tax_cents.eq(line.tax_cents),
                ))
                .execute(conn)?;
        }
        orders::table
            .find(id)
            .select(Order::as_select())
            .first(conn)
    }
}
