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
use crate::domain::TaxId;
use crate::error::AppError;
use crate::i18n::Message;
use crate::models::CourseId;
use crate::models::billing::Billing;
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
    /// The invoice details form, for a logged-in student.
    billing: Option<BillingState>,
}

/// The billing details form: as saved, or as typed with what is wrong.
struct BillingState {
    company: String,
    address: String,
    tax_id: String,
    error: Option<Message>,
}

impl BillingState {
    fn saved(billing: Billing) -> Self {
        Self {
            company: billing.company.unwrap_or_default(),
            address: billing.address.unwrap_or_default(),
            tax_id: billing.tax_id.unwrap_or_default(),
            error: None,
        }
    }

    fn is_filled(&self) -> bool {
        !(self.company.is_empty() && self.address.is_empty() && self.tax_id.is_empty())
    }
}

#[get("/cart")]
pub(super) async fn cart_page(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    show_cart(&req, &state, None, StatusCode::OK).await
}

/// The cart page; `typed` is a billing form sent back with its error. The
/// viewer and the cart load in one trip to the database.
async fn show_cart(
    req: &HttpRequest,
    state: &web::Data<AppState>,
    typed: Option<BillingState>,
    status: StatusCode,
) -> Result<HttpResponse, AppError> {
    let currency = state.settings.currency;
    let session = req.get_session();
    let session = AppSession(&session);
    let applied = session.applied_promo().unwrap_or_default();
    let code = applied.clone();
    let tax = state.settings.tax.clone();
    let (viewer, loaded) = Viewer::with_cart_page(
        req,
        move |conn, viewer| {
            let owner = viewer.cart_owner();
            cart::view_with_promo(conn, &owner, currency, &code, tax.as_ref())
        },
        |(cart, _)| cart.course_ids(),
    )
    .await?;
    let (cart, still_applies) = loaded?;
    let viewer = &viewer;
    // The details came with the session's user (`SessionUsers`).
    let billing = typed.or_else(|| {
        viewer
            .user
            .as_ref()
            .map(|_| BillingState::saved(viewer.billing.clone()))
    });
    // A refusal just made wins; else the applied code, if it no longer
    // fits the cart, says why.
    let (promo_typed, promo_error) = match session.take_promo_refusal() {
        Some((typed, why)) => (typed, Some(why)),
        None => (applied, still_applies.err().map(|r| r.message())),
    };
    render(
        status,
        &CartPage {
            layout: Layout::new(req, viewer),
            cart,
            promo_typed,
            promo_error,
            billing,
        },
    )
}

#[derive(Deserialize)]
struct BillingForm {
    #[serde(default)]
    company: String,
    #[serde(default)]
    address: String,
    #[serde(default)]
    tax_id: String,
}

/// Saves the student's invoice details (all optional): the next order's
/// invoice carries them. A mistake stays on the form with what was typed.
#[post("/cart/billing")]
pub(super) async fn save_billing(
    req: HttpRequest,
    viewer: Viewer,
    state: web::Data<AppState>,
    form: CsrfForm<BillingForm>,
) -> Result<HttpResponse, AppError> {
    let user = viewer.require_login(&req)?.id;
    let form = form.0;
    let text = |value: &str| Some(value.trim().to_owned()).filter(|v| !v.is_empty());
    let checked = TaxId::parse(&form.tax_id).and_then(|tax_id| {
        if form.company.trim().chars().count() > 200 || form.address.trim().chars().count() > 500 {
            return Err(msg!("billing-too-long"));
        }
        Ok(Billing {
            company: text(&form.company),
            address: text(&form.address),
            tax_id: tax_id.map(|t| t.as_str().to_owned()),
        })
    });
    let billing = match checked {
        Ok(billing) => billing,
        Err(error) => {
            let typed = BillingState {
                company: form.company,
                address: form.address,
                tax_id: form.tax_id,
                error: Some(error),
            };
            return show_cart(&req, &state, Some(typed), StatusCode::BAD_REQUEST).await;
        }
    };
    let empty = billing.is_empty();
    with_db(&state, move |conn| {
        billing.save(conn, user, crate::db::now())
    })
    .await??;
    // The cart page shows them from the session's user.
    state.users.forget(user);
    let session = req.get_session();
    AppSession(&session).flash(
        FlashLevel::Success,
        if empty {
            msg!("billing-cleared")
        } else {
            msg!("billing-saved")
        },
    );
    Ok(see_other("/cart"))
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
    let tax = state.settings.tax.clone();
    let (cart, outcome) = with_db(&state, move |conn| {
        cart::view_with_promo(conn, &owner, currency, &code, tax.as_ref())
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
