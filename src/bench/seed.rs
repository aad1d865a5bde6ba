//! The seeded history: courses, students, the staff account, a promo
//! code, a year of orders, carts.

use chrono::TimeDelta;
use diesel::prelude::*;

use crate::config::Settings;
use crate::db::schema::{cart_items, carts, courses, promo_codes, users};
use crate::db::{self, DbConnection};
use crate::domain::{PromoKind, Role};
use crate::models::{CourseId, OrderId, PromoCodeId, UserId};

use super::history::{PlannedOrder, insert_orders};
use super::{
    BATCH, PASSWORD, PROMO_BPS, PROMO_CODE, STAFF_EMAIL, SeedPlan, SeedReport, user_email,
};

/// argon2id with the smallest parameters the crate accepts: the benchmark
/// logs thousands of seeded users in and login is not what it measures.
/// Verification reads the parameters from the stored hash.
fn cheap_password_hash() -> anyhow::Result<String> {
    use argon2::password_hash::{PasswordHasher, SaltString, rand_core::OsRng};
    let params = argon2::Params::new(argon2::Params::MIN_M_COST, 1, 1, None)
        .map_err(|e| anyhow::anyhow!("argon2 params: {e}"))?;
    let hasher = argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params);
    Ok(hasher
        .hash_password(PASSWORD.as_bytes(), &SaltString::generate(&mut OsRng))
        .map_err(|e| anyhow::anyhow!("argon2: {e}"))?
        .to_string())
}

/// The next free id of a table: the seeder sets ids itself so that order
/// numbers, items and journal rows can be written in batches.
fn next_id(conn: &mut DbConnection, table: &str) -> QueryResult<i64> {
    use diesel::sql_types::BigInt;
    #[derive(QueryableByName)]
    struct Max {
        #[diesel(sql_type = BigInt)]
        next: i64,
    }
    let row: Max = diesel::sql_query(format!(
        "SELECT CAST(COALESCE(MAX(id), 0) + 1 AS BIGINT) AS next FROM {table}"
    ))
    .get_result(conn)?;
    Ok(row.next)
}

/// PostgreSQL's sequences do not see explicit ids: move them past them.
fn bump_sequence(conn: &mut DbConnection, table: &str) -> QueryResult<()> {
    if let DbConnection::Postgresql(_) = conn {
        diesel::sql_query(format!(
            "SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT MAX(id) FROM {table}))"
        ))
        .execute(conn)?;
    }
    Ok(())
}

/// A course a user does not own and has not got in a cart or pending
/// order yet: each user walks the catalog from their own offset.
struct Slots {
    next: Vec<u32>,
    courses: u32,
}

impl Slots {
    fn take(&mut self, user: u32) -> anyhow::Result<u32> {
        let slot = &mut self.next[user as usize];
        anyhow::ensure!(
            *slot < self.courses,
            "not enough courses for this much history: raise --courses"
        );
        let course = (user.wrapping_mul(37) + *slot) % self.courses;
        *slot += 1;
        Ok(course)
    }
}

pub(super) fn price_of(course: u32) -> i64 {
    // $19 to $199 in whole dollars, so a 20 % discount stays exact.
    1_900 + i64::from(course % 10) * 2_000
}

