//! The money invariants after a load run.

use std::collections::{BTreeMap, HashSet};

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::DbConnection;
use crate::db::schema::{financial_journals, orders, user_courses, webhook_events};
use crate::domain::JournalKind;
use crate::models::OrderId;
use crate::services::journal::{self, ChainVerdict};

use super::BATCH;

/// The money invariants after a load run. `acked` are the event ids the
/// load tool saw answered 2xx: each must have paid its order.
///
/// Read in one snapshot (REPEATABLE READ on PostgreSQL, a read
/// transaction on SQLite): the server may still be finishing deliveries,
/// and counting income rows before a payment commits and paid orders
/// after it would report a break that no moment of the database holds.
pub fn check_invariants(
    conn: &mut DbConnection,
    journal_key: &crate::config::SecretKey,
    acked: &HashSet<String>,
) -> anyhow::Result<Vec<String>> {
    use diesel::connection::SimpleConnection;
    let postgres = matches!(conn, DbConnection::Postgresql(_));
    conn.transaction::<_, anyhow::Error, _>(|conn| {
        if postgres {
            conn.batch_execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")?;
        }
        check_in_snapshot(conn, journal_key, acked)
    })
}

fn check_in_snapshot(
    conn: &mut DbConnection,
    journal_key: &crate::config::SecretKey,
    acked: &HashSet<String>,
) -> anyhow::Result<Vec<String>> {
    let mut failures = Vec::new();
    let mut facts = Vec::new();
    // Income rows per order: at most one, and exactly one for every order
    // that was ever paid.
    let income_per_order: BTreeMap<OrderId, i64> = financial_journals::table
        .filter(financial_journals::type_.eq(JournalKind::Income))
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
    match journal::verify_chain(conn, journal_key)? {
        intact @ ChainVerdict::Intact { .. } => facts.push(intact.to_string()),
        broken => failures.push(broken.to_string()),
    }
    if failures.is_empty() {
        Ok(facts)
    } else {
        anyhow::bail!("invariants broken:\n  - {}", failures.join("\n  - "))
    }
}
