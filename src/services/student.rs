//! What a student sees of their own purchases: owned courses and orders.

use crate::db::DbConnection;
use crate::domain::{Currency, Money};
use crate::models::UserId;
use crate::models::course::Course;
use crate::models::order::OrderSummary;
use crate::models::user_course::UserCourse;

#[derive(Clone, Debug)]
pub struct OwnedCourse {
    pub course: Course,
    /// `2026-11-24`, UTC.
    pub granted_on: String,
}

pub fn owned_courses(
    conn: &mut DbConnection,
    user_id: UserId,
) -> diesel::QueryResult<Vec<OwnedCourse>> {
    Ok(UserCourse::active_courses(conn, user_id)?
        .into_iter()
        .map(|(course, granted_at)| OwnedCourse {
            course,
            granted_on: granted_at.format("%Y-%m-%d").to_string(),
        })
        .collect())
}

#[derive(Clone, Debug)]
pub struct OrderRow {
    pub number: String,
    pub placed_on: String,
    pub total: String,
    pub status: String,
}

impl OrderRow {
    /// The status as a student reads it.
    pub fn status_label(&self) -> &'static str {
        match self.status.as_str() {
            "pending" => "Awaiting payment",
            "paid" => "Paid",
            "partially_refunded" => "Partly refunded",
            "refunded" => "Refunded",
            "canceled" => "Canceled",
            _ => "Unknown",
        }
    }
}

pub fn order_history(
    conn: &mut DbConnection,
    user_id: UserId,
) -> diesel::QueryResult<Vec<OrderRow>> {
    Ok(OrderSummary::list_for_user(conn, user_id)?
        .into_iter()
        .map(|order| OrderRow {
            total: match Currency::parse(&order.currency) {
                Ok(currency) => Money::new(order.total_cents, currency).to_string(),
                Err(_) => format!("{} {}", order.total_cents, order.currency),
            },
            placed_on: order.created_at.format("%Y-%m-%d").to_string(),
            number: order.number,
            status: order.status,
        })
        .collect())
}
