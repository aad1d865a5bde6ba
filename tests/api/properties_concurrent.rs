//! Property tests whose steps overlap: generated histories of groups of
//! requests fired at once (two checkouts, a double click, a payment and a
//! cancel, two refunds, disputes of every status, a purchase again after a
//! lost dispute) against a real server on PostgreSQL, where READ COMMITTED
//! lets races through that SQLite's one writer hides. After each group the
//! money and access invariants must hold.
//!
//! `KASIR_PROPTEST_CASES` sets how many histories (default 4: each runs a
//! server of its own).

use std::collections::{BTreeMap, BTreeSet};

use diesel::prelude::*;
use kasir::db::DbConnection;
use kasir::db::schema::{
    financial_journals, lms_outbox, order_items, orders, promo_codes, promo_redemptions,
    sandbox_payment_intents, user_courses, users,
};
use kasir::services::journal::ChainVerdict;
use proptest::prelude::*;
use proptest::test_runner::TestCaseError;

use crate::helpers::events::{dispute_event, intent_event};
use crate::helpers::shop::{Promo, course_id, insert_promo};
use crate::helpers::{Backend, TestApp, location};

const STUDENTS: usize = 3;
const COURSES: [&str; 5] = [
    "rust-for-web-developers",
    "modern-javascript",
    "postgresql-in-practice",
    "ux-design-foundations",
    "data-analysis-with-python",
];

/// One request, or one event from the provider.
#[derive(Clone, Copy, Debug)]
enum Act {
    AddCourse {
        student: usize,
        course: usize,
    },
    /// A whole purchase: add a course, check out, pay.
    Buy {
        student: usize,
        course: usize,
    },
    Checkout {
        student: usize,
        promo: bool,
    },
    /// Two checkouts of one session at once.
    DoubleClick {
        student: usize,
    },
    /// The sandbox card form, on the student's newest pending order.
    Pay {
        student: usize,
    },
    /// The provider says the newest order's intent succeeded (a late or
    /// repeated delivery, maybe racing a cancel).
    Succeeded {
        student: usize,
    },
    /// The provider canceled the newest pending order's intent.
    Canceled {
        student: usize,
    },
    /// Staff refund a third, two or three thirds of the newest paid order.
    Refund {
        student: usize,
        thirds: i64,
    },
    Dispute {
        student: usize,
        status: &'static str,
        closed: bool,
    },
}

fn act() -> impl Strategy<Value = Act> {
    let student = 0..STUDENTS;
    prop_oneof![
        2 => (student.clone(), 0..COURSES.len()).prop_map(|(student, course)| Act::AddCourse { student, course }),
        3 => (student.clone(), 0..COURSES.len()).prop_map(|(student, course)| Act::Buy { student, course }),
        3 => (student.clone(), any::<bool>()).prop_map(|(student, promo)| Act::Checkout { student, promo }),
        1 => student.clone().prop_map(|student| Act::DoubleClick { student }),
        3 => student.clone().prop_map(|student| Act::Pay { student }),
        2 => student.clone().prop_map(|student| Act::Succeeded { student }),
        1 => student.clone().prop_map(|student| Act::Canceled { student }),
        2 => (student.clone(), 1i64..=3).prop_map(|(student, thirds)| Act::Refund { student, thirds }),
        2 => (
            student,
            proptest::sample::select(vec![
                ("warning_needs_response", false),
                ("needs_response", false),
                ("warning_under_review", false),
                ("under_review", false),
                ("warning_closed", true),
                ("won", true),
                ("lost", true),
            ]),
        )
            .prop_map(|(student, (status, closed))| Act::Dispute { student, status, closed }),
    ]
}

fn history() -> impl Strategy<Value = Vec<Vec<Act>>> {
    proptest::collection::vec(proptest::collection::vec(act(), 1..=3), 6..=16)
}

