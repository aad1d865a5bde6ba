//! Staff run the catalog: create and edit courses, price them, publish or
//! withdraw them, give them a cover. Every save is recorded with who made
//! it and what changed. Orders never change: they keep their snapshots.

use diesel::prelude::*;

use crate::db::{self, DbConnection};
use crate::domain::{Currency, Locale, Money};
use crate::i18n::Message;
use crate::models::course::{Course, CourseFields, NewCourse};
use crate::models::course_change::CourseChange;
use crate::models::{CourseId, UserId};
use crate::msg;

const MAX_TITLE: usize = 200;
const MAX_SUMMARY: usize = 300;
const MAX_SLUG: usize = 80;

/// The course form as typed.
#[derive(Clone, Debug)]
pub struct CourseInput {
    pub title: String,
    /// Empty: made from the title.
    pub slug: String,
    pub summary: String,
    pub description: String,
    /// In the shop's currency, major units ("89.00").
    pub price: String,
    pub published: bool,
    /// The course's page in the learning platform; empty: none.
    pub lms_url: String,
    /// The language the form was typed in (the price's separators).
    pub locale: Locale,
}

/// What happens to the cover image on a save.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CoverChange {
    Keep,
    /// A new image, already stored under this name.
    Replace(String),
    Remove,
}

#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    /// What to fix, for the form.
    #[error("{}", .0.id)]
    Invalid(Message),
    #[error("no such course")]
    NotFound,
    #[error(transparent)]
    Database(#[from] diesel::result::Error),
}

/// A course on the staff list.
#[derive(Clone, Debug)]
pub struct CourseRow {
    pub course: Course,
    pub price: Money,
    /// Paid (or partly refunded) orders with it.
    pub sales: i64,
}

/// The form's values, checked.
struct Checked {
    title: String,
    slug: Option<String>,
    summary: String,
    description: String,
    price_cents: i64,
    published: bool,
    lms_url: Option<String>,
}

fn check(input: &CourseInput, currency: Currency) -> Result<Checked, CatalogError> {
    let invalid = |m: Message| Err(CatalogError::Invalid(m));
    let title = input.title.trim();
    if title.is_empty() || title.chars().count() > MAX_TITLE {
        return invalid(msg!("course-title-needed", max = MAX_TITLE));
    }
    let summary = input.summary.trim();
    if summary.chars().count() > MAX_SUMMARY {
        return invalid(msg!("course-summary-too-long", max = MAX_SUMMARY));
    }
    let description = input.description.trim().replace("\r\n", "\n");
    let slug = input.slug.trim();
    let slug = if slug.is_empty() {
        None
    } else if slug.len() > MAX_SLUG
        || slug.starts_with('-')
        || slug.ends_with('-')
        || slug.contains("--")
        || !slug
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    {
        return invalid(msg!("course-bad-slug", slug = slug, max = MAX_SLUG));
    } else {
        Some(slug.to_owned())
    };
    let price = match Money::parse_major_in(&input.price, currency, input.locale) {
        Ok(price) => price,
        Err(reason) => return invalid(msg!("course-bad-price", reason = reason)),
    };
    if price.minor > currency.maximum_charge() {
        return invalid(msg!(
            "course-price-too-high",
            max = Money::new(currency.maximum_charge(), currency)
        ));
    }
    let lms_url = match input.lms_url.trim() {
        "" => None,
        url => match reqwest::Url::parse(url) {
            Ok(parsed) if matches!(parsed.scheme(), "http" | "https") && url.len() <= 500 => {
                Some(url.to_owned())
            }
            _ => return invalid(msg!("course-bad-lms-url", url = url)),
        },
    };
    Ok(Checked {
        lms_url,
        title: title.to_owned(),
        slug,
        summary: summary.to_owned(),
        description,
        price_cents: price.minor,
        published: input.published,
    })
}

