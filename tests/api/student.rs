use diesel::prelude::*;
use kasir::db::schema::{courses, orders, user_courses, users};
use kasir::db::{self, DbConnection};

use crate::both_backends;
use crate::helpers::{Backend, PASSWORD, TestApp, location, select_all};

fn id_of_user(conn: &mut DbConnection, email: &str) -> i64 {
    users::table
        .filter(users::email.eq(email))
        .select(users::id)
        .first(conn)
        .unwrap()
}

fn id_of_course(conn: &mut DbConnection, slug: &str) -> i64 {
    courses::table
        .filter(courses::slug.eq(slug))
        .select(courses::id)
        .first(conn)
        .unwrap()
}

fn insert_order(conn: &mut DbConnection, user: i64, number: &str, status: &str, total: i64) {
    let now = db::now();
    diesel::insert_into(orders::table)
        .values((
            orders::number.eq(number),
            orders::user_id.eq(user),
            orders::status.eq(status),
            orders::subtotal_cents.eq(total),
            orders::total_cents.eq(total),
            orders::currency.eq("USD"),
            orders::provider.eq("sandbox"),
            orders::created_at.eq(now),
            orders::updated_at.eq(now),
        ))
        .execute(conn)
        .unwrap();
}

both_backends! {
    async fn my_courses_and_orders_send_visitors_to_log_in_and_back(app: TestApp) {
        for path in ["/my-courses", "/orders"] {
            let response = app.get(path).await;
            assert_eq!(response.status(), 303, "{path}");
            assert_eq!(location(&response), format!("/login?next=%2F{}", &path[1..]));
        }
        app.register("ada@example.com", "Ada", PASSWORD).await;
        app.logout().await;
        let response = app
            .submit("/login", &[("email", "ada@example.com"), ("password", PASSWORD), ("next", "/my-courses")])
            .await;
        assert_eq!(location(&response), "/my-courses");
        let html = app.get_html("/my-courses").await;
        assert_eq!(select_all(&html, ".empty-state h2"), vec!["No courses yet"]);
    }

    async fn my_courses_lists_active_grants_only(app: TestApp) {
        let mut conn = app.db.connect();
        app.register("ada@example.com", "Ada", PASSWORD).await;
        let ada = id_of_user(&mut conn, "ada@example.com");
        let now = db::now();
        for (slug, revoked) in [("rust-for-web-developers", false), ("modern-javascript", true)] {
            let course = id_of_course(&mut conn, slug);
            diesel::insert_into(user_courses::table)
                .values((
                    user_courses::user_id.eq(ada),
                    user_courses::course_id.eq(course),
                    user_courses::granted_at.eq(now),
                    user_courses::revoked_at.eq(revoked.then_some(now)),
                ))
                .execute(&mut conn)
                .unwrap();
        }
        let html = app.get_html("/my-courses").await;
        assert_eq!(select_all(&html, ".list-title"), vec!["Rust for Web Developers"]);
    }

    async fn orders_lists_the_students_own_orders_newest_first(app: TestApp) {
        let mut conn = app.db.connect();
        app.register("ada@example.com", "Ada", PASSWORD).await;
        let other = TestApp::with_client_of(&app);
        other.register("eve@example.com", "Eve", PASSWORD).await;
        let ada = id_of_user(&mut conn, "ada@example.com");
        let eve = id_of_user(&mut conn, "eve@example.com");
        insert_order(&mut conn, ada, "INV-2026-000001", "paid", 8_900);
        insert_order(&mut conn, eve, "INV-2026-000002", "paid", 4_900);
        insert_order(&mut conn, ada, "INV-2026-000003", "pending", 15_800);

        let html = app.get_html("/orders").await;
        assert_eq!(select_all(&html, "tbody code"), vec!["INV-2026-000003", "INV-2026-000001"]);
        assert_eq!(select_all(&html, "tbody .num"), vec!["$158.00", "$89.00"]);
        assert_eq!(select_all(&html, "tbody .status"), vec!["Awaiting payment", "Paid"]);
        let eve_html = other.get_html("/orders").await;
        assert_eq!(select_all(&eve_html, "tbody code"), vec!["INV-2026-000002"]);
    }

    async fn a_cookie_from_before_login_does_not_carry_the_login(app: TestApp) {
        app.register("ada@example.com", "Ada", PASSWORD).await;
        app.logout().await;
        app.get("/").await;
        let before_login = app.cookie_header().expect("a guest session cookie");
        assert_eq!(app.login("ada@example.com", PASSWORD).await.status(), 303);
        let after_login = app.cookie_header().unwrap();
        assert_ne!(before_login, after_login, "the session is renewed at login");

        let planted = app
            .new_client()
            .get(app.url("/"))
            .header(reqwest::header::COOKIE, before_login)
            .send()
            .await
            .unwrap();
        assert_eq!(crate::helpers::navbar_user(&planted.text().await.unwrap()), None);
    }
}
