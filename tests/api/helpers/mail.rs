//! A real SMTP server in tests (`tests/mail/smtp_server.py`, aiosmtpd),
//! and the mails it received, parsed.

use std::time::{Duration, Instant};

pub struct SmtpServer {
    pub smtp_port: u16,
    pub url: String,
    child: std::process::Child,
}

/// One mail as received.
#[derive(Debug)]
pub struct Received {
    pub to: Vec<String>,
    pub subject: String,
    pub text: String,
    pub html: String,
    pub message_id: String,
    pub auto_submitted: String,
}

impl SmtpServer {
    pub fn start() -> Self {
        use std::io::BufRead;
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/mail/smtp_server.py");
        let mut child = std::process::Command::new("python3")
            .arg(script)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::inherit())
            .spawn()
            .expect("start tests/mail/smtp_server.py (pip install aiosmtpd)");
        let mut line = String::new();
        std::io::BufReader::new(child.stdout.take().expect("piped stdout"))
            .read_line(&mut line)
            .expect("smtp_server.py reports its ports");
        let ready: serde_json::Value = serde_json::from_str(&line)
            .unwrap_or_else(|e| panic!("smtp_server.py did not start ({e}): {line:?}"));
        Self {
            smtp_port: ready["smtp_port"].as_u64().expect("port") as u16,
            url: ready["url"].as_str().expect("url").to_owned(),
            child,
        }
    }

    /// Settings that send an app's mail here (retries after 1 s).
    pub fn settings(&self) -> Vec<(&'static str, String)> {
        vec![
            (
                "SMTP_URL",
                format!("smtp://127.0.0.1:{}?tls=none", self.smtp_port),
            ),
            ("MAIL_FROM", "Kasir Shop <shop@kasir.test>".to_owned()),
            ("MAIL_RETRY_SECONDS", "1".to_owned()),
        ]
    }

    /// Refuses the next `n` mails with a temporary error (-1: until 0).
    pub async fn fail(&self, n: i64) {
        reqwest::Client::new()
            .post(format!("{}/_fail?n={n}", self.url))
            .send()
            .await
            .expect("smtp control answers");
    }

    pub async fn messages(&self) -> Vec<Received> {
        let raw: Vec<serde_json::Value> = reqwest::get(format!("{}/_messages", self.url))
            .await
            .expect("smtp control answers")
            .json()
            .await
            .expect("JSON");
        raw.iter()
            .map(|m| {
                let source = m["raw"].as_str().expect("raw");
                let parsed = mail_parser::MessageParser::default()
                    .parse(source.as_bytes())
                    .expect("a parseable mail");
                Received {
                    to: m["to"]
                        .as_array()
                        .expect("to")
                        .iter()
                        .map(|t| t.as_str().unwrap_or_default().to_owned())
                        .collect(),
                    subject: parsed.subject().unwrap_or_default().to_owned(),
                    text: parsed.body_text(0).unwrap_or_default().into_owned(),
                    html: parsed.body_html(0).unwrap_or_default().into_owned(),
                    message_id: parsed.message_id().unwrap_or_default().to_owned(),
                    auto_submitted: parsed
                        .header_raw("Auto-Submitted")
                        .unwrap_or_default()
                        .trim()
                        .to_owned(),
                }
            })
            .collect()
    }

    /// Waits (up to 20 s) for `count` mails; returns them.
    pub async fn wait_for(&self, count: usize) -> Vec<Received> {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let got = self.messages().await;
            if got.len() >= count {
                return got;
            }
            assert!(
                Instant::now() < deadline,
                "the SMTP server got {} of {count} mails: {got:#?}",
                got.len()
            );
            actix_web::rt::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The first `http(s)://...` link in `text` that contains `part`.
pub fn link_with(text: &str, part: &str) -> Option<String> {
    text.split(|c: char| c.is_whitespace() || c == '"' || c == '<' || c == '>')
        .find(|word| word.starts_with("http") && word.contains(part))
        .map(str::to_owned)
}
