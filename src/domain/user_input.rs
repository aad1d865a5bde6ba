use std::fmt;

use crate::i18n::Message;

/// A password chosen at registration: long enough to resist guessing,
/// short enough that hashing it is not a denial-of-service lever.
pub struct NewPassword(String);

impl NewPassword {
    pub const MIN_CHARS: usize = 10;
    pub const MAX_CHARS: usize = 128;

    pub fn parse(raw: &str) -> Result<Self, Message> {
        let chars = raw.chars().count();
        if chars < Self::MIN_CHARS {
            return Err(crate::msg!("password-too-short", min = Self::MIN_CHARS));
        }
        if chars > Self::MAX_CHARS {
            return Err(crate::msg!("password-too-long", max = Self::MAX_CHARS));
        }
        Ok(Self(raw.to_owned()))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for NewPassword {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("NewPassword(***)")
    }
}

/// The name shown in the navbar and on invoices.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DisplayName(String);

impl DisplayName {
    pub const MAX_CHARS: usize = 100;

    pub fn parse(raw: &str) -> Result<Self, Message> {
        let name = raw.trim();
        if name.is_empty() {
            return Err(crate::msg!("name-needed"));
        }
        if name.chars().count() > Self::MAX_CHARS {
            return Err(crate::msg!("name-too-long", max = Self::MAX_CHARS));
        }
        if name.chars().any(char::is_control) {
            return Err(crate::msg!("name-control-characters"));
        }
        Ok(Self(name.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// What an account may do.
#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn password_length_is_bounded_in_characters() {
        assert!(NewPassword::parse("short").is_err());
        assert!(NewPassword::parse("correct horse").is_ok());
        assert!(NewPassword::parse("éééééééééé").is_ok());
        assert!(NewPassword::parse(&"x".repeat(129)).is_err());
        assert_eq!(
            format!("{:?}", NewPassword::parse("correct horse").unwrap()),
            "NewPassword(***)"
        );
    }

    #[test]
    fn names_are_trimmed_and_bounded() {
        assert_eq!(
            DisplayName::parse("  Ada Lovelace ").unwrap().as_str(),
            "Ada Lovelace"
        );
        assert!(DisplayName::parse("   ").is_err());
        assert!(DisplayName::parse("a\u{0}b").is_err());
        assert!(DisplayName::parse(&"n".repeat(101)).is_err());
    }
}
