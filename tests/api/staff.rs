use diesel::prelude::*;
use kasir::db::schema::{promo_code_courses, promo_codes};

use crate::both_backends;
use crate::helpers::shop::course_id;
use crate::helpers::{Backend, TestApp, location, select_all};

both_backends! {
    async fn staff_pages_refuse_students_and_send_visitors_to_log_in(app: TestApp) {
        assert_eq!(location(&app.get("/staff/promo-codes").await), "/login?next=%2Fstaff%2Fpromo-codes");
        app.student("ada@example.com").await;
        assert_eq!(app.get("/staff/promo-codes").await.status(), 403);
        let create = app.submit("/staff/promo-codes", &[("code", "HACK"), ("kind", "percent"), ("percent", "100")]).await;
        assert_eq!(create.status(), 403);
        let count: i64 = promo_codes::table.count().get_result(&mut app.db.connect()).unwrap();
        assert_eq!(count, 0);
    }

    async fn staff_create_list_and_deactivate_promo_codes(app: TestApp) {
        let mut conn = app.db.connect();
        app.staff("boss@example.com").await;
        let rust = course_id(&mut conn, "rust-for-web-developers").to_string();
        let js = course_id(&mut conn, "modern-javascript").to_string();
        let created = app
            .submit(
                "/staff/promo-codes",
                &[
                    ("code", " launch-20 "),
                    ("kind", "percent"),
                    ("percent", "12.5"),
                    ("max_redemptions", "100"),
                    ("per_user_limit", "1"),
                    ("min_subtotal", "50"),
                    ("starts_at", "2026-01-01T00:00"),
                    ("ends_at", "2099-01-01T00:00"),
                    ("course_ids", &rust),
                    ("course_ids", &js),
                ],
            )
            .await;
        assert_eq!(created.status(), 303);
        let row: (String, Option<i32>, Option<i64>, i64) = promo_codes::table
            .select((promo_codes::code, promo_codes::percent_bps, promo_codes::max_redemptions, promo_codes::min_subtotal_cents))
            .first(&mut conn)
            .unwrap();
        assert_eq!(row, ("LAUNCH-20".into(), Some(1_250), Some(100), 5_000));
        let restricted: i64 = promo_code_courses::table.count().get_result(&mut conn).unwrap();
        assert_eq!(restricted, 2);

        let html = app.get_html("/staff/promo-codes").await;
        assert_eq!(select_all(&html, "tbody code"), vec!["LAUNCH-20"]);
        assert_eq!(select_all(&html, "tbody .usage"), vec!["0 / 100"]);
        assert!(html.contains("12.5% off"));
        assert!(html.contains("1 per student, min. $50.00, 2 courses only"));

        let fixed = app.submit("/staff/promo-codes", &[("code", "TENOFF"), ("kind", "fixed"), ("amount", "10.00")]).await;
        assert_eq!(fixed.status(), 303);

        let id: i64 = promo_codes::table.filter(promo_codes::code.eq("LAUNCH-20")).select(promo_codes::id).first(&mut conn).unwrap();
        let off = app.submit(&format!("/staff/promo-codes/{id}/deactivate"), &[]).await;
        assert_eq!(off.status(), 303);
        let active: bool = promo_codes::table.find(id).select(promo_codes::active).first(&mut conn).unwrap();
        assert!(!active);
        assert_eq!(app.submit("/staff/promo-codes/999999/deactivate", &[]).await.status(), 404);
    }

    async fn invalid_promo_codes_are_refused_with_the_reason(app: TestApp) {
        app.staff("boss@example.com").await;
        let cases: [(&[(&str, &str)], &str); 10] = [
            (&[("code", ""), ("kind", "percent"), ("percent", "10")], "Enter a code."),
            (&[("code", "BAD CODE"), ("kind", "percent"), ("percent", "10")], "Codes are letters"),
            (&[("code", "P"), ("kind", "percent"), ("percent", "120")], "between 0.01 and 100"),
            (&[("code", "F"), ("kind", "fixed"), ("amount", "1.234")], "at most 2 decimals"),
            (&[("code", "F"), ("kind", "fixed"), ("amount", "-5")], "cannot be negative"),
            (&[("code", "W"), ("kind", "percent"), ("percent", "5"), ("starts_at", "2027-01-02T00:00"), ("ends_at", "2027-01-01T00:00")], "The end must come after the start."),
            (&[("code", "N"), ("kind", "percent"), ("percent", "5"), ("max_redemptions", "0")], "whole number of at least 1"),
            (&[("code", "H"), ("kind", "fixed"), ("amount", "1e30")], "is not an amount"),
            (&[("code", "H"), ("kind", "fixed"), ("amount", "99999999999999999999")], "too large"),
            (&[("code", "H"), ("kind", "percent"), ("percent", "5"), ("max_redemptions", "99999999999999999999")], "whole number of at least 1"),
        ];
        for (form, message) in cases {
            let response = app.submit("/staff/promo-codes", form).await;
            assert_eq!(response.status(), 400, "{form:?}");
            let error = select_all(&response.text().await.unwrap(), ".form-error").join(" ");
            assert!(error.contains(message), "{form:?}: {error}");
        }
        assert_eq!(app.submit("/staff/promo-codes", &[("code", "DUP"), ("kind", "percent"), ("percent", "5")]).await.status(), 303);
        let dup = app.submit("/staff/promo-codes", &[("code", "dup"), ("kind", "percent"), ("percent", "5")]).await;
        assert_eq!(dup.status(), 400);
        assert!(select_all(&dup.text().await.unwrap(), ".form-error")[0].contains("exists already"));
    }
}

#[actix_web::test]
async fn a_deactivated_code_is_refused_at_checkout() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    app.staff("boss@example.com").await;
    app.submit(
        "/staff/promo-codes",
        &[("code", "SPRING"), ("kind", "percent"), ("percent", "10")],
    )
    .await;
    let id: i64 = promo_codes::table
        .select(promo_codes::id)
        .first(&mut app.db.connect())
        .unwrap();
    app.submit(&format!("/staff/promo-codes/{id}/deactivate"), &[])
        .await;
    app.add_course("rust-for-web-developers").await;
    assert_eq!(
        app.checkout_rejected("spring").await,
        vec!["The promo code SPRING is no longer active.".to_owned()]
    );
}
