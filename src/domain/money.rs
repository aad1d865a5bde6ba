use std::fmt;

use super::Locale;
use crate::i18n::Message;

/// An ISO 4217 currency that has a minor unit (so amounts are whole numbers
/// of cents, yen, fils ...). Stored as its upper-case code.
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    diesel::expression::AsExpression,
    diesel::deserialize::FromSqlRow,
)]
#[diesel(sql_type = diesel::sql_types::Text)]
pub struct Currency {
    iso: iso_currency::Currency,
    exponent: u32,
}

impl Currency {
    pub fn parse(code: &str) -> Result<Self, String> {
        let code = code.trim().to_ascii_uppercase();
        let iso = iso_currency::Currency::from_code(&code)
            .ok_or_else(|| format!("{code:?} is not an ISO 4217 currency code"))?;
        let exponent = iso
            .exponent()
            .ok_or_else(|| format!("{code} has no minor unit and cannot be sold in"))?;
        Ok(Self {
            iso,
            exponent: u32::from(exponent),
        })
    }

    /// The three-letter code, upper case (`USD`).
    pub fn code(&self) -> &'static str {
        self.iso.code()
    }

    /// Digits after the decimal point: 2 for USD, 0 for JPY, 3 for KWD.
    pub fn exponent(&self) -> u32 {
        self.exponent
    }

    /// The decimals people write: the currency's, except the rupiah, whose
    /// sen nobody uses (Stripe still counts IDR in hundredths).
    pub fn display_exponent(&self) -> u32 {
        match self.code() {
            "IDR" => 0,
            _ => self.exponent(),
        }
    }

    /// The smallest amount people write, in minor units: 1 (a cent), 100
    /// for the rupiah (a whole rupiah). Discounts round to it.
    pub fn rounding_unit(&self) -> i64 {
        10i64.pow(self.exponent() - self.display_exponent())
    }

    /// The smallest amount Stripe charges in this currency, in minor units
    /// (Stripe's "minimum and maximum charge amounts"); for a currency not
    /// on that list, about what 0.50 US dollars is.
    pub fn minimum_charge(&self) -> i64 {
        let major_hundredths: i64 = match self.code() {
            "USD" | "EUR" | "AUD" | "CAD" | "CHF" | "INR" | "NZD" | "SGD" | "BRL" => 50,
            "GBP" => 30,
            "AED" | "MYR" | "PLN" | "RON" => 200,
            "BGN" => 100,
            "DKK" => 250,
            "NOK" | "SEK" => 300,
            "HKD" => 400,
            "MXN" | "THB" => 1_000,
            "CZK" => 1_500,
            "HUF" => 17_500,
            "JPY" => 5_000,
            "IDR" => 1_000_000,
            _ => 50,
        };
        // Hundredths of the major unit into this currency's minor unit.
        match self.exponent() {
            0 => major_hundredths / 100,
            2 => major_hundredths,
            e => major_hundredths * 10i64.pow(e.saturating_sub(2)),
        }
    }

    /// The largest amount Stripe charges at once, in minor units: eight
    /// digits (99,999,999: $999,999.99), twelve for IDR (Stripe's "minimum
    /// and maximum charge amounts").
    pub fn maximum_charge(&self) -> i64 {
        match self.code() {
            "IDR" => 999_999_999_999,
            _ => 99_999_999,
        }
    }

    /// A symbol to put before the amount, where it names this currency without
    /// ambiguity; `None` means "write the code after the amount".
    fn unambiguous_symbol(&self) -> Option<&'static str> {
        match self.code() {
            "USD" => Some("$"),
            "EUR" => Some("€"),
            "GBP" => Some("£"),
            "JPY" => Some("¥"),
            "INR" => Some("₹"),
            "KRW" => Some("₩"),
            _ => None,
        }
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

impl<DB> diesel::serialize::ToSql<diesel::sql_types::Text, DB> for Currency
where
    DB: diesel::backend::Backend,
    str: diesel::serialize::ToSql<diesel::sql_types::Text, DB>,
{
    fn to_sql<'b>(
        &'b self,
        out: &mut diesel::serialize::Output<'b, '_, DB>,
    ) -> diesel::serialize::Result {
        self.code().to_sql(out)
    }
}

impl<DB> diesel::deserialize::FromSql<diesel::sql_types::Text, DB> for Currency
where
    DB: diesel::backend::Backend,
    String: diesel::deserialize::FromSql<diesel::sql_types::Text, DB>,
{
    fn from_sql(bytes: DB::RawValue<'_>) -> diesel::deserialize::Result<Self> {
        Ok(Self::parse(&String::from_sql(bytes)?)?)
    }
}

