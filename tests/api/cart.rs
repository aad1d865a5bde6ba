use diesel::prelude::*;
use kasir::db::schema::{cart_items, carts, courses, user_courses, users};
use kasir::db::{self, DbConnection};

use crate::both_backends;
use crate::helpers::{Backend, PASSWORD, TestApp, insert_bulk_courses, location, select_all};

fn course_id(conn: &mut DbConnection, slug: &str) -> i64 {
    courses::table
        .filter(courses::slug.eq(slug))
        .select(courses::id)
        .first(conn)
        .unwrap()
}

fn user_id(conn: &mut DbConnection, email: &str) -> i64 {
    users::table
        .filter(users::email.eq(email))
        .select(users::id)
        .first(conn)
        .unwrap()
}

fn grant(conn: &mut DbConnection, email: &str, course: i64) {
    let user = user_id(conn, email);
    diesel::insert_into(user_courses::table)
        .values((
            user_courses::user_id.eq(user),
            user_courses::course_id.eq(course),
            user_courses::granted_at.eq(db::now()),
        ))
        .execute(conn)
        .unwrap();
}

fn item_count(conn: &mut DbConnection) -> i64 {
    cart_items::table.count().get_result(conn).unwrap()
}

impl TestApp {
    async fn add_to_cart(&self, course_id: i64) -> reqwest::Response {
        self.submit("/cart/items", &[("course_id", &course_id.to_string())])
            .await
    }

    async fn add_to_cart_json(&self, course_id: i64) -> reqwest::Response {
        let token = self.csrf_token().await;
        self.client
            .post(self.url("/cart/items"))
            .header("Accept", "application/json")
            .header("X-CSRF-Token", token)
            .form(&[("course_id", course_id.to_string())])
            .send()
            .await
            .unwrap()
    }

    pub async fn cart_count_json(&self) -> i64 {
        self.cart_count().await
    }

    async fn cart_count(&self) -> i64 {
        let body: serde_json::Value = self.get("/cart/count").await.json().await.unwrap();
        body["count"].as_i64().unwrap()
    }

    async fn cart_titles(&self) -> Vec<String> {
        select_all(&self.get_html("/cart").await, ".cart-line-title")
    }
}

