//! An order's lines: a course at the price it was sold for.

use diesel::prelude::*;

use super::CourseId;
use crate::db::schema::order_items;

/// A line of an order, read or being placed.
#[derive(Queryable, Selectable, Clone, Debug)]
#[diesel(table_name = order_items)]
pub struct OrderItem {
    pub course_id: CourseId,
    pub title: String,
    pub unit_price_cents: i64,
    pub discount_cents: i64,
    pub total_cents: i64,
    /// The tax in `total_cents`, or on top of it when the order's tax
    /// was added on top.
    pub tax_cents: i64,
}
