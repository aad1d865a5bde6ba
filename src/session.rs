//! A typed wrapper over the cookie session. Only small ids live here (the
//! cookie is limited to 4 KB): the user id with the session version it was
//! issued under, the CSRF token, and one-shot flash messages.

use actix_session::Session;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore;
use serde::{Deserialize, Serialize};
use subtle::ConstantTimeEq;

use crate::i18n::{Arg, Message};
use crate::models::UserId;

const USER_ID: &str = "uid";
const SESSION_VERSION: &str = "sv";
const CSRF_TOKEN: &str = "csrf";
const FLASHES: &str = "flash";
const GUEST_CART: &str = "cart";
/// The promo code applied in the cart, and the last one refused there.
const PROMO: &str = "promo";
const PROMO_ATTEMPT: &str = "promo_try";
/// When the user logged in, and when they were last seen (unix seconds).
const ISSUED_AT: &str = "iat";
const LAST_SEEN: &str = "seen";

/// "Last seen" is written back at most this often (each write is a new
/// cookie), or a quarter of the idle limit when that is shorter.
const LAST_SEEN_RESOLUTION: i64 = 3600;
/// What a flash quotes (a title, a code) is capped: the session cookie
/// must stay under 4 KB.
const MAX_FLASH_ARG_CHARS: usize = 200;

/// Keep a runaway redirect loop from growing the cookie past its limit.
const MAX_FLASHES: usize = 4;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FlashLevel {
    Success,
    Info,
    Error,
}

