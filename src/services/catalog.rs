//! What students browse: published courses, priced for display.

use crate::db::DbConnection;
use crate::domain::{Currency, Money};
use crate::models::course::Course;

/// A course as the catalog shows it.
#[derive(Clone, Debug)]
pub struct CourseCard {
    pub course: Course,
    pub price: String,
}

impl CourseCard {
    fn new(course: Course) -> Self {
        // A stored currency is validated when the course is written; a row
        // that does not parse still shows its amount with its raw code.
        let price = match Currency::parse(&course.currency) {
            Ok(currency) => Money::new(course.price_cents, currency).to_string(),
            Err(_) => format!("{} {}", course.price_cents, course.currency),
        };
        Self { course, price }
    }

    /// The first letter of the title, for the card's cover.
    pub fn initial(&self) -> String {
        self.course
            .title
            .chars()
            .next()
            .map(|c| c.to_uppercase().to_string())
            .unwrap_or_default()
    }
}

pub fn published_courses(conn: &mut DbConnection) -> diesel::QueryResult<Vec<CourseCard>> {
    Ok(Course::list_published(conn)?
        .into_iter()
        .map(CourseCard::new)
        .collect())
}

pub fn published_course(
    conn: &mut DbConnection,
    slug: &str,
) -> diesel::QueryResult<Option<CourseCard>> {
    Ok(Course::find_published_by_slug(conn, slug)?.map(CourseCard::new))
}