/// A free slug: the one asked for (refused when taken), or one made from
/// the title with `-2`, `-3`, ... until free.
fn free_slug(
    conn: &mut DbConnection,
    asked: Option<&str>,
    title: &str,
    this: Option<CourseId>,
) -> Result<String, CatalogError> {
    let taken = |conn: &mut DbConnection, slug: &str| -> QueryResult<bool> {
        Ok(Course::find_by_slug(conn, slug)?.is_some_and(|c| Some(c.id) != this))
    };
    if let Some(slug) = asked {
        if taken(conn, slug)? {
            return Err(CatalogError::Invalid(msg!(
                "course-slug-taken",
                slug = slug
            )));
        }
        return Ok(slug.to_owned());
    }
    let mut base: String = slug::slugify(title).chars().take(MAX_SLUG - 4).collect();
    base = base.trim_end_matches('-').to_owned();
    if base.is_empty() {
        base = "course".into();
    }
    let mut candidate = base.clone();
    let mut n = 1;
    while taken(conn, &candidate)? {
        n += 1;
        candidate = format!("{base}-{n}");
    }
    Ok(candidate)
}

pub fn list(conn: &mut DbConnection) -> QueryResult<Vec<CourseRow>> {
    Ok(Course::all_with_sales(conn)?
        .into_iter()
        .map(|(course, sales)| CourseRow {
            price: Money::new(course.price_cents, course.currency),
            course,
            sales,
        })
        .collect())
}

pub fn create(
    conn: &mut DbConnection,
    staff: UserId,
    input: &CourseInput,
    currency: Currency,
    cover: Option<&str>,
) -> Result<Course, CatalogError> {
    let checked = check(input, currency)?;
    db::write_transaction(conn, |conn| {
        let slug = free_slug(conn, checked.slug.as_deref(), &checked.title, None)?;
        let now = db::now();
        let course = NewCourse {
            slug: &slug,
            title: &checked.title,
            summary: &checked.summary,
            description: &checked.description,
            price_cents: checked.price_cents,
            currency,
            published: checked.published,
            created_at: now,
            updated_at: now,
            cover_image: cover,
            lms_url: checked.lms_url.as_deref(),
        }
        .insert(conn)?;
        let created = msg!(
            "course-change-created",
            title = course.title.clone(),
            price = Money::new(course.price_cents, currency),
            published = if course.published { "yes" } else { "no" },
            cover = if cover.is_some() { "yes" } else { "no" }
        );
        CourseChange::record(conn, course.id, Some(staff), &[created], now)?;
        Ok(course)
    })
}

/// Saves the form over the course; returns it and what changed (nothing
/// changed: nothing is written).
pub fn update(
    conn: &mut DbConnection,
    staff: UserId,
    id: CourseId,
    input: &CourseInput,
    currency: Currency,
    cover: &CoverChange,
) -> Result<(Course, Vec<Message>), CatalogError> {
    let checked = check(input, currency)?;
    db::write_transaction(conn, |conn| {
        let old = Course::find(conn, id)?.ok_or(CatalogError::NotFound)?;
        let slug = match &checked.slug {
            Some(slug) => free_slug(conn, Some(slug), &checked.title, Some(id))?,
            None if old.title == checked.title => old.slug.clone(),
            None => free_slug(conn, None, &checked.title, Some(id))?,
        };
        let cover_image = match cover {
            CoverChange::Keep => old.cover_image.as_deref(),
            CoverChange::Replace(name) => Some(name.as_str()),
            CoverChange::Remove => None,
        };
        let changes = describe_changes(&old, &checked, &slug, cover, currency);
        if changes.is_empty() {
            return Ok((old, changes));
        }
        let now = db::now();
        let course = Course::update(
            conn,
            id,
            &CourseFields {
                slug: &slug,
                title: &checked.title,
                summary: &checked.summary,
                description: &checked.description,
                price_cents: checked.price_cents,
                published: checked.published,
                cover_image,
                lms_url: checked.lms_url.as_deref(),
                updated_at: now,
            },
        )?;
        CourseChange::record(conn, id, Some(staff), &changes, now)?;
        Ok((course, changes))
    })
}

