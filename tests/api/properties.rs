//! Property tests over event histories: checkouts with promo codes, then
//! random sequences of webhook deliveries (repeated, reordered, early),
//! return-page visits, refunds (partial, full, repeated) and disputes. An
//! event the shop cannot apply yet (409) is delivered again later, as
//! Stripe does. After each history the money invariants must hold, on
//! SQLite and on PostgreSQL.

use std::collections::{BTreeMap, BTreeSet};

use diesel::prelude::*;
use kasir::db::schema::{
    courses, financial_journals, order_items, orders, promo_codes, promo_redemptions, user_courses,
    users,
};
use kasir::db::{self, DbConnection};
use kasir::domain::{Currency, Provider};
use kasir::models::{CourseId, OrderId, UserId};
use kasir::payments::webhook::Envelope;
use kasir::payments::{IntentStatus, ProviderIntent};
use kasir::services::cart::{self, CartOwner};
use kasir::services::journal::ChainVerdict;
use kasir::services::order_lifecycle::{
    self as lifecycle, CheckoutError, CheckoutOutcome, CheckoutRequest, EventError, ObservedIntent,
};
use kasir::services::webhook_inbox::{self, Verified};
use proptest::prelude::*;
use proptest::test_runner::TestCaseError;

use crate::helpers::shop::{Promo, insert_promo};
use crate::helpers::{Backend, TestDb};

/// Students (one order each) per history.
const STUDENTS: usize = 4;
/// Promo codes and their redemption limits.
const PROMOS: [(&str, i64); 2] = [("ONCE", 1), ("TWICE", 2)];

/// What a student puts in the cart: up to two of the demo courses, and
/// maybe a promo code.
#[derive(Clone, Debug)]
struct Purchase {
    courses: Vec<usize>,
    promo: Option<usize>,
}

/// One thing that happens to an order after checkout.
#[derive(Clone, Copy, Debug)]
enum Happening {
    /// `payment_intent.succeeded`; every delivery of it has the same id.
    Succeeded,
    /// `payment_intent.payment_failed` (a first card declined, or late noise).
    Failed,
    /// The student's browser comes back: the return page asks the provider.
    ReturnVisit,
    /// `charge.refunded` with `amount_refunded` at `thirds`/3 of the total
    /// (cumulative, as Stripe sends it).
    Refund {
        thirds: i64,
    },
    DisputeCreated,
    DisputeClosed,
}

/// One step of a history, for one student.
#[derive(Clone, Copy, Debug)]
enum Step {
    /// Something happens to one of the student's orders (`pick` chooses
    /// which, modulo how many there are).
    Happen { pick: usize, what: Happening },
    /// The student adds a course and checks out again: a pending order is
    /// superseded (canceled), a paid one stays and a new order is made.
    Supersede { course: usize },
    /// After a full refund or a lost dispute the student buys the same
    /// courses again.
    Rebuy,
}

/// How each student's disputes, if any, end.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum DisputeEnd {
    Won,
    Lost,
    /// An inquiry (`warning_*`) that closes without a chargeback: nothing
    /// is taken, access never changes.
    Inquiry,
}

impl DisputeEnd {
    /// The dispute's status in the created and in the closed event.
    fn statuses(self) -> (&'static str, &'static str) {
        match self {
            Self::Won => ("needs_response", "won"),
            Self::Lost => ("needs_response", "lost"),
            Self::Inquiry => ("warning_needs_response", "warning_closed"),
        }
    }
}

#[derive(Clone, Debug)]
struct History {
    purchases: Vec<Purchase>,
    dispute_end: Vec<DisputeEnd>,
    steps: Vec<(usize, Step)>,
}

