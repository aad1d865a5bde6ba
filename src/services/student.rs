//! What a student sees of their own purchases: owned courses and orders.

use chrono::NaiveDateTime;

use crate::db::DbConnection;
use crate::domain::{Money, OrderStatus};
use crate::models::UserId;
use crate::models::course::Course;
use crate::models::order_lookup::OrderSummary;
use crate::models::user_course::UserCourse;

#[derive(Clone, Debug)]
pub struct OwnedCourse {
    pub course: Course,
    pub granted_at: NaiveDateTime,
}

pub fn owned_courses(
    conn: &mut DbConnection,
    user_id: UserId,
) -> diesel::QueryResult<Vec<OwnedCourse>> {
    Ok(UserCourse::active_courses(conn, user_id)?
        .into_iter()
        .map(|(course, granted_at)| OwnedCourse { course, granted_at })
        .collect())
}

#[derive(Clone, Debug)]
pub struct OrderRow {
    pub number: String,
    pub placed_at: NaiveDateTime,
    pub total: Money,
    pub status: OrderStatus,
    pub invoice_number: Option<String>,
}

pub fn order_history(
    conn: &mut DbConnection,
    user_id: UserId,
) -> diesel::QueryResult<Vec<OrderRow>> {
    Ok(OrderSummary::list_for_user(conn, user_id)?
        .into_iter()
        .map(|order| OrderRow {
            total: Money::new(order.total_cents, order.currency),
            placed_at: order.created_at,
            number: order.number,
            status: order.status,
            invoice_number: order.invoice_number,
        })
        .collect())
}
