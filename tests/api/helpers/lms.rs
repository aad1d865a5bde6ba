//! The learning platform's side in tests: a real HTTP receiver
//! (`tests/lms/receiver.py`) that checks signatures with the README's own
//! `verify`, and waiting for what it received.

use std::time::{Duration, Instant};

pub const SECRET: &str = "lms-test-secret-0123456789";

pub struct Receiver {
    pub url: String,
    child: std::process::Child,
}

impl Receiver {
    pub fn start(secret: &str) -> Self {
        use std::io::BufRead;
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/lms/receiver.py");
        let mut child = std::process::Command::new("python3")
            .args([script, "--secret", secret])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::inherit())
            .spawn()
            .expect("start tests/lms/receiver.py");
        let mut line = String::new();
        std::io::BufReader::new(child.stdout.take().expect("piped stdout"))
            .read_line(&mut line)
            .expect("receiver.py reports its address");
        let ready: serde_json::Value = serde_json::from_str(&line)
            .unwrap_or_else(|e| panic!("receiver.py did not start ({e}): {line:?}"));
        Self {
            url: ready["url"].as_str().expect("url").to_owned(),
            child,
        }
    }

    /// The settings that point an app at this receiver (retries after 1 s).
    pub fn settings(&self) -> Vec<(&'static str, String)> {
        vec![
            ("LMS_WEBHOOK_URL", format!("{}/hooks", self.url)),
            ("LMS_WEBHOOK_SECRET", SECRET.to_owned()),
            ("LMS_WEBHOOK_RETRY_SECONDS", "1".to_owned()),
        ]
    }

    /// Every delivery it answered 200, in order.
    pub async fn received(&self) -> Vec<serde_json::Value> {
        reqwest::get(format!("{}/_received", self.url))
            .await
            .expect("receiver answers")
            .json()
            .await
            .expect("JSON")
    }

    /// How many deliveries got each status.
    pub async fn answers(&self) -> serde_json::Value {
        reqwest::get(format!("{}/_answers", self.url))
            .await
            .expect("receiver answers")
            .json()
            .await
            .expect("JSON")
    }

    /// Answers the next `n` good deliveries 503 (-1: until told 0).
    pub async fn fail(&self, n: i64) {
        reqwest::Client::new()
            .post(format!("{}/_fail?n={n}", self.url))
            .send()
            .await
            .expect("receiver answers");
    }

    /// Waits (up to 20 s) until it holds `count` deliveries; returns them.
    pub async fn wait_for(&self, count: usize) -> Vec<serde_json::Value> {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let received = self.received().await;
            if received.len() >= count {
                return received;
            }
            assert!(
                Instant::now() < deadline,
                "the receiver got {} of {count} events: {received:#?}",
                received.len()
            );
            actix_web::rt::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The pairs of a settings list, borrowed for `TestApp::spawn_with`.
pub fn pairs<'a>(settings: &'a [(&'static str, String)]) -> Vec<(&'static str, &'a str)> {
    settings.iter().map(|(k, v)| (*k, v.as_str())).collect()
}
