//! Signed webhook deliveries for the pending benchmark orders.

use std::io::Write;
use std::path::Path;

use diesel::prelude::*;

use crate::config::Settings;
use crate::db::schema::orders;
use crate::db::{self, DbConnection};
use crate::domain::{Currency, IntentStatus, OrderStatus, StripeEvent};
use crate::models::OrderId;

use super::history::{event, intent_object};

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
    let pending: Vec<(OrderId, String, i64, Currency, String)> = orders::table
        .filter(orders::status.eq(OrderStatus::Pending))
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
            let object = intent_object(
                intent,
                *id,
                number,
                *total,
                *currency,
                IntentStatus::Succeeded,
            );
            event(
                &format!("evt_bench_{}", id.0),
                StripeEvent::PaymentIntentSucceeded,
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
