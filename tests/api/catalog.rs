use crate::both_backends;
use crate::helpers::{Backend, TestApp, select_all};

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