/// An amount in minor units with its currency. Never a float.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Money {
    pub minor: i64,
    pub currency: Currency,
}

impl Money {
    pub fn new(minor: i64, currency: Currency) -> Self {
        Self { minor, currency }
    }

    /// Reads an amount typed in major units ("49", "49.90", "1,500") into
    /// minor units, refusing more decimals than people write in the
    /// currency (none for the rupiah).
    pub fn parse_major(input: &str, currency: Currency) -> Result<Self, Message> {
        Self::parse_major_in(input, currency, Locale::En)
    }

    /// As [`Money::parse_major`], with `locale`'s separators: `1.500.000`
    /// and `89,50` in Indonesian, `1,500,000` and `89.50` in English; a
    /// currency sign in front (`Rp`, `$`) and spaces are ignored.
    pub fn parse_major_in(
        input: &str,
        currency: Currency,
        locale: Locale,
    ) -> Result<Self, Message> {
        use std::str::FromStr;
        let (group, decimal) = match locale {
            Locale::En => (',', '.'),
            Locale::Id => ('.', ','),
        };
        let trimmed = input
            .trim()
            .trim_start_matches(|c: char| c.is_alphabetic() || "$€£¥₹".contains(c))
            .trim();
        let cleaned: String = trimmed
            .chars()
            .filter(|c| *c != group && *c != '_' && !c.is_whitespace())
            .map(|c| if c == decimal { '.' } else { c })
            .collect();
        // Plain digits with one decimal point: no exponents (`1e3`), no
        // signs but a leading minus, no other scripts' digits.
        let plain = cleaned.strip_prefix('-').unwrap_or(&cleaned);
        if plain.is_empty()
            || plain.matches('.').count() > 1
            || !plain.chars().all(|c| c.is_ascii_digit() || c == '.')
        {
            return Err(crate::msg!("money-not-an-amount", input = input.trim()));
        }
        let amount = bigdecimal::BigDecimal::from_str(&cleaned)
            .map_err(|_| crate::msg!("money-not-an-amount", input = input.trim()))?;
        if amount.sign() == bigdecimal::num_bigint::Sign::Minus {
            return Err(crate::msg!("money-negative"));
        }
        let shown =
            amount.clone() * bigdecimal::BigDecimal::from(10i64.pow(currency.display_exponent()));
        if !shown.is_integer() {
            return Err(crate::msg!(
                "money-too-many-decimals",
                currency = currency.code(),
                decimals = currency.display_exponent()
            ));
        }
        let minor = amount * bigdecimal::BigDecimal::from(10i64.pow(currency.exponent()));
        use bigdecimal::ToPrimitive;
        minor
            .to_i64()
            .filter(|m| *m <= 100_000_000_000_000)
            .map(|m| Self::new(m, currency))
            .ok_or_else(|| crate::msg!("money-too-large"))
    }

    /// The amount as a form field holds it in `locale`: `1234.50` or
    /// `1234,50`, `4900`, rupiah without sen (what
    /// [`Money::parse_major_in`] reads back).
    pub fn to_major_string_in(&self, locale: Locale) -> String {
        let stored = self.currency.exponent();
        let shown = self.currency.display_exponent();
        let unit = 10i64.pow(stored - shown);
        let (value, decimals) = if self.minor % unit == 0 {
            (self.minor / unit, shown)
        } else {
            (self.minor, stored)
        };
        let scale = 10u64.pow(decimals);
        let abs = value.unsigned_abs();
        let sign = if value < 0 { "-" } else { "" };
        let point = match locale {
            Locale::En => '.',
            Locale::Id => ',',
        };
        if decimals == 0 {
            format!("{sign}{abs}")
        } else {
            format!(
                "{sign}{}{point}{:0width$}",
                abs / scale,
                abs % scale,
                width = decimals as usize
            )
        }
    }
}

