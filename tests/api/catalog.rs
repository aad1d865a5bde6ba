use crate::both_backends;
use crate::helpers::{
    Backend, TestApp, csrf_from, insert_bulk_courses, insert_course, location, select_all,
};

/// The form tokens of the catalog's cards, and the page's own token.
fn card_tokens(html: &str) -> (Vec<String>, String) {
    let doc = scraper::Html::parse_document(html);
    let fields = scraper::Selector::parse(".course-card input[name=csrf_token]").unwrap();
    let tokens = doc
        .select(&fields)
        .filter_map(|input| input.value().attr("value").map(str::to_owned))
        .collect();
    (tokens, csrf_from(html))
}

/// Whether the card of `course` offers "Add to cart" (else "In cart").
fn offers_add(html: &str, course: i64) -> bool {
    let doc = scraper::Html::parse_document(html);
    let add = format!(r#".course-card[data-course-id="{course}"] form[data-cart-action=add]"#);
    let form = doc
        .select(&scraper::Selector::parse(&add).unwrap())
        .next()
        .expect("the card");
    form.value().attr("hidden").is_none()
}

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

    async fn every_visitor_gets_the_kept_cards_with_their_own_form_token(app: TestApp) {
        // A title that spells the kept cards' token slot stays text.
        let tricky = insert_course(&mut app.db.connect(), "tricky", "Forms <form-token> unmasked");
        let ada = TestApp::with_client_of(&app);
        let bob = TestApp::with_client_of(&app);
        let ada_page = ada.get_html("/").await;
        let bob_page = bob.get_html("/").await;
        let (ada_tokens, ada_token) = card_tokens(&ada_page);
        let (bob_tokens, bob_token) = card_tokens(&bob_page);
        assert_eq!(ada_tokens.len(), 2 * 9, "two forms on each of nine cards");
        assert!(ada_tokens.iter().all(|t| *t == ada_token), "{ada_tokens:?} vs {ada_token}");
        assert!(bob_tokens.iter().all(|t| *t == bob_token), "{bob_tokens:?} vs {bob_token}");
        assert_ne!(ada_token, bob_token, "masked afresh for every page");
        assert!(select_all(&bob_page, ".course-title").contains(&"Forms <form-token> unmasked".to_owned()));
        assert!(!bob_page.contains("<form-token>"), "the slot never reaches a page");

        // The token in Bob's card is his: the card's own form adds the course.
        let added = bob
            .post_form("/cart/items", &[("course_id", &tricky.to_string()), ("csrf_token", &bob_tokens[0])])
            .await;
        assert_eq!(added.status(), 303);
        assert_eq!(location(&added), "/");
        let with_cart = bob.get_html("/").await;
        assert!(!offers_add(&with_cart, tricky), "Bob sees the course in his cart");
        assert_eq!(select_all(&with_cart, "#cart-count"), vec!["1"]);
        let (tokens, token) = card_tokens(&with_cart);
        assert!(tokens.iter().all(|t| *t == token));
        // Ada's token is not Bob's session's.
        let refused = bob
            .post_form("/cart/items", &[("course_id", &tricky.to_string()), ("csrf_token", &ada_token)])
            .await;
        assert_eq!(refused.status(), 403);
        assert!(offers_add(&ada.get_html("/").await, tricky), "Ada's cart is empty");
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
