//! The cart page, the navbar counter, add and remove. Add and remove answer
//! JSON to the page script (`Accept: application/json`) and a 303 with a
//! flash message to a plain form post.

use actix_session::SessionExt;
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, get, post, web};
use askama::Template;
use serde::Deserialize;

use super::csrf::CsrfForm;
use super::layout::{Layout, Viewer, render, see_other, wants_json};
use super::{AppState, safe_next, with_db};
use crate::error::AppError;
use crate::i18n::Message;
use crate::models::CourseId;
use crate::msg;
use crate::services::cart::{self, CartChange, CartError, CartView, MAX_ITEMS};
use crate::session::{AppSession, FlashLevel};

#[derive(Template)]
#[template(path = "cart/index.html")]
struct CartPage {
    layout: Layout,
    cart: CartView,
    /// What the promo field holds: the code typed last, or the one applied.
    promo_typed: String,
    /// Why that code does not apply, under the field.
    promo_error: Option<Message>,
}

#[get("/cart")]
pub(super) async fn cart_page(
    req: HttpRequest,
    viewer: Viewer,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let owner = viewer.cart_owner();
    let currency = state.settings.currency;
    let session = req.get_session();
    let session = AppSession(&session);
    let applied = session.applied_promo().unwrap_or_default();
    let code = applied.clone();
    let (cart, still_applies) = with_db(&state, move |conn| {
        cart::view_with_promo(conn, &owner, currency, &code)
    })
    .await??;
    // A refusal just made wins; else the applied code, if it no longer
    // fits the cart, says why.
    let (promo_typed, promo_error) = match session.take_promo_refusal() {
        Some((typed, why)) => (typed, Some(why)),
        None => (applied, still_applies.err().map(|r| r.message())),
    };
    render(
        StatusCode::OK,
        &CartPage {
            layout: Layout::new(&req, &viewer),
            cart,
            promo_typed,
            promo_error,
        },
    )
}

#[derive(Deserialize)]
struct PromoForm {
    #[serde(default)]
    promo_code: String,
}

/// Applies a promo code in the cart: the page shows the discount and the
/// new total, or why the code does not apply (keeping what was typed).
#[post("/cart/promo")]
pub(super) async fn apply_promo(
    req: HttpRequest,
    viewer: Viewer,
    state: web::Data<AppState>,
    form: CsrfForm<PromoForm>,
) -> Result<HttpResponse, AppError> {
    let typed = form.0.promo_code;
    let session = req.get_session();
    let session = AppSession(&session);
    let owner = viewer.cart_owner();
    let currency = state.settings.currency;
    let code = typed.clone();
    let (cart, outcome) = with_db(&state, move |conn| {
        cart::view_with_promo(conn, &owner, currency, &code)
    })
    .await??;
    match (outcome, &cart.promo) {
        (Ok(()), Some(applied)) => {
            session.apply_promo(&applied.code);
            session.flash(
                FlashLevel::Success,
                msg!(
                    "cart-promo-applied",
                    code = applied.code.clone(),
                    discount = applied.discount
                ),
            );
        }
        (Ok(()), None) => session.refuse_promo(&typed, msg!("promo-enter-code")),
        (Err(rejection), _) => session.refuse_promo(&typed, rejection.message()),
    }
    Ok(see_other("/cart"))
}

#[post("/cart/promo/delete")]
pub(super) async fn remove_promo(
    req: HttpRequest,
    _form: CsrfForm<super::csrf::NoFields>,
) -> Result<HttpResponse, AppError> {
    let session = req.get_session();
    let session = AppSession(&session);
    session.clear_promo();
    session.flash(FlashLevel::Info, msg!("cart-promo-removed"));
    Ok(see_other("/cart"))
}

#[get("/cart/count")]
pub(super) async fn cart_count(viewer: Viewer) -> HttpResponse {
    let count = viewer.cart_course_ids.len();
    HttpResponse::Ok()
        .insert_header(("Cache-Control", "no-store"))
        .json(serde_json::json!({
            "count": count,
            "cart_label": viewer.i18n().t1("nav-cart-label", "count", count),
        }))
}

#[derive(Deserialize)]
struct AddForm {
    #[serde(default)]
    course_id: String,
    next: Option<String>,
}

#[derive(Deserialize)]
struct RemoveForm {
    next: Option<String>,
}

