//! Amounts and dates the way each language writes them.

use icu_decimal::DecimalFormatter;
use icu_decimal::input::Decimal;

use crate::domain::{Locale, Money};

thread_local! {
    // ICU's formatters are not `Sync`; one pair per thread is cheap.
    static NUMBERS: [DecimalFormatter; 2] = [numbers(Locale::En), numbers(Locale::Id)];
}

fn numbers(locale: Locale) -> DecimalFormatter {
    let tag: icu_locale_core::Locale = locale
        .as_str()
        .parse()
        .expect("our locales are valid BCP 47 tags");
    DecimalFormatter::try_new(tag.into(), Default::default())
        .expect("compiled CLDR data has every locale we speak")
}

/// `number` with the language's grouping and decimal separator.
fn group(number: &Decimal, locale: Locale) -> String {
    let index = match locale {
        Locale::En => 0,
        Locale::Id => 1,
    };
    NUMBERS.with(|formatters| formatters[index].format(number).to_string())
}

/// The currency's sign in this language (CLDR's), before the amount; a
/// currency without one is written with its code and a space.
fn symbol(code: &str, locale: Locale) -> String {
    match (code, locale) {
        ("USD", Locale::En) => "$".into(),
        ("USD", Locale::Id) => "US$".into(),
        ("IDR", _) => "Rp".into(),
        ("EUR", _) => "€".into(),
        ("GBP", _) => "£".into(),
        ("JPY", Locale::En) => "¥".into(),
        ("JPY", Locale::Id) => "JP¥".into(),
        ("INR", _) => "₹".into(),
        (code, _) => format!("{code}\u{a0}"),
    }
}

/// `$1,234.50` / `US$1.234,50`; rupiah without the sen nobody writes
/// (`Rp1.500.000`): amounts are whole rupiah, kept ×100 as Stripe wants.
pub fn format_money(money: Money, locale: Locale) -> String {
    let currency = money.currency;
    let stored = currency.exponent();
    let shown = currency.display_exponent();
    let unit = 10i64.pow(stored - shown);
    // Never hide a part of the amount: a remainder shows every decimal.
    let (value, decimals) = if money.minor % unit == 0 {
        (money.minor / unit, shown)
    } else {
        (money.minor, stored)
    };
    let mut number = Decimal::from(value.unsigned_abs());
    number.multiply_pow10(-(decimals as i16));
    let digits = group(&number, locale);
    let sign = if money.minor < 0 { "-" } else { "" };
    format!("{sign}{}{digits}", symbol(currency.code(), locale))
}

/// `Nov 30, 2026` / `30 Nov 2026` (UTC).
pub fn format_date(at: chrono::NaiveDateTime, locale: Locale) -> String {
    let at = at.and_utc();
    match locale {
        Locale::En => at.format_localized("%b %-d, %Y", chrono::Locale::en_US),
        Locale::Id => at.format_localized("%-d %b %Y", chrono::Locale::id_ID),
    }
    .to_string()
}

/// `Nov 30, 2026 14:05` / `30 Nov 2026 14.05` (UTC).
pub fn format_datetime(at: chrono::NaiveDateTime, locale: Locale) -> String {
    let time = match locale {
        Locale::En => at.format("%H:%M"),
        Locale::Id => at.format("%H.%M"),
    };
    format!("{} {time}", format_date(at, locale))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Currency;

    fn money(minor: i64, code: &str, locale: Locale) -> String {
        format_money(Money::new(minor, Currency::parse(code).unwrap()), locale)
    }

    #[test]
    fn each_language_writes_amounts_its_own_way() {
        assert_eq!(money(8_900, "USD", Locale::En), "$89.00");
        assert_eq!(money(8_900, "USD", Locale::Id), "US$89,00");
        assert_eq!(money(123_456_789, "USD", Locale::En), "$1,234,567.89");
        assert_eq!(money(123_456_789, "USD", Locale::Id), "US$1.234.567,89");
        assert_eq!(money(150_000_000, "IDR", Locale::Id), "Rp1.500.000");
        assert_eq!(money(150_000_000, "IDR", Locale::En), "Rp1,500,000");
        assert_eq!(money(-30_000, "IDR", Locale::Id), "-Rp300");
        assert_eq!(
            money(150_000_050, "IDR", Locale::Id),
            "Rp1.500.000,50",
            "no sen hidden"
        );
        assert_eq!(money(4_900, "JPY", Locale::En), "¥4,900");
        assert_eq!(money(0, "USD", Locale::Id), "US$0,00");
        assert_eq!(money(1_500, "KWD", Locale::En), "KWD\u{a0}1.500");
    }

    #[test]
    fn dates_in_each_language() {
        let at = chrono::NaiveDate::from_ymd_opt(2026, 8, 17)
            .unwrap()
            .and_hms_opt(9, 5, 0)
            .unwrap();
        assert_eq!(format_date(at, Locale::En), "Aug 17, 2026");
        assert_eq!(format_date(at, Locale::Id), "17 Agu 2026");
        assert_eq!(format_datetime(at, Locale::Id), "17 Agu 2026 09.05");
        assert_eq!(format_datetime(at, Locale::En), "Aug 17, 2026 09:05");
    }
}