/// Seeds a database that holds no benchmark data yet.
pub fn seed(
    conn: &mut DbConnection,
    settings: &Settings,
    plan: SeedPlan,
) -> anyhow::Result<SeedReport> {
    anyhow::ensure!(
        plan.users > 0 && plan.courses >= 3,
        "need users and at least 3 courses"
    );
    let already: i64 = users::table
        .filter(users::email.eq(user_email(0)))
        .count()
        .get_result(conn)?;
    anyhow::ensure!(already == 0, "this database already holds benchmark data");
    let currency = settings.currency;
    let now = db::now();
    let hash = cheap_password_hash()?;

    // Courses, users, the staff account and the promo code.
    let course_base = next_id(conn, "courses")?;
    let titles: Vec<String> = (0..plan.courses)
        .map(|c| format!("Course {c}: {}", TOPICS[c as usize % TOPICS.len()]))
        .collect();
    db::write_transaction(conn, |conn| -> anyhow::Result<()> {
        for chunk in (0..plan.courses).collect::<Vec<_>>().chunks(BATCH) {
            let rows: Vec<_> = chunk
                .iter()
                .map(|&c| {
                    (
                        courses::id.eq(course_base + i64::from(c)),
                        courses::slug.eq(format!("bench-course-{c}")),
                        courses::title.eq(&titles[c as usize]),
                        courses::summary.eq("A course of the benchmark catalog."),
                        courses::description.eq("Seeded by kasir bench seed."),
                        courses::price_cents.eq(price_of(c)),
                        courses::currency.eq(currency),
                        courses::published.eq(true),
                        courses::created_at.eq(now),
                        courses::updated_at.eq(now),
                    )
                })
                .collect();
            db::insert_batch!(&mut *conn, courses::table, &rows)?;
        }
        Ok(())
    })?;
    let user_base = next_id(conn, "users")?;
    db::write_transaction(conn, |conn| -> anyhow::Result<()> {
        for chunk in (0..plan.users).collect::<Vec<_>>().chunks(BATCH) {
            let rows: Vec<_> = chunk
                .iter()
                .map(|&u| {
                    (
                        users::id.eq(user_base + i64::from(u)),
                        users::email.eq(user_email(u)),
                        users::password_hash.eq(&hash),
                        users::name.eq(format!("Bench Student {u}")),
                        users::role.eq(Role::Student),
                        users::created_at.eq(now),
                        users::updated_at.eq(now),
                    )
                })
                .collect();
            db::insert_batch!(&mut *conn, users::table, &rows)?;
        }
        diesel::insert_into(users::table)
            .values((
                users::id.eq(user_base + i64::from(plan.users)),
                users::email.eq(STAFF_EMAIL),
                users::password_hash.eq(&hash),
                users::name.eq("Bench Staff"),
                users::role.eq(Role::Staff),
                users::created_at.eq(now),
                users::updated_at.eq(now),
            ))
            .execute(conn)?;
        Ok(())
    })?;
    let promo_id: PromoCodeId = db::write_transaction(conn, |conn| {
        diesel::insert_into(promo_codes::table)
            .values((
                promo_codes::code.eq(PROMO_CODE),
                promo_codes::kind.eq(PromoKind::Percent),
                promo_codes::percent_bps.eq(PROMO_BPS as i32),
                promo_codes::min_subtotal_cents.eq(0),
                promo_codes::active.eq(true),
                promo_codes::created_at.eq(now),
                promo_codes::updated_at.eq(now),
            ))
            .returning(promo_codes::id)
            .get_result(conn)
    })?;

    let course_id = |c: u32| CourseId(course_base + i64::from(c));
    let user_id = |u: u32| UserId(user_base + i64::from(u));
    let mut slots = Slots {
        next: vec![0; plan.users as usize],
        courses: plan.courses,
    };
    let mut report = SeedReport::default();

    // Historical orders, oldest first, spread over the past year.
    let start = now - TimeDelta::days(365);
    let spacing = TimeDelta::days(365) / plan.orders.max(1) as i32;
    let order_base = next_id(conn, "orders")?;
    let total_orders = plan.orders + plan.pending;
    let mut redemptions = 0i64;
    for batch_start in (0..total_orders).step_by(BATCH) {
        let batch: Vec<u32> =
            (batch_start..(batch_start + BATCH as u32).min(total_orders)).collect();
        let mut planned = Vec::with_capacity(batch.len());
        for &k in &batch {
            let pending = k >= plan.orders;
            // Pending orders go to users the load does not log in: their
            // checkouts would supersede (cancel) them.
            let user = match plan.users.checked_sub(plan.carts) {
                Some(free) if pending && free > 0 => plan.carts + k % free,
                _ => k % plan.users,
            };
            let items = if pending { 1 } else { k % 3 + 1 };
            let lines: Vec<u32> = (0..items)
                .map(|_| slots.take(user))
                .collect::<anyhow::Result<_>>()?;
            let created = if pending {
                now - TimeDelta::minutes(1)
            } else {
                start + spacing * k as i32
            };
            planned.push(PlannedOrder {
                id: OrderId(order_base + i64::from(k)),
                user,
                lines,
                pending,
                promo: !pending && k % 8 == 0,
                refunded: !pending && k % 50 == 49,
                created,
                spacing,
            });
        }
        db::write_transaction(conn, |conn| -> anyhow::Result<()> {
            let written = insert_orders(
                conn, &planned, currency, promo_id, &titles, &course_id, &user_id,
            )?;
            report.orders += planned.len() as u64;
            report.journal_rows += written.journal_rows;
            report.grants += written.grants;
            redemptions += written.redemptions;
            Ok(())
        })?;
    }
    diesel::update(promo_codes::table.find(promo_id))
        .set(promo_codes::reserved_count.eq(redemptions))
        .execute(conn)?;
    // Sealed now, as a running shop would have: not by the server under load.
    crate::services::journal::seal::Sealer::new(settings.journal_key.clone()).seal_all(conn)?;

    // Carts of three courses each, for the first users.
    let cart_base = next_id(conn, "carts")?;
    db::write_transaction(conn, |conn| -> anyhow::Result<()> {
        let users_with_carts: Vec<u32> = (0..plan.carts.min(plan.users)).collect();
        for chunk in users_with_carts.chunks(BATCH) {
            let cart_rows: Vec<_> = chunk
                .iter()
                .map(|&u| {
                    (
                        carts::id.eq(cart_base + i64::from(u)),
                        carts::user_id.eq(Some(user_id(u))),
                        carts::token.eq(format!("bench-cart-{u}-{}", crate::session::new_token())),
                        carts::created_at.eq(now),
                        carts::updated_at.eq(now),
                    )
                })
                .collect();
            db::insert_batch!(&mut *conn, carts::table, &cart_rows)?;
            let mut item_rows = Vec::with_capacity(chunk.len() * 3);
            for &u in chunk {
                for _ in 0..3 {
                    item_rows.push((
                        cart_items::cart_id.eq(cart_base + i64::from(u)),
                        cart_items::course_id.eq(course_id(slots.take(u)?)),
                        cart_items::added_at.eq(now),
                    ));
                }
            }
            db::insert_batch!(&mut *conn, cart_items::table, &item_rows)?;
        }
        Ok(())
    })?;
    for table in ["courses", "users", "orders", "carts"] {
        bump_sequence(conn, table)?;
    }
    Ok(report)
}

const TOPICS: [&str; 10] = [
    "Rust for the web",
    "Practical SQL",
    "Payments engineering",
    "Distributed systems",
    "Typography for developers",
    "Accessible interfaces",
    "Data visualisation",
    "Testing in depth",
    "Security basics",
    "Cloud operations",
];
