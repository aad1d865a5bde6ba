//! What `bench/run.sh` needs from the application itself (hidden
//! `kasir bench ...` commands): a large history seeded in batches, signed
//! webhook events for the pending orders it left, and the money invariants
//! checked after a load run. Nothing here runs in `serve`.

use std::collections::{BTreeMap, HashSet};
use std::io::Write;
use std::path::Path;

use chrono::{NaiveDateTime, TimeDelta};
use diesel::prelude::*;

use crate::config::Settings;
use crate::db::schema::{
    cart_items, carts, courses, financial_journals, order_items, orders, promo_codes,
    promo_redemptions, user_courses, users, webhook_events,
};
use crate::db::{self, DbConnection};
use crate::models::{CourseId, OrderId, PromoCodeId, UserId};
use crate::services::fulfillment::kind as fulfil_kind;
use crate::services::journal::{self, ChainVerdict, JournalEntry, append_history, kind};

/// Every seeded account's password (students and the staff account).
pub const PASSWORD: &str = "bench-password";
pub const STAFF_EMAIL: &str = "bench-staff@example.com";
/// The launch promo code: 20 % off, used by every 8th historical order.
pub const PROMO_CODE: &str = "BENCH20";
const PROMO_BPS: i64 = 2_000;
/// Rows per INSERT: orders have 14 columns, so 500 rows stay well under
/// SQLite's 32,766 and PostgreSQL's 65,535 bind parameters.
const BATCH: usize = 500;
const PROVIDER: &str = "sandbox";

pub fn user_email(n: u32) -> String {
    format!("bench-user-{n}@example.com")
}

/// How much history to make.
#[derive(Clone, Copy, Debug)]
pub struct SeedPlan {
    pub courses: u32,
    pub users: u32,
    /// Paid historical orders spread over the past year (every 50th refunded).
    pub orders: u32,
    /// Pending orders with a PaymentIntent, waiting for their webhook.
    pub pending: u32,
    /// Users (the first ones) who get a cart with three courses.
    pub carts: u32,
}

#[derive(Debug, Default)]
pub struct SeedReport {
    pub orders: u64,
    pub journal_rows: u64,
    pub grants: u64,
}

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

