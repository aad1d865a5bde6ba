//! What students browse: published courses, priced for display.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use crate::db::DbConnection;
use crate::domain::{Locale, Money};
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
    /// What the page was made from (its memo of the visitor's view).
    pub listing: Arc<Listing>,
}

impl CatalogPage {
    /// No card is in the viewer's cart or theirs: they see what any
    /// visitor sees ([`Listing::as_visitor_sees`]).
    pub fn is_as_visitor_sees(&self) -> bool {
        self.cards.iter().all(|card| !card.in_cart && !card.owned)
    }
}

/// The published courses on one catalog page, the same for every viewer.
#[derive(Debug)]
pub struct Listing {
    courses: Vec<Course>,
    page: i64,
    pages: i64,
    /// The web layer's rendering of the page for a visitor, per language.
    rendered: Mutex<HashMap<Locale, Arc<str>>>,
}

impl Listing {
    fn load(conn: &mut DbConnection, page: i64) -> diesel::QueryResult<Self> {
        let count = Course::count_published(conn)?;
        let pages = ((count + PAGE_SIZE - 1) / PAGE_SIZE).max(1);
        let page = page.clamp(1, pages);
        let courses = Course::list_published(conn, (page - 1) * PAGE_SIZE, PAGE_SIZE)?;
        Ok(Self {
            courses,
            page,
            pages,
            rendered: Mutex::default(),
        })
    }

    /// `render`'s output for this page as a visitor sees it in `locale`,
    /// made once: the listing does not change while it is kept, so
    /// neither does its rendering (each request then fills in only what is
    /// its own, such as the form token).
    pub fn as_visitor_sees<E>(
        &self,
        locale: Locale,
        render: impl FnOnce() -> Result<String, E>,
    ) -> Result<Arc<str>, E> {
        let kept = self
            .rendered
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&locale)
            .cloned();
        if let Some(html) = kept {
            return Ok(html);
        }
        // Rendered outside the lock: two first requests may both render.
        let html: Arc<str> = render()?.into();
        self.rendered
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(locale, Arc::clone(&html));
        Ok(html)
    }

    fn cards(&self) -> impl Iterator<Item = CourseCard> + '_ {
        self.courses.iter().cloned().map(CourseCard::new)
    }

    /// The page as a visitor with an empty cart sees it.
    pub fn for_visitor(self: &Arc<Self>) -> CatalogPage {
        CatalogPage {
            cards: self.cards().collect(),
            page: self.page,
            pages: self.pages,
            listing: Arc::clone(self),
        }
    }
}

/// Catalog pages kept in memory for a moment: every visitor asks for the
/// same first page, and each would load the same rows.
///
/// A course saved through this process's staff pages clears it at once
/// ([`CatalogCache::forget`]); a change made by another instance or by the
/// command line shows within [`CatalogCache::FRESH`] of the next request.
/// When a page turns stale, one request reloads it while the others are
/// served the stale page meanwhile (without that, every request in flight
/// at the second's end reloaded it at once: on PostgreSQL, a queue for the
/// pool every second). Only what the catalog *shows* is kept: a cart and a
/// checkout price from the database.
#[derive(Default)]
pub struct CatalogCache(Mutex<HashMap<i64, Kept>>);

struct Kept {
    at: Instant,
    listing: Arc<Listing>,
    /// A request is reloading it (since `at` went stale).
    reloading: bool,
}

impl Kept {
    fn servable(&self) -> Option<Arc<Listing>> {
        let age = self.at.elapsed();
        (age < CatalogCache::FRESH || (self.reloading && age < CatalogCache::STALE_AT_MOST))
            .then(|| Arc::clone(&self.listing))
    }
}

impl CatalogCache {
    /// How long a kept page is believed.
    pub const FRESH: Duration = Duration::from_secs(1);
    /// A stale page is served while it reloads for at most this long (the
    /// reload failed, if it takes longer: the next request tries again).
    const STALE_AT_MOST: Duration = Duration::from_secs(5);
    /// At most this many pages are kept (page numbers come from the URL).
    const CAPACITY: usize = 64;

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<i64, Kept>> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The page as kept, if it is fresh, or stale while a request reloads
    /// it. `None`: load it ([`Self::load`]).
    pub fn get(&self, page: i64) -> Option<Arc<Listing>> {
        self.lock().get(&page).and_then(Kept::servable)
    }

