//! English and Bahasa Indonesia: which language a page speaks (the saved
//! choice, the switcher's cookie, the browser's, the default), amounts and
//! dates the way each writes them, and rupiah.

use diesel::prelude::*;
use kasir::db::schema::courses;

use crate::both_backends;
use crate::helpers::{Backend, TestApp, location, select_all};

async fn page_in(app: &TestApp, path: &str, accept_language: &str) -> String {
    app.client
        .get(app.url(path))
        .header("Accept-Language", accept_language)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

fn lang_of(html: &str) -> String {
    scraper::Html::parse_document(html)
        .select(&scraper::Selector::parse("html").unwrap())
        .next()
        .and_then(|e| e.value().attr("lang"))
        .unwrap_or_default()
        .to_owned()
}

both_backends! {
    async fn the_browser_the_switcher_and_the_saved_choice_decide_the_language(app: TestApp) {
        let english = page_in(&app, "/", "en-US,en;q=0.9").await;
        assert_eq!(lang_of(&english), "en");
        assert!(select_all(&english, ".nav-links a").contains(&"Catalog".to_owned()));
        assert!(english.contains("$89.00"));

        let indonesian = page_in(&app, "/", "id-ID,id;q=0.9,en;q=0.5").await;
        assert_eq!(lang_of(&indonesian), "id");
        assert!(select_all(&indonesian, ".nav-links a").contains(&"Katalog".to_owned()));
        assert!(indonesian.contains("US$89,00"), "CLDR: Indonesian writes dollars its way");
        assert!(indonesian.contains("Tambah ke keranjang"));

        // The switcher's cookie beats the browser.
        let switched = app.submit("/language", &[("lang", "id"), ("next", "/cart")]).await;
        assert_eq!(location(&switched), "/cart");
        assert!(switched.headers()["set-cookie"].to_str().unwrap().starts_with("lang=id"));
        assert_eq!(lang_of(&page_in(&app, "/", "en").await), "id");
        assert_eq!(app.submit("/language", &[("lang", "fr")]).await.status(), 400);
        assert_eq!(app.submit("/language", &[("lang", "en")]).await.status(), 303);

        // A logged-in student's choice is kept on the account: a new browser
        // (no cookie, an English browser) speaks Indonesian after login.
        app.student("siti@example.com").await;
        app.submit("/language", &[("lang", "id")]).await;
        let elsewhere = TestApp::with_client_of(&app);
        elsewhere.login("siti@example.com", crate::helpers::PASSWORD).await;
        assert_eq!(lang_of(&page_in(&elsewhere, "/my-courses", "en").await), "id");
        let flash = page_in(&elsewhere, "/", "en").await;
        assert_eq!(lang_of(&flash), "id");

        // Error pages too.
        let missing = app
            .client
            .get(app.url("/courses/no-such-course"))
            .header("Accept-Language", "id")
            .send()
            .await
            .unwrap();
        assert_eq!(missing.status(), 404);
        let other = TestApp::with_client_of(&app);
        let missing = other
            .client
            .get(other.url("/courses/no-such-course"))
            .header("Accept-Language", "id")
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(missing.contains("Halaman tidak ditemukan"), "{missing}");
    }
}

#[actix_web::test]
async fn a_rupiah_shop_prices_and_charges_in_whole_rupiah() {
    let app = TestApp::spawn_with(
        Backend::Sqlite,
        &[("CURRENCY", "IDR"), ("DEFAULT_LOCALE", "id")],
    )
    .await;
    let mut conn = app.db.connect();
    let price: i64 = courses::table
        .filter(courses::slug.eq("rust-for-web-developers"))
        .select(courses::price_cents)
        .first(&mut conn)
        .unwrap();
    assert_eq!(
        price, 79_900_000,
        "Rp799.000, kept in hundredths as Stripe counts IDR"
    );

    // No Accept-Language: DEFAULT_LOCALE.
    let catalog = app.get_html("/").await;
    assert_eq!(lang_of(&catalog), "id");
    assert!(catalog.contains("Rp799.000"), "no sen shown");
    assert!(!catalog.contains("Rp799.000,00"));
    let english = page_in(&app, "/", "en").await;
    assert!(english.contains("Rp799,000"));

    // A percentage off a rupiah price is whole rupiah.
    crate::helpers::shop::insert_promo(
        &mut conn,
        crate::helpers::shop::Promo {
            code: "HEMAT",
            percent_bps: Some(1_234),
            ..crate::helpers::shop::Promo::default()
        },
    );
    app.student("siti@example.com").await;
    app.add_course("rust-for-web-developers").await;
    let pay = location(&app.checkout("HEMAT").await);
    assert!(pay.starts_with("/checkout/"), "{pay}");
    let orders = crate::helpers::shop::all_orders(&mut conn);
    let order = orders.last().unwrap();
    assert_eq!(
        order.total_cents % 100,
        0,
        "whole rupiah: {}",
        order.total_cents
    );
    assert_eq!(
        order.total_cents,
        79_900_000 - 9_859_700,
        "12.34 % of Rp799.000 is Rp98.596,60 → Rp98.597"
    );
    let page = app.get_html(&pay).await;
    assert_eq!(select_all(&page, "[data-order-total]"), vec!["Rp700.403"]);

    // Staff type prices the Indonesian way.
    let boss = TestApp::with_client_of(&app);
    boss.staff("boss@example.com").await;
    let form = reqwest::multipart::Form::new()
        .text("csrf_token", boss.csrf_token().await)
        .text("title", "Kelas Data Science")
        .text("price", "1.299.000")
        .text("published", "on");
    let created = boss
        .client
        .post(boss.url("/staff/courses/new"))
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 303);
    let stored: i64 = courses::table
        .filter(courses::slug.eq("kelas-data-science"))
        .select(courses::price_cents)
        .first(&mut conn)
        .unwrap();
    assert_eq!(stored, 129_900_000);
}
