//! A message as code names it: an id in the message files and its
//! arguments. It travels in flashes (the session cookie) and errors, and
//! becomes words only when rendered for a reader.

use serde::{Deserialize, Serialize};

use crate::domain::{Currency, Money};

/// One argument of a message.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Arg {
    Text(String),
    /// A count: plural rules choose by it.
    Number(i64),
    /// Written the reader's way.
    Money(Money),
    /// A day, written the reader's way.
    Date(chrono::NaiveDateTime),
    /// Another message, in the same language (a refusal's reason).
    Message(Box<Message>),
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Message {
    pub id: String,
    pub args: Vec<(String, Arg)>,
}

impl Message {
    pub fn new(id: impl Into<String>) -> Self {
        Self {
            id: id.into(),
            args: Vec::new(),
        }
    }

    pub fn arg(mut self, name: &str, value: impl Into<Arg>) -> Self {
        self.args.push((name.to_owned(), value.into()));
        self
    }
}

/// `msg!("cart-added", title = course.title)`: a [`Message`] with named
/// arguments. The message-file test finds ids used this way.
#[macro_export]
macro_rules! msg {
    ($id:literal $(, $name:ident = $value:expr)* $(,)?) => {
        $crate::i18n::Message::new($id)$(.arg(stringify!($name), $value))*
    };
}

impl From<String> for Arg {
    fn from(text: String) -> Self {
        Self::Text(text)
    }
}

impl From<&str> for Arg {
    fn from(text: &str) -> Self {
        Self::Text(text.to_owned())
    }
}

/// Templates hand over references (`&field`, `&&binding`).
impl<T: Clone + Into<Arg>> From<&T> for Arg {
    fn from(value: &T) -> Self {
        value.clone().into()
    }
}

impl From<i64> for Arg {
    fn from(n: i64) -> Self {
        Self::Number(n)
    }
}

impl From<usize> for Arg {
    fn from(n: usize) -> Self {
        Self::Number(i64::try_from(n).unwrap_or(i64::MAX))
    }
}

impl From<i32> for Arg {
    fn from(n: i32) -> Self {
        Self::Number(n.into())
    }
}

impl From<u32> for Arg {
    fn from(n: u32) -> Self {
        Self::Number(n.into())
    }
}

impl From<Money> for Arg {
    fn from(money: Money) -> Self {
        Self::Money(money)
    }
}

impl From<chrono::NaiveDateTime> for Arg {
    fn from(at: chrono::NaiveDateTime) -> Self {
        Self::Date(at)
    }
}

impl From<Message> for Arg {
    fn from(message: Message) -> Self {
        Self::Message(Box::new(message))
    }
}

/// Money in a message: minor units and the currency code.
#[derive(Serialize, Deserialize)]
struct MoneyRepr {
    minor: i64,
    currency: String,
}

impl Serialize for Money {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        MoneyRepr {
            minor: self.minor,
            currency: self.currency.code().to_owned(),
        }
        .serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for Money {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let repr = MoneyRepr::deserialize(deserializer)?;
        let currency = Currency::parse(&repr.currency).map_err(serde::de::Error::custom)?;
        Ok(Money::new(repr.minor, currency))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_message_survives_the_session_cookie() {
        let usd = Currency::parse("USD").unwrap();
        let message = crate::msg!(
            "cart-added",
            title = "Rust",
            total = Money::new(8900, usd),
            count = 3i64
        );
        let json = serde_json::to_string(&message).unwrap();
        assert_eq!(serde_json::from_str::<Message>(&json).unwrap(), message);
    }
}
