use chrono::NaiveDateTime;
use diesel::prelude::*;
use diesel::sql_types as sql;

use super::{CourseId, OrderId, PromoCodeId, UserId};
use crate::db::schema::{promo_code_courses, promo_codes, promo_redemptions};
use crate::db::{DbConnection, kept_statement};
use crate::domain::{Currency, PromoKind, RedemptionStatus};

kept_statement! {
    /// [`PromoRedemption::transition`]'s statement.
    struct MoveRedemption {
        "UPDATE promo_redemptions SET status = " {to: sql::Text = RedemptionStatus}
        ", updated_at = " {now: sql::Timestamp = NaiveDateTime}
        " WHERE order_id = " {order: sql::BigInt = OrderId}
        " AND status = " {from: sql::Text = RedemptionStatus}
    }
}

#[derive(Queryable, Selectable, Identifiable, Clone, Debug)]
#[diesel(table_name = promo_codes)]
pub struct PromoCode {
    pub id: PromoCodeId,
    pub code: String,
    pub kind: PromoKind,
    pub percent_bps: Option<i32>,
    pub amount_cents: Option<i64>,
    pub currency: Option<Currency>,
    pub starts_at: Option<NaiveDateTime>,
    pub ends_at: Option<NaiveDateTime>,
    pub max_redemptions: Option<i64>,
    pub per_user_limit: Option<i64>,
    pub min_subtotal_cents: i64,
    pub active: bool,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    pub reserved_count: i64,
}

#[derive(Insertable, Debug)]
#[diesel(table_name = promo_codes)]
#[diesel(treat_none_as_default_value = false)]
pub struct NewPromoCode<'a> {
    pub code: &'a str,
    pub kind: PromoKind,
    pub percent_bps: Option<i32>,
    pub amount_cents: Option<i64>,
    pub currency: Option<Currency>,
    pub starts_at: Option<NaiveDateTime>,
    pub ends_at: Option<NaiveDateTime>,
    pub max_redemptions: Option<i64>,
    pub per_user_limit: Option<i64>,
    pub min_subtotal_cents: i64,
    pub active: bool,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

impl NewPromoCode<'_> {
    pub fn insert(
        &self,
        conn: &mut DbConnection,
        courses: &[CourseId],
    ) -> QueryResult<PromoCodeId> {
        let id: PromoCodeId = diesel::insert_into(promo_codes::table)
            .values(self)
            .returning(promo_codes::id)
            .get_result(conn)?;
        for course in courses {
            diesel::insert_into(promo_code_courses::table)
                .values((
                    promo_code_courses::promo_code_id.eq(id),
                    promo_code_courses::course_id.eq(course),
                ))
                .execute(conn)?;
        }
        Ok(id)
    }
}

impl PromoCode {
    /// `code` must already be upper-cased.
    pub fn find_by_code(conn: &mut DbConnection, code: &str) -> QueryResult<Option<Self>> {
        promo_codes::table
            .filter(promo_codes::code.eq(code))
            .select(Self::as_select())
            .first(conn)
            .optional()
    }

    pub fn list(conn: &mut DbConnection) -> QueryResult<Vec<Self>> {
        promo_codes::table
            .order(promo_codes::id.desc())
            .select(Self::as_select())
            .load(conn)
    }

    /// The courses the code is limited to; empty means every course.
    pub fn course_ids(conn: &mut DbConnection, id: PromoCodeId) -> QueryResult<Vec<CourseId>> {
        promo_code_courses::table
            .filter(promo_code_courses::promo_code_id.eq(id))
            .select(promo_code_courses::course_id)
            .load(conn)
    }

    pub fn deactivate(
        conn: &mut DbConnection,
        id: PromoCodeId,
        now: NaiveDateTime,
    ) -> QueryResult<usize> {
        diesel::update(promo_codes::table.find(id))
            .set((
                promo_codes::active.eq(false),
                promo_codes::updated_at.eq(now),
            ))
            .execute(conn)
    }

    /// Takes one use of the code if any is left. A conditional increment:
    /// on PostgreSQL the row lock makes concurrent reservations wait and
    /// re-check, on SQLite writers are serialised; the limit holds on both.
    pub fn take_one_use(
        conn: &mut DbConnection,
        id: PromoCodeId,
        now: NaiveDateTime,
    ) -> QueryResult<bool> {
        let moved =
            diesel::update(promo_codes::table.find(id).filter(
                promo_codes::max_redemptions.is_null().or(
                    promo_codes::reserved_count.lt(promo_codes::max_redemptions.assume_not_null()),
                ),
            ))
            .set((
                promo_codes::reserved_count.eq(promo_codes::reserved_count + 1),
                promo_codes::updated_at.eq(now),
            ))
            .execute(conn)?;
        Ok(moved == 1)
    }

    pub fn give_back_one_use(
        conn: &mut DbConnection,
        id: PromoCodeId,
        now: NaiveDateTime,
    ) -> QueryResult<usize> {
        diesel::update(
            promo_codes::table
                .find(id)
                .filter(promo_codes::reserved_count.gt(0)),
        )
        .set((
            promo_codes::reserved_count.eq(promo_codes::reserved_count - 1),
            promo_codes::updated_at.eq(now),
        ))
        .execute(conn)
    }
}

pub struct PromoRedemption;

impl PromoRedemption {
    /// Reserved or redeemed uses of the code by this user.
    pub fn live_count_for_user(
        conn: &mut DbConnection,
        code: PromoCodeId,
        user: UserId,
    ) -> QueryResult<i64> {
        promo_redemptions::table
            .filter(promo_redemptions::promo_code_id.eq(code))
            .filter(promo_redemptions::user_id.eq(user))
            .filter(promo_redemptions::status.ne(RedemptionStatus::Released))
            .count()
            .get_result(conn)
    }

    pub fn reserve(
        conn: &mut DbConnection,
        code: PromoCodeId,
        order: OrderId,
        user: UserId,
        now: NaiveDateTime,
    ) -> QueryResult<usize> {
        diesel::insert_into(promo_redemptions::table)
            .values((
                promo_redemptions::promo_code_id.eq(code),
                promo_redemptions::order_id.eq(order),
                promo_redemptions::user_id.eq(user),
                promo_redemptions::status.eq(RedemptionStatus::Reserved),
                promo_redemptions::created_at.eq(now),
                promo_redemptions::updated_at.eq(now),
            ))
            .execute(conn)
    }

    /// `from -> to` for the order's redemption; returns whether it moved.
    pub fn transition(
        conn: &mut DbConnection,
        order: OrderId,
        from: RedemptionStatus,
        to: RedemptionStatus,
        now: NaiveDateTime,
    ) -> QueryResult<bool> {
        let moved = MoveRedemption {
            to,
            now,
            order,
            from,
        }
        .execute(conn)?;
        Ok(moved == 1)
    }

    pub fn status_for_order(
        conn: &mut DbConnection,
        order: OrderId,
    ) -> QueryResult<Option<RedemptionStatus>> {
        promo_redemptions::table
            .filter(promo_redemptions::order_id.eq(order))
            .select(promo_redemptions::status)
            .first(conn)
            .optional()
    }
}
