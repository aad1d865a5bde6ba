use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::{CourseId, OrderId, PromoCodeId, UserId};
use crate::db::DbConnection;
use crate::db::schema::{order_items, orders};

pub const PENDING: &str = "pending";
pub const PAID: &str = "paid";
pub const CANCELED: &str = "canceled";
pub const PARTIALLY_REFUNDED: &str = "partially_refunded";
pub const REFUNDED: &str = "refunded";

#[derive(Queryable, Selectable, Identifiable, Clone, Debug)]
#[diesel(table_name = orders)]
pub struct Order {
    pub id: OrderId,
    pub number: String,
    pub user_id: UserId,
    pub status: String,
    pub subtotal_cents: i64,
    pub discount_cents: i64,
    pub total_cents: i64,
    pub refunded_cents: i64,
    pub currency: String,
    pub promo_code_id: Option<PromoCodeId>,
    pub promo_code: Option<String>,
    pub promo_snapshot: Option<String>,
    pub provider: String,
    pub payment_intent_id: Option<String>,
    pub paid_at: Option<NaiveDateTime>,
    pub canceled_at: Option<NaiveDateTime>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    pub cart_fingerprint: Option<String>,
    /// Why staff must look at this order (a payment that did not match).
    pub review_note: Option<String>,
}

#[derive(Insertable)]
#[diesel(table_name = orders)]
pub struct NewOrder<'a> {
    /// A unique placeholder; the real number is derived from the id.
    pub number: &'a str,
    pub user_id: UserId,
    pub status: &'a str,
    pub subtotal_cents: i64,
    pub discount_cents: i64,
    pub total_cents: i64,
    pub currency: &'a str,
    pub promo_code_id: Option<PromoCodeId>,
    pub promo_code: Option<&'a str>,
    pub promo_snapshot: Option<&'a str>,
    pub provider: &'a str,
    pub cart_fingerprint: Option<&'a str>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

#[derive(Queryable, Selectable, Clone, Debug)]
#[diesel(table_name = order_items)]
pub struct OrderItem {
    pub course_id: CourseId,
    pub title: String,
    pub unit_price_cents: i64,
    pub discount_cents: i64,
    pub total_cents: i64,
}

impl Order {
    pub fn find(conn: &mut DbConnection, id: OrderId) -> QueryResult<Option<Self>> {
        orders::table
            .find(id)
            .select(Self::as_select())
            .first(conn)
            .optional()
    }

    pub fn find_by_number(conn: &mut DbConnection, number: &str) -> QueryResult<Option<Self>> {
        orders::table
            .filter(orders::number.eq(number))
            .select(Self::as_select())
            .first(conn)
            .optional()
    }

    pub fn pending_for_user(conn: &mut DbConnection, user_id: UserId) -> QueryResult<Vec<Self>> {
        orders::table
            .filter(orders::user_id.eq(user_id))
            .filter(orders::status.eq(PENDING))
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
        let moved = diesel::update(orders::table.find(id).filter(orders::status.eq(PENDING)))
            .set((
                orders::status.eq(CANCELED),
                orders::canceled_at.eq(now),
                orders::updated_at.eq(now),
            ))
            .execute(conn)?;
        Ok(moved == 1)
    }

    /// `pending -> paid`, only from pending; returns whether it moved.
    pub fn mark_paid_if_pending(
        conn: &mut DbConnection,
        id: OrderId,
        provider: &str,
        now: NaiveDateTime,
    ) -> QueryResult<bool> {
        let moved = diesel::update(orders::table.find(id).filter(orders::status.eq(PENDING)))
            .set((
                orders::status.eq(PAID),
                orders::provider.eq(provider),
                orders::paid_at.eq(now),
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

    /// Raises the refunded amount to `refunded_cents` (never lowers it) and
    /// sets the status that goes with it; returns whether it moved.
    pub fn record_refunded(
        conn: &mut DbConnection,
        id: OrderId,
        refunded_cents: i64,
        status: &str,
        now: NaiveDateTime,
    ) -> QueryResult<bool> {
        let moved = diesel::update(
            orders::table
                .find(id)
                .filter(orders::refunded_cents.lt(refunded_cents))
                .filter(orders::status.eq_any([PAID, PARTIALLY_REFUNDED])),
        )
        .set((
            orders::refunded_cents.eq(refunded_cents),
            orders::status.eq(status),
            orders::updated_at.eq(now),
        ))
        .execute(conn)?;
        Ok(moved == 1)
    }

    /// Other orders of the user that are paid and hold this course.
    pub fn other_paid_orders_with_course(
        conn: &mut DbConnection,
        user_id: UserId,
        course_id: CourseId,
        except: OrderId,
    ) -> QueryResult<Vec<OrderId>> {
        orders::table
            .inner_join(order_items::table)
            .filter(orders::user_id.eq(user_id))
            .filter(orders::id.ne(except))
            .filter(orders::status.eq_any([PAID, PARTIALLY_REFUNDED]))
            .filter(order_items::course_id.eq(course_id))
            .select(orders::id)
            .load(conn)
    }

    /// Pending orders with a PaymentIntent, created before `before`.
    pub fn pending_with_intent_before(
        conn: &mut DbConnection,
        before: NaiveDateTime,
    ) -> QueryResult<Vec<Self>> {
        orders::table
            .filter(orders::status.eq(PENDING))
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
    /// Inserts the order and its lines, and gives it its human number
    /// (`INV-<year>-<id, 6 digits>`), unique because the id is.
    pub fn insert(&self, conn: &mut DbConnection, lines: &[NewOrderItem]) -> QueryResult<Order> {
        let id: OrderId = diesel::insert_into(orders::table)
            .values(self)
            .returning(orders::id)
            .get_result(conn)?;
        let number = format!("INV-{}-{:06}", self.created_at.format("%Y"), id.0);
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
                ))
                .execute(conn)?;
        }
        orders::table
            .find(id)
            .select(Order::as_select())
            .first(conn)
    }
}

pub struct NewOrderItem {
    pub course_id: CourseId,
    pub title: String,
    pub unit_price_cents: i64,
    pub discount_cents: i64,
    pub total_cents: i64,
}

/// An order as a list shows it.
#[derive(Queryable, Selectable, Clone, Debug)]
#[diesel(table_name = orders)]
pub struct OrderSummary {
    pub number: String,
    pub status: String,
    pub total_cents: i64,
    pub currency: String,
    pub created_at: NaiveDateTime,
}

impl OrderSummary {
    /// The user's orders, newest first.
    pub fn list_for_user(conn: &mut DbConnection, user_id: UserId) -> QueryResult<Vec<Self>> {
        orders::table
            .filter(orders::user_id.eq(user_id))
            .order((orders::created_at.desc(), orders::id.desc()))
            .select(Self::as_select())
            .load(conn)
    }
}