fn describe_changes(
    old: &Course,
    new: &Checked,
    slug: &str,
    cover: &CoverChange,
    currency: Currency,
) -> Vec<Message> {
    let mut changes = Vec::new();
    if old.title != new.title {
        changes.push(msg!(
            "course-change-title",
            old = old.title.clone(),
            new = new.title.clone()
        ));
    }
    if old.slug != slug {
        changes.push(msg!(
            "course-change-slug",
            old = old.slug.clone(),
            new = slug
        ));
    }
    if old.summary != new.summary {
        changes.push(msg!("course-change-summary"));
    }
    if old.description != new.description {
        changes.push(msg!("course-change-description"));
    }
    if old.price_cents != new.price_cents || old.currency != currency {
        changes.push(msg!(
            "course-change-price",
            old = Money::new(old.price_cents, old.currency),
            new = Money::new(new.price_cents, currency)
        ));
    }
    if old.lms_url != new.lms_url {
        changes.push(msg!(
            "course-change-lms-url",
            url = new.lms_url.clone().unwrap_or_else(|| "—".into())
        ));
    }
    if old.published != new.published {
        changes.push(if new.published {
            msg!("course-change-published")
        } else {
            msg!("course-change-unpublished")
        });
    }
    match (cover, &old.cover_image) {
        (CoverChange::Replace(_), None) => changes.push(msg!("course-change-cover-added")),
        (CoverChange::Replace(_), Some(_)) => changes.push(msg!("course-change-cover-replaced")),
        (CoverChange::Remove, Some(_)) => changes.push(msg!("course-change-cover-removed")),
        _ => {}
    }
    changes
}

/// The course and its history, for its staff page.
pub fn course_with_history(
    conn: &mut DbConnection,
    id: CourseId,
) -> QueryResult<Option<(Course, Vec<CourseChange>)>> {
    let Some(course) = Course::find(conn, id)? else {
        return Ok(None);
    };
    let history = CourseChange::for_course(conn, id)?;
    Ok(Some((course, history)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn usd() -> Currency {
        Currency::parse("USD").unwrap()
    }

    fn input(price: &str) -> CourseInput {
        CourseInput {
            title: "Rust".into(),
            slug: String::new(),
            summary: String::new(),
            description: String::new(),
            price: price.into(),
            published: false,
            lms_url: String::new(),
            locale: Locale::En,
        }
    }

    /// The refusal, in English words.
    fn refusal(input: &CourseInput, currency: Currency) -> String {
        match check(input, currency) {
            Err(CatalogError::Invalid(m)) => crate::i18n::I18n::new(Locale::En).message(&m),
            Err(e) => panic!("{e}"),
            Ok(_) => panic!("accepted {input:?}"),
        }
    }

    #[test]
    fn prices_are_read_in_the_currency_s_minor_units() {
        assert_eq!(check(&input("89.00"), usd()).unwrap().price_cents, 8900);
        assert_eq!(check(&input("0"), usd()).unwrap().price_cents, 0);
        let jpy = Currency::parse("JPY").unwrap();
        assert_eq!(check(&input("4900"), jpy).unwrap().price_cents, 4900);
        assert!(refusal(&input("49.5"), jpy).contains("at most 0 decimals"));
        assert!(refusal(&input("89.001"), usd()).contains("at most 2 decimals"));
        assert!(refusal(&input("-5"), usd()).contains("negative"));
        assert!(refusal(&input("abc"), usd()).contains("not an amount"));
        assert!(refusal(&input("1000000"), usd()).contains("at most $999,999.99"));
        let idr = Currency::parse("IDR").unwrap();
        assert_eq!(
            check(&input("1500000"), idr).unwrap().price_cents,
            150_000_000
        );
    }

    #[test]
    fn slugs_are_url_safe() {
        for bad in [
            "Rust",
            "rust course",
            "rust/../x",
            "-rust",
            "rust--x",
            "rüst",
        ] {
            let mut form = input("1");
            form.slug = bad.into();
            assert!(refusal(&form, usd()).contains("address name"), "{bad}");
        }
        let mut form = input("1");
        form.slug = "rust-2".into();
        assert_eq!(check(&form, usd()).unwrap().slug.as_deref(), Some("rust-2"));
    }
}