both_backends! {
    async fn adding_and_removing_courses_updates_the_cart_and_the_counter(app: TestApp) {
        let mut conn = app.db.connect();
        let rust = course_id(&mut conn, "rust-for-web-developers");
        let pg = course_id(&mut conn, "postgresql-in-practice");
        assert_eq!(app.cart_count().await, 0);

        let response = app.add_to_cart(rust).await;
        assert_eq!(response.status(), 303);
        assert_eq!(location(&response), "/");
        let json = app.add_to_cart_json(pg).await;
        assert_eq!(json.status(), 200);
        let body: serde_json::Value = json.json().await.unwrap();
        assert_eq!(body["count"], 2);
        assert_eq!(body["subtotal"], "$158.00");

        assert_eq!(app.cart_count().await, 2);
        let html = app.get_html("/cart").await;
        assert_eq!(select_all(&html, ".cart-line-title"), vec!["Rust for Web Developers", "PostgreSQL in Practice"]);
        assert_eq!(select_all(&html, "[data-cart-subtotal]"), vec!["$158.00"]);
        assert_eq!(select_all(&html, "#cart-count"), vec!["2"], "navbar counter");

        let removed = app.submit(&format!("/cart/items/{rust}/delete"), &[]).await;
        assert_eq!(removed.status(), 303);
        assert_eq!(location(&removed), "/cart");
        assert_eq!(app.cart_titles().await, vec!["PostgreSQL in Practice"]);
        assert_eq!(app.cart_count().await, 1);
    }

    async fn adding_the_same_course_twice_makes_one_line(app: TestApp) {
        let mut conn = app.db.connect();
        let rust = course_id(&mut conn, "rust-for-web-developers");
        app.register("ada@example.com", "Ada", PASSWORD).await;
        app.add_to_cart(rust).await;
        let again = app.add_to_cart_json(rust).await;
        assert_eq!(again.status(), 200);
        assert_eq!(again.json::<serde_json::Value>().await.unwrap()["count"], 1);
        assert_eq!(item_count(&mut conn), 1);
    }

    async fn twenty_concurrent_adds_of_one_course_make_one_line(app: TestApp) {
        let mut conn = app.db.connect();
        let rust = course_id(&mut conn, "rust-for-web-developers");
        app.register("ada@example.com", "Ada", PASSWORD).await;
        let token = app.csrf_token().await;
        let requests = (0..20).map(|_| {
            app.client
                .post(app.url("/cart/items"))
                .header("Accept", "application/json")
                .header("X-CSRF-Token", &token)
                .form(&[("course_id", rust.to_string())])
                .send()
        });
        let responses = futures_util::future::join_all(requests).await;
        for response in responses {
            assert_eq!(response.unwrap().status(), 200);
        }
        assert_eq!(item_count(&mut conn), 1);
        let carts: i64 = carts::table.count().get_result(&mut conn).unwrap();
        assert_eq!(carts, 1, "one cart for the user");
    }

    async fn a_course_the_student_owns_cannot_be_added(app: TestApp) {
        let mut conn = app.db.connect();
        let rust = course_id(&mut conn, "rust-for-web-developers");
        app.register("ada@example.com", "Ada", PASSWORD).await;
        grant(&mut conn, "ada@example.com", rust);

        let json = app.add_to_cart_json(rust).await;
        assert_eq!(json.status(), 409);
        let body: serde_json::Value = json.json().await.unwrap();
        assert_eq!(body["error"], "You already own this course.");
        assert_eq!(body["course_url"], "/courses/rust-for-web-developers");

        let form = app.add_to_cart(rust).await;
        assert_eq!(form.status(), 303);
        let html = app.get_html("/").await;
        let flash = select_all(&html, ".flash-info");
        assert_eq!(flash, vec!["You already own Rust for Web Developers. Go to the course"]);
        assert_eq!(item_count(&mut conn), 0);
        assert!(html.contains(r#"<span class="tag tag-owned">Owned</span>"#));
    }

    async fn unknown_unpublished_and_malformed_courses_are_refused(app: TestApp) {
        let mut conn = app.db.connect();
        let hidden = course_id(&mut conn, "kubernetes-deep-dive");
        let unpublished = app.add_to_cart(hidden).await;
        assert_eq!(unpublished.status(), 409);
        let page = unpublished.text().await.unwrap();
        assert!(page.contains("not on sale") && !page.contains("Kubernetes"), "says why, not what");
        assert_eq!(app.add_to_cart(999_999).await.status(), 404);
        let bad = app.submit("/cart/items", &[("course_id", "abc")]).await;
        assert_eq!(bad.status(), 400);
        assert_eq!(app.submit("/cart/items/abc/delete", &[]).await.status(), 400);
        assert_eq!(app.submit("/cart/items", &[]).await.status(), 400);
        assert_eq!(item_count(&mut conn), 0);
        let carts: i64 = carts::table.count().get_result(&mut conn).unwrap();
        assert_eq!(carts, 0, "nothing written");
    }

    async fn a_guest_cart_survives_login_and_merges_into_the_users_cart(app: TestApp) {
        let mut conn = app.db.connect();
        let rust = course_id(&mut conn, "rust-for-web-developers");
        let pg = course_id(&mut conn, "postgresql-in-practice");
        let js = course_id(&mut conn, "modern-javascript");
        // Ada has an account with JS in her cart, and already owns PostgreSQL.
        app.register("ada@example.com", "Ada", PASSWORD).await;
        app.add_to_cart(js).await;
        grant(&mut conn, "ada@example.com", pg);
        app.logout().await;
        assert_eq!(app.cart_count().await, 0, "logged out: her cart is not shown");

        // As a guest she adds Rust, PostgreSQL and JS again.
        for course in [rust, pg, js] {
            assert_eq!(app.add_to_cart(course).await.status(), 303);
        }
        assert_eq!(app.cart_count().await, 3);

        app.login("ada@example.com", PASSWORD).await;
        let html = app.get_html("/").await;
        assert!(
            select_all(&html, ".flash-info").iter().any(|f| f.contains("You already own PostgreSQL in Practice")),
            "{:?}",
            select_all(&html, ".flash")
        );
        assert_eq!(app.cart_titles().await, vec!["Modern JavaScript", "Rust for Web Developers"]);
        let carts: i64 = carts::table.count().get_result(&mut conn).unwrap();
        assert_eq!(carts, 1, "the guest cart is gone");
    }

    async fn registering_keeps_the_guest_cart(app: TestApp) {
        let mut conn = app.db.connect();
        let rust = course_id(&mut conn, "rust-for-web-developers");
        app.add_to_cart(rust).await;
        app.register("grace@example.com", "Grace", PASSWORD).await;
        assert_eq!(app.cart_titles().await, vec!["Rust for Web Developers"]);
        let owner: Option<i64> = carts::table.select(carts::user_id).first(&mut conn).unwrap();
        assert_eq!(owner, Some(user_id(&mut conn, "grace@example.com")));
    }

    async fn another_users_cart_is_never_visible(app: TestApp) {
        let mut conn = app.db.connect();
        let rust = course_id(&mut conn, "rust-for-web-developers");
        app.register("ada@example.com", "Ada", PASSWORD).await;
        app.add_to_cart(rust).await;

        let other = TestApp::with_client_of(&app);
        assert_eq!(other.cart_count().await, 0, "a guest sees nothing");
        other.register("eve@example.com", "Eve", PASSWORD).await;
        assert_eq!(other.cart_count().await, 0);
        assert!(other.cart_titles().await.is_empty());
        // Eve removing Ada's course touches only her own (empty) cart.
        other.submit(&format!("/cart/items/{rust}/delete"), &[]).await;
        assert_eq!(app.cart_titles().await, vec!["Rust for Web Developers"]);
    }

    async fn adding_and_removing_need_a_csrf_token(app: TestApp) {
        let mut conn = app.db.connect();
        let rust = course_id(&mut conn, "rust-for-web-developers");
        let no_token = app.post_form("/cart/items", &[("course_id", &rust.to_string())]).await;
        assert_eq!(no_token.status(), 403);
        let json_no_token = app
            .client
            .post(app.url("/cart/items"))
            .header("Accept", "application/json")
            .form(&[("course_id", rust.to_string())])
            .send()
            .await
            .unwrap();
        assert_eq!(json_no_token.status(), 403);
        assert!(json_no_token.json::<serde_json::Value>().await.unwrap()["error"].is_string());
        assert_eq!(item_count(&mut conn), 0);

        app.add_to_cart(rust).await;
        let remove = app.post_form(&format!("/cart/items/{rust}/delete"), &[]).await;
        assert_eq!(remove.status(), 403);
        assert_eq!(item_count(&mut conn), 1);
    }

    async fn a_cart_holds_at_most_one_hundred_courses(app: TestApp) {
        let mut conn = app.db.connect();
        insert_bulk_courses(&mut conn, 101);
        app.register("ada@example.com", "Ada", PASSWORD).await;
        for i in 0..100 {
            let id = course_id(&mut conn, &format!("bulk-{i}"));
            assert_eq!(app.add_to_cart_json(id).await.status(), 200);
        }
        let last = course_id(&mut conn, "bulk-100");
        let full = app.add_to_cart_json(last).await;
        assert_eq!(full.status(), 409);
        assert!(full.json::<serde_json::Value>().await.unwrap()["error"].as_str().unwrap().contains("full"));
        assert_eq!(item_count(&mut conn), 100);
    }

    async fn the_cart_shows_current_prices(app: TestApp) {
        let mut conn = app.db.connect();
        let rust = course_id(&mut conn, "rust-for-web-developers");
        app.add_to_cart(rust).await;
        diesel::update(courses::table.find(rust))
            .set(courses::price_cents.eq(7_500_i64))
            .execute(&mut conn)
            .unwrap();
        let html = app.get_html("/cart").await;
        assert_eq!(select_all(&html, ".cart-line .price"), vec!["$75.00"]);
        assert_eq!(select_all(&html, "[data-cart-subtotal]"), vec!["$75.00"]);
    }

    async fn the_prune_command_deletes_only_stale_guest_carts(app: TestApp) {
        let mut conn = app.db.connect();
        let rust = course_id(&mut conn, "rust-for-web-developers");
        app.add_to_cart(rust).await; // a fresh guest cart
        let stale = TestApp::with_client_of(&app);
        stale.add_to_cart(rust).await;
        let old = db::now() - chrono::TimeDelta::days(45);
        let stale_id: i64 = carts::table.order(carts::id.desc()).select(carts::id).first(&mut conn).unwrap();
        diesel::update(carts::table.find(stale_id)).set(carts::updated_at.eq(old)).execute(&mut conn).unwrap();

        let output = std::process::Command::new(env!("CARGO_BIN_EXE_kasir"))
            .args(["prune-carts", "--older-than-days", "30"])
            .env("DATABASE_URL", &app.db.url)
            .env("SECRET_KEY", "k".repeat(64))
            .env("JOURNAL_KEY", crate::helpers::TEST_JOURNAL_KEY)
            .output()
            .unwrap();
        assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
        assert!(String::from_utf8_lossy(&output.stdout).starts_with("1 guest cart(s)"));
        assert_eq!(app.cart_count().await, 1, "the fresh cart stays");
        assert_eq!(stale.cart_count().await, 0);
        assert_eq!(item_count(&mut conn), 1);
    }
}

#[actix_web::test]
async fn the_empty_cart_page_invites_to_browse() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let html = app.get_html("/cart").await;
    assert_eq!(
        select_all(&html, ".empty-state h2"),
        vec!["Your cart is empty"]
    );
}

both_backends! {
    async fn concurrent_adds_never_push_a_cart_past_one_hundred(app: TestApp) {
        let mut conn = app.db.connect();
        insert_bulk_courses(&mut conn, 110);
        app.register("ada@example.com", "Ada", PASSWORD).await;
        for i in 0..98 {
            let id = course_id(&mut conn, &format!("bulk-{i}"));
            assert_eq!(app.add_to_cart_json(id).await.status(), 200);
        }
        let token = app.csrf_token().await;
        let ids: Vec<i64> = (98..110).map(|i| course_id(&mut conn, &format!("bulk-{i}"))).collect();
        let adds = ids.iter().map(|id| {
            app.client
                .post(app.url("/cart/items"))
                .header("Accept", "application/json")
                .header("X-CSRF-Token", &token)
                .form(&[("course_id", id.to_string())])
                .send()
        });
        let statuses: Vec<u16> = futures_util::future::join_all(adds)
            .await
            .into_iter()
            .map(|r| r.unwrap().status().as_u16())
            .collect();
        assert_eq!(statuses.iter().filter(|s| **s == 200).count(), 2, "{statuses:?}");
        assert_eq!(statuses.iter().filter(|s| **s == 409).count(), 10, "{statuses:?}");
        assert_eq!(item_count(&mut conn), 100);
    }
}