fn cases() -> u32 {
    std::env::var("KASIR_PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(4)
}

#[test]
fn overlapping_histories_keep_money_and_access_invariants_on_postgres() {
    let mut runner = crate::helpers::replayable_runner("overlapping_histories", cases());
    runner
        .run(&history(), |groups| {
            actix_web::rt::System::new().block_on(run(groups))
        })
        .unwrap_or_else(|e| panic!("{e}"));
}

struct Target {
    id: i64,
    intent: String,
    total: i64,
    number: String,
}

/// The newest order of `user` with one of `statuses` and an intent.
fn newest(conn: &mut DbConnection, user: i64, statuses: &[&str]) -> Option<Target> {
    orders::table
        .filter(orders::user_id.eq(user))
        .filter(orders::status.eq_any(statuses))
        .filter(orders::payment_intent_id.is_not_null())
        .order(orders::id.desc())
        .select((
            orders::id,
            orders::payment_intent_id.assume_not_null(),
            orders::total_cents,
            orders::number,
        ))
        .first::<(i64, String, i64, String)>(conn)
        .optional()
        .unwrap()
        .map(|(id, intent, total, number)| Target {
            id,
            intent,
            total,
            number,
        })
}

async fn run(groups: Vec<Vec<Act>>) -> Result<(), TestCaseError> {
    let app = TestApp::spawn(Backend::Postgres).await;
    let mut conn = app.db.connect();
    insert_promo(
        &mut conn,
        Promo {
            code: "FEW",
            max_redemptions: Some(2),
            ..Promo::default()
        },
    );
    let staff = TestApp::with_client_of(&app);
    staff.staff("boss@example.com").await;
    let mut students = Vec::new();
    for (n, first_course) in COURSES.iter().take(STUDENTS).enumerate() {
        let student = TestApp::with_client_of(&app);
        student.student(&format!("s{n}@example.com")).await;
        student.add_course(first_course).await;
        students.push(student);
    }
    let users: Vec<i64> = users::table
        .filter(users::email.like("s%@example.com"))
        .order(users::id.asc())
        .select(users::id)
        .load(&mut conn)
        .unwrap();
    let mut event = 0;
    for (g, group) in groups.iter().enumerate() {
        // Each act's target is read before the group fires, as each
        // request would find it.
        let mut requests = Vec::new();
        for act in group {
            event += 1;
            let planned = plan(&mut conn, &users, *act, event);
            requests.push(fire(&app, &staff, &students, planned));
        }
        let statuses: Vec<u16> = futures_util::future::join_all(requests)
            .await
            .into_iter()
            .flatten()
            .collect();
        prop_assert!(
            statuses.iter().all(|s| *s < 500),
            "group {g} {group:?}: a server error among {statuses:?}"
        );
        check(&mut conn)
            .map_err(|e| TestCaseError::fail(format!("after group {g} {group:?}: {e}")))?;
    }
    Ok(())
}

/// What one act does, with its target read from the database before its
/// group fires (as each request would find it).
enum Planned {
    Nothing,
    AddCourse { student: usize, course_id: String },
    Buy { student: usize, course_id: String },
    Checkout { student: usize, promo: bool },
    DoubleClick { student: usize },
    Pay { student: usize, number: String },
    Deliver(String),
    Refund { number: String, amount: String },
}

/// Whether the sandbox provider holds `intent` as paid.
fn paid_at_provider(conn: &mut DbConnection, intent: &str) -> bool {
    sandbox_payment_intents::table
        .find(intent)
        .select(sandbox_payment_intents::status)
        .first::<String>(conn)
        .is_ok_and(|status| status == "succeeded")
}

fn plan(conn: &mut DbConnection, users: &[i64], act: Act, event: usize) -> Planned {
    match act {
        Act::AddCourse { student, course } => Planned::AddCourse {
            student,
            course_id: course_id(conn, COURSES[course]).to_string(),
        },
        Act::Buy { student, course } => Planned::Buy {
            student,
            course_id: course_id(conn, COURSES[course]).to_string(),
        },
        Act::Checkout { student, promo } => Planned::Checkout { student, promo },
        Act::DoubleClick { student } => Planned::DoubleClick { student },
        Act::Pay { student } => match newest(conn, users[student], &["pending"]) {
            Some(order) => Planned::Pay {
                student,
                number: order.number,
            },
            None => Planned::Nothing,
        },
        Act::Succeeded { student } => {
            match newest(conn, users[student], &["pending", "canceled", "paid"]) {
                // Only an intent the student paid can succeed at the provider.
                Some(order) if paid_at_provider(conn, &order.intent) => {
                    Planned::Deliver(intent_event(
                        &format!("evt_s_{event}"),
                        "payment_intent.succeeded",
                        &order.intent,
                        order.total,
                        order.id,
                        None,
                    ))
                }
                _ => Planned::Nothing,
            }
        }
        Act::Canceled { student } => match newest(conn, users[student], &["pending"]) {
            // The provider cancels only what nobody paid.
            Some(order) if !paid_at_provider(conn, &order.intent) => {
                Planned::Deliver(intent_event(
                    &format!("evt_c_{event}"),
                    "payment_intent.canceled",
                    &order.intent,
                    order.total,
                    order.id,
                    None,
                ))
            }
            _ => Planned::Nothing,
        },
        Act::Refund { student, thirds } => {
            match newest(conn, users[student], &["paid", "partially_refunded"]) {
                Some(order) => Planned::Refund {
                    number: order.number,
                    amount: {
                        let minor = (order.total * thirds / 3).max(1);
                        format!("{}.{:02}", minor / 100, minor % 100)
                    },
                },
                None => Planned::Nothing,
            }
        }
        Act::Dispute {
            student,
            status,
            closed,
        } => {
            match newest(
                conn,
                users[student],
                &["paid", "partially_refunded", "refunded"],
            ) {
                Some(order) => {
                    let kind = if closed {
                        "charge.dispute.closed"
                    } else {
                        "charge.dispute.created"
                    };
                    Planned::Deliver(dispute_event(
                        &format!("evt_d_{event}"),
                        kind,
                        &order.intent,
                        order.total,
                        status,
                    ))
                }
                None => Planned::Nothing,
            }
        }
    }
}

/// The sandbox card form on payment page `pay`; the order may be canceled
/// under it.
async fn sandbox_pay(student: &TestApp, pay: &str) -> u16 {
    student
        .submit(
            &format!("{pay}/sandbox"),
            &[
                ("card_number", "4242424242424242"),
                ("expiry", "12/40"),
                ("cvc", "123"),
            ],
        )
        .await
        .status()
        .as_u16()
}

/// Fires one planned act; the HTTP statuses it got.
async fn fire(app: &TestApp, staff: &TestApp, students: &[TestApp], planned: Planned) -> Vec<u16> {
    match planned {
        Planned::Nothing => Vec::new(),
        Planned::AddCourse { student, course_id } => vec![
            students[student]
                .submit("/cart/items", &[("course_id", &course_id)])
                .await
                .status()
                .as_u16(),
        ],
        Planned::Buy { student, course_id } => {
            let student = &students[student];
            let added = student
                .submit("/cart/items", &[("course_id", &course_id)])
                .await;
            let checkout = student.checkout("").await;
            let mut statuses = vec![added.status().as_u16(), checkout.status().as_u16()];
            let pay = location(&checkout);
            if pay.starts_with("/checkout/") {
                statuses.push(sandbox_pay(student, &pay).await);
            }
            statuses
        }
        Planned::Checkout { student, promo } => vec![
            students[student]
                .checkout(if promo { "FEW" } else { "" })
                .await
                .status()
                .as_u16(),
        ],
        Planned::DoubleClick { student } => {
            let token = students[student].csrf_token().await;
            let form = [("promo_code", ""), ("csrf_token", token.as_str())];
            let (a, b) = tokio::join!(
                students[student].post_form("/checkout", &form),
                students[student].post_form("/checkout", &form)
            );
            vec![a.status().as_u16(), b.status().as_u16()]
        }
        // The sandbox card form; the order may be canceled under it.
        Planned::Pay { student, number } => vec![
            students[student]
                .submit(
                    &format!("/checkout/{number}/sandbox"),
                    &[
                        ("card_number", "4242424242424242"),
                        ("expiry", "12/40"),
                        ("cvc", "123"),
                    ],
                )
                .await
                .status()
                .as_u16(),
        ],
        Planned::Deliver(body) => vec![app.deliver(&body).await.status().as_u16()],
        Planned::Refund { number, amount } => vec![
            staff
                .submit(
                    &format!("/staff/orders/{number}/refund"),
                    &[
                        ("amount", amount.as_str()),
                        ("confirm", "yes"),
                        ("reason", "property test"),
                    ],
                )
                .await
                .status()
                .as_u16(),
        ],
    }
}

/// The invariants, read from the database.
fn check(conn: &mut DbConnection) -> Result<(), String> {
    // Paid at most once, and every paid order has its income row.
    let income: BTreeMap<i64, i64> = financial_journals::table
        .filter(financial_journals::type_.eq("income"))
        .select(financial_journals::reference_id.assume_not_null())
        .load::<i64>(conn)
        .unwrap()
        .into_iter()
        .fold(BTreeMap::new(), |mut map, order| {
            *map.entry(order).or_default() += 1;
            map
        });
    if let Some((order, rows)) = income.iter().find(|(_, rows)| **rows > 1) {
        return Err(format!("order {order} has {rows} income rows"));
    }
    let paid: BTreeSet<i64> = orders::table
        .filter(orders::paid_at.is_not_null())
        .select(orders::id)
        .load::<i64>(conn)
        .unwrap()
        .into_iter()
        .collect();
    if paid != income.keys().copied().collect() {
        return Err(format!(
            "paid orders {paid:?} but income rows for {:?}",
            income.keys()
        ));
    }
    // The journal's net equals what the orders say.
    let signed: i64 = financial_journals::table
        .filter(financial_journals::type_.eq_any(["income", "refund", "refund_reversed"]))
        .select((financial_journals::type_, financial_journals::amount_cents))
        .load::<(String, i64)>(conn)
        .unwrap()
        .iter()
        .map(|(kind, amount)| if kind == "refund" { -amount } else { *amount })
        .sum();
    let expected: i64 = orders::table
        .filter(orders::paid_at.is_not_null())
        .select((orders::total_cents, orders::refunded_cents))
        .load::<(i64, i64)>(conn)
        .unwrap()
        .iter()
        .map(|(total, refunded)| total - refunded)
        .sum();
    if signed != expected {
        return Err(format!("journal net {signed} but orders say {expected}"));
    }
    // At most one pending order per student (per cart).
    let pending: Vec<(i64, i64)> = orders::table
        .filter(orders::status.eq("pending"))
        .group_by(orders::user_id)
        .select((orders::user_id, diesel::dsl::count_star()))
        .load(conn)
        .unwrap();
    if let Some((user, n)) = pending.iter().find(|(_, n)| *n > 1) {
        return Err(format!("user {user} has {n} pending orders"));
    }
    // No active grant traceable to an order that may not give access.
    let bad_grants: Vec<(i64, String, Option<String>)> = user_courses::table
        .inner_join(orders::table)
        .filter(user_courses::revoked_at.is_null())
        .filter(
            orders::status
                .ne_all(["paid", "partially_refunded"])
                .or(orders::dispute_status.eq_any(["needs_response", "under_review", "lost"])),
        )
        .select((orders::id, orders::status, orders::dispute_status))
        .load(conn)
        .unwrap();
    if !bad_grants.is_empty() {
        return Err(format!(
            "active grants from orders that may not give access: {bad_grants:?}"
        ));
    }
    // Every course of an order that may give access is held by its student.
    let owed: BTreeSet<(i64, i64)> = orders::table
        .inner_join(order_items::table)
        .filter(orders::status.eq_any(["paid", "partially_refunded"]))
        .filter(
            orders::dispute_status
                .is_null()
                .or(orders::dispute_status.ne_all(["needs_response", "under_review", "lost"])),
        )
        .select((orders::user_id, order_items::course_id))
        .load::<(i64, i64)>(conn)
        .unwrap()
        .into_iter()
        .collect();
    let held: BTreeSet<(i64, i64)> = user_courses::table
        .filter(user_courses::revoked_at.is_null())
        .select((user_courses::user_id, user_courses::course_id))
        .load::<(i64, i64)>(conn)
        .unwrap()
        .into_iter()
        .collect();
    if owed != held {
        return Err(format!("access {held:?} but orders give {owed:?}"));
    }
    // The learning platform hears of every access change, in order: for
    // each student and course, the newest outbox event says what the
    // grants say.
    let events: Vec<(i64, i64, String)> = lms_outbox::table
        .order(lms_outbox::id.asc())
        .select((
            lms_outbox::user_id,
            lms_outbox::course_id,
            lms_outbox::event_type,
        ))
        .load(conn)
        .unwrap();
    let told: BTreeMap<(i64, i64), bool> = events
        .into_iter()
        .map(|(user, course, kind)| ((user, course), kind == "enrollment.granted"))
        .collect();
    let told_active: BTreeSet<(i64, i64)> = told
        .iter()
        .filter(|(_, active)| **active)
        .map(|(pair, _)| *pair)
        .collect();
    if told_active != held {
        return Err(format!(
            "the LMS was told {told_active:?} but access is {held:?}"
        ));
    }
    // Every promo use belongs to a live order; the counter agrees.
    let uses: Vec<(i64, String, String)> = promo_redemptions::table
        .inner_join(orders::table)
        .select((
            promo_redemptions::promo_code_id,
            promo_redemptions::status,
            orders::status,
        ))
        .load(conn)
        .unwrap();
    for (_, use_status, order_status) in &uses {
        let fits = match use_status.as_str() {
            "reserved" => order_status == "pending",
            "redeemed" => {
                ["paid", "partially_refunded", "refunded"].contains(&order_status.as_str())
            }
            _ => order_status == "canceled",
        };
        if !fits {
            return Err(format!(
                "a {use_status} promo use on a {order_status} order"
            ));
        }
    }
    let codes: Vec<(i64, i64, Option<i64>)> = promo_codes::table
        .select((
            promo_codes::id,
            promo_codes::reserved_count,
            promo_codes::max_redemptions,
        ))
        .load(conn)
        .unwrap();
    for (code, counter, max) in codes {
        let live = uses
            .iter()
            .filter(|(of, status, _)| *of == code && status != "released")
            .count() as i64;
        if counter != live || max.is_some_and(|m| live > m) {
            return Err(format!(
                "promo {code}: counter {counter}, live uses {live}, limit {max:?}"
            ));
        }
    }
    match crate::helpers::seal_and_verify(conn) {
        ChainVerdict::Intact { .. } => Ok(()),
        broken => Err(broken.to_string()),
    }
}

#[test]
fn the_checker_sees_a_grant_from_a_disputed_order() {
    // The invariant above is only as good as its query: a grant left
    // active on an order with a lost dispute must be caught.
    actix_web::rt::System::new().block_on(async {
        let app = TestApp::spawn(Backend::Postgres).await;
        let mut conn = app.db.connect();
        app.student("ada@example.com").await;
        let number = app.bought(&["rust-for-web-developers"], "").await;
        assert_eq!(check(&mut conn), Ok(()));
        diesel::update(orders::table.filter(orders::number.eq(&number)))
            .set(orders::dispute_status.eq("lost"))
            .execute(&mut conn)
            .unwrap();
        let found = check(&mut conn).unwrap_err();
        assert!(found.contains("may not give access"), "{found}");
    });
}