/// `$1,234.50`, `¥4,900`, `-€3.00`, `1,500.000 KWD`.
impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let scale = 10u64.pow(self.currency.exponent());
        let abs = self.minor.unsigned_abs();
        let (whole, frac) = (abs / scale, abs % scale);
        let digits = whole.to_string();
        let mut grouped = String::with_capacity(digits.len() + digits.len() / 3);
        for (i, ch) in digits.chars().enumerate() {
            if i > 0 && (digits.len() - i) % 3 == 0 {
                grouped.push(',');
            }
            grouped.push(ch);
        }
        let number = if self.currency.exponent() == 0 {
            grouped
        } else {
            format!(
                "{grouped}.{frac:0width$}",
                width = self.currency.exponent() as usize
            )
        };
        let sign = if self.minor < 0 { "-" } else { "" };
        match self.currency.unambiguous_symbol() {
            Some(symbol) => write!(f, "{sign}{symbol}{number}"),
            None => write!(f, "{sign}{number} {}", self.currency.code()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn money(minor: i64, code: &str) -> String {
        Money::new(minor, Currency::parse(code).unwrap()).to_string()
    }

    #[test]
    fn a_form_value_reads_back_as_the_same_amount() {
        for (minor, code, text) in [
            (8900, "USD", "89.00"),
            (5, "EUR", "0.05"),
            (4900, "JPY", "4900"),
            (150_000_000, "IDR", "1500000"),
        ] {
            let currency = Currency::parse(code).unwrap();
            let money = Money::new(minor, currency);
            assert_eq!(money.to_major_string_in(Locale::En), text);
            assert_eq!(
                Money::parse_major_in(&money.to_major_string_in(Locale::Id), currency, Locale::Id),
                Ok(money)
            );
            assert_eq!(Money::parse_major(text, currency), Ok(money));
            assert_eq!(
                Money::parse_major_in(
                    &crate::i18n::format_money(money, Locale::Id),
                    currency,
                    Locale::Id
                ),
                Ok(money),
                "what a page shows in Indonesian reads back"
            );
        }
    }

    #[test]
    fn each_locale_s_separators_are_read() {
        let usd = Currency::parse("USD").unwrap();
        let idr = Currency::parse("IDR").unwrap();
        let read = |input: &str, currency, locale| {
            Money::parse_major_in(input, currency, locale).map(|m| m.minor)
        };
        assert_eq!(read("1,234.50", usd, Locale::En), Ok(123_450));
        assert_eq!(read("1.234,50", usd, Locale::Id), Ok(123_450));
        assert_eq!(read("Rp1.500.000", idr, Locale::Id), Ok(150_000_000));
        assert_eq!(read("1 500 000", idr, Locale::Id), Ok(150_000_000));
        assert_eq!(read("1500000", idr, Locale::En), Ok(150_000_000));
        assert_eq!(
            read("1500000,50", idr, Locale::Id).unwrap_err().id,
            "money-too-many-decimals"
        );
        assert_eq!(
            read("-5", usd, Locale::En).unwrap_err().id,
            "money-negative"
        );
        assert_eq!(
            read("abc", usd, Locale::En).unwrap_err().id,
            "money-not-an-amount"
        );
    }

    #[test]
    fn formats_minor_units_for_the_currency() {
        assert_eq!(money(4900, "USD"), "$49.00");
        assert_eq!(money(123_456_789, "usd"), "$1,234,567.89");
        assert_eq!(money(5, "EUR"), "€0.05");
        assert_eq!(money(-300, "EUR"), "-€3.00");
        assert_eq!(money(4900, "JPY"), "¥4,900");
        assert_eq!(money(1_500_000, "KWD"), "1,500.000 KWD");
        assert_eq!(money(15_000_000, "IDR"), "150,000.00 IDR");
        assert_eq!(money(0, "USD"), "$0.00");
        assert_eq!(money(i64::MIN, "USD"), "-$92,233,720,368,547,758.08");
    }

    #[test]
    fn parses_major_units_into_minor_units() {
        let usd = Currency::parse("USD").unwrap();
        let jpy = Currency::parse("JPY").unwrap();
        assert_eq!(Money::parse_major("49", usd).unwrap().minor, 4900);
        assert_eq!(Money::parse_major(" 1,234.5 ", usd).unwrap().minor, 123_450);
        assert_eq!(Money::parse_major("0.01", usd).unwrap().minor, 1);
        assert_eq!(Money::parse_major("4900", jpy).unwrap().minor, 4900);
        assert!(Money::parse_major("49.5", jpy).is_err());
        assert!(Money::parse_major("0.001", usd).is_err());
        assert!(Money::parse_major("-5", usd).is_err());
        assert!(Money::parse_major("abc", usd).is_err());
        assert!(Money::parse_major("1e30", usd).is_err());
    }

    #[test]
    fn rejects_unknown_currencies_and_ones_without_minor_unit() {
        assert!(Currency::parse("XYZ").is_err());
        assert!(Currency::parse("").is_err());
        // XAU (gold) has no minor unit.
        assert!(Currency::parse("XAU").is_err());
        assert_eq!(Currency::parse(" jpy ").unwrap().exponent(), 0);
    }
}