fn parse_course_id(raw: &str) -> Result<CourseId, AppError> {
    raw.trim()
        .parse::<i64>()
        .ok()
        .filter(|id| *id > 0)
        .map(CourseId)
        .ok_or_else(|| AppError::BadRequest(msg!("cart-bad-course-id")))
}

fn change_json(viewer: &Viewer, change: &CartChange, in_cart: bool) -> HttpResponse {
    let i18n = viewer.i18n();
    // What the page says, as a form post's flash would.
    let message = if in_cart {
        i18n.t1("cart-added", "title", &change.course_title)
    } else {
        i18n.t1("cart-removed", "title", &change.course_title)
    };
    HttpResponse::Ok().json(serde_json::json!({
        "count": change.count,
        "in_cart": in_cart,
        "subtotal": i18n.money(change.subtotal),
        "cart_label": i18n.t1("nav-cart-label", "count", change.count),
        "message": message,
        "link": in_cart.then(|| serde_json::json!({ "href": "/cart", "label": i18n.t("cart-view") })),
    }))
}

#[post("/cart/items")]
pub(super) async fn add_item(
    req: HttpRequest,
    viewer: Viewer,
    state: web::Data<AppState>,
    form: CsrfForm<AddForm>,
) -> Result<HttpResponse, AppError> {
    let form = form.0;
    let course_id = parse_course_id(&form.course_id)?;
    let owner = viewer.cart_owner();
    let currency = state.settings.currency;
    let result = with_db(&state, move |conn| {
        cart::add(conn, &owner, course_id, currency)
    })
    .await?;
    let session = req.get_session();
    let session = AppSession(&session);
    let change = match result {
        Ok(change) => change,
        Err(CartError::UnknownCourse) => return Err(AppError::NotFound),
        // Its title is not said: a draft's stays unknown.
        Err(CartError::NotOnSale) => {
            return Err(AppError::Conflict(msg!("cart-not-on-sale")));
        }
        Err(CartError::OtherCurrency { title }) => {
            return Err(AppError::Conflict(msg!(
                "cart-other-currency",
                title = title
            )));
        }
        Err(CartError::Full) => {
            return Err(AppError::Conflict(msg!("cart-full", max = MAX_ITEMS)));
        }
        Err(CartError::AlreadyOwned { title, slug }) => {
            if wants_json(&req) {
                return Ok(HttpResponse::Conflict().json(serde_json::json!({
                    "error": viewer.i18n().t("cart-already-own-this"),
                    "course_url": format!("/courses/{slug}"),
                })));
            }
            session.flash_with_link(
                FlashLevel::Info,
                msg!("cart-already-own", title = title),
                format!("/courses/{slug}"),
                msg!("cart-go-to-course"),
            );
            return Ok(see_other(&safe_next(form.next.as_deref())));
        }
        Err(CartError::Database(e)) => return Err(e.into()),
    };
    if let Some(token) = &change.guest_token
        && session.guest_cart_token().as_deref() != Some(token.as_str())
    {
        session.set_guest_cart_token(token).map_err(|e| {
            AppError::Internal(anyhow::Error::new(e).context("session insert failed"))
        })?;
    }
    if wants_json(&req) {
        return Ok(change_json(&viewer, &change, true));
    }
    session.flash_with_link(
        FlashLevel::Success,
        msg!("cart-added", title = change.course_title.clone()),
        "/cart".into(),
        msg!("cart-view"),
    );
    Ok(see_other(&safe_next(form.next.as_deref())))
}

#[post("/cart/items/{course_id}/delete")]
pub(super) async fn remove_item(
    req: HttpRequest,
    viewer: Viewer,
    state: web::Data<AppState>,
    path: web::Path<String>,
    form: CsrfForm<RemoveForm>,
) -> Result<HttpResponse, AppError> {
    let course_id = parse_course_id(&path)?;
    let owner = viewer.cart_owner();
    let currency = state.settings.currency;
    let change = with_db(&state, move |conn| {
        cart::remove(conn, &owner, course_id, currency)
    })
    .await?
    .map_err(|e| match e {
        CartError::Database(e) => AppError::from(e),
        other => AppError::Internal(anyhow::Error::new(other)),
    })?;
    if wants_json(&req) {
        return Ok(change_json(&viewer, &change, false));
    }
    if !change.course_title.is_empty() {
        let session = req.get_session();
        AppSession(&session).flash(
            FlashLevel::Info,
            msg!("cart-removed", title = change.course_title),
        );
    }
    let next = form.0.next.unwrap_or_else(|| "/cart".into());
    Ok(see_other(&safe_next(Some(&next))))
}
