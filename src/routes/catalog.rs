use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, get, web};
use askama::Template;

use super::AppState;
use super::layout::{Layout, Viewer, render};
use crate::error::AppError;
use crate::services::catalog::{self, CourseCard};

#[derive(Template)]
#[template(path = "catalog/index.html")]
struct CatalogPage {
    layout: Layout,
    empty: bool,
    /// The cards, rendered by [`CardGrid`].
    grid: String,
    page: i64,
    pages: i64,
}

/// A catalog page's cards.
#[derive(Template)]
#[template(path = "catalog/grid.html")]
struct CardGrid<'a> {
    layout: &'a Layout,
    courses: &'a [CourseCard],
}

/// Where the form token goes in a kept rendering of the cards. The
/// template writes the token unescaped, so this can only come from there:
/// any text of a course that held it would have been escaped (`&lt;`).
const TOKEN_SLOT: &str = "<form-token>";

impl CardGrid<'_> {
    /// The cards of `catalog` for this `layout`. A viewer who sees them as
    /// any visitor does gets the page's kept rendering in their language,
    /// with their form token put in: the cards are most of a catalog
    /// page's rendering, and the same for every visitor while it is kept.
    fn html(layout: &Layout, catalog: &catalog::CatalogPage) -> askama::Result<String> {
        if !catalog.is_as_visitor_sees() {
            return CardGrid {
                layout,
                courses: &catalog.cards,
            }
            .render();
        }
        let kept = catalog.listing.as_visitor_sees(layout.i18n.locale, || {
            let blank = Layout {
                csrf_token: TOKEN_SLOT.to_owned(),
                flashes: Vec::new(),
                ..layout.clone()
            };
            CardGrid {
                layout: &blank,
                courses: &catalog.cards,
            }
            .render()
        })?;
        Ok(kept.replace(TOKEN_SLOT, &layout.csrf_token))
    }
}

#[derive(serde::Deserialize)]
struct PageQuery {
    page: Option<i64>,
}

#[get("/")]
pub(super) async fn index(
    req: HttpRequest,
    state: web::Data<AppState>,
    query: web::Query<PageQuery>,
) -> Result<HttpResponse, AppError> {
    let page = query.page.unwrap_or(1);
    let shared = state.clone();
    let (viewer, catalog) = Viewer::with_kept_page(
        &req,
        |state| Some(state.catalog.get(page)?.for_visitor()),
        move |conn, viewer| {
            catalog::published_courses(
                conn,
                &shared.catalog,
                page,
                viewer.user_id(),
                &viewer.cart_course_ids,
            )
        },
    )
    .await?;
    let catalog = catalog?;
    let layout = Layout::new(&req, &viewer);
    render(
        StatusCode::OK,
        &CatalogPage {
            grid: CardGrid::html(&layout, &catalog)?,
            layout,
            empty: catalog.cards.is_empty(),
            page: catalog.page,
            pages: catalog.pages,
        },
    )
}

#[derive(Template)]
#[template(path = "catalog/course.html")]
struct CoursePage {
    layout: Layout,
    card: CourseCard,
}

#[get("/courses/{slug}")]
pub(super) async fn course_page(
    req: HttpRequest,
    slug: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let slug = slug.into_inner();
    let (viewer, card) = Viewer::with_page(&req, move |conn, viewer| {
        catalog::published_course(conn, &slug, viewer.user_id(), &viewer.cart_course_ids)
    })
    .await?;
    let card = card?.ok_or(AppError::NotFound)?;
    render(
        StatusCode::OK,
        &CoursePage {
            layout: Layout::new(&req, &viewer),
            card,
        },
    )
}
