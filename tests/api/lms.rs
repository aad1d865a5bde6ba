//! The learning platform learns who has access: signed `enrollment.*`
//! events through the outbox to a real HTTP receiver that checks them with
//! the README's own code, retries while it is down, each event once across
//! two instances; and the bearer-token read API.

use std::collections::BTreeMap;
use std::time::Duration;

use diesel::prelude::*;
use kasir::db::schema::{api_tokens, lms_outbox};

use crate::both_backends;
use crate::helpers::lms::{Receiver, SECRET, pairs};
use crate::helpers::{Backend, TestApp, location, select_all};

async fn pause(millis: u64) {
    actix_web::rt::time::sleep(Duration::from_millis(millis)).await;
}

async fn a_purchase_and_its_refund_reach_the_lms_once_each(backend: Backend) {
    let receiver = Receiver::start(SECRET);
    let app = TestApp::spawn_with(backend, &pairs(&receiver.settings())).await;
    app.student("ada@example.com").await;
    let number = app.bought(&["rust-for-web-developers"], "").await;

    let granted = receiver.wait_for(1).await;
    let event = &granted[0]["body"];
    assert_eq!(granted[0]["type"], "enrollment.granted");
    assert_eq!(
        granted[0]["event_id"], event["id"],
        "Kasir-Event-Id is the event's id"
    );
    let data = &event["data"];
    assert_eq!(data["reason"], "purchase");
    assert_eq!(data["active"], true);
    assert_eq!(data["student"]["email"], "ada@example.com");
    assert_eq!(data["course"]["slug"], "rust-for-web-developers");
    assert_eq!(data["order_number"], number.as_str());

    let boss = TestApp::with_client_of(&app);
    boss.staff("boss@example.com").await;
    assert_eq!(
        location(&boss.refund(&number, "", "course cancelled").await),
        format!("/staff/orders/{number}")
    );
    let both = receiver.wait_for(2).await;
    assert_eq!(both[1]["type"], "enrollment.revoked");
    assert_eq!(both[1]["body"]["data"]["reason"], "refunded");
    assert_eq!(both[1]["body"]["data"]["active"], false);
    assert_ne!(both[0]["event_id"], both[1]["event_id"]);

    // Delivered means delivered: nothing comes twice.
    pause(2_500).await;
    assert_eq!(receiver.received().await.len(), 2);
    assert_eq!(receiver.answers().await, serde_json::json!({ "200": 2 }));
}

#[actix_web::test]
async fn a_purchase_and_its_refund_reach_the_lms_once_each_on_sqlite() {
    a_purchase_and_its_refund_reach_the_lms_once_each(Backend::Sqlite).await;
}

#[actix_web::test]
async fn a_purchase_and_its_refund_reach_the_lms_once_each_on_postgres() {
    a_purchase_and_its_refund_reach_the_lms_once_each(Backend::Postgres).await;
}

#[actix_web::test]
async fn a_receiver_that_is_down_loses_nothing_and_staff_see_the_failures() {
    let receiver = Receiver::start(SECRET);
    receiver.fail(2).await;
    let app = TestApp::spawn_with(Backend::Sqlite, &pairs(&receiver.settings())).await;
    let mut conn = app.db.connect();
    app.student("ada@example.com").await;
    app.bought(&["rust-for-web-developers"], "").await;

    // The first try fails: staff see it waiting, with its error.
    let boss = TestApp::with_client_of(&app);
    boss.staff("boss@example.com").await;
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let attempts: i32 = lms_outbox::table
            .select(lms_outbox::attempts)
            .first(&mut conn)
            .unwrap();
        if attempts > 0 {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "never tried");
        pause(100).await;
    }
    let page = boss.get_html("/staff/integrations").await;
    assert_eq!(select_all(&page, "[data-kpi=failing]"), vec!["1"], "{page}");
    let errors = select_all(&page, "tr[data-event-id] .text-error");
    assert!(errors.iter().any(|e| e.contains("HTTP 503")), "{errors:?}");

    // Retried with backoff (1 s, 2 s) until the receiver is back.
    let received = receiver.wait_for(1).await;
    assert_eq!(received[0]["type"], "enrollment.granted");
    assert_eq!(
        receiver.answers().await,
        serde_json::json!({ "503": 2, "200": 1 })
    );
    let (attempts, delivered): (i32, bool) = lms_outbox::table
        .select((lms_outbox::attempts, lms_outbox::delivered_at.is_not_null()))
        .first(&mut conn)
        .unwrap();
    assert_eq!((attempts, delivered), (3, true));
    let page = boss.get_html("/staff/integrations").await;
    assert_eq!(select_all(&page, "[data-kpi=waiting]"), vec!["0"]);
    assert_eq!(select_all(&page, "[data-kpi=delivered]"), vec!["1"]);
}

