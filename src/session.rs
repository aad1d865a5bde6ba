//! A typed wrapper over the cookie session. Only small ids live here (the
//! cookie is limited to 4 KB): the user id with the session version it was
//! issued under, the CSRF token, and one-shot flash messages.

use actix_session::Session;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore;
use serde::{Deserialize, Serialize};
use subtle::ConstantTimeEq;

use crate::models::UserId;

const USER_ID: &str = "uid";
const SESSION_VERSION: &str = "sv";
const CSRF_TOKEN: &str = "csrf";
const FLASHES: &str = "flash";
const GUEST_CART: &str = "cart";

/// Keep a runaway redirect loop from growing the cookie past its limit.
const MAX_FLASHES: usize = 4;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FlashLevel {
    Success,
    Info,
    Error,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Flash {
    pub level: FlashLevel,
    pub text: String,
    /// An optional link shown after the text: (href, label).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub link: Option<(String, String)>,
}

impl Flash {
    pub fn level_class(&self) -> &'static str {
        match self.level {
            FlashLevel::Success => "ok",
            FlashLevel::Info => "info",
            FlashLevel::Error => "error",
        }
    }
}

pub struct AppSession<'a>(pub &'a Session);

impl AppSession<'_> {
    /// The logged-in user id and the session version it was issued with.
    pub fn login_claim(&self) -> Option<(UserId, i32)> {
        let id = self.0.get::<i64>(USER_ID).ok().flatten()?;
        let version = self.0.get::<i32>(SESSION_VERSION).ok().flatten()?;
        Some((UserId(id), version))
    }

    /// Starts a logged-in session under a fresh session key and a fresh CSRF
    /// token, so nothing planted before login carries over.
    pub fn log_in(
        &self,
        user_id: UserId,
        session_version: i32,
    ) -> Result<(), actix_session::SessionInsertError> {
        let flashes = self.peek_flashes();
        self.0.renew();
        self.0.clear();
        self.0.insert(USER_ID, user_id.0)?;
        self.0.insert(SESSION_VERSION, session_version)?;
        self.0.insert(CSRF_TOKEN, new_token())?;
        if !flashes.is_empty() {
            self.0.insert(FLASHES, flashes)?;
        }
        Ok(())
    }

    /// The token of the guest cart, for a visitor who is not logged in.
    pub fn guest_cart_token(&self) -> Option<String> {
        self.0.get::<String>(GUEST_CART).ok().flatten()
    }

    pub fn set_guest_cart_token(
        &self,
        token: &str,
    ) -> Result<(), actix_session::SessionInsertError> {
        self.0.insert(GUEST_CART, token)
    }

    /// Forgets everything, keeping nothing of the old session but a fresh key.
    pub fn log_out(&self) {
        self.0.renew();
        self.0.clear();
    }

    /// The token forms must echo; created on first use.
    pub fn csrf_token(&self) -> String {
        if let Ok(Some(token)) = self.0.get::<String>(CSRF_TOKEN) {
            return token;
        }
        let token = new_token();
        // A failed insert only means the next form post is refused with 403.
        let _ = self.0.insert(CSRF_TOKEN, &token);
        token
    }

    /// Constant-time comparison with the session's token.
    pub fn csrf_matches(&self, presented: &str) -> bool {
        match self.0.get::<String>(CSRF_TOKEN) {
            Ok(Some(expected)) => {
                !presented.is_empty() && expected.as_bytes().ct_eq(presented.as_bytes()).into()
            }
            _ => false,
        }
    }

    pub fn flash(&self, level: FlashLevel, text: impl Into<String>) {
        self.push_flash(Flash {
            level,
            text: text.into(),
            link: None,
        });
    }

    pub fn flash_with_link(
        &self,
        level: FlashLevel,
        text: impl Into<String>,
        href: String,
        label: String,
    ) {
        self.push_flash(Flash {
            level,
            text: text.into(),
            link: Some((href, label)),
        });
    }

    fn push_flash(&self, flash: Flash) {
        let mut flashes = self.peek_flashes();
        if flashes.len() >= MAX_FLASHES {
            flashes.remove(0);
        }
        flashes.push(flash);
        // A failed insert only loses the message, never the action.
        let _ = self.0.insert(FLASHES, flashes);
    }

    /// The pending flash messages, removed so they show exactly once.
    pub fn take_flashes(&self) -> Vec<Flash> {
        self.0
            .remove_as::<Vec<Flash>>(FLASHES)
            .and_then(Result::ok)
            .unwrap_or_default()
    }

    fn peek_flashes(&self) -> Vec<Flash> {
        self.0
            .get::<Vec<Flash>>(FLASHES)
            .ok()
            .flatten()
            .unwrap_or_default()
    }
}

/// 256 random bits, URL-safe.
pub fn new_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}