fn happening() -> impl Strategy<Value = Happening> {
    prop_oneof![
        4 => Just(Happening::Succeeded),
        1 => Just(Happening::Failed),
        2 => Just(Happening::ReturnVisit),
        3 => (1i64..=3).prop_map(|thirds| Happening::Refund { thirds }),
        1 => Just(Happening::DisputeCreated),
        1 => Just(Happening::DisputeClosed),
    ]
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        10 => (any::<usize>(), happening()).prop_map(|(pick, what)| Step::Happen { pick, what }),
        1 => (0..8usize).prop_map(|course| Step::Supersede { course }),
        1 => Just(Step::Rebuy),
    ]
}

fn history() -> impl Strategy<Value = History> {
    let purchase = (
        proptest::sample::subsequence((0..8).collect::<Vec<usize>>(), 1..=2),
        proptest::option::of(0..PROMOS.len()),
    )
        .prop_map(|(courses, promo)| Purchase { courses, promo });
    (
        proptest::collection::vec(purchase, STUDENTS),
        proptest::collection::vec(
            proptest::sample::select(vec![DisputeEnd::Won, DisputeEnd::Lost, DisputeEnd::Inquiry]),
            STUDENTS,
        ),
        proptest::collection::vec((0..STUDENTS, step()), 1..30),
    )
        .prop_map(|(purchases, dispute_end, steps)| History {
            purchases,
            dispute_end,
            steps,
        })
}

/// An order placed in the history, with its PaymentIntent.
struct Placed {
    id: OrderId,
    intent: String,
    total: i64,
}

/// A student, the courses they chose, and their orders in the order made.
struct Student {
    user: UserId,
    orders: Vec<Placed>,
}

fn usd() -> Currency {
    Currency::parse("USD").unwrap()
}

fn demo_course_ids(conn: &mut DbConnection) -> Vec<CourseId> {
    courses::table
        .filter(courses::published.eq(true))
        .order(courses::id.asc())
        .select(courses::id)
        .load(conn)
        .unwrap()
}

/// The user's pending orders: here the provider is this test, which
/// settles them (their intents can no longer be paid) when asked.
fn lifecycle_pending(conn: &mut DbConnection, user: UserId) -> Vec<OrderId> {
    kasir::models::order::Order::pending_for_user(conn, user)
        .unwrap()
        .into_iter()
        .map(|o| o.id)
        .collect()
}

/// Checks the cart out (a code that has run out is dropped, as the student
/// would) and starts its payment; the order, unless the cart was empty.
fn check_out(conn: &mut DbConnection, user: UserId, promo: Option<usize>) -> Option<Placed> {
    let settled = lifecycle_pending(conn, user);
    let request = |promo: Option<usize>| CheckoutRequest {
        user_id: user,
        promo_code: promo.map(|p| PROMOS[p].0.to_owned()),
        currency: usd(),
        provider: Provider::Stripe,
        settled: settled.clone(),
        seller: kasir::config::Seller::default(),
        tax: None,
    };
    let outcome = match lifecycle::place_order(conn, &request(promo)) {
        Err(CheckoutError::Promo(_)) => lifecycle::place_order(conn, &request(None)),
        other => other,
    };
    let CheckoutOutcome::Placed(placed) = outcome.unwrap() else {
        return None;
    };
    let order = placed.order;
    let intent = format!("pi_prop_{}", order.id.0);
    let ours = lifecycle::attach_payment_intent(
        conn,
        order.id,
        &ProviderIntent {
            id: intent.clone(),
            status: IntentStatus::RequiresPaymentMethod,
            amount: order.total_cents,
            currency: "usd".into(),
            client_secret: None,
            last_error: None,
            last_error_code: None,
            charge_id: None,
            raw_json: "{}".into(),
        },
    )
    .unwrap();
    assert!(ours || placed.reused, "a new order takes its PaymentIntent");
    Some(Placed {
        id: order.id,
        intent,
        total: order.total_cents,
    })
}