#[actix_web::test]
async fn staff_retry_a_failing_event_at_once() {
    let receiver = Receiver::start(SECRET);
    receiver.fail(-1).await;
    let mut settings = receiver.settings();
    // A long wait after the first failure: only "Retry now" brings it back.
    settings.retain(|(k, _)| *k != "LMS_WEBHOOK_RETRY_SECONDS");
    settings.push(("LMS_WEBHOOK_RETRY_SECONDS", "3600".into()));
    let app = TestApp::spawn_with(Backend::Sqlite, &pairs(&settings)).await;
    let mut conn = app.db.connect();
    app.student("ada@example.com").await;
    app.bought(&["rust-for-web-developers"], "").await;
    let boss = TestApp::with_client_of(&app);
    boss.staff("boss@example.com").await;
    let id = loop {
        let row: (i64, i32) = lms_outbox::table
            .select((lms_outbox::id, lms_outbox::attempts))
            .first(&mut conn)
            .unwrap();
        if row.1 > 0 {
            break row.0;
        }
        pause(100).await;
    };
    receiver.fail(0).await;
    pause(1_500).await;
    assert!(receiver.received().await.is_empty(), "waits for its hour");
    let retried = boss
        .submit(&format!("/staff/integrations/events/{id}/retry"), &[])
        .await;
    assert_eq!(location(&retried), "/staff/integrations");
    assert_eq!(receiver.wait_for(1).await.len(), 1);
    assert_eq!(
        boss.submit("/staff/integrations/events/999999/retry", &[])
            .await
            .status(),
        404
    );
}

#[actix_web::test]
async fn two_instances_on_one_postgres_deliver_each_event_once() {
    let receiver = Receiver::start(SECRET);
    receiver.fail(-1).await;
    let settings = receiver.settings();
    let a = TestApp::spawn_with(Backend::Postgres, &pairs(&settings)).await;
    let b = TestApp::spawn_on(a.db.clone(), &pairs(&settings)).await;
    let mut conn = a.db.connect();
    const STUDENTS: usize = 6;
    for n in 0..STUDENTS {
        let home = if n % 2 == 0 { &a } else { &b };
        let student = TestApp::with_client_of(home);
        student.student(&format!("s{n}@example.com")).await;
        student.bought(&["rust-for-web-developers"], "").await;
    }
    // Every event has failed at least once, on one instance or the other.
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    while lms_outbox::table
        .filter(lms_outbox::attempts.eq(0))
        .count()
        .get_result::<i64>(&mut conn)
        .unwrap()
        > 0
    {
        assert!(std::time::Instant::now() < deadline, "not all tried");
        pause(100).await;
    }
    // Then all are due at the same moment, and both workers reach for them.
    receiver.fail(0).await;
    diesel::update(lms_outbox::table)
        .set(lms_outbox::next_attempt_at.eq(kasir::db::now()))
        .execute(&mut conn)
        .unwrap();
    let received = receiver.wait_for(STUDENTS).await;
    pause(2_500).await;
    let received_later = receiver.received().await;
    assert_eq!(received_later.len(), received.len(), "no late repeats");
    let mut per_event: BTreeMap<String, usize> = BTreeMap::new();
    for delivery in &received_later {
        *per_event
            .entry(delivery["event_id"].as_str().unwrap().to_owned())
            .or_default() += 1;
    }
    assert_eq!(per_event.len(), STUDENTS);
    assert!(per_event.values().all(|n| *n == 1), "{per_event:?}");
}

