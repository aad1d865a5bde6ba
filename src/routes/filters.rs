//! Askama filters: how typed values read on a page, in one place. Every
//! template struct's module brings them in with `use super::filters;`
//! (askama looks for a `filters` module beside the struct). Words, amounts
//! and dates in the reader's language are `layout`'s (`layout.money(..)`,
//! `layout.date(..)`); these are the same in every language.

use askama::Values;
use chrono::NaiveDateTime;

use crate::i18n::Fetch;

/// `2026-11-24 09:30:05`, UTC.
#[askama::filter_fn]
pub fn seconds(value: impl Fetch<NaiveDateTime>, _: &dyn Values) -> askama::Result<String> {
    Ok(value.fetch().format("%Y-%m-%d %H:%M:%S").to_string())
}