fn place_orders(conn: &mut DbConnection, purchases: &[Purchase]) -> Vec<Student> {
    let course_ids = demo_course_ids(conn);
    let now = db::now();
    purchases
        .iter()
        .enumerate()
        .map(|(n, purchase)| {
            let user: UserId = diesel::insert_into(users::table)
                .values((
                    users::email.eq(format!("student{n}@example.com")),
                    users::password_hash.eq("x"),
                    users::name.eq(format!("Student {n}")),
                    users::created_at.eq(now),
                    users::updated_at.eq(now),
                ))
                .returning(users::id)
                .get_result(conn)
                .unwrap();
            for &course in &purchase.courses {
                cart::add(conn, &CartOwner::User(user), course_ids[course], usd()).unwrap();
            }
            let order = check_out(conn, user, purchase.promo).expect("a cart with courses");
            Student {
                user,
                orders: vec![order],
            }
        })
        .collect()
}

/// Supersede / Rebuy: the student changes the cart and checks out again.
fn check_out_again(conn: &mut DbConnection, student: &mut Student, step: Step) {
    let course_ids = demo_course_ids(conn);
    let owner = CartOwner::User(student.user);
    match step {
        Step::Supersede { course } => {
            // Owned or already there: the cart says no, and that is fine.
            let _ = cart::add(conn, &owner, course_ids[course], usd());
        }
        Step::Rebuy => {
            let refunded: Vec<OrderId> = orders::table
                .filter(orders::user_id.eq(student.user))
                .filter(
                    orders::status
                        .eq("refunded")
                        .or(orders::dispute_status.eq("lost")),
                )
                .select(orders::id)
                .load(conn)
                .unwrap();
            let Some(&last) = refunded.last() else { return };
            for course in order_items::table
                .filter(order_items::order_id.eq(last))
                .select(order_items::course_id)
                .load::<CourseId>(conn)
                .unwrap()
            {
                let _ = cart::add(conn, &owner, course, usd());
            }
        }
        Step::Happen { .. } => unreachable!(),
    }
    if let Some(order) = check_out(conn, student.user, None)
        && student.orders.iter().all(|o| o.id != order.id)
    {
        student.orders.push(order);
    }
}

/// The event a happening sends: the same id and body on every delivery.
fn event_for(order: &Placed, happening: Happening, dispute_end: DisputeEnd) -> Option<String> {
    let n = order.id.0;
    let (id, kind, object) = match happening {
        Happening::Succeeded | Happening::Failed => {
            let failed = matches!(happening, Happening::Failed);
            (
                format!("evt_{n}_{}", if failed { "failed" } else { "succeeded" }),
                if failed {
                    "payment_intent.payment_failed"
                } else {
                    "payment_intent.succeeded"
                },
                serde_json::json!({
                    "id": order.intent, "object": "payment_intent", "amount": order.total,
                    "currency": "usd", "status": if failed { "requires_payment_method" } else { "succeeded" },
                    "metadata": { "kasir_order_id": n.to_string() },
                    "last_payment_error": if failed { serde_json::json!({ "message": "Your card was declined." }) } else { serde_json::Value::Null },
                }),
            )
        }
        Happening::Refund { thirds } => (
            format!("evt_{n}_refund_{thirds}"),
            "charge.refunded",
            serde_json::json!({
                "id": format!("ch_{n}"), "object": "charge", "payment_intent": order.intent,
                "amount": order.total, "amount_refunded": order.total * thirds / 3, "currency": "usd",
            }),
        ),
        Happening::DisputeCreated | Happening::DisputeClosed => {
            let closed = matches!(happening, Happening::DisputeClosed);
            let (opened, decided) = dispute_end.statuses();
            let status = if closed { decided } else { opened };
            (
                format!(
                    "evt_{n}_dispute_{}",
                    if closed { "closed" } else { "created" }
                ),
                if closed {
                    "charge.dispute.closed"
                } else {
                    "charge.dispute.created"
                },
                serde_json::json!({
                    "id": format!("dp_{n}"), "object": "dispute", "payment_intent": order.intent,
                    "amount": order.total, "currency": "usd", "status": status,
                }),
            )
        }
        Happening::ReturnVisit => return None,
    };
    Some(
        serde_json::json!({ "id": id, "object": "event", "type": kind, "data": { "object": object } })
            .to_string(),
    )
}