#[actix_web::test]
async fn a_forged_or_wrongly_signed_event_is_refused_by_the_readme_check() {
    let receiver = Receiver::start(SECRET);
    let body = r#"{"id":"evt_forged","type":"enrollment.granted","data":{}}"#;
    let now = chrono::Utc::now().timestamp();
    let forged = reqwest::Client::new()
        .post(format!("{}/hooks", receiver.url))
        .header("Kasir-Signature", format!("t={now},v1={}", "0".repeat(64)))
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), 400);
    let signed = kasir::payments::webhook::sign(body.as_bytes(), SECRET, now);
    let genuine = reqwest::Client::new()
        .post(format!("{}/hooks", receiver.url))
        .header("Kasir-Signature", signed.as_str())
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(
        genuine.status(),
        200,
        "the README's check accepts kasir's signature"
    );
    let stale = kasir::payments::webhook::sign(body.as_bytes(), SECRET, now - 3_600);
    let replayed = reqwest::Client::new()
        .post(format!("{}/hooks", receiver.url))
        .header("Kasir-Signature", stale)
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(replayed.status(), 400, "an old signature is refused");

    // A shop configured with another secret: its events are refused, and
    // the refusal is what staff see.
    let mut settings = receiver.settings();
    settings.retain(|(k, _)| *k != "LMS_WEBHOOK_SECRET");
    settings.push(("LMS_WEBHOOK_SECRET", "not-the-receivers-secret".into()));
    let app = TestApp::spawn_with(Backend::Sqlite, &pairs(&settings)).await;
    let mut conn = app.db.connect();
    app.student("ada@example.com").await;
    app.bought(&["rust-for-web-developers"], "").await;
    let error = loop {
        let error: Option<String> = lms_outbox::table
            .select(lms_outbox::last_error)
            .first(&mut conn)
            .unwrap();
        if let Some(error) = error {
            break error;
        }
        pause(100).await;
    };
    assert!(error.starts_with("HTTP 400"), "{error}");
    assert_eq!(receiver.received().await.len(), 1, "only the genuine one");
}

/// Makes a token with the CLI; returns it.
fn create_token(app: &TestApp, name: &str) -> String {
    app.kasir(&["api-token", "create", "--name", name])
        .trim()
        .to_owned()
}

async fn api(app: &TestApp, token: Option<&str>, path_and_query: &str) -> (u16, serde_json::Value) {
    let mut request = reqwest::Client::new().get(app.url(path_and_query));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let content_type = response.headers()["content-type"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        content_type.starts_with("application/json"),
        "{path_and_query}: {content_type}"
    );
    (status, response.json().await.unwrap())
}

