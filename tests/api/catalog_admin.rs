//! Staff run the catalog: courses made, priced, edited, withdrawn and
//! given a cover in the back office; every change recorded; orders keep
//! what they were sold at; carts say when a price changed.

use diesel::prelude::*;
use kasir::db::schema::courses;

use crate::both_backends;
use crate::helpers::{Backend, TestApp, location, select_all};

const COVER: &[u8] = include_bytes!("../fixtures/cover.png");

impl TestApp {
    /// Posts the course form (multipart, like the browser) with a cover
    /// image when given.
    async fn course_form(
        &self,
        path: &str,
        fields: &[(&str, &str)],
        cover: Option<(&str, Vec<u8>)>,
    ) -> reqwest::Response {
        let mut form = reqwest::multipart::Form::new().text("csrf_token", self.csrf_token().await);
        for (name, value) in fields {
            form = form.text((*name).to_owned(), (*value).to_owned());
        }
        if let Some((file_name, bytes)) = cover {
            form = form.part(
                "cover",
                reqwest::multipart::Part::bytes(bytes).file_name(file_name.to_owned()),
            );
        }
        self.client
            .post(self.url(path))
            .multipart(form)
            .send()
            .await
            .expect("POST")
    }
}

fn course_row(conn: &mut kasir::db::DbConnection, slug: &str) -> (i64, i64, bool, Option<String>) {
    courses::table
        .filter(courses::slug.eq(slug))
        .select((
            courses::id,
            courses::price_cents,
            courses::published,
            courses::cover_image,
        ))
        .first(conn)
        .unwrap()
}

fn form_error(html: &str) -> String {
    select_all(html, ".form-error").join(" ")
}