/// Applies one happening; false when it must be delivered again later.
fn apply(conn: &mut DbConnection, order: &Placed, happening: Happening, end: DisputeEnd) -> bool {
    let Some(raw) = event_for(order, happening, end) else {
        // The return page retrieves the intent: it succeeded only if the
        // succeeded event could have been sent, which the page cannot
        // know; the provider says "succeeded" once the student paid, so the
        // visit fulfils exactly as the webhook would.
        let observed = ObservedIntent {
            id: &order.intent,
            amount: order.total,
            currency: "usd",
            status: IntentStatus::Succeeded,
            charge_id: None,
            raw_json: "{}",
            event_id: None,
        };
        lifecycle::fulfill_payment(conn, &observed).unwrap();
        return true;
    };
    let event: Envelope = serde_json::from_str(&raw).unwrap();
    let kind = event.kind.clone();
    match webhook_inbox::receive(conn, Verified { event, raw }, false) {
        Ok(_) => true,
        Err(EventError::NotReady(_)) => false,
        Err(e) => panic!("{kind} failed: {e}"),
    }
}

/// Runs a history and checks every invariant; an `Err` names the broken one.
fn run(backend: Backend, history: &History) -> Result<(), TestCaseError> {
    let test_db = TestDb::create(backend);
    let pool = db::open(&kasir::db::DatabaseUrl::parse(&test_db.url).unwrap(), 2).unwrap();
    let mut conn = pool.get().unwrap();
    kasir::services::demo::seed_demo_catalog(&mut conn, Currency::parse("USD").unwrap()).unwrap();
    for (code, limit) in PROMOS {
        insert_promo(
            &mut conn,
            Promo {
                code,
                max_redemptions: Some(limit),
                ..Promo::default()
            },
        );
    }
    let mut students = place_orders(&mut conn, &history.purchases);

    // What the provider did: once an order's payment succeeded, refunds and
    // disputes may follow; their events can still arrive in any order.
    let mut later: Vec<(usize, usize, Happening)> = Vec::new();
    // The largest refund each order's applied events reported.
    let mut refunded: BTreeMap<OrderId, i64> = BTreeMap::new();
    let mut note = |order: &Placed, what: Happening| {
        if let Happening::Refund { thirds } = what {
            let amount = refunded.entry(order.id).or_default();
            *amount = (*amount).max(order.total * thirds / 3);
        }
    };
    for &(n, step) in &history.steps {
        match step {
            Step::Happen { pick, what } => {
                let k = pick % students[n].orders.len();
                let order = &students[n].orders[k];
                if apply(&mut conn, order, what, history.dispute_end[n]) {
                    note(order, what);
                } else {
                    later.push((n, k, what));
                }
            }
            again => check_out_again(&mut conn, &mut students[n], again),
        }
    }
    // Redelivery: what could not be applied comes again. An event for an
    // order that never got paid stays unapplied forever (its payment never
    // succeeded): the provider would never have sent it.
    for _ in 0..3 {
        later.retain(|&(n, k, what)| {
            let order = &students[n].orders[k];
            let applied = apply(&mut conn, order, what, history.dispute_end[n]);
            if applied {
                note(order, what);
            }
            !applied
        });
    }
    // Every refund the provider reported is in the journal: on a paid order
    // as its refunded amount, on an order canceled before its payment was
    // applied as `unapplied_refund` rows.
    for (order, amount) in &refunded {
        let (paid_at, total, refunded_cents): (Option<chrono::NaiveDateTime>, i64, i64) =
            orders::table
                .find(order)
                .select((orders::paid_at, orders::total_cents, orders::refunded_cents))
                .first(&mut **conn)
                .unwrap();
        if paid_at.is_some() {
            prop_assert_eq!(refunded_cents, (*amount).min(total), "order {:?}", order);
        } else {
            let unapplied: i64 = financial_journals::table
                .filter(financial_journals::reference_id.eq(order))
                .filter(financial_journals::type_.eq("unapplied_refund"))
                .select(financial_journals::amount_cents)
                .load::<i64>(&mut **conn)
                .unwrap()
                .iter()
                .sum();
            prop_assert_eq!(unapplied, *amount, "order {:?}", order);
        }
    }
    check_invariants(&mut conn, history, &students)
}

