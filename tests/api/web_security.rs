use crate::both_backends;
use crate::helpers::{Backend, PASSWORD, TestApp, select_all};

both_backends! {
    async fn a_post_without_a_valid_csrf_token_is_forbidden(app: TestApp) {
        app.register("ada@example.com", "Ada", PASSWORD).await;

        let missing = app.post_form("/logout", &[]).await;
        assert_eq!(missing.status(), 403);
        let wrong = app.post_form("/logout", &[("csrf_token", "forged")]).await;
        assert_eq!(wrong.status(), 403);
        assert_eq!(app.logged_in_as().await.as_deref(), Some("Ada"), "still logged in");

        let login = app.post_form("/login", &[("email", "ada@example.com"), ("password", PASSWORD)]).await;
        assert_eq!(login.status(), 403);
        let html = login.text().await.unwrap();
        assert_eq!(select_all(&html, "h1"), vec!["Not allowed"]);

        // Another session's token is no good either.
        let other = app.new_client();
        let other_html = other.get(app.url("/login")).send().await.unwrap().text().await.unwrap();
        let other_token = crate::helpers::csrf_from(&other_html);
        assert_eq!(app.post_form("/logout", &[("csrf_token", &other_token)]).await.status(), 403);
    }

    async fn pages_carry_security_headers_and_a_locked_down_session_cookie(app: TestApp) {
        let response = app.get("/").await;
        let headers = response.headers();
        let csp = headers["content-security-policy"].to_str().unwrap();
        assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
        assert!(csp.contains("script-src 'self';"), "{csp}");
        assert!(!csp.contains("stripe"), "the sandbox loads nothing from Stripe: {csp}");
        assert!(!csp.contains("unsafe-inline"), "{csp}");
        assert_eq!(headers["x-content-type-options"], "nosniff");
        assert_eq!(headers["x-frame-options"], "DENY");
        assert_eq!(headers["referrer-policy"], "strict-origin-when-cross-origin");
        let cookie = headers["set-cookie"].to_str().unwrap();
        assert!(cookie.starts_with("kasir_session="), "{cookie}");
        assert!(cookie.contains("HttpOnly"), "{cookie}");
        assert!(cookie.contains("SameSite=Lax"), "{cookie}");
        assert!(!cookie.contains("Secure"), "plain-http PUBLIC_URL: {cookie}");
    }

    async fn an_unknown_page_gets_the_404_page_in_the_layout(app: TestApp) {
        let response = app.get("/no/such/page").await;
        assert_eq!(response.status(), 404);
        assert!(response.headers()["content-type"].to_str().unwrap().starts_with("text/html"));
        assert!(response.headers().contains_key("content-security-policy"));
        let html = response.text().await.unwrap();
        assert_eq!(select_all(&html, ".error-code"), vec!["404"]);
        assert_eq!(select_all(&html, ".brand"), vec!["kasir"], "the navbar is there");

        let json = app
            .client
            .get(app.url("/no/such/page"))
            .header("Accept", "application/json")
            .send()
            .await
            .unwrap();
        assert_eq!(json.status(), 404);
        let body: serde_json::Value = json.json().await.unwrap();
        assert!(body["error"].as_str().unwrap().contains("nothing here"));
    }

    async fn an_oversized_form_is_refused_with_413(app: TestApp) {
        let token = app.csrf_token().await;
        let huge = "x".repeat(200 * 1024);
        let response = app
            .post_form("/login", &[("csrf_token", &token), ("email", &huge), ("password", "p")])
            .await;
        assert_eq!(response.status(), 413);
    }

    async fn a_wrong_method_gets_a_clear_error_not_a_crash(app: TestApp) {
        let response = app.client.delete(app.url("/login")).send().await.unwrap();
        assert!(response.status().is_client_error(), "{}", response.status());
        assert!(response.headers()["content-type"].to_str().unwrap().starts_with("text/html"));
    }
}

#[actix_web::test]
async fn an_https_public_url_makes_the_session_cookie_secure() {
    let app = TestApp::spawn_with(
        Backend::Sqlite,
        &[("PUBLIC_URL", "https://shop.example.com")],
    )
    .await;
    let response = app.get("/").await;
    let cookie = response.headers()["set-cookie"].to_str().unwrap();
    assert!(cookie.contains("Secure"), "{cookie}");
    assert!(
        response.headers()["strict-transport-security"]
            .to_str()
            .unwrap()
            .contains("max-age=")
    );
}

