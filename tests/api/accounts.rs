use diesel::prelude::*;
use kasir::db::schema::users;

use crate::both_backends;
use crate::helpers::{Backend, PASSWORD, TestApp, location, navbar_user, select_all};

fn user_count(app: &TestApp) -> i64 {
    users::table
        .count()
        .get_result(&mut app.db.connect())
        .unwrap()
}

both_backends! {
    async fn register_then_logout_then_login(app: TestApp) {
        let response = app.register("ada@example.com", "Ada Lovelace", PASSWORD).await;
        assert_eq!(response.status(), 303);
        assert_eq!(location(&response), "/");
        assert_eq!(app.logged_in_as().await.as_deref(), Some("Ada Lovelace"));

        let response = app.logout().await;
        assert_eq!(response.status(), 303);
        assert_eq!(app.logged_in_as().await, None);

        let response = app.login("ADA@example.com ", PASSWORD).await;
        assert_eq!(response.status(), 303, "email is case-insensitive");
        assert_eq!(app.logged_in_as().await.as_deref(), Some("Ada Lovelace"));
    }

    async fn a_wrong_password_and_an_unknown_email_get_the_same_answer(app: TestApp) {
        app.register("ada@example.com", "Ada", PASSWORD).await;
        app.logout().await;

        let wrong_password = app.login("ada@example.com", "not the password").await;
        assert_eq!(wrong_password.status(), 401);
        let wrong_password = select_all(&wrong_password.text().await.unwrap(), ".form-error");

        let unknown_email = app.login("nobody@example.com", PASSWORD).await;
        assert_eq!(unknown_email.status(), 401);
        let unknown_email = select_all(&unknown_email.text().await.unwrap(), ".form-error");

        assert_eq!(wrong_password, vec!["Invalid email or password."]);
        assert_eq!(wrong_password, unknown_email);
        assert_eq!(app.logged_in_as().await, None);
    }

    async fn a_duplicate_email_is_refused(app: TestApp) {
        assert_eq!(app.register("ada@example.com", "Ada", PASSWORD).await.status(), 303);
        app.logout().await;
        let again = app.register("Ada@Example.com", "Another Ada", PASSWORD).await;
        assert_eq!(again.status(), 409);
        let html = again.text().await.unwrap();
        assert!(select_all(&html, ".form-error")[0].contains("already exists"));
        assert_eq!(user_count(&app), 1);
    }

    async fn invalid_registrations_say_why_and_write_nothing(app: TestApp) {
        let response = app.register("not-an-email", "", "short").await;
        assert_eq!(response.status(), 400);
        let html = response.text().await.unwrap();
        let error = &select_all(&html, ".form-error")[0];
        assert!(error.contains("email address"), "{error}");
        assert!(error.contains("name"), "{error}");
        assert!(error.contains("at least 10 characters"), "{error}");
        // What the student typed is kept, except the password.
        assert!(html.contains(r#"value="not-an-email""#));
        assert_eq!(user_count(&app), 0);
    }

    async fn a_session_cookie_replayed_after_logout_is_no_longer_logged_in(app: TestApp) {
        app.register("ada@example.com", "Ada", PASSWORD).await;
        let stolen_cookie = app.cookie_header().expect("session cookie");

        app.logout().await;

        let replay = app
            .new_client()
            .get(app.url("/"))
            .header(reqwest::header::COOKIE, stolen_cookie)
            .send()
            .await
            .unwrap();
        assert_eq!(replay.status(), 200);
        assert_eq!(navbar_user(&replay.text().await.unwrap()), None);
    }

    async fn concurrent_wrong_passwords_get_exactly_the_allowed_tries(app: TestApp) {
        app.register("ada@example.com", "Ada", PASSWORD).await;
        // Twenty guesses at once, each from its own session: five are
        // checked (401), the rest refused before any password check (429).
        let guessers: Vec<TestApp> = (0..20).map(|_| TestApp::with_client_of(&app)).collect();
        let tokens = futures_util::future::join_all(guessers.iter().map(|g| g.csrf_token())).await;
        let answers = futures_util::future::join_all(guessers.iter().zip(&tokens).map(|(g, token)| async move {
            g.post_form("/login", &[("email", "ada@example.com"), ("password", "guess guess"), ("csrf_token", token.as_str())])
                .await
        }))
        .await;
        let mut statuses: Vec<u16> = answers.iter().map(|a| a.status().as_u16()).collect();
        statuses.sort();
        assert_eq!(statuses.iter().filter(|&&s| s == 401).count(), 5, "{statuses:?}");
        assert_eq!(statuses.iter().filter(|&&s| s == 429).count(), 15, "{statuses:?}");
        // A right password now waits too; the counted tries are exactly five.
        assert_eq!(app.login("ada@example.com", PASSWORD).await.status(), 429);
    }

    async fn logins_are_throttled_per_account_after_repeated_failures(app: TestApp) {
        app.register("ada@example.com", "Ada", PASSWORD).await;
        app.logout().await;
        for _ in 0..5 {
            assert_eq!(app.login("ada@example.com", "guess guess guess").await.status(), 401);
        }
        let blocked = app.login("ada@example.com", PASSWORD).await;
        assert_eq!(blocked.status(), 429, "even the right password waits out the window");
        let retry_after: i64 = blocked.headers()["retry-after"].to_str().unwrap().parse().unwrap();
        assert!((60..=900).contains(&retry_after), "{retry_after}");
        assert!(select_all(&blocked.text().await.unwrap(), ".form-error")[0].contains("Too many failed attempts"));
        assert_eq!(app.logged_in_as().await, None);

        // Another account from the same address is not locked out.
        app.register("grace@example.com", "Grace", PASSWORD).await;
        app.logout().await;
        assert_eq!(app.login("grace@example.com", PASSWORD).await.status(), 303);
    }

    async fn login_redirects_only_to_local_paths(app: TestApp) {
        app.register("ada@example.com", "Ada", PASSWORD).await;
        app.logout().await;
        let response = app
            .submit("/login", &[("email", "ada@example.com"), ("password", PASSWORD), ("next", "/courses/modern-javascript")])
            .await;
        assert_eq!(location(&response), "/courses/modern-javascript");
        app.logout().await;
        let response = app
            .submit("/login", &[("email", "ada@example.com"), ("password", PASSWORD), ("next", "//evil.example/")])
            .await;
        assert_eq!(location(&response), "/");
    }

    async fn the_create_staff_command_makes_a_staff_account_that_can_log_in(app: TestApp) {
        let output = std::process::Command::new(env!("CARGO_BIN_EXE_kasir"))
            .args(["create-staff", "--email", "Staff@Example.com", "--password", PASSWORD])
            .env("DATABASE_URL", &app.db.url)
            .env("SECRET_KEY", "k".repeat(64))
            .output()
            .unwrap();
        assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));

        let role: String = users::table
            .filter(users::email.eq("staff@example.com"))
            .select(users::role)
            .first(&mut app.db.connect())
            .unwrap();
        assert_eq!(role, "staff");
        assert_eq!(app.login("staff@example.com", PASSWORD).await.status(), 303);
        let html = app.get_html("/").await;
        assert_eq!(select_all(&html, ".nav-user .badge-staff"), vec!["staff"]);
    }
}
