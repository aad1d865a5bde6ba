//! Spawns the real application on port 0, on a fresh database of the
//! chosen engine, and talks to it over HTTP with a cookie jar
//! (zero2prod's `TestApp`). What tests do with it lives beside: `shop`
//! (students, carts, checkouts, staff), `events` (Stripe's events, signed
//! and delivered), `stripe` (localstripe behind today's API contract).

pub mod events;
pub mod lms;
pub mod mail;
pub mod shop;
pub mod stripe;

pub use stripe::{StripeToday, localstripe_url, stripe_overrides, stripe_today};

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

use diesel::Connection;
use diesel::pg::PgConnection;
use diesel::prelude::*;
use kasir::config::Settings;
use kasir::db::{DatabaseUrl, DbConnection};
use kasir::startup::Application;
use reqwest::cookie::{CookieStore, Jar};
use reqwest::header::HeaderValue;

pub const PASSWORD: &str = "correct horse battery";

/// The PostgreSQL server the suite creates its databases in.
pub fn postgres_admin_url() -> String {
    std::env::var("KASIR_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// A database that exists for one test and is removed after it.
pub struct TestDb {
    pub url: String,
    backend: Backend,
    name: String,
    dir: Option<PathBuf>,
}

impl TestDb {
    pub fn create(backend: Backend) -> Self {
        let name = format!("kasir_test_{}", uuid::Uuid::new_v4().simple());
        match backend {
            Backend::Sqlite => {
                let dir = std::env::temp_dir().join(&name);
                std::fs::create_dir_all(&dir).expect("create temp dir");
                let url = format!("sqlite://{}", dir.join("kasir.db").display());
                Self {
                    url,
                    backend,
                    name,
                    dir: Some(dir),
                }
            }
            Backend::Postgres => {
                let admin = postgres_admin_url();
                let mut conn = PgConnection::establish(&admin).unwrap_or_else(|e| {
                    panic!("PostgreSQL must be running for the test suite ({admin}): {e}")
                });
                diesel::sql_query(format!("CREATE DATABASE {name}"))
                    .execute(&mut conn)
                    .expect("create test database");
                let (path, query) = admin.split_once('?').unwrap_or((admin.as_str(), ""));
                let base = path.rsplit_once('/').map_or(path, |(base, _)| base);
                let query = if query.is_empty() {
                    String::new()
                } else {
                    format!("?{query}")
                };
                Self {
                    url: format!("{base}/{name}{query}"),
                    backend,
                    name,
                    dir: None,
                }
            }
        }
    }

    /// A direct connection, for arranging and checking rows.
    pub fn connect(&self) -> DbConnection {
        DatabaseUrl::parse(&self.url)
            .unwrap()
            .connect()
            .expect("connect to test database")
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        match self.backend {
            Backend::Sqlite => {
                if let Some(dir) = &self.dir {
                    let _ = std::fs::remove_dir_all(dir);
                }
            }
            Backend::Postgres => {
                if let Ok(mut conn) = PgConnection::establish(&postgres_admin_url()) {
                    let _ = diesel::sql_query(format!(
                        "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                        self.name
                    ))
                    .execute(&mut conn);
                }
            }
        }
    }
}

/// The app's server, on a thread and runtime of its own. Dropping the guard
/// stops it and waits for the thread: when a test ends, nothing of its app
/// (pools, libpq connections) is left running into the process's exit,
/// where libpq's OpenSSL teardown raced a late pool drop and crashed the
/// test binary now and then.
struct ServerGuard {
    handle: actix_web::dev::ServerHandle,
    thread: Option<std::thread::JoinHandle<()>>,
    /// The app's own mail and uploads directories, removed with it (they
    /// had piled up in the temp directory by the thousand).
    scratch: Vec<std::path::PathBuf>,
}

impl Drop for ServerGuard {
    fn drop(&mut self) {
        // `stop` sends the command at once; the thread ends when the
        // server has drained, taking its runtime and tasks with it.
        drop(self.handle.stop(true));
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
        for dir in &self.scratch {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

/// The directories `test_settings` made up for this app (not one a test
/// passed in, which it may still read).
fn scratch_dirs(settings: &Settings) -> Vec<std::path::PathBuf> {
    let mail = match &settings.mail.transport {
        kasir::config::MailTransport::Files { dir } => Some(dir.clone()),
        kasir::config::MailTransport::Smtp { .. } => None,
    };
    mail.into_iter()
        .chain([settings.uploads_dir.clone()])
        .filter(|dir| {
            dir.file_name().and_then(|n| n.to_str()).is_some_and(|n| {
                n.starts_with("kasir-test-mail-") || n.starts_with("kasir-test-uploads-")
            })
        })
        .collect()
}

pub struct TestApp {
    /// First field: dropped (stopped) before the database goes.
    server: Arc<ServerGuard>,
    /// What webhook signatures are checked with in this app.
    pub webhook_secret: String,
    pub address: String,
    /// The metrics listener's port, when the app has `METRICS_ADDR`.
    pub metrics_port: Option<u16>,
    /// Shared by the views of one app; dropped with the last of them.
    pub db: Arc<TestDb>,
    pub client: reqwest::Client,
    jar: Arc<Jar>,
}

/// The session key of every test app.
pub const TEST_SECRET_KEY: &str =
    "test-secret-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx";

/// The journal sealing key of every test app and command.
pub const TEST_JOURNAL_KEY: &str =
    "test-journal-key-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx";

/// Seals every committed journal row with the tests' key, as the running
/// server's sealer would, then verifies the journal: a check of the seals,
/// not of rows still waiting for one.
pub fn seal_and_verify(
    conn: &mut kasir::db::DbConnection,
) -> kasir::services::journal::ChainVerdict {
    let key = kasir::config::SecretKey::from_bytes("JOURNAL_KEY", TEST_JOURNAL_KEY.into()).unwrap();
    kasir::services::journal::seal::Sealer::new(key.clone())
        .seal_all(conn)
        .unwrap();
    let verdict = kasir::services::journal::verify_chain(conn, &key).unwrap();
    if let kasir::services::journal::ChainVerdict::Intact { unsealed, .. } = verdict {
        assert_eq!(unsealed, 0, "rows left unsealed after sealing: {verdict}");
    }
    verdict
}

/// Settings for a test app; `overrides` replace or add variables.
pub fn test_settings(db: &TestDb, overrides: &[(&str, &str)]) -> Settings {
    let mut vars: HashMap<String, String> = HashMap::from([
        ("DATABASE_URL".into(), db.url.clone()),
        ("BIND_ADDR".into(), "127.0.0.1:0".into()),
        ("SECRET_KEY".into(), TEST_SECRET_KEY.into()),
        ("JOURNAL_KEY".into(), TEST_JOURNAL_KEY.into()),
        ("DB_POOL_SIZE".into(), "4".into()),
        // Tests make many students from one address.
        ("SIGN_UPS_PER_HOUR".into(), "100000".into()),
        (
            "MAIL_DIR".into(),
            std::env::temp_dir()
                .join(format!("kasir-test-mail-{}", uuid::Uuid::new_v4()))
                .display()
                .to_string(),
        ),
        (
            "UPLOADS_DIR".into(),
            std::env::temp_dir()
                .join(format!("kasir-test-uploads-{}", uuid::Uuid::new_v4()))
                .display()
                .to_string(),
        ),
    ]);
    for (k, v) in overrides {
        vars.insert((*k).into(), (*v).into());
    }
    Settings::from_lookup(|name| vars.get(name).cloned()).expect("valid test settings")
}

impl TestApp {
    pub async fn spawn(backend: Backend) -> Self {
        Self::spawn_with(backend, &[]).await
    }

    /// The app with Stripe payments against localstripe.
    pub async fn spawn_stripe(backend: Backend) -> Self {
        let overrides = stripe_overrides(localstripe_url());
        let pairs: Vec<(&str, &str)> = overrides.iter().map(|(k, v)| (*k, v.as_str())).collect();
        Self::spawn_with(backend, &pairs).await
    }

    pub async fn spawn_with(backend: Backend, overrides: &[(&str, &str)]) -> Self {
        Self::spawn_on(Arc::new(TestDb::create(backend)), overrides).await
    }

    /// Another instance of the shop on the same database (its own
    /// process state: pool, workers, caches).
    pub async fn spawn_on(db: Arc<TestDb>, overrides: &[(&str, &str)]) -> Self {
        let settings = test_settings(&db, overrides);
        let webhook_secret = settings.webhook_secret();
        let scratch = scratch_dirs(&settings);
        let (started, ready) = std::sync::mpsc::channel();
        let thread = std::thread::spawn(move || {
            actix_web::rt::System::new().block_on(async move {
                let app = Application::build(settings)
                    .await
                    .expect("application starts");
                started
                    .send((app.port(), app.metrics_port(), app.handle()))
                    .expect("test waits for the port");
                app.run_until_stopped().await.expect("server runs");
            });
        });
        let (port, metrics_port, handle) = ready.recv().expect("application started");
        let address = format!("http://127.0.0.1:{port}");
        let jar = Arc::new(Jar::default());
        Self {
            server: Arc::new(ServerGuard {
                handle,
                thread: Some(thread),
                scratch,
            }),
            webhook_secret,
            address,
            metrics_port,
            db,
            client: client_with(jar.clone()),
            jar,
        }
    }

    /// Another browser (its own cookies) on the same running app.
    pub fn with_client_of(app: &TestApp) -> TestApp {
        let jar = Arc::new(Jar::default());
        TestApp {
            server: app.server.clone(),
            webhook_secret: app.webhook_secret.clone(),
            address: app.address.clone(),
            metrics_port: app.metrics_port,
            db: app.db.clone(),
            client: client_with(jar.clone()),
            jar,
        }
    }

    /// Runs `kasir ARGS` against this app's database (and its secret key);
    /// the command must succeed; returns its standard output.
    pub fn kasir(&self, args: &[&str]) -> String {
        let output = std::process::Command::new(env!("CARGO_BIN_EXE_kasir"))
            .args(args)
            .env("DATABASE_URL", &self.db.url)
            .env("SECRET_KEY", TEST_SECRET_KEY)
            .env("JOURNAL_KEY", crate::helpers::TEST_JOURNAL_KEY)
            .output()
            .expect("run kasir");
        assert!(
            output.status.success(),
            "kasir {args:?}: {} ({}); stdout: {}",
            String::from_utf8_lossy(&output.stderr),
            output.status,
            String::from_utf8_lossy(&output.stdout)
        );
        String::from_utf8(output.stdout).expect("UTF-8 output")
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.address, path)
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client.get(self.url(path)).send().await.expect("GET")
    }

    pub async fn get_html(&self, path: &str) -> String {
        self.get(path).await.text().await.expect("body")
    }

    pub async fn post_form(&self, path: &str, form: &[(&str, &str)]) -> reqwest::Response {
        self.client
            .post(self.url(path))
            .form(form)
            .send()
            .await
            .expect("POST")
    }

    /// The CSRF token of the current session, as a page embeds it.
    pub async fn csrf_token(&self) -> String {
        let html = self.get_html("/").await;
        csrf_from(&html)
    }

    /// Posts a form the way the browser would: with the page's CSRF token.
    pub async fn submit(&self, path: &str, form: &[(&str, &str)]) -> reqwest::Response {
        let token = self.csrf_token().await;
        let mut fields = form.to_vec();
        fields.push(("csrf_token", &token));
        self.post_form(path, &fields).await
    }

    pub async fn register(&self, email: &str, name: &str, password: &str) -> reqwest::Response {
        self.submit(
            "/register",
            &[("email", email), ("name", name), ("password", password)],
        )
        .await
    }

    pub async fn login(&self, email: &str, password: &str) -> reqwest::Response {
        self.submit("/login", &[("email", email), ("password", password)])
            .await
    }

    pub async fn logout(&self) -> reqwest::Response {
        self.submit("/logout", &[]).await
    }

    /// The `Cookie` header this client would send now.
    pub fn cookie_header(&self) -> Option<HeaderValue> {
        self.jar.cookies(&self.address.parse().unwrap())
    }

    /// A fresh client with no cookies (another browser).
    pub fn new_client(&self) -> reqwest::Client {
        client_with(Arc::new(Jar::default()))
    }

    /// The name in the navbar, if the page shows someone logged in.
    pub async fn logged_in_as(&self) -> Option<String> {
        let html = self.get_html("/").await;
        navbar_user(&html)
    }
}

fn client_with(jar: Arc<Jar>) -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_provider(jar)
        .redirect(reqwest::redirect::Policy::none())
        // A fresh connection per request: reusing one the server is just
        // closing (keep-alive timeout on a loaded machine) fails with
        // IncompleteMessage, a client race that says nothing about kasir.
        .pool_max_idle_per_host(0)
        .build()
        .expect("HTTP client")
}

pub fn csrf_from(html: &str) -> String {
    let doc = scraper::Html::parse_document(html);
    let selector = scraper::Selector::parse(r#"meta[name="csrf-token"]"#).unwrap();
    doc.select(&selector)
        .next()
        .and_then(|m| m.value().attr("content"))
        .expect("page carries a CSRF token")
        .to_owned()
}

pub fn navbar_user(html: &str) -> Option<String> {
    let doc = scraper::Html::parse_document(html);
    let selector = scraper::Selector::parse(".nav-user").unwrap();
    doc.select(&selector)
        .next()
        .map(|el| el.text().collect::<String>().trim().to_owned())
}

pub fn select_all(html: &str, css: &str) -> Vec<String> {
    let doc = scraper::Html::parse_document(html);
    let selector = scraper::Selector::parse(css).unwrap();
    doc.select(&selector)
        .map(|el| el.text().collect::<String>().trim().to_owned())
        .collect()
}

/// The `attr` attribute of each element `css` selects.
pub fn select_attr(html: &str, css: &str, attr: &str) -> Vec<String> {
    let doc = scraper::Html::parse_document(html);
    let selector = scraper::Selector::parse(css).unwrap();
    doc.select(&selector)
        .filter_map(|el| el.value().attr(attr).map(str::to_owned))
        .collect()
}

pub fn location(response: &reqwest::Response) -> String {
    response
        .headers()
        .get(reqwest::header::LOCATION)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned()
}

/// Declares each test once and runs it on both engines:
/// `both_backends! { async fn name(app: TestApp) { ... } }` gives
/// `name::sqlite` and `name::postgres`.
#[macro_export]
macro_rules! both_backends {
    ($(async fn $name:ident($app:ident: TestApp) $body:block)*) => {$(
        mod $name {
            use super::*;

            async fn run($app: TestApp) $body

            #[actix_web::test]
            async fn sqlite() {
                run(TestApp::spawn(Backend::Sqlite).await).await
            }

            #[actix_web::test]
            async fn postgres() {
                run(TestApp::spawn(Backend::Postgres).await).await
            }
        }
    )*};
}

/// Runs each test function that takes a `Backend` (no server: a database
/// only) on both engines: `on_both_engines!(name, ...)` gives
/// `name::sqlite` and `name::postgres`.
#[macro_export]
macro_rules! on_both_engines {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[test]
            fn sqlite() {
                super::$name($crate::helpers::Backend::Sqlite);
            }

            #[test]
            fn postgres() {
                super::$name($crate::helpers::Backend::Postgres);
            }
        }
    )*};
}

/// Published courses `bulk-0` .. `bulk-<n-1>` at $1.00, to fill carts and catalog pages.
pub fn insert_bulk_courses(conn: &mut kasir::db::DbConnection, n: usize) {
    for i in 0..n {
        insert_course(conn, &format!("bulk-{i}"), &format!("Bulk {i}"));
    }
}

/// A published course at $1.00; its id.
pub fn insert_course(conn: &mut kasir::db::DbConnection, slug: &str, title: &str) -> i64 {
    use diesel::prelude::*;
    use kasir::db::schema::courses;
    let now = kasir::db::now();
    diesel::insert_into(courses::table)
        .values((
            courses::slug.eq(slug),
            courses::title.eq(title),
            courses::summary.eq("s"),
            courses::description.eq("d"),
            courses::price_cents.eq(100_i64),
            courses::currency.eq("USD"),
            courses::published.eq(true),
            courses::created_at.eq(now),
            courses::updated_at.eq(now),
        ))
        .returning(courses::id)
        .get_result(conn)
        .unwrap()
}

/// A property-test runner whose failures can be replayed: the seed is
/// printed (`KASIR_PROPTEST_SEED=<seed>` runs the same cases again), and
/// failing cases are kept in `target/proptest-regressions/<name>.txt`
/// (outside the tracked tree) and tried first on the next local run.
pub fn replayable_runner(name: &'static str, cases: u32) -> proptest::test_runner::TestRunner {
    use proptest::test_runner::{
        Config, FileFailurePersistence, RngAlgorithm, TestRng, TestRunner,
    };
    let seed = std::env::var("KASIR_PROPTEST_SEED")
        .ok()
        .and_then(|s| s.parse::<u64>().ok())
        .unwrap_or_else(rand::random::<u64>);
    eprintln!("{name}: proptest seed {seed} (replay with KASIR_PROPTEST_SEED={seed})");
    let mut bytes = [0u8; 32];
    for chunk in bytes.chunks_mut(8) {
        chunk.copy_from_slice(&seed.to_le_bytes());
    }
    let path: &'static str =
        Box::leak(format!("target/proptest-regressions/{name}.txt").into_boxed_str());
    TestRunner::new_with_rng(
        Config {
            cases,
            failure_persistence: Some(Box::new(FileFailurePersistence::Direct(path))),
            ..Config::default()
        },
        TestRng::from_seed(RngAlgorithm::ChaCha, &bytes),
    )
}
