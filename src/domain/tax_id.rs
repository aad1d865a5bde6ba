//! A buyer's tax number, checked where its format is known: Indonesia's
//! NPWP (15 digits, or 16 since 2024 when it is the NIK) and EU VAT
//! numbers (a country prefix, then that country's pattern). Other
//! countries' numbers are kept as typed, within plain characters.

use crate::i18n::Message;
use crate::msg;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TaxId(String);

/// EU VAT numbers after their prefix: (country, lengths, what they hold).
/// From the European Commission's VIES format table.
const EU_VAT: &[(&str, &[usize], Body)] = &[
    ("AT", &[9], Body::Alnum),
    ("BE", &[10], Body::Digits),
    ("BG", &[9, 10], Body::Digits),
    ("CY", &[9], Body::Alnum),
    ("CZ", &[8, 9, 10], Body::Digits),
    ("DE", &[9], Body::Digits),
    ("DK", &[8], Body::Digits),
    ("EE", &[9], Body::Digits),
    ("EL", &[9], Body::Digits),
    ("ES", &[9], Body::Alnum),
    ("FI", &[8], Body::Digits),
    ("FR", &[11], Body::Alnum),
    ("HR", &[11], Body::Digits),
    ("HU", &[8], Body::Digits),
    ("IE", &[8, 9], Body::Alnum),
    ("IT", &[11], Body::Digits),
    ("LT", &[9, 12], Body::Digits),
    ("LU", &[8], Body::Digits),
    ("LV", &[11], Body::Digits),
    ("MT", &[8], Body::Digits),
    ("NL", &[12], Body::Alnum),
    ("PL", &[10], Body::Digits),
    ("PT", &[9], Body::Digits),
    ("RO", &[2, 3, 4, 5, 6, 7, 8, 9, 10], Body::Digits),
    ("SE", &[12], Body::Digits),
    ("SI", &[8], Body::Digits),
    ("SK", &[10], Body::Digits),
    ("XI", &[9, 12], Body::Alnum),
];

#[derive(Clone, Copy)]
enum Body {
    Digits,
    Alnum,
}

impl TaxId {
    /// `None` for an empty field (a tax id is optional).
    pub fn parse(input: &str) -> Result<Option<Self>, Message> {
        let typed = input.trim();
        if typed.is_empty() {
            return Ok(None);
        }
        if typed.chars().count() > 30
            || !typed
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || " .-/".contains(c))
        {
            return Err(msg!("tax-id-characters"));
        }
        // Written with dots and dashes (01.234.567.8-901.000); kept bare.
        let bare: String = typed
            .chars()
            .filter(char::is_ascii_alphanumeric)
            .collect::<String>()
            .to_ascii_uppercase();
        if bare.chars().all(|c| c.is_ascii_digit()) && (13..=17).contains(&bare.len()) {
            return if bare.len() == 15 || bare.len() == 16 {
                Ok(Some(Self(bare)))
            } else {
                Err(msg!("tax-id-npwp", digits = bare.len()))
            };
        }
        let prefix = bare.get(..2).unwrap_or_default();
        if let Some((country, lengths, body)) = EU_VAT.iter().find(|(c, ..)| *c == prefix) {
            let rest = &bare[2..];
            let fits = lengths.contains(&rest.len())
                && match body {
                    Body::Digits => rest.chars().all(|c| c.is_ascii_digit()),
                    Body::Alnum => rest.chars().any(|c| c.is_ascii_digit()),
                };
            return if fits {
                Ok(Some(Self(bare)))
            } else {
                Err(msg!("tax-id-eu-vat", country = *country))
            };
        }
        Ok(Some(Self(typed.to_owned())))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(input: &str) -> String {
        TaxId::parse(input).unwrap().unwrap().0
    }

    fn refused(input: &str) -> String {
        TaxId::parse(input).unwrap_err().id.to_string()
    }

    #[test]
    fn npwp_has_15_or_16_digits_written_any_way() {
        assert_eq!(ok("01.234.567.8-901.000"), "012345678901000");
        assert_eq!(ok("3171234567890001"), "3171234567890001");
        assert_eq!(refused("01.234.567.8-901.00"), "tax-id-npwp");
        assert_eq!(refused("12345678901234567"), "tax-id-npwp");
    }

    #[test]
    fn eu_vat_numbers_follow_their_country() {
        assert_eq!(ok("DE 123456789"), "DE123456789");
        assert_eq!(ok("nl123456789B01"), "NL123456789B01");
        assert_eq!(ok("FR40303265045"), "FR40303265045");
        assert_eq!(refused("DE12345678"), "tax-id-eu-vat");
        assert_eq!(refused("DE12345678A"), "tax-id-eu-vat");
        assert_eq!(refused("IT1234567890"), "tax-id-eu-vat");
    }

    #[test]
    fn others_are_kept_as_typed_within_plain_characters() {
        assert_eq!(ok("12-3456789"), "12-3456789", "a US EIN");
        assert_eq!(TaxId::parse("  ").unwrap(), None);
        assert_eq!(refused("<script>"), "tax-id-characters");
        assert_eq!(refused(&"1".repeat(31)), "tax-id-characters");
    }
}