both_backends! {
    async fn html_in_titles_names_and_metadata_is_escaped_on_every_page(app: TestApp) {
        use diesel::prelude::*;
        use kasir::db::schema::{courses, financial_journals};
        const PAYLOAD: &str = "<script>alert('x')</script>";
        let mut conn = app.db.connect();
        diesel::update(courses::table.filter(courses::slug.eq("rust-for-web-developers")))
            .set((courses::title.eq(format!("Rust {PAYLOAD}")), courses::summary.eq(PAYLOAD)))
            .execute(&mut conn)
            .unwrap();
        assert_eq!(app.register("ada@example.com", &format!("Ada {PAYLOAD}"), PASSWORD).await.status(), 303);
        app.add_course("rust-for-web-developers").await;
        // A promo code is echoed in its refusal.
        app.checkout(PAYLOAD).await;
        let cart = app.get_html("/cart").await;
        assert!(cart.contains("We don&#39;t know the promo code") || cart.contains("We don&#x27;t know the promo code"), "the refusal is shown");
        assert!(!cart.to_lowercase().contains("<script>alert"), "the code is escaped in its refusal");
        let pay = crate::helpers::location(&app.checkout("").await);
        let number = pay.trim_start_matches("/checkout/").to_owned();
        app.submit(&format!("{pay}/sandbox"), &[("card_number", "4242424242424242"), ("expiry", "12/40"), ("cvc", "123")])
            .await;
        // Provider data: a late failure's message from Stripe lands in the
        // journal description and the stored event, both shown to staff.
        let (order_id, intent): (i64, String) = kasir::db::schema::orders::table
            .filter(kasir::db::schema::orders::number.eq(&number))
            .select((kasir::db::schema::orders::id, kasir::db::schema::orders::payment_intent_id.assume_not_null()))
            .first(&mut conn)
            .unwrap();
        let failed = crate::helpers::events::intent_event("evt_xss", "payment_intent.payment_failed", &intent, 8_900, order_id, Some(PAYLOAD));
        assert_eq!(app.deliver(&failed).await.status(), 200);
        let boss = TestApp::with_client_of(&app);
        boss.staff("boss@example.com").await;
        let stored: String = financial_journals::table
            .filter(financial_journals::type_.eq("income"))
            .select(financial_journals::description)
            .first(&mut conn)
            .unwrap();
        assert!(stored.contains(&number));

        let student_pages = ["/", "/courses/rust-for-web-developers", "/cart", &pay, &format!("{pay}/complete"), "/orders", &format!("/orders/{number}"), "/my-courses"];
        for path in student_pages {
            let html = app.get_html(path).await;
            assert!(!html.contains(PAYLOAD), "{path} renders raw HTML from data");
        }
        let failure: String = financial_journals::table
            .filter(financial_journals::type_.eq("failed_payment"))
            .select(financial_journals::description)
            .first(&mut conn)
            .unwrap();
        assert!(failure.contains(PAYLOAD), "the provider's message is kept as it came");
        let staff_pages = ["/staff/orders", &format!("/staff/orders/{number}"), "/staff/journal", "/staff/journal?type=failed_payment", "/staff/reports", "/staff/promo-codes"];
        for path in staff_pages {
            let response = boss.get(path).await;
            assert_eq!(response.status(), 200, "{path}");
            let html = response.text().await.unwrap();
            assert!(!html.contains("<script>alert"), "{path} renders raw HTML from data");
        }
        // Escaped, not dropped: the student still sees the text.
        let course = app.get_html("/courses/rust-for-web-developers").await;
        assert!(course.contains("&#60;script&#62;"), "shown escaped");
    }
}

both_backends! {
    async fn every_form_answers_oversized_values_with_a_4xx_page_and_keeps_the_session(app: TestApp) {
        app.staff("boss@example.com").await;
        let number = app.bought(&["rust-for-web-developers"], "").await;
        app.add_course("modern-javascript").await;
        let pay = crate::helpers::location(&app.checkout("").await);
        let huge = "x".repeat(20_000);
        let forms: Vec<(String, Vec<&str>)> = vec![
            ("/register".into(), vec!["email", "name", "password", "next"]),
            ("/login".into(), vec!["email", "password", "next"]),
            ("/cart/items".into(), vec!["course_id", "next"]),
            ("/cart/items/1/delete".into(), vec!["next"]),
            ("/checkout".into(), vec!["promo_code"]),
            ("/cart/promo".into(), vec!["promo_code"]),
            ("/cart/billing".into(), vec!["company", "address", "tax_id"]),
            (format!("{pay}/sandbox"), vec!["card_number", "expiry", "cvc"]),
            (format!("{pay}/sandbox/authenticate"), vec!["decision"]),
            ("/staff/promo-codes".into(), vec!["code", "kind", "percent", "amount", "starts_at", "ends_at", "max_redemptions", "per_user_limit", "min_subtotal", "course_ids"]),
            ("/staff/promo-codes/1/deactivate".into(), vec!["x"]),
            (format!("/staff/orders/{number}/refund"), vec!["amount", "reason", "request_id"]),
            ("/logout".into(), vec!["x"]),
        ];
        for (path, fields) in &forms {
            for field in fields {
                let response = app.submit(path, &[(field, huge.as_str())]).await;
                let status = response.status().as_u16();
                assert!((400..500).contains(&status), "{path} {field}: {status}");
                let html = response.text().await.unwrap();
                assert!(html.contains("class=\"brand\""), "{path} {field}: a page in the layout");
            }
        }
        // A long code within the field limit is refused with a short echo,
        // and the session cookie that carries the message still fits.
        let long_code = "C".repeat(5_000);
        let answer = app.checkout(&long_code).await;
        assert_eq!(answer.status(), 303);
        let cart = app.get("/cart").await;
        assert_eq!(cart.status(), 200);
        let flash = select_all(&cart.text().await.unwrap(), ".flash-error").join(" ");
        assert!(flash.contains("We don't know the promo code"), "{flash}");
        assert!(flash.len() < 200, "{} characters echoed", flash.len());
        // The same code applied in the cart: refused under the field, cut short.
        let applied = app.submit("/cart/promo", &[("promo_code", long_code.as_str())]).await;
        assert_eq!(applied.status(), 303);
        let cart = app.get("/cart").await;
        assert_eq!(cart.status(), 200);
        let refusal = select_all(&cart.text().await.unwrap(), "#promo-error").join(" ");
        assert!(refusal.contains("We don't know the promo code"), "{refusal}");
        assert!(refusal.len() < 200, "{} characters echoed", refusal.len());
        assert_eq!(app.get("/orders").await.status(), 200, "still logged in");
    }
}