/// Invariants 1-3: paid at most once, income rows = paid orders, and the
/// journal's net equals the orders' paid-minus-refunded. Returns the paid
/// orders (id, status, total, refunded).
fn check_money(conn: &mut DbConnection) -> Result<Vec<(OrderId, String, i64, i64)>, TestCaseError> {
    // 1. Paid at most once: at most one income row per order.
    let income: BTreeMap<OrderId, (i64, i64)> = financial_journals::table
        .filter(financial_journals::type_.eq("income"))
        .select((
            financial_journals::reference_id.assume_not_null(),
            financial_journals::amount_cents,
        ))
        .load::<(OrderId, i64)>(conn)
        .unwrap()
        .into_iter()
        .fold(BTreeMap::new(), |mut map, (order, amount)| {
            let entry = map.entry(order).or_insert((0, 0));
            entry.0 += 1;
            entry.1 += amount;
            map
        });
    prop_assert!(
        income.values().all(|&(rows, _)| rows == 1),
        "an order has two income rows: {income:?}"
    );

    // 2. Income rows = paid orders.
    let paid: Vec<(OrderId, String, i64, i64)> = orders::table
        .filter(orders::paid_at.is_not_null())
        .select((
            orders::id,
            orders::status,
            orders::total_cents,
            orders::refunded_cents,
        ))
        .load(conn)
        .unwrap();
    let paid_ids: BTreeSet<OrderId> = paid.iter().map(|p| p.0).collect();
    prop_assert_eq!(&paid_ids, &income.keys().copied().collect::<BTreeSet<_>>());

    // 3. Σ income − Σ refunds = Σ paid totals − Σ refunded.
    let refunds: i64 = financial_journals::table
        .filter(financial_journals::type_.eq("refund"))
        .select(financial_journals::amount_cents)
        .load::<i64>(conn)
        .unwrap()
        .iter()
        .sum();
    let income_sum: i64 = income.values().map(|&(_, amount)| amount).sum();
    let expected: i64 = paid.iter().map(|p| p.2 - p.3).sum();
    prop_assert_eq!(income_sum - refunds, expected);
    // No refund on an order that was never paid; never more than its total.
    let refunded_unpaid: i64 = orders::table
        .filter(orders::paid_at.is_null())
        .filter(orders::refunded_cents.gt(0))
        .count()
        .get_result(conn)
        .unwrap();
    prop_assert_eq!(refunded_unpaid, 0);

    let verdict = crate::helpers::seal_and_verify(conn);
    prop_assert!(
        matches!(verdict, ChainVerdict::Intact { .. }),
        "{}",
        verdict
    );
    Ok(paid)
}

