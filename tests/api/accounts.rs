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
        // A page seen first: the server now holds Ada in its session cache.
        assert_eq!(navbar_user(&app.get_html("/").await).as_deref(), Some("Ada"));

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
            .env("JOURNAL_KEY", crate::helpers::TEST_JOURNAL_KEY)
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

impl TestApp {
    /// Posts a form the way a browser behind the shop's proxy would: the
    /// proxy (loopback, trusted in these apps) says who the client is.
    async fn submit_from(
        &self,
        client: &str,
        path: &str,
        form: &[(&str, &str)],
    ) -> reqwest::Response {
        let token = self.csrf_token().await;
        let mut fields = form.to_vec();
        fields.push(("csrf_token", &token));
        self.client
            .post(self.url(path))
            .header("X-Forwarded-For", format!("{client}, 127.0.0.1"))
            .form(&fields)
            .send()
            .await
            .unwrap()
    }
}

async fn behind_a_proxy(backend: Backend, extra: &[(&str, &str)]) -> TestApp {
    let mut vars = vec![("TRUSTED_PROXIES", "127.0.0.1")];
    vars.extend_from_slice(extra);
    TestApp::spawn_with(backend, &vars).await
}

async fn a_guesser_elsewhere_cannot_lock_the_owner_out(backend: Backend) {
    let app = behind_a_proxy(backend, &[]).await;
    app.register("ada@example.com", "Ada", PASSWORD).await;
    app.logout().await;
    let attacker = TestApp::with_client_of(&app);
    for _ in 0..5 {
        let guess = attacker
            .submit_from(
                "203.0.113.66",
                "/login",
                &[
                    ("email", "ada@example.com"),
                    ("password", "guess guess guess"),
                ],
            )
            .await;
        assert_eq!(guess.status(), 401);
    }
    let blocked = attacker
        .submit_from(
            "203.0.113.66",
            "/login",
            &[
                ("email", "ada@example.com"),
                ("password", "guess guess guess"),
            ],
        )
        .await;
    assert_eq!(blocked.status(), 429, "the guesser's address is stopped");
    // The owner, at home, logs in.
    let owner = app
        .submit_from(
            "198.51.100.7",
            "/login",
            &[("email", "ada@example.com"), ("password", PASSWORD)],
        )
        .await;
    assert_eq!(owner.status(), 303);
    assert_eq!(app.logged_in_as().await.as_deref(), Some("Ada"));
}

#[actix_web::test]
async fn a_guesser_elsewhere_cannot_lock_the_owner_out_sqlite() {
    a_guesser_elsewhere_cannot_lock_the_owner_out(Backend::Sqlite).await;
}

#[actix_web::test]
async fn a_guesser_elsewhere_cannot_lock_the_owner_out_postgres() {
    a_guesser_elsewhere_cannot_lock_the_owner_out(Backend::Postgres).await;
}

#[actix_web::test]
async fn an_untrusted_peer_cannot_claim_another_address() {
    // Without TRUSTED_PROXIES, X-Forwarded-For is ignored: a guesser
    // cannot spread tries over invented addresses.
    let app = TestApp::spawn(Backend::Sqlite).await;
    app.register("ada@example.com", "Ada", PASSWORD).await;
    app.logout().await;
    for n in 0..5 {
        let client = format!("203.0.113.{n}");
        let guess = app
            .submit_from(
                &client,
                "/login",
                &[
                    ("email", "ada@example.com"),
                    ("password", "guess guess guess"),
                ],
            )
            .await;
        assert_eq!(guess.status(), 401);
    }
    let blocked = app
        .submit_from(
            "203.0.113.200",
            "/login",
            &[
                ("email", "ada@example.com"),
                ("password", "guess guess guess"),
            ],
        )
        .await;
    assert_eq!(blocked.status(), 429);
}

#[actix_web::test]
async fn sign_ups_from_one_address_are_limited() {
    let app = behind_a_proxy(Backend::Sqlite, &[("SIGN_UPS_PER_HOUR", "10")]).await;
    for n in 0..10 {
        let bot = TestApp::with_client_of(&app);
        let email = format!("bot{n}@example.com");
        let made = bot
            .submit_from(
                "203.0.113.9",
                "/register",
                &[("email", &email), ("name", "Bot"), ("password", PASSWORD)],
            )
            .await;
        assert_eq!(made.status(), 303, "{n}");
    }
    let bot = TestApp::with_client_of(&app);
    let refused = bot
        .submit_from(
            "203.0.113.9",
            "/register",
            &[
                ("email", "bot10@example.com"),
                ("name", "Bot"),
                ("password", PASSWORD),
            ],
        )
        .await;
    assert_eq!(refused.status(), 429);
    let html = refused.text().await.unwrap();
    assert!(
        select_all(&html, ".form-error")[0].contains("Too many accounts"),
        "{html}"
    );
    let count: i64 = users::table
        .count()
        .get_result(&mut app.db.connect())
        .unwrap();
    assert_eq!(count, 10);
    // Someone else's network is not held up.
    let person = TestApp::with_client_of(&app);
    let made = person
        .submit_from(
            "198.51.100.7",
            "/register",
            &[
                ("email", "ada@example.com"),
                ("name", "Ada"),
                ("password", PASSWORD),
            ],
        )
        .await;
    assert_eq!(made.status(), 303);
}

#[actix_web::test]
async fn a_login_ends_after_its_idle_limit_and_after_its_absolute_limit() {
    let idle = TestApp::spawn_with(Backend::Sqlite, &[("SESSION_IDLE_SECONDS", "2")]).await;
    idle.register("ada@example.com", "Ada", PASSWORD).await;
    assert_eq!(idle.logged_in_as().await.as_deref(), Some("Ada"));
    tokio::time::sleep(std::time::Duration::from_millis(3_200)).await;
    assert_eq!(idle.logged_in_as().await, None, "idle past its limit");
    assert_eq!(
        crate::helpers::location(&idle.get("/orders").await),
        "/login?next=%2Forders"
    );

    // Judged by the clock, not by how fast this machine answers: checks
    // well inside the limit must find the login, one past it must not.
    let busy = TestApp::spawn_with(Backend::Sqlite, &[("SESSION_MAX_SECONDS", "4")]).await;
    busy.register("ada@example.com", "Ada", PASSWORD).await;
    // The login began at most now (times in the cookie are whole seconds).
    let began = std::time::Instant::now();
    let mut checked = 0;
    while began.elapsed() < std::time::Duration::from_millis(2_500) {
        let who = busy.logged_in_as().await;
        if began.elapsed() < std::time::Duration::from_millis(3_500) {
            assert_eq!(who.as_deref(), Some("Ada"), "active within the limit");
            checked += 1;
        }
        tokio::time::sleep(std::time::Duration::from_millis(400)).await;
    }
    assert!(checked >= 2, "kept active for a while ({checked} visits)");
    let past = std::time::Duration::from_millis(6_000).saturating_sub(began.elapsed());
    tokio::time::sleep(past).await;
    assert_eq!(
        busy.logged_in_as().await,
        None,
        "however active, a login ends"
    );
}
