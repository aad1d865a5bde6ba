//! The binary itself: startup failures must be immediate and say why.

use std::process::Command;
use std::time::{Duration, Instant};

use crate::helpers::{Backend, TestDb};

fn kasir(args: &[&str], env: &[(&str, &str)]) -> (bool, String, Duration) {
    let dir = std::env::temp_dir().join(format!("kasir-cli-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    let started = Instant::now();
    let output = Command::new(env!("CARGO_BIN_EXE_kasir"))
        .args(args)
        .current_dir(&dir)
        .env_remove("DATABASE_URL")
        .env("SECRET_KEY", "k".repeat(64))
        .env("JOURNAL_KEY", crate::helpers::TEST_JOURNAL_KEY)
        .envs(env.iter().copied())
        .output()
        .unwrap();
    let elapsed = started.elapsed();
    std::fs::remove_dir_all(&dir).unwrap();
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
        elapsed,
    )
}

#[test]
fn an_unreachable_postgres_url_exits_at_once_with_the_reason() {
    let (ok, stderr, elapsed) = kasir(
        &["serve"],
        &[("DATABASE_URL", "postgres://postgres@127.0.0.1:1/kasir")],
    );
    assert!(!ok);
    assert!(
        stderr.contains("could not connect to the postgresql database"),
        "{stderr}"
    );
    assert!(
        stderr.to_lowercase().contains("connection refused"),
        "the engine's reason: {stderr}"
    );
    assert!(elapsed < Duration::from_secs(10), "took {elapsed:?}");
}

#[test]
fn an_unsupported_database_url_is_refused_before_anything_starts() {
    let (ok, stderr, _) = kasir(
        &["migrate"],
        &[("DATABASE_URL", "mysql://root@localhost/kasir")],
    );
    assert!(!ok);
    assert!(stderr.contains("not supported"), "{stderr}");
}

#[test]
fn an_invalid_setting_is_named() {
    let (ok, stderr, _) = kasir(&["migrate"], &[("STRIPE_SECRET_KEY", "sk_test_x")]);
    assert!(!ok);
    assert!(stderr.contains("STRIPE_WEBHOOK_SECRET"), "{stderr}");
}

#[test]
fn migrate_applies_the_migrations_once_on_both_engines() {
    for backend in [Backend::Sqlite, Backend::Postgres] {
        let db = TestDb::create(backend);
        let (ok, stderr, _) = kasir(&["migrate"], &[("DATABASE_URL", &db.url)]);
        assert!(ok, "{backend:?}: {stderr}");
        let output = Command::new(env!("CARGO_BIN_EXE_kasir"))
            .arg("migrate")
            .env("DATABASE_URL", &db.url)
            .env("SECRET_KEY", "k".repeat(64))
            .env("JOURNAL_KEY", crate::helpers::TEST_JOURNAL_KEY)
            .output()
            .unwrap();
        assert!(
            String::from_utf8_lossy(&output.stdout).contains("up to date"),
            "{backend:?}"
        );
    }
}

#[test]
fn the_default_database_is_a_sqlite_file_under_data() {
    let dir = std::env::temp_dir().join(format!("kasir-default-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_kasir"))
        .args(["seed-demo"])
        .current_dir(&dir)
        .env_remove("DATABASE_URL")
        .env_remove("SECRET_KEY")
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(String::from_utf8_lossy(&output.stdout).contains("9 course(s) added"));
    assert!(
        dir.join("data/kasir.db").is_file(),
        "data/ is created on first run"
    );
    assert!(
        dir.join("data/secret_key").is_file(),
        "a session key is generated and kept"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Instances started at the same moment on an empty database all come up:
/// the migrations run once, the demo catalog is added once.
#[test]
fn concurrent_first_starts_migrate_once_on_both_engines() {
    use diesel::prelude::*;
    for backend in [Backend::Sqlite, Backend::Postgres] {
        let db = TestDb::create(backend);
        let starts: Vec<_> = (0..4)
            .map(|_| {
                Command::new(env!("CARGO_BIN_EXE_kasir"))
                    .arg("seed-demo")
                    .env("DATABASE_URL", &db.url)
                    .env("SECRET_KEY", "k".repeat(64))
                    .env("JOURNAL_KEY", crate::helpers::TEST_JOURNAL_KEY)
                    .stdout(std::process::Stdio::piped())
                    .stderr(std::process::Stdio::piped())
                    .spawn()
                    .unwrap()
            })
            .collect();
        for start in starts {
            let output = start.wait_with_output().unwrap();
            assert!(
                output.status.success(),
                "{backend:?}: {}",
                String::from_utf8_lossy(&output.stderr)
            );
        }
        let mut conn = db.connect();
        let courses: i64 = kasir::db::schema::courses::table
            .count()
            .get_result(&mut conn)
            .unwrap();
        assert_eq!(courses, 9, "{backend:?}: the demo catalog once");
        let migrations: i64 = diesel::select(diesel::dsl::sql::<diesel::sql_types::BigInt>(
            "(SELECT COUNT(*) FROM __diesel_schema_migrations)",
        ))
        .get_result(&mut conn)
        .unwrap();
        let dir = match backend {
            Backend::Sqlite => "migrations/sqlite",
            Backend::Postgres => "migrations/postgres",
        };
        let shipped = std::fs::read_dir(dir).unwrap().count() as i64;
        assert_eq!(migrations, shipped, "{backend:?}: each migration once");
    }
}

#[test]
fn serve_warns_at_start_about_courses_priced_in_another_currency() {
    use std::io::{BufRead, BufReader};
    let db = TestDb::create(Backend::Sqlite);
    let (migrated, err, _) = kasir(&["seed-demo"], &[("DATABASE_URL", &db.url)]);
    assert!(migrated, "{err}");
    {
        use diesel::prelude::*;
        use kasir::db::schema::courses;
        diesel::update(courses::table.filter(courses::slug.eq("modern-javascript")))
            .set(courses::currency.eq("JPY"))
            .execute(&mut db.connect())
            .unwrap();
    }
    let mut child = Command::new(env!("CARGO_BIN_EXE_kasir"))
        .arg("serve")
        .env("DATABASE_URL", &db.url)
        .env("BIND_ADDR", "127.0.0.1:0")
        .env("SECRET_KEY", "k".repeat(64))
        .env("JOURNAL_KEY", crate::helpers::TEST_JOURNAL_KEY)
        .env("RUST_LOG", "warn")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = BufReader::new(child.stderr.take().unwrap());
    let mut warned = None;
    for line in stderr.lines().map_while(Result::ok) {
        if line.contains("priced in another currency") {
            warned = Some(line);
            break;
        }
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let line = warned.expect("a warning at start");
    assert!(
        line.contains("modern-javascript") && line.contains("USD"),
        "{line}"
    );
}

/// The binary carries its CSS and JavaScript: started from an empty
/// directory (a container holding only the binary), its pages are styled.
#[actix_web::test]
async fn the_binary_serves_its_own_assets_from_any_directory() {
    let dir = std::env::temp_dir().join(format!("kasir-empty-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    let (mut child, port) = crate::crash::spawn_on_own_port(
        Command::new(env!("CARGO_BIN_EXE_kasir"))
            .arg("serve")
            .current_dir(&dir)
            .env(
                "DATABASE_URL",
                format!("sqlite://{}/kasir.db", dir.display()),
            )
            .env("SECRET_KEY", "k".repeat(64))
            .env("JOURNAL_KEY", crate::helpers::TEST_JOURNAL_KEY)
            .env_remove("STATIC_DIR"),
    );
    crate::crash::wait_healthy(port).await;
    let base = format!("http://127.0.0.1:{port}");
    let page = reqwest::get(format!("{base}/"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let href = scraper::Html::parse_document(&page)
        .select(&scraper::Selector::parse("link[rel=stylesheet]").unwrap())
        .next()
        .and_then(|l| l.value().attr("href").map(str::to_owned))
        .expect("a stylesheet link");
    assert!(
        href.starts_with("/static/css/app.")
            && href.ends_with(".css")
            && href != "/static/css/app.css",
        "named by its content: {href}"
    );
    let client = reqwest::Client::new();
    let response = client
        .get(format!("{base}{href}"))
        .header("Accept-Encoding", "gzip")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()["content-type"],
        "text/css; charset=utf-8"
    );
    assert_eq!(
        response.headers()["cache-control"],
        "public, max-age=31536000, immutable"
    );
    assert_eq!(response.headers()["content-encoding"], "gzip");
    let plain = client.get(format!("{base}{href}")).send().await.unwrap();
    assert!(
        plain.text().await.unwrap().contains(".navbar"),
        "the real stylesheet"
    );
    assert_eq!(
        client
            .get(format!("{base}/static/../Cargo.toml"))
            .send()
            .await
            .unwrap()
            .status(),
        404
    );
    let _ = child.kill();
    let _ = child.wait();
    std::fs::remove_dir_all(&dir).unwrap();
}

/// `LOG_FORMAT=json`: one JSON object per log line, for a log collector.
#[test]
fn log_format_json_writes_one_json_object_per_line() {
    use std::io::BufRead;
    let dir = std::env::temp_dir().join(format!("kasir-json-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_kasir"))
        .arg("serve")
        .current_dir(&dir)
        .env(
            "DATABASE_URL",
            format!("sqlite://{}/kasir.db", dir.display()),
        )
        .env("SECRET_KEY", "k".repeat(64))
        .env("JOURNAL_KEY", crate::helpers::TEST_JOURNAL_KEY)
        .env("BIND_ADDR", "127.0.0.1:0")
        .env("RUST_LOG", "kasir=info")
        .env("LOG_FORMAT", "json")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let lines = std::io::BufReader::new(child.stderr.take().unwrap()).lines();
    let mut listening = None;
    for line in lines {
        let line = line.unwrap();
        let entry: serde_json::Value =
            serde_json::from_str(&line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
        if entry["fields"]["message"] == "kasir listening" {
            listening = Some(entry);
            break;
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    let _ = std::fs::remove_dir_all(&dir);
    let entry = listening.expect("a 'kasir listening' line");
    assert_eq!(entry["level"], "INFO");
    assert_eq!(entry["target"], "kasir::startup");
    let address = entry["fields"]["address"].as_str().unwrap();
    assert!(
        address.parse::<std::net::SocketAddr>().unwrap().port() > 0,
        "{address}"
    );
    assert_eq!(entry["fields"]["database"], "sqlite");
}
