//! Logs: `tracing` to stderr, filtered by `RUST_LOG` (default `info`), as
//! text or, with `LOG_FORMAT=json`, one JSON object per line for a log
//! collector. Every request runs in a span carrying its request id
//! (tracing-actix-web).

use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::format::FmtSpan;

pub fn init() {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    // A line when each request's span closes: the access log, with the
    // request id, route, status and time taken.
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_span_events(FmtSpan::CLOSE)
        .with_writer(std::io::stderr);
    // A second call (tests start many apps in one process) keeps the first.
    let _ = if std::env::var("LOG_FORMAT").is_ok_and(|f| f.eq_ignore_ascii_case("json")) {
        builder.json().with_current_span(true).try_init()
    } else {
        builder.try_init()
    };
}