/// A message for the next page, in words chosen when that page renders
/// (in its reader's language).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Flash {
    pub level: FlashLevel,
    pub text: Message,
    /// An optional link shown after the text: (href, label).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub link: Option<(String, Message)>,
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
        // A code applied in the cart comes along into the account.
        let promo = self.applied_promo();
        self.0.renew();
        self.0.clear();
        if let Some(code) = promo {
            self.0.insert(PROMO, code)?;
        }
        let now = chrono::Utc::now().timestamp();
        self.0.insert(USER_ID, user_id.0)?;
        self.0.insert(SESSION_VERSION, session_version)?;
        self.0.insert(ISSUED_AT, now)?;
        self.0.insert(LAST_SEEN, now)?;
        self.0.insert(CSRF_TOKEN, new_token())?;
        if !flashes.is_empty() {
            self.0.insert(FLASHES, flashes)?;
        }
        Ok(())
    }

    /// Whether a logged-in session is past its absolute (`max`) or idle
    /// limit at `now` (unix seconds); a live one has its "last seen" moved on.
    pub fn outlived(&self, now: i64, max: chrono::TimeDelta, idle: chrono::TimeDelta) -> bool {
        let (Ok(Some(issued)), Ok(Some(seen))) =
            (self.0.get::<i64>(ISSUED_AT), self.0.get::<i64>(LAST_SEEN))
        else {
            // A session from before these limits: they start now.
            let _ = self.0.insert(ISSUED_AT, now);
            let _ = self.0.insert(LAST_SEEN, now);
            return false;
        };
        if now - issued > max.num_seconds() || now - seen > idle.num_seconds() {
            return true;
        }
        if now - seen > LAST_SEEN_RESOLUTION.min(idle.num_seconds() / 4) {
            let _ = self.0.insert(LAST_SEEN, now);
        }
        false
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

    /// The promo code applied in the cart.
    pub fn applied_promo(&self) -> Option<String> {
        self.0.get::<String>(PROMO).ok().flatten()
    }

    pub fn apply_promo(&self, code: &str) {
        // A failed insert only loses the code, which can be typed again.
        let _ = self.0.insert(PROMO, code);
        self.0.remove(PROMO_ATTEMPT);
    }

    pub fn clear_promo(&self) {
        self.0.remove(PROMO);
        self.0.remove(PROMO_ATTEMPT);
    }

    /// A code the cart refused: what was typed and why, shown once under
    /// the field.
    pub fn refuse_promo(&self, typed: &str, why: Message) {
        let mut why = why;
        cap_quotes(&mut why);
        let typed: String = typed.chars().take(MAX_FLASH_ARG_CHARS).collect();
        let _ = self.0.insert(PROMO_ATTEMPT, (typed, why));
    }

    pub fn take_promo_refusal(&self) -> Option<(String, Message)> {
        self.0
            .remove_as::<(String, Message)>(PROMO_ATTEMPT)
            .and_then(Result::ok)
    }

    /// Forgets everything, keeping nothing of the old session but a fresh key.
    pub fn log_out(&self) {
        self.0.renew();
        self.0.clear();
    }

    /// The token forms must echo, masked afresh for every page: a random
    /// pad and the token XOR the pad, so no two responses carry the same
    /// bytes next to reflected input (BREACH on compressed pages).
    pub fn csrf_token(&self) -> String {
        let token = match self.0.get::<String>(CSRF_TOKEN) {
            Ok(Some(token)) => token,
            _ => {
                let token = new_token();
                // A failed insert only means the next form post is refused with 403.
                let _ = self.0.insert(CSRF_TOKEN, &token);
                token
            }
        };
        mask(&token)
    }

    /// Constant-time comparison of a (masked) token with the session's.
    pub fn csrf_matches(&self, presented: &str) -> bool {
        match (self.0.get::<String>(CSRF_TOKEN), unmask(presented)) {
            (Ok(Some(expected)), Some(token)) => expected.as_bytes().ct_eq(token.as_bytes()).into(),
            _ => false,
        }
    }

    pub fn flash(&self, level: FlashLevel, text: Message) {
        self.push_flash(Flash {
            level,
            text,
            link: None,
        });
    }

    pub fn flash_with_link(&self, level: FlashLevel, text: Message, href: String, label: Message) {
        self.push_flash(Flash {
            level,
            text,
            link: Some((href, label)),
        });
    }

    fn push_flash(&self, mut flash: Flash) {
        cap_quotes(&mut flash.text);
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

/// Cuts long quoted values (and those of nested messages).
fn cap_quotes(message: &mut Message) {
    for (_, arg) in &mut message.args {
        match arg {
            Arg::Text(text) if text.chars().count() > MAX_FLASH_ARG_CHARS => {
                *text = text.chars().take(MAX_FLASH_ARG_CHARS).collect::<String>() + "…";
            }
            Arg::Message(inner) => cap_quotes(inner),
            _ => {}
        }
    }
}

/// `pad ‖ (token ⊕ pad)`, URL-safe base64.
fn mask(token: &str) -> String {
    let raw = URL_SAFE_NO_PAD.decode(token).unwrap_or_default();
    let mut pad = vec![0u8; raw.len()];
    rand::rngs::OsRng.fill_bytes(&mut pad);
    let masked: Vec<u8> = raw.iter().zip(&pad).map(|(t, p)| t ^ p).collect();
    URL_SAFE_NO_PAD.encode([pad, masked].concat())
}

/// The token a masked one carries, if it is one.
fn unmask(presented: &str) -> Option<String> {
    let bytes = URL_SAFE_NO_PAD.decode(presented.trim()).ok()?;
    if bytes.is_empty() || bytes.len() % 2 != 0 {
        return None;
    }
    let (pad, masked) = bytes.split_at(bytes.len() / 2);
    let raw: Vec<u8> = masked.iter().zip(pad).map(|(m, p)| m ^ p).collect();
    Some(URL_SAFE_NO_PAD.encode(raw))
}

/// 256 random bits, URL-safe.
pub fn new_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_masked_token_differs_every_time_and_unmasks_to_the_token() {
        let token = new_token();
        let (a, b) = (mask(&token), mask(&token));
        assert_ne!(a, b, "a fresh pad per page");
        assert_ne!(a, token);
        assert_eq!(unmask(&a).as_deref(), Some(token.as_str()));
        assert_eq!(unmask(&b).as_deref(), Some(token.as_str()));
        // The unmasked token itself, or junk, is no masked token.
        assert_ne!(unmask(&token).as_deref(), Some(token.as_str()));
        assert_eq!(unmask("not base64 !"), None);
        assert_eq!(unmask(""), None);
    }
}