fn check_invariants(
    conn: &mut DbConnection,
    history: &History,
    students: &[Student],
) -> Result<(), TestCaseError> {
    let paid = check_money(conn)?;

    // 4. Active grants = the courses of paid, not fully refunded orders
    //    whose dispute is not open or lost.
    let journal_keys: BTreeSet<String> = financial_journals::table
        .select(financial_journals::idempotency_key)
        .load::<String>(conn)
        .unwrap()
        .into_iter()
        .collect();
    let mut expected_grants = BTreeSet::new();
    let placed = students
        .iter()
        .enumerate()
        .flat_map(|(n, student)| student.orders.iter().map(move |order| (n, order)));
    for (n, order) in placed {
        let Some((_, status, _, _)) = paid.iter().find(|p| p.0 == order.id) else {
            continue;
        };
        let opened = journal_keys.contains(&format!("dispute-dp_{}-created", order.id.0));
        let closed = journal_keys.contains(&format!("dispute-dp_{}-closed", order.id.0));
        let suspended = match history.dispute_end[n] {
            DisputeEnd::Inquiry => false,
            DisputeEnd::Lost => opened || closed,
            DisputeEnd::Won => opened && !closed,
        };
        if status == "refunded" || suspended {
            continue;
        }
        let user: UserId = orders::table
            .find(order.id)
            .select(orders::user_id)
            .first(conn)
            .unwrap();
        for course in order_items::table
            .filter(order_items::order_id.eq(order.id))
            .select(order_items::course_id)
            .load::<CourseId>(conn)
            .unwrap()
        {
            expected_grants.insert((user, course));
        }
    }
    let active: BTreeSet<(UserId, CourseId)> = user_courses::table
        .filter(user_courses::revoked_at.is_null())
        .select((user_courses::user_id, user_courses::course_id))
        .load::<(UserId, CourseId)>(conn)
        .unwrap()
        .into_iter()
        .collect();
    prop_assert_eq!(active, expected_grants);

    // 5. (6: the chain, checked with the money.) Promo redemptions within their limits, and the counter agrees.
    for (code, limit) in PROMOS {
        let (id, reserved): (i64, i64) = promo_codes::table
            .filter(promo_codes::code.eq(code))
            .select((promo_codes::id, promo_codes::reserved_count))
            .first(conn)
            .unwrap();
        let held: i64 = promo_redemptions::table
            .filter(promo_redemptions::promo_code_id.eq(id))
            .filter(promo_redemptions::status.ne("released"))
            .count()
            .get_result(conn)
            .unwrap();
        prop_assert!(held <= limit, "{code}: {held} redemptions, limit {limit}");
        prop_assert_eq!(held, reserved, "{} counter", code);
    }

    // 6. The journal chain verifies.
    let verdict = crate::helpers::seal_and_verify(conn);
    prop_assert!(
        matches!(verdict, ChainVerdict::Intact { .. }),
        "{}",
        verdict
    );
    Ok(())
}

fn check_histories(backend: Backend) {
    let cases = std::env::var("KASIR_PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(24);
    let mut runner = crate::helpers::replayable_runner("event_histories", cases);
    runner
        .run(&history(), |history| run(backend, &history))
        .unwrap_or_else(|e| panic!("{backend:?}: {e}"));
}

#[test]
fn event_histories_keep_the_money_invariants_on_sqlite() {
    check_histories(Backend::Sqlite);
}

#[test]
fn event_histories_keep_the_money_invariants_on_postgres() {
    check_histories(Backend::Postgres);
}

/// Any JSON under `data.object`, hostile numbers and strings included.
fn hostile() -> impl Strategy<Value = serde_json::Value> {
    let leaf = prop_oneof![
        Just(serde_json::Value::Null),
        any::<bool>().prop_map(serde_json::Value::from),
        any::<i64>().prop_map(serde_json::Value::from),
        prop_oneof![
            Just(i64::MAX),
            Just(i64::MIN),
            Just(-1),
            Just(0),
            Just(999_999_999_999),
            Just(1_000_000_000_000)
        ]
        .prop_map(serde_json::Value::from),
        any::<f64>().prop_map(serde_json::Value::from),
        ".{0,12}".prop_map(serde_json::Value::from),
    ];
    leaf.prop_recursive(2, 12, 4, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..3).prop_map(serde_json::Value::from),
            proptest::collection::btree_map("[a-z_]{1,8}", inner, 0..3)
                .prop_map(|m| serde_json::Value::Object(m.into_iter().collect())),
        ]
    })
}

