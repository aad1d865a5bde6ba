use crate::both_backends;
use crate::helpers::{Backend, TestApp, insert_bulk_courses, select_all};

both_backends! {
    async fn the_catalog_lists_the_published_demo_courses_with_prices(app: TestApp) {
        let response = app.get("/").await;
        assert_eq!(response.status(), 200);
        let html = response.text().await.unwrap();
        let titles = select_all(&html, ".course-card .course-title");
        assert_eq!(titles.len(), 8, "{titles:?}");
        assert!(titles.contains(&"Rust for Web Developers".to_owned()));
        assert!(!titles.iter().any(|t| t.contains("Kubernetes")), "unpublished course listed");
        let prices = select_all(&html, ".course-card .price");
        assert!(prices.contains(&"$89.00".to_owned()), "{prices:?}");
        assert_eq!(select_all(&html, "#cart-count"), vec!["0"]);
    }

    async fn a_large_catalog_is_paged_24_courses_at_a_time(app: TestApp) {
        insert_bulk_courses(&mut app.db.connect(), 40); // + 8 demo courses = 48
        let first = app.get_html("/").await;
        assert_eq!(select_all(&first, ".course-card").len(), 24);
        assert_eq!(select_all(&first, ".pager span"), vec!["Page 1 of 2"]);
        assert_eq!(select_all(&first, "a[rel=next]"), vec!["Next →"]);
        assert!(select_all(&first, "a[rel=prev]").is_empty());
        let second = app.get_html("/?page=2").await;
        let titles = select_all(&second, ".course-card .course-title");
        assert_eq!(titles.len(), 24);
        assert_eq!(titles.last().map(String::as_str), Some("Bulk 39"), "launch order");
        assert!(select_all(&first, ".course-card .course-title").iter().all(|t| !titles.contains(t)));
        // Past the end: the last page; not a number: 400.
        assert_eq!(select_all(&app.get_html("/?page=99").await, ".pager span"), vec!["Page 2 of 2"]);
        assert_eq!(app.get("/?page=two").await.status(), 400);
    }

    async fn a_course_page_shows_the_course(app: TestApp) {
        let response = app.get("/courses/postgresql-in-practice").await;
        assert_eq!(response.status(), 200);
        let html = response.text().await.unwrap();
        assert_eq!(select_all(&html, "h1"), vec!["PostgreSQL in Practice"]);
        assert_eq!(select_all(&html, ".buy-price"), vec!["$69.00"]);
    }

    async fn unknown_and_unpublished_courses_are_not_found(app: TestApp) {
        for path in ["/courses/no-such-course", "/courses/kubernetes-deep-dive"] {
            let response = app.get(path).await;
            assert_eq!(response.status(), 404, "{path}");
            let html = response.text().await.unwrap();
            assert_eq!(select_all(&html, "h1"), vec!["Page not found"], "{path}");
        }
    }

    async fn healthz_answers_when_the_database_does(app: TestApp) {
        let response = app.get("/healthz").await;
        assert_eq!(response.status(), 200);
        let body: serde_json::Value = response.json().await.unwrap();
        assert_eq!(body["status"], "ok");
        let engine = if app.db.url.starts_with("postgres") { "postgresql" } else { "sqlite" };
        assert_eq!(body["database"], engine);
    }
}

#[actix_web::test]
async fn the_catalog_is_priced_in_the_configured_currency() {
    let app = TestApp::spawn_with(Backend::Sqlite, &[("CURRENCY", "EUR")]).await;
    let html = app.get_html("/").await;
    assert!(select_all(&html, ".price").contains(&"€89.00".to_owned()));
}

#[actix_web::test]
async fn an_empty_catalog_says_so_when_demo_seeding_is_off() {
    let app = TestApp::spawn_with(Backend::Sqlite, &[("SEED_DEMO_ON_EMPTY", "false")]).await;
    let html = app.get_html("/").await;
    assert!(select_all(&html, ".course-card").is_empty());
    assert_eq!(select_all(&html, ".empty-state h2"), vec!["No courses yet"]);
}