both_backends! {
    async fn staff_create_a_course_with_a_cover_and_students_buy_it(app: TestApp) {
        let mut conn = app.db.connect();
        let boss = TestApp::with_client_of(&app);
        boss.staff("boss@example.com").await;
        let created = boss
            .course_form(
                "/staff/courses/new",
                &[
                    ("title", "Kubernetes from Zero"),
                    ("summary", "Clusters without fear."),
                    ("description", "Week one: pods.\n\nWeek two: services."),
                    ("price", "89.00"),
                    ("published", "on"),
                ],
                Some(("my cover.png", COVER.to_vec())),
            )
            .await;
        let (id, price, published, cover) = course_row(&mut conn, "kubernetes-from-zero");
        assert_eq!(location(&created), format!("/staff/courses/{id}/edit"));
        assert_eq!((price, published), (8_900, true));
        let cover = cover.expect("a cover was stored");
        assert!(cover.ends_with(".png") && cover.len() == 36, "a random name, not the upload's: {cover}");

        // The catalog shows it, with its cover, served as the image it is.
        let catalog = app.get_html("/").await;
        assert!(catalog.contains(&format!("/uploads/{cover}")), "cover in the catalog");
        let image = app.get(&format!("/uploads/{cover}")).await;
        assert_eq!(image.status(), 200);
        assert_eq!(image.headers()["content-type"], "image/png");
        assert_eq!(image.headers()["x-content-type-options"], "nosniff");
        assert!(image.headers()["content-security-policy"].to_str().unwrap().contains("sandbox"));
        assert_eq!(image.bytes().await.unwrap().as_ref(), COVER);
        for hostile in ["../secret_key", "..%2Fsecret_key", "x.html", &cover.replace(".png", ".webp")] {
            assert_eq!(app.get(&format!("/uploads/{hostile}")).await.status(), 404, "{hostile}");
        }
        let page = app.get_html("/courses/kubernetes-from-zero").await;
        assert_eq!(select_all(&page, ".prose p"), vec!["Week one: pods.", "Week two: services."]);

        // A student buys it at $89; staff then reprice it: the order keeps $89.
        app.student("ada@example.com").await;
        let number = app.bought(&["kubernetes-from-zero"], "").await;
        let saved = boss
            .course_form(
                &format!("/staff/courses/{id}/edit"),
                &[
                    ("title", "Kubernetes from Zero"),
                    ("slug", "kubernetes-from-zero"),
                    ("summary", "Clusters without fear."),
                    ("description", "Week one: pods.\n\nWeek two: services."),
                    ("price", "79.00"),
                    ("published", "on"),
                ],
                None,
            )
            .await;
        assert_eq!(location(&saved), format!("/staff/courses/{id}/edit"));
        assert_eq!(course_row(&mut conn, "kubernetes-from-zero").1, 7_900);
        let invoice = app.get_html(&format!("/orders/{number}")).await;
        assert_eq!(select_all(&invoice, "[data-invoice-total]"), vec!["$89.00"]);
        let catalog = app.get_html("/courses/kubernetes-from-zero").await;
        assert!(catalog.contains("$79.00"));

        // The history says who changed what.
        let edit = boss.get_html(&format!("/staff/courses/{id}/edit")).await;
        let history = select_all(&edit, "[data-course-history] > li");
        assert_eq!(history.len(), 2, "{history:?}");
        assert!(history[0].contains("boss@example.com") && history[0].contains("Price: $89.00 → $79.00"), "{}", history[0]);
        assert!(history[1].contains("Created “Kubernetes from Zero” at $89.00, published, with a cover image"), "{}", history[1]);
        let list = boss.get_html("/staff/courses").await;
        let row = select_all(&list, "tr[data-course-slug=kubernetes-from-zero] td");
        assert_eq!((row[1].as_str(), row[2].as_str()), ("$79.00", "1"), "price and sales: {row:?}");
    }

    async fn the_course_form_refuses_what_it_cannot_sell(app: TestApp) {
        let mut conn = app.db.connect();
        let boss = TestApp::with_client_of(&app);
        boss.staff("boss@example.com").await;
        let attempt = |price: &'static str, slug: &'static str| {
            let boss = &boss;
            async move {
                let response = boss
                    .course_form(
                        "/staff/courses/new",
                        &[("title", "Go Basics"), ("slug", slug), ("price", price), ("description", "Kept as typed")],
                        None,
                    )
                    .await;
                let status = response.status().as_u16();
                (status, response.text().await.unwrap())
            }
        };
        for (price, slug, says) in [
            ("89.001", "", "at most 2 decimals"),
            ("-1", "", "negative"),
            ("lots", "", "not an amount"),
            ("1000000", "", "at most $999,999.99"),
            ("10", "Go Basics", "address name"),
            ("10", "rust-for-web-developers", "already has the address name"),
        ] {
            let (status, html) = attempt(price, slug).await;
            assert_eq!(status, 400, "{price} {slug}");
            assert!(form_error(&html).contains(says), "{price} {slug}: {}", form_error(&html));
            assert!(html.contains("Kept as typed"), "the form keeps what was typed");
        }
        let not_an_image = boss
            .course_form(
                "/staff/courses/new",
                &[("title", "Go Basics"), ("price", "10")],
                Some(("cover.png", b"<svg onload=alert(1)>".to_vec())),
            )
            .await;
        assert_eq!(not_an_image.status(), 400);
        assert!(form_error(&not_an_image.text().await.unwrap()).contains("PNG, JPEG or WebP"));
        let count: i64 = courses::table.filter(courses::title.eq("Go Basics")).count().get_result(&mut conn).unwrap();
        assert_eq!(count, 0, "nothing refused was saved");

        // An empty address name is made from the title, and stays unique.
        for expected in ["go-basics", "go-basics-2"] {
            boss.course_form("/staff/courses/new", &[("title", "Go Basics!"), ("price", "10")], None).await;
            assert!(courses::table.filter(courses::slug.eq(expected)).count().get_result::<i64>(&mut conn).unwrap() == 1, "{expected}");
        }
        let unpublished = course_row(&mut conn, "go-basics");
        assert!(!unpublished.2, "not published unless ticked");
        assert!(!app.get_html("/").await.contains("Go Basics"));
    }

    async fn only_staff_with_the_form_s_token_change_the_catalog(app: TestApp) {
        let mut conn = app.db.connect();
        let (id, ..) = course_row(&mut conn, "modern-javascript");
        app.student("ada@example.com").await;
        assert_eq!(app.get("/staff/courses").await.status(), 403);
        let by_student = app.course_form("/staff/courses/new", &[("title", "Mine"), ("price", "1")], None).await;
        assert_eq!(by_student.status(), 403);
        let boss = TestApp::with_client_of(&app);
        boss.staff("boss@example.com").await;
        let form = reqwest::multipart::Form::new()
            .text("title", "No token")
            .text("price", "1");
        let forged = boss.client.post(boss.url(&format!("/staff/courses/{id}/edit"))).multipart(form).send().await.unwrap();
        assert_eq!(forged.status(), 403);
        assert_eq!(boss.get("/staff/courses/999999/edit").await.status(), 404);
        assert_eq!(boss.get("/staff/courses/abc/edit").await.status(), 404);
        let saved = boss.course_form(&format!("/staff/courses/{id}/edit"), &[("title", "Modern JavaScript"), ("slug", "modern-javascript"), ("price", "59.00")], None).await;
        assert_eq!(saved.status(), 303);
        assert_eq!(course_row(&mut conn, "modern-javascript").1, 5_900);
    }

    async fn carts_say_a_price_changed_and_withdrawn_courses_stop_checkout(app: TestApp) {
        let mut conn = app.db.connect();
        let (id, ..) = course_row(&mut conn, "modern-javascript");
        app.student("ada@example.com").await;
        app.add_course("modern-javascript").await;
        app.add_course("postgresql-in-practice").await;
        let boss = TestApp::with_client_of(&app);
        boss.staff("boss@example.com").await;
        let edit = |price: &'static str, published: bool| {
            let boss = &boss;
            async move {
                let mut fields = vec![("title", "Modern JavaScript"), ("slug", "modern-javascript"), ("price", price)];
                if published {
                    fields.push(("published", "on"));
                }
                let response = boss.course_form(&format!("/staff/courses/{id}/edit"), &fields, None).await;
                assert_eq!(response.status(), 303);
            }
        };
        edit("39.00", true).await;
        let cart = app.get_html("/cart").await;
        assert_eq!(select_all(&cart, "[data-price-changed] s"), vec!["$49.00"], "the cart shows the old price");

        // Withdrawn: off the catalog, no new carts, no checkout with it.
        edit("39.00", false).await;
        assert!(!app.get_html("/").await.contains("/courses/modern-javascript\""));
        assert_eq!(app.get("/courses/modern-javascript").await.status(), 404);
        let bob = TestApp::with_client_of(&app);
        bob.student("bob@example.com").await;
        let refused = bob.submit("/cart/items", &[("course_id", &id.to_string())]).await;
        assert_eq!(refused.status(), 409);
        assert!(refused.text().await.unwrap().contains("This course is not on sale (any more)"));
        let cart = app.get_html("/cart").await;
        assert_eq!(select_all(&cart, "[data-unavailable]").len(), 1);
        let flashes = app.checkout_rejected("").await;
        assert!(flashes.iter().any(|f| f.contains("Modern JavaScript is no longer on sale")), "{flashes:?}");
        app.submit(&format!("/cart/items/{id}/delete"), &[("next", "/cart")]).await;
        let checkout = app.checkout("").await;
        assert!(location(&checkout).starts_with("/checkout/"), "checks out without it");

        // An owner keeps it: My courses and its page.
        edit("39.00", true).await;
        let carol = TestApp::with_client_of(&app);
        carol.student("carol@example.com").await;
        carol.bought(&["modern-javascript"], "").await;
        edit("39.00", false).await;
        let mine = carol.get_html("/my-courses").await;
        assert!(mine.contains("Modern JavaScript"), "{mine}");
        let page = carol.get("/courses/modern-javascript").await;
        assert_eq!(page.status(), 200);
        assert!(page.text().await.unwrap().contains("No longer on sale"));
    }

    async fn the_catalog_shows_a_staff_edit_at_once_and_another_instance_s_within_a_second(app: TestApp) {
        let mut conn = app.db.connect();
        let (id, ..) = course_row(&mut conn, "modern-javascript");
        let price_on_catalog = |html: &str| select_all(html, &format!("[data-course-id=\"{id}\"] .price"));
        let visitor = TestApp::with_client_of(&app);
        assert_eq!(price_on_catalog(&visitor.get_html("/").await), vec!["$49.00"]);
        let boss = TestApp::with_client_of(&app);
        boss.staff("boss@example.com").await;
        assert_eq!(price_on_catalog(&boss.get_html("/").await), vec!["$49.00"]);
        let fields = [("title", "Modern JavaScript"), ("slug", "modern-javascript"), ("price", "39.00"), ("published", "on")];
        let saved = boss.course_form(&format!("/staff/courses/{id}/edit"), &fields, None).await;
        assert_eq!(saved.status(), 303);
        assert_eq!(price_on_catalog(&visitor.get_html("/").await), vec!["$39.00"], "the visitor's page");
        assert_eq!(price_on_catalog(&boss.get_html("/").await), vec!["$39.00"], "a logged-in viewer's page");

        // Another instance (or the command line) changes the row: this
        // process sees it once its kept page is a second old.
        diesel::update(courses::table.find(id)).set(courses::price_cents.eq(2900)).execute(&mut conn).unwrap();
        let started = std::time::Instant::now();
        while price_on_catalog(&visitor.get_html("/").await) != vec!["$29.00"] {
            assert!(started.elapsed() < std::time::Duration::from_secs(5), "the change never showed");
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
    }
}