fn price_of(course: u32) -> i64 {
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
    let currency = settings.currency.code();
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
                        users::role.eq("student"),
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
                users::role.eq("staff"),
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
                promo_codes::kind.eq("percent"),
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

struct PlannedOrder {
    id: OrderId,
    user: u32,
    lines: Vec<u32>,
    pending: bool,
    promo: bool,
    refunded: bool,
    created: NaiveDateTime,
    spacing: TimeDelta,
}

impl PlannedOrder {
    fn intent(&self) -> String {
        format!("pi_bench_{}", self.id.0)
    }
}

#[derive(Default)]
struct Written {
    journal_rows: u64,
    grants: u64,
    redemptions: i64,
}

/// Orders, their lines, grants, promo redemptions and chained journal rows,
/// as the checkout and the webhook would have left them.
#[allow(clippy::too_many_arguments)]
fn insert_orders(
    conn: &mut DbConnection,
    planned: &[PlannedOrder],
    currency: &str,
    promo_id: PromoCodeId,
    titles: &[String],
    course_id: &dyn Fn(u32) -> CourseId,
    user_id: &dyn Fn(u32) -> UserId,
) -> anyhow::Result<Written> {
    let mut written = Written::default();
    let mut order_rows = Vec::with_capacity(planned.len());
    let mut item_rows = Vec::new();
    let mut grant_rows = Vec::new();
    let mut redemption_rows = Vec::new();
    // The journal's texts, kept alive for the borrowed entries below.
    let mut texts: Vec<JournalTexts> = Vec::with_capacity(planned.len());
    for order in planned {
        let number = format!("INV-{}-{:06}", order.created.format("%Y"), order.id.0);
        let mut subtotal = 0;
        let mut discount = 0;
        for &c in &order.lines {
            let unit = price_of(c);
            let off = if order.promo {
                unit * PROMO_BPS / 10_000
            } else {
                0
            };
            subtotal += unit;
            discount += off;
            item_rows.push((
                order_items::order_id.eq(order.id),
                order_items::course_id.eq(course_id(c)),
                order_items::title.eq(&titles[c as usize]),
                order_items::unit_price_cents.eq(unit),
                order_items::discount_cents.eq(off),
                order_items::total_cents.eq(unit - off),
            ));
        }
        let total = subtotal - discount;
        let paid_at = (!order.pending).then(|| order.created + order.spacing / 4);
        let refunded_at = order.created + order.spacing / 2;
        let status = match (order.pending, order.refunded) {
            (true, _) => "pending",
            (false, true) => "refunded",
            (false, false) => "paid",
        };
        if !order.pending {
            for &c in &order.lines {
                grant_rows.push((
                    user_courses::user_id.eq(user_id(order.user)),
                    user_courses::course_id.eq(course_id(c)),
                    user_courses::order_id.eq(Some(order.id)),
                    user_courses::granted_at.eq(paid_at.unwrap_or(order.created)),
                    user_courses::revoked_at.eq(order.refunded.then_some(refunded_at)),
                    user_courses::revoke_reason.eq(order.refunded.then_some("refunded")),
                ));
            }
        }
        if order.promo {
            redemption_rows.push((
                promo_redemptions::promo_code_id.eq(promo_id),
                promo_redemptions::order_id.eq(order.id),
                promo_redemptions::user_id.eq(user_id(order.user)),
                promo_redemptions::status.eq("redeemed"),
                promo_redemptions::created_at.eq(order.created),
                promo_redemptions::updated_at.eq(paid_at.unwrap_or(order.created)),
            ));
        }
        order_rows.push((
            orders::id.eq(order.id),
            orders::number.eq(number.clone()),
            orders::user_id.eq(user_id(order.user)),
            orders::status.eq(status),
            orders::subtotal_cents.eq(subtotal),
            orders::discount_cents.eq(discount),
            orders::total_cents.eq(total),
            orders::refunded_cents.eq(if order.refunded { total } else { 0 }),
            orders::currency.eq(currency),
            orders::promo_code_id.eq(order.promo.then_some(promo_id)),
            orders::promo_code.eq(order.promo.then_some(PROMO_CODE)),
            orders::provider.eq(PROVIDER),
            orders::payment_intent_id.eq(Some(order.intent())),
            orders::paid_at.eq(paid_at),
            orders::created_at.eq(order.created),
            orders::updated_at.eq(order.created),
        ));
        texts.push(JournalTexts::new(order, &number, total, currency));
    }
    db::insert_batch!(&mut *conn, orders::table, &order_rows)?;
    for chunk in item_rows.chunks(BATCH) {
        db::insert_batch!(&mut *conn, order_items::table, chunk)?;
    }
    for chunk in grant_rows.chunks(BATCH) {
        written.grants += db::insert_batch!(&mut *conn, user_courses::table, chunk)? as u64;
    }
    if !redemption_rows.is_empty() {
        written.redemptions =
            db::insert_batch!(&mut *conn, promo_redemptions::table, &redemption_rows)? as i64;
    }
    let mut entries = Vec::with_capacity(planned.len() * 3);
    for (order, t) in planned.iter().zip(&texts) {
        entries.push((
            JournalEntry {
                kind: kind::PAYMENT_INITIATED,
                status: journal::status::PENDING,
                amount_cents: t.total,
                currency,
                description: &t.initiated,
                order_id: Some(order.id),
                metadata: &t.intent_json,
                provider_event_id: None,
                idempotency_key: &t.initiated_key,
            },
            order.created,
        ));
        if order.pending {
            continue;
        }
        entries.push((
            JournalEntry {
                kind: kind::INCOME,
                status: journal::status::SUCCESS,
                amount_cents: t.total,
                currency,
                description: &t.income,
                order_id: Some(order.id),
                metadata: &t.event_json,
                provider_event_id: Some(&t.event_id),
                idempotency_key: &t.income_key,
            },
            order.created + order.spacing / 4,
        ));
        if order.refunded {
            entries.push((
                JournalEntry {
                    kind: fulfil_kind::REFUND,
                    status: journal::status::SUCCESS,
                    amount_cents: t.total,
                    currency,
                    description: &t.refund,
                    order_id: Some(order.id),
                    metadata: &t.refund_json,
                    provider_event_id: None,
                    idempotency_key: &t.refund_key,
                },
                order.created + order.spacing / 2,
            ));
        }
    }
    // ~1 KiB of metadata per row: batches of 200 keep statements modest.
    for chunk in entries.chunks(200) {
        append_history(conn, chunk)?;
        written.journal_rows += chunk.len() as u64;
    }
    Ok(written)
}

/// Texts of one order's journal rows, shaped like what Stripe sends.
struct JournalTexts {
    total: i64,
    initiated: String,
    initiated_key: String,
    intent_json: String,
    income: String,
    income_key: String,
    event_id: String,
    event_json: String,
    refund: String,
    refund_key: String,
    refund_json: String,
}

impl JournalTexts {
    fn new(order: &PlannedOrder, number: &str, total: i64, currency: &str) -> Self {
        let intent = order.intent();
        let object = intent_object(&intent, order.id, number, total, currency, "succeeded");
        let event_id = format!("evt_bench_hist_{}", order.id.0);
        Self {
            total,
            initiated: format!("Payment started for order {number}"),
            initiated_key: format!("pi-{intent}-initiated"),
            intent_json: intent_object(
                &intent,
                order.id,
                number,
                total,
                currency,
                "requires_payment_method",
            )
            .to_string(),
            income: format!("Payment received for order {number}"),
            income_key: format!("order-{}-income", order.id.0),
            event_json: event(&event_id, "payment_intent.succeeded", object, order.created)
                .to_string(),
            event_id,
            refund: format!("Refund for order {number}"),
            refund_key: format!("charge-ch_bench_{}-refunded-{total}", order.id.0),
            refund_json: serde_json::json!({
                "id": format!("ch_bench_{}", order.id.0),
                "object": "charge",
                "amount": total,
                "amount_refunded": total,
                "currency": currency.to_lowercase(),
                "payment_intent": intent,
                "refunded": true,
            })
            .to_string(),
        }
    }
}

fn intent_object(
    intent: &str,
    order: OrderId,
    number: &str,
    amount: i64,
    currency: &str,
    status: &str,
) -> serde_json::Value {
    serde_json::json!({
        "id": intent,
        "object": "payment_intent",
        "amount": amount,
        "amount_received": if status == "succeeded" { amount } else { 0 },
        "currency": currency.to_lowercase(),
        "status": status,
        "capture_method": "automatic",
        "confirmation_method": "automatic",
        "payment_method_types": ["card"],
        "client_secret": format!("{intent}_secret_bench"),
        "livemode": false,
        "metadata": { "kasir_order_id": order.0.to_string(), "kasir_order_number": number },
    })
}

fn event(id: &str, kind: &str, object: serde_json::Value, at: NaiveDateTime) -> serde_json::Value {
    serde_json::json!({
        "id": id,
        "object": "event",
        "api_version": "2024-06-20",
        "created": at.and_utc().timestamp(),
        "livemode": false,
        "pending_webhooks": 1,
        "request": { "id": null, "idempotency_key": null },
        "type": kind,
        "data": { "object": object },
    })
}

/// Writes one signed `payment_intent.succeeded` delivery per pending
/// benchmark order (up to `count`), plus `duplicate_percent` % repeats of
/// earlier ones, shuffled in, as `signature<TAB>body` lines. Signed now:
/// run the load within five minutes.
pub fn write_webhook_events(
    conn: &mut DbConnection,
    settings: &Settings,
    count: u32,
    duplicate_percent: u32,
    out: &Path,
) -> anyhow::Result<(usize, usize)> {
    use rand::Rng;
    let pending: Vec<(OrderId, String, i64, String, String)> = orders::table
        .filter(orders::status.eq("pending"))
        .filter(
            orders::payment_intent_id
                .like("pi\\_bench\\_%")
                .escape('\\'),
        )
        .order(orders::id.asc())
        .limit(i64::from(count))
        .select((
            orders::id,
            orders::number,
            orders::total_cents,
            orders::currency,
            orders::payment_intent_id.assume_not_null(),
        ))
        .load(conn)?;
    let secret = settings.webhook_secret();
    let timestamp = chrono::Utc::now().timestamp();
    let now = db::now();
    let bodies: Vec<String> = pending
        .iter()
        .map(|(id, number, total, currency, intent)| {
            let object = intent_object(intent, *id, number, *total, currency, "succeeded");
            event(
                &format!("evt_bench_{}", id.0),
                "payment_intent.succeeded",
                object,
                now,
            )
            .to_string()
        })
        .collect();
    let distinct = bodies.len();
    let duplicates = distinct * duplicate_percent as usize / 100;
    // Originals in order; each repeat somewhere after its original, as a
    // redelivery would come.
    let mut rng = rand::thread_rng();
    let mut sequence: Vec<(f64, usize)> = (0..distinct).map(|i| (i as f64, i)).collect();
    if distinct > 0 {
        for _ in 0..duplicates {
            let original = rng.gen_range(0..distinct);
            sequence.push((
                rng.gen_range(original as f64 + 0.5..distinct as f64 + 0.5),
                original,
            ));
        }
    }
    sequence.sort_by(|a, b| a.0.total_cmp(&b.0));
    let mut file = std::io::BufWriter::new(std::fs::File::create(out)?);
    for (_, i) in sequence {
        let body = &bodies[i];
        let signature = crate::payments::webhook::sign(body.as_bytes(), &secret, timestamp);
        writeln!(file, "{signature}\t{body}")?;
    }
    file.flush()?;
    Ok((distinct, duplicates))
}

/// The money invariants after a load run. `acked` are the event ids the
/// load tool saw answered 2xx: each must have paid its order.
pub fn check_invariants(
    conn: &mut DbConnection,
    acked: &HashSet<String>,
) -> anyhow::Result<Vec<String>> {
    let mut failures = Vec::new();
    let mut facts = Vec::new();
    // Income rows per order: at most one, and exactly one for every order
    // that was ever paid.
    let income_per_order: BTreeMap<OrderId, i64> = financial_journals::table
        .filter(financial_journals::type_.eq(kind::INCOME))
        .filter(financial_journals::reference_id.is_not_null())
        .group_by(financial_journals::reference_id)
        .select((
            financial_journals::reference_id.assume_not_null(),
            diesel::dsl::count_star(),
        ))
        .load::<(OrderId, i64)>(conn)?
        .into_iter()
        .collect();
    let doubled = income_per_order.values().filter(|&&n| n > 1).count();
    if doubled > 0 {
        failures.push(format!("{doubled} order(s) have more than one income row"));
    }
    let paid: Vec<OrderId> = orders::table
        .filter(orders::paid_at.is_not_null())
        .select(orders::id)
        .load(conn)?;
    let unrecorded = paid
        .iter()
        .filter(|id| !income_per_order.contains_key(id))
        .count();
    if unrecorded > 0 {
        failures.push(format!("{unrecorded} paid order(s) have no income row"));
    }
    if income_per_order.len() != paid.len() {
        failures.push(format!(
            "{} orders have income rows but {} orders are paid",
            income_per_order.len(),
            paid.len()
        ));
    }
    facts.push(format!("{} paid orders, one income row each", paid.len()));
    // Every acknowledged delivery is in the inbox, processed, its order paid.
    let events: Vec<(String, Option<NaiveDateTime>, Option<String>)> = webhook_events::table
        .filter(webhook_events::id.like("evt\\_bench\\_%").escape('\\'))
        .select((
            webhook_events::id,
            webhook_events::processed_at,
            webhook_events::last_error,
        ))
        .load(conn)?;
    let processed: HashSet<&str> = events
        .iter()
        .filter(|(_, at, _)| at.is_some())
        .map(|(id, _, _)| id.as_str())
        .collect();
    let lost: Vec<&String> = acked
        .iter()
        .filter(|id| !processed.contains(id.as_str()))
        .collect();
    if !lost.is_empty() {
        failures.push(format!(
            "{} acknowledged event(s) not processed, e.g. {}",
            lost.len(),
            lost[0]
        ));
    }
    let unpaid_for_acked: i64 = {
        let order_ids: Vec<i64> = acked
            .iter()
            .filter_map(|id| id.strip_prefix("evt_bench_")?.parse().ok())
            .collect();
        let mut unpaid = 0;
        for chunk in order_ids.chunks(BATCH) {
            unpaid += orders::table
                .filter(orders::id.eq_any(chunk.iter().map(|&id| OrderId(id))))
                .filter(orders::paid_at.is_null())
                .count()
                .get_result::<i64>(conn)?;
        }
        unpaid
    };
    if unpaid_for_acked > 0 {
        failures.push(format!(
            "{unpaid_for_acked} order(s) of acknowledged events are not paid"
        ));
    }
    let failed = events.iter().filter(|(_, _, e)| e.is_some()).count();
    if failed > 0 {
        failures.push(format!("{failed} webhook event(s) recorded an error"));
    }
    facts.push(format!(
        "{} events acknowledged, {} in the inbox, all processed once",
        acked.len(),
        events.len()
    ));
    // One active grant per (user, course) is the schema's; every active
    // grant belongs to a paid order.
    let orphan_grants: i64 = user_courses::table
        .inner_join(orders::table)
        .filter(user_courses::revoked_at.is_null())
        .filter(orders::paid_at.is_null())
        .count()
        .get_result(conn)?;
    if orphan_grants > 0 {
        failures.push(format!("{orphan_grants} active grant(s) of unpaid orders"));
    }
    match journal::verify_chain(conn)? {
        ChainVerdict::Intact { rows } => facts.push(format!("journal chain intact ({rows} rows)")),
        broken => failures.push(broken.to_string()),
    }
    if failures.is_empty() {
        Ok(facts)
    } else {
        anyhow::bail!("invariants broken:\n  - {}", failures.join("\n  - "))
    }
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
