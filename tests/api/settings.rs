//! The seller's details set by staff on `/staff/settings`: over the
//! configuration field by field, checked, copied by orders placed after,
//! never into documents already issued.

use diesel::prelude::*;
use kasir::db::schema::seller_settings;

use crate::helpers::{Backend, TestApp, select_all};

const SELLER: &[(&str, &str)] = &[
    ("SELLER_NAME", "PT Kursus Maju"),
    ("SELLER_ADDRESS", "Jl. Sudirman 1\\nJakarta 10220"),
    ("SELLER_TAX_ID", "01.234.567.8-901.000"),
];

fn form<'a>(
    name: &'a str,
    address: &'a str,
    tax_id: &'a str,
    footer: &'a str,
) -> [(&'a str, &'a str); 4] {
    [
        ("name", name),
        ("address", address),
        ("tax_id", tax_id),
        ("footer", footer),
    ]
}

async fn staff_set_the_seller_over_the_configuration(backend: Backend) {
    let app = TestApp::spawn_with(backend, SELLER).await;
    let mut conn = app.db.connect();
    app.student("ada@example.com").await;
    let before = app.bought(&["rust-for-web-developers"], "").await;
    // Students may neither read nor change them.
    assert_eq!(app.get("/staff/settings").await.status(), 403);
    let refused = app
        .submit("/staff/settings", &form("Mallory Ltd", "", "", ""))
        .await;
    assert_eq!(refused.status(), 403);

    let boss = TestApp::with_client_of(&app);
    boss.staff("boss@example.com").await;
    let page = boss.get_html("/staff/settings").await;
    assert!(
        select_all(&page, "[data-seller-preview]")[0].contains("PT Kursus Maju"),
        "as configured"
    );
    assert!(
        page.contains(r#"placeholder="PT Kursus Maju""#),
        "the configured value is the hint"
    );

    // A mistake is refused with the reason, and what was typed stays.
    let wrong = boss
        .submit("/staff/settings", &form("PT Kursus Baru", "", "DE12", ""))
        .await;
    assert_eq!(wrong.status(), 400);
    let wrong = wrong.text().await.unwrap();
    assert_eq!(select_all(&wrong, "[role=alert]").len(), 1);
    assert!(wrong.contains(r#"value="PT Kursus Baru""#));
    let long_name = "x".repeat(201);
    assert_eq!(
        boss.submit("/staff/settings", &form(&long_name, "", "", ""))
            .await
            .status(),
        400
    );
    let many_lines = "a\nb\nc\nd\ne\nf\ng\nh\ni";
    assert_eq!(
        boss.submit("/staff/settings", &form("", many_lines, "", ""))
            .await
            .status(),
        400
    );
    let saved: i64 = seller_settings::table
        .count()
        .get_result(&mut conn)
        .unwrap();
    assert_eq!(saved, 0, "nothing refused was kept");

    // Name, address and footer set here; the tax number left to the configuration.
    let ok = boss
        .submit(
            "/staff/settings",
            &form(
                " PT Kursus Baru ",
                "Jl. Braga 5\r\nBandung 40111",
                "",
                "Bank BCA 987",
            ),
        )
        .await;
    assert_eq!(ok.status(), 303);
    let page = boss.get_html("/staff/settings").await;
    let preview = select_all(&page, "[data-seller-preview]")[0].clone();
    assert!(
        preview.contains("PT Kursus Baru") && preview.contains("Bandung 40111"),
        "{preview}"
    );
    assert!(
        preview.contains("01.234.567.8-901.000"),
        "the configured tax number still applies"
    );
    assert!(select_all(&page, "[data-last-change]")[0].contains("boss@example.com"));

    // The next order copies them; the earlier invoice keeps its seller.
    let after = app.bought(&["modern-javascript"], "").await;
    let invoice = app.get_html(&format!("/orders/{after}")).await;
    let seller = select_all(&invoice, "[data-seller]")[0].clone();
    assert!(
        seller.contains("PT Kursus Baru") && seller.contains("Jl. Braga 5"),
        "{seller}"
    );
    assert_eq!(
        select_all(&invoice, "[data-seller-tax-id]"),
        vec!["Tax number: 01.234.567.8-901.000"]
    );
    assert_eq!(
        select_all(&invoice, "[data-invoice-footer]"),
        vec!["Bank BCA 987"]
    );
    let old = app.get_html(&format!("/orders/{before}")).await;
    let seller = select_all(&old, "[data-seller]")[0].clone();
    assert!(
        seller.contains("PT Kursus Maju") && !seller.contains("Baru"),
        "{seller}"
    );
    assert!(select_all(&old, "[data-invoice-footer]").is_empty());

    // Emptied, every field is the configuration's again.
    assert_eq!(
        boss.submit("/staff/settings", &form("", "", "", ""))
            .await
            .status(),
        303
    );
    let page = boss.get_html("/staff/settings").await;
    assert!(select_all(&page, "[data-seller-preview]")[0].contains("PT Kursus Maju"));
    assert!(select_all(&page, "[data-footer-preview]").is_empty());
}

#[actix_web::test]
async fn seller_settings_on_sqlite() {
    staff_set_the_seller_over_the_configuration(Backend::Sqlite).await;
}

#[actix_web::test]
async fn seller_settings_on_postgres() {
    staff_set_the_seller_over_the_configuration(Backend::Postgres).await;
}
