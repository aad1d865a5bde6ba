//! What students browse: published courses, priced for display.

use crate::db::DbConnection;
use crate::domain::Money;
use crate::models::course::Course;
use crate::models::user_course::UserCourse;
use crate::models::{CourseId, UserId};

/// A course as the catalog shows it, with where it stands for the viewer.
#[derive(Clone, Debug)]
pub struct CourseCard {
    pub course: Course,
    pub price: Money,
    pub in_cart: bool,
    pub owned: bool,
}

impl CourseCard {
    fn new(course: Course) -> Self {
        let price = Money::new(course.price_cents, course.currency);
        Self {
            course,
            price,
            in_cart: false,
            owned: false,
        }
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

    /// The description's paragraphs (an empty line separates them).
    pub fn paragraphs(&self) -> Vec<&str> {
        self.course
            .description
            .split("\n\n")
            .map(str::trim)
            .filter(|p| !p.is_empty())
            .collect()
    }
}

/// Marks each card "in cart" or "owned" for this viewer.
fn with_viewer_state(
    conn: &mut DbConnection,
    cards: impl Iterator<Item = CourseCard>,
    user_id: Option<UserId>,
    cart: &[CourseId],
) -> diesel::QueryResult<Vec<CourseCard>> {
    let owned = match user_id {
        Some(user_id) => UserCourse::owned_course_ids(conn, user_id)?,
        None => Vec::new(),
    };
    Ok(cards
        .map(|mut card| {
            card.owned = owned.contains(&card.course.id);
            card.in_cart = !card.owned && cart.contains(&card.course.id);
            card
        })
        .collect())
}

/// Courses per catalog page.
pub const PAGE_SIZE: i64 = 24;

/// A page of the catalog.
pub struct CatalogPage {
    pub cards: Vec<CourseCard>,
    /// 1-based, clamped to the pages there are.
    pub page: i64,
    pub pages: i64,
}

pub fn published_courses(
    conn: &mut DbConnection,
    page: i64,
    user_id: Option<UserId>,
    cart: &[CourseId],
) -> diesel::QueryResult<CatalogPage> {
    let count = Course::count_published(conn)?;
    let pages = ((count + PAGE_SIZE - 1) / PAGE_SIZE).max(1);
    let page = page.clamp(1, pages);
    let courses = Course::list_published(conn, (page - 1) * PAGE_SIZE, PAGE_SIZE)?;
    let cards = with_viewer_state(
        conn,
        courses.into_iter().map(CourseCard::new),
        user_id,
        cart,
    )?;
    Ok(CatalogPage { cards, page, pages })
}

pub fn published_course(
    conn: &mut DbConnection,
    slug: &str,
    user_id: Option<UserId>,
    cart: &[CourseId],
) -> diesel::QueryResult<Option<CourseCard>> {
    // An unpublished course is off sale, but those who bought it still
    // reach its page.
    let course = Course::find_by_slug(conn, slug)?;
    let card =
        with_viewer_state(conn, course.into_iter().map(CourseCard::new), user_id, cart)?.pop();
    Ok(card.filter(|card| card.course.published || card.owned))
}