    /// The page from memory, else from the database (and kept). Of the
    /// requests that find it stale, the first reloads it; the others get
    /// the stale page meanwhile.
    pub fn load(&self, conn: &mut DbConnection, page: i64) -> diesel::QueryResult<Arc<Listing>> {
        {
            let mut pages = self.lock();
            if let Some(kept) = pages.get_mut(&page) {
                if let Some(listing) = kept.servable() {
                    return Ok(listing);
                }
                kept.reloading = true;
            }
        }
        let listing = Arc::new(Listing::load(conn, page)?);
        // Kept under the page it is: a number past the end shows the last
        // page, and asking for it again loads again.
        let mut pages = self.lock();
        if pages.len() >= Self::CAPACITY {
            pages.retain(|_, kept| kept.at.elapsed() < Self::FRESH);
            if pages.len() >= Self::CAPACITY {
                pages.clear();
            }
        }
        let kept = Kept {
            at: Instant::now(),
            listing: Arc::clone(&listing),
            reloading: false,
        };
        pages.insert(listing.page, kept);
        Ok(listing)
    }

    /// Forgets every page: call it after a change to a course commits.
    pub fn forget(&self) {
        self.lock().clear();
    }
}

/// A page of the catalog for this viewer (their cart and their courses
/// marked on it).
pub fn published_courses(
    conn: &mut DbConnection,
    cache: &CatalogCache,
    page: i64,
    user_id: Option<UserId>,
    cart: &[CourseId],
) -> diesel::QueryResult<CatalogPage> {
    let listing = cache.load(conn, page)?;
    let cards = with_viewer_state(conn, listing.cards(), user_id, cart)?;
    Ok(CatalogPage {
        cards,
        page: listing.page,
        pages: listing.pages,
        listing,
    })
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

#[cfg(test)]
mod tests {
    use super::*;

    fn kept_since(cache: &CatalogCache, ago: Duration, reloading: bool) {
        let listing = Arc::new(Listing {
            courses: Vec::new(),
            page: 1,
            pages: 1,
            rendered: Mutex::default(),
        });
        let at = Instant::now() - ago;
        let kept = Kept {
            at,
            listing,
            reloading,
        };
        cache.lock().insert(1, kept);
    }

    #[test]
    fn a_stale_page_is_served_only_while_another_request_reloads_it() {
        let cache = CatalogCache::default();
        assert!(cache.get(1).is_none(), "nothing kept yet");
        kept_since(&cache, Duration::ZERO, false);
        assert!(cache.get(1).is_some(), "fresh");
        assert!(cache.get(2).is_none(), "another page");
        kept_since(&cache, CatalogCache::FRESH, false);
        assert!(
            cache.get(1).is_none(),
            "stale, and nobody reloads it: load it"
        );
        kept_since(&cache, CatalogCache::FRESH, true);
        assert!(cache.get(1).is_some(), "stale while a request reloads it");
        kept_since(&cache, CatalogCache::STALE_AT_MOST, true);
        assert!(cache.get(1).is_none(), "a reload that never came back");
        cache.forget();
        assert!(cache.get(1).is_none());
    }

    #[test]
    fn a_listing_is_rendered_once_per_language() {
        let listing = Listing {
            courses: Vec::new(),
            page: 1,
            pages: 1,
            rendered: Mutex::default(),
        };
        let mut renders = 0;
        let mut render = |text: &str| {
            renders += 1;
            Ok::<_, ()>(text.to_owned())
        };
        let en = listing.as_visitor_sees(Locale::En, || render("en"));
        assert_eq!(en.as_deref(), Ok("en"));
        let again = listing.as_visitor_sees(Locale::En, || render("again"));
        assert_eq!(again.as_deref(), Ok("en"), "kept");
        let id = listing.as_visitor_sees(Locale::Id, || render("id"));
        assert_eq!(id.as_deref(), Ok("id"));
        assert_eq!(renders, 2);
        // A failed rendering is not kept.
        let failed = Listing {
            rendered: Mutex::default(),
            ..listing
        };
        assert_eq!(failed.as_visitor_sees(Locale::En, || Err(())), Err(()));
        let after = failed.as_visitor_sees(Locale::En, || Ok::<_, ()>("en".to_owned()));
        assert_eq!(after.as_deref(), Ok("en"));
    }
}