both_backends! {
    async fn the_read_api_answers_bearer_tokens_only(app: TestApp) {
        let mut conn = app.db.connect();
        let token = create_token(&app, "moodle");
        assert!(token.starts_with("kasir_") && token.len() > 40, "{token}");
        let stored: Vec<(String, String)> = api_tokens::table
            .select((api_tokens::token_hash, api_tokens::prefix))
            .load(&mut conn)
            .unwrap();
        assert_eq!(stored.len(), 1);
        assert_ne!(stored[0].0, token, "only a hash is kept");
        assert!(!stored[0].0.contains(&token[6..]));
        assert!(token.starts_with(&stored[0].1));

        let (status, body) = api(&app, None, "/api/v1/enrollments").await;
        assert_eq!((status, body["error"]["code"].as_str()), (401, Some("unauthorized")));
        let (status, _) = api(&app, Some("kasir_guessed"), "/api/v1/enrollments").await;
        assert_eq!(status, 401);
        let bare = reqwest::get(app.url("/api/v1/enrollments")).await.unwrap();
        assert_eq!(bare.headers()["www-authenticate"], "Bearer");

        let (status, body) = api(&app, Some(&token), "/api/v1/enrollments").await;
        assert_eq!(status, 200);
        assert_eq!(body, serde_json::json!({ "data": [], "next_cursor": null }));

        let boss = TestApp::with_client_of(&app);
        boss.staff("boss@example.com").await;
        let page = boss.get_html("/staff/integrations").await;
        assert_eq!(select_all(&page, "tr[data-token] td:first-child"), vec!["moodle"]);
        let id: i64 = api_tokens::table.select(api_tokens::id).first(&mut conn).unwrap();
        let revoked = boss.submit(&format!("/staff/integrations/tokens/{id}/revoke"), &[]).await;
        assert_eq!(location(&revoked), "/staff/integrations");
        let (status, body) = api(&app, Some(&token), "/api/v1/enrollments").await;
        assert_eq!(status, 401, "{body}");
        let student = TestApp::with_client_of(&app);
        student.student("ada@example.com").await;
        let refused = student.submit(&format!("/staff/integrations/tokens/{id}/revoke"), &[]).await;
        assert_eq!(refused.status(), 403);
    }

    async fn the_read_api_lists_filters_pages_and_checks_enrollments(app: TestApp) {
        let token = create_token(&app, "lms");
        let ada = TestApp::with_client_of(&app);
        ada.student("ada@example.com").await;
        let first = ada.bought(&["rust-for-web-developers"], "").await;
        let bob = TestApp::with_client_of(&app);
        bob.student("bob@example.com").await;
        bob.bought(&["rust-for-web-developers", "modern-javascript"], "").await;
        let boss = TestApp::with_client_of(&app);
        boss.staff("boss@example.com").await;
        boss.refund(&first, "", "asked").await;

        let (status, all) = api(&app, Some(&token), "/api/v1/enrollments").await;
        assert_eq!(status, 200);
        let rows = all["data"].as_array().unwrap();
        assert_eq!(rows.len(), 3, "{all}");
        // Oldest change first: Bob's two, then Ada's refund.
        let last = &rows[2];
        assert_eq!(last["student"]["email"], "ada@example.com");
        assert_eq!((last["active"].as_bool(), last["revoke_reason"].as_str()), (Some(false), Some("refunded")));
        assert_eq!(last["order_number"], first.as_str());

        let (_, bobs) = api(&app, Some(&token), "/api/v1/enrollments?email=BOB@example.com").await;
        assert_eq!(bobs["data"].as_array().unwrap().len(), 2);
        let (_, rust) = api(&app, Some(&token), "/api/v1/enrollments?course=rust-for-web-developers").await;
        assert_eq!(rust["data"].as_array().unwrap().len(), 2);
        let since = rows[1]["changed_at"].as_str().unwrap();
        let (_, later) = api(&app, Some(&token), &format!("/api/v1/enrollments?since={}", since.replace('+', "%2B"))).await;
        assert_eq!(later["data"].as_array().unwrap().len(), 1, "{later}");

        // Pages of one, by cursor, give the same three in the same order.
        let mut seen = Vec::new();
        let mut query = "/api/v1/enrollments?limit=1".to_owned();
        for _ in 0..5 {
            let (status, page) = api(&app, Some(&token), &query).await;
            assert_eq!(status, 200);
            seen.extend(page["data"].as_array().unwrap().iter().cloned());
            match page["next_cursor"].as_str() {
                Some(cursor) => query = format!("/api/v1/enrollments?limit=1&cursor={cursor}"),
                None => break,
            }
        }
        assert_eq!(&seen, rows);

        let check = |email: &str, course: &str| format!("/api/v1/enrollments/check?email={email}&course={course}");
        assert_eq!(api(&app, Some(&token), &check("bob@example.com", "modern-javascript")).await, (200, serde_json::json!({ "active": true })));
        assert_eq!(api(&app, Some(&token), &check("ada@example.com", "rust-for-web-developers")).await, (200, serde_json::json!({ "active": false })));
        assert_eq!(api(&app, Some(&token), &check("nobody@example.com", "rust-for-web-developers")).await.1["active"], false);
        assert_eq!(api(&app, Some(&token), &check("bob@example.com", "no-such-course")).await.0, 404);
        for bad in [
            "/api/v1/enrollments?since=yesterday",
            "/api/v1/enrollments?cursor=forged",
            "/api/v1/enrollments?limit=0",
            "/api/v1/enrollments?limit=5000",
            "/api/v1/enrollments/check?email=bob@example.com",
        ] {
            let (status, body) = api(&app, Some(&token), bad).await;
            assert_eq!((status, body["error"]["code"].as_str()), (400, Some("bad_request")), "{bad}");
        }
    }
}

#[actix_web::test]
async fn the_read_api_is_rate_limited_per_token() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let token = create_token(&app, "busy");
    let other = create_token(&app, "calm");
    let client = reqwest::Client::new();
    let requests = (0..150).map(|_| {
        client
            .get(app.url("/api/v1/enrollments/check?email=a@example.com&course=modern-javascript"))
            .bearer_auth(&token)
            .send()
    });
    let answers = futures_util::future::join_all(requests).await;
    let limited: Vec<&reqwest::Response> = answers
        .iter()
        .map(|r| r.as_ref().unwrap())
        .filter(|r| r.status() == 429)
        .collect();
    assert!(!limited.is_empty(), "150 at once is past the burst of 100");
    assert!(limited.len() <= 50, "{} limited", limited.len());
    assert!(limited[0].headers().contains_key("retry-after"));
    let (status, _) = api(&app, Some(&other), "/api/v1/enrollments").await;
    assert_eq!(status, 200, "another token has its own budget");
}