/// An event of a type we handle whose object mixes plausible fields (our
/// own PaymentIntents, real currencies) with hostile ones.
fn hostile_event(intents: Vec<String>) -> impl Strategy<Value = String> {
    let kind = proptest::sample::select(vec![
        "payment_intent.succeeded",
        "payment_intent.payment_failed",
        "payment_intent.canceled",
        "charge.refunded",
        "charge.dispute.created",
        "charge.dispute.closed",
        "customer.created",
    ]);
    let plausible = proptest::sample::select(intents).prop_map(serde_json::Value::from);
    let field = |plausible: BoxedStrategy<serde_json::Value>| {
        proptest::option::of(prop_oneof![plausible, hostile()])
    };
    (
        "evt_[a-z0-9]{1,6}",
        kind,
        field(plausible.clone().boxed()),
        field(plausible.boxed()),
        field((0i64..20_000).prop_map(serde_json::Value::from).boxed()),
        field((0i64..20_000).prop_map(serde_json::Value::from).boxed()),
        field(Just(serde_json::Value::from("usd")).boxed()),
        field(
            proptest::sample::select(vec!["succeeded", "won", "lost", "needs_response"])
                .prop_map(serde_json::Value::from)
                .boxed(),
        ),
        proptest::option::of(hostile()),
    )
        .prop_map(
            |(id, kind, intent, payment_intent, amount, refunded, currency, status, extra)| {
                let mut object = serde_json::Map::new();
                for (key, value) in [
                    ("id", intent),
                    ("payment_intent", payment_intent),
                    ("amount", amount),
                    ("amount_refunded", refunded),
                    ("currency", currency),
                    ("status", status),
                    ("metadata", extra),
                ] {
                    if let Some(value) = value {
                        object.insert(key.into(), value);
                    }
                }
                serde_json::json!({ "id": id, "type": kind, "data": { "object": object } })
                    .to_string()
            },
        )
}

/// Fuzzing the event handler: whatever a (signed) event holds, the answer is
/// applied, "not yet", or "unreadable"; never a database error or a panic;
/// and the money invariants hold after any sequence of them.
#[test]
fn hostile_events_are_answered_and_never_break_the_money_invariants() {
    let cases = std::env::var("KASIR_PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(24);
    let mut runner = crate::helpers::replayable_runner("hostile_events", cases);
    let purchases = vec![
        Purchase {
            courses: vec![0],
            promo: None,
        },
        Purchase {
            courses: vec![1, 2],
            promo: Some(0),
        },
    ];
    runner
        .run(
            &proptest::collection::vec(
                hostile_event(vec![
                    "pi_prop_1".into(),
                    "pi_prop_2".into(),
                    "pi_other".into(),
                ]),
                1..12,
            ),
            |events| {
                let test_db = TestDb::create(Backend::Sqlite);
                let pool =
                    db::open(&kasir::db::DatabaseUrl::parse(&test_db.url).unwrap(), 2).unwrap();
                let mut conn = pool.get().unwrap();
                kasir::services::demo::seed_demo_catalog(
                    &mut conn,
                    Currency::parse("USD").unwrap(),
                )
                .unwrap();
                for (code, limit) in PROMOS {
                    insert_promo(
                        &mut conn,
                        Promo {
                            code,
                            max_redemptions: Some(limit),
                            ..Promo::default()
                        },
                    );
                }
                place_orders(&mut conn, &purchases);
                for raw in &events {
                    let Ok(event) = serde_json::from_str::<Envelope>(raw) else {
                        continue;
                    };
                    let verified = Verified {
                        event,
                        raw: raw.clone(),
                    };
                    match webhook_inbox::receive(&mut conn, verified, false) {
                        Ok(_) | Err(EventError::NotReady(_) | EventError::Unreadable(_)) => {}
                        Err(EventError::Database(e)) => {
                            return Err(TestCaseError::fail(format!("{raw}: database error {e}")));
                        }
                    }
                }
                check_money(&mut conn).map(|_| ())
            },
        )
        .unwrap_or_else(|e| panic!("{e}"));
}
