//! Askama filters: how typed values read on a page, in one place. Every
//! template struct's module brings them in with `use super::filters;`
//! (askama looks for a `filters` module beside the struct).

use askama::Values;
use chrono::NaiveDateTime;

/// A value or a reference to one, however deep: askama hands filters
/// `&field`, and a value bound in a pattern becomes `&&value`.
pub trait Fetch<T: Copy> {
    fn fetch(&self) -> T;
}

impl Fetch<NaiveDateTime> for NaiveDateTime {
    fn fetch(&self) -> NaiveDateTime {
        *self
    }
}

impl Fetch<i32> for i32 {
    fn fetch(&self) -> i32 {
        *self
    }
}

impl<T: Copy, R: Fetch<T> + ?Sized> Fetch<T> for &R {
    fn fetch(&self) -> T {
        (**self).fetch()
    }
}

/// `2026-11-24`, UTC.
#[askama::filter_fn]
pub fn date(value: impl Fetch<NaiveDateTime>, _: &dyn Values) -> askama::Result<String> {
    Ok(value.fetch().format("%Y-%m-%d").to_string())
}

/// `2026-11-24 09:30`, UTC.
#[askama::filter_fn]
pub fn datetime(value: impl Fetch<NaiveDateTime>, _: &dyn Values) -> askama::Result<String> {
    Ok(value.fetch().format("%Y-%m-%d %H:%M").to_string())
}

/// `2026-11-24 09:30:05`, UTC.
#[askama::filter_fn]
pub fn seconds(value: impl Fetch<NaiveDateTime>, _: &dyn Values) -> askama::Result<String> {
    Ok(value.fetch().format("%Y-%m-%d %H:%M:%S").to_string())
}

/// Basis points as a percentage: 1250 -> `12.5%`.
#[askama::filter_fn]
pub fn percent(value: impl Fetch<i32>, _: &dyn Values) -> askama::Result<String> {
    let bps = bigdecimal::BigDecimal::from(value.fetch()) / bigdecimal::BigDecimal::from(100);
    Ok(format!("{}%", bps.normalized()))
}