/// What the outbox holds, oldest first: (type, reason, active).
fn told(conn: &mut kasir::db::DbConnection) -> Vec<(String, String, bool)> {
    lms_outbox::table
        .order(lms_outbox::id.asc())
        .select(lms_outbox::payload)
        .load::<String>(conn)
        .unwrap()
        .iter()
        .map(|payload| {
            let event: serde_json::Value = serde_json::from_str(payload).unwrap();
            (
                event["type"].as_str().unwrap().to_owned(),
                event["data"]["reason"].as_str().unwrap().to_owned(),
                event["data"]["active"].as_bool().unwrap(),
            )
        })
        .collect()
}

both_backends! {
    async fn every_change_of_access_is_told_and_only_those(app: TestApp) {
        use crate::helpers::events::{dispute_event, intent_event};
        let mut conn = app.db.connect();
        let (order, intent, total) = app.pending_order("ada@example.com", &["rust-for-web-developers"]).await;
        app.deliver(&intent_event("evt_paid", "payment_intent.succeeded", &intent, total, order, None)).await;
        // The same success again tells nothing new.
        app.deliver(&intent_event("evt_paid_again", "payment_intent.succeeded", &intent, total, order, None)).await;
        let granted = ("enrollment.granted".to_owned(), "purchase".to_owned(), true);
        assert_eq!(told(&mut conn), vec![granted.clone()]);

        app.deliver(&dispute_event("evt_d1", "charge.dispute.created", &intent, total, "needs_response")).await;
        app.deliver(&dispute_event("evt_d2", "charge.dispute.closed", &intent, total, "won")).await;
        assert_eq!(
            told(&mut conn),
            vec![
                granted.clone(),
                ("enrollment.revoked".into(), "dispute_opened".into(), false),
                ("enrollment.granted".into(), "restored".into(), true),
            ]
        );

        // An inquiry takes nothing, so it tells nothing.
        let (order_b, intent_b, total_b) = app.pending_order("bob@example.com", &["modern-javascript"]).await;
        app.deliver(&intent_event("evt_paid_b", "payment_intent.succeeded", &intent_b, total_b, order_b, None)).await;
        app.deliver(&dispute_event("evt_i1", "charge.dispute.created", &intent_b, total_b, "warning_needs_response")).await;
        assert_eq!(told(&mut conn).len(), 4);
        app.deliver(&dispute_event("evt_l1", "charge.dispute.closed", &intent_b, total_b, "lost")).await;
        assert_eq!(
            told(&mut conn).last().unwrap(),
            &("enrollment.revoked".into(), "dispute_lost".into(), false)
        );
    }
}

// A purchase's events are written from what the payment knows, not read
// back: each must say what the enrollment listing reads for its grant.
both_backends! {
    async fn a_purchase_s_events_name_each_enrollment_as_the_listing_reads_it(app: TestApp) {
        use kasir::models::{CourseId, UserId};
        use kasir::services::lms::enrollments;
        app.student("ada@example.com").await;
        app.bought(&["rust-for-web-developers", "modern-javascript"], "").await;
        let mut conn = app.db.connect();
        let payloads: Vec<String> = lms_outbox::table
            .order(lms_outbox::id.asc())
            .select(lms_outbox::payload)
            .load(&mut conn)
            .unwrap();
        assert_eq!(payloads.len(), 2, "one event per course");
        for payload in payloads {
            let event: serde_json::Value = serde_json::from_str(&payload).unwrap();
            let mut data = event["data"].clone();
            assert_eq!(data["reason"], "purchase");
            data.as_object_mut().unwrap().remove("reason");
            let user = UserId(data["student"]["id"].as_i64().unwrap());
            let course = CourseId(data["course"]["id"].as_i64().unwrap());
            let listed = enrollments::find(&mut conn, user, course).unwrap().unwrap();
            assert_eq!(data, serde_json::to_value(&listed).unwrap(), "{payload}");
        }
    }
}
