//! Promo codes: the list with their use, create, deactivate.

use actix_session::SessionExt;
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, get, post, web};
use askama::Template;
use serde::Deserialize;

use crate::domain::PromoKind;
use crate::error::AppError;
use crate::i18n::Message;
use crate::models::PromoCodeId;
use crate::models::course::Course;
use crate::msg;
use crate::routes::csrf::{CsrfForm, NoFields};
use crate::routes::layout::{Layout, Viewer, render, see_other};
use crate::routes::{AppState, with_db};
use crate::services::promo_admin::{self, PromoAdminError, PromoInput, PromoRow};
use crate::session::{AppSession, FlashLevel};

#[derive(Template)]
#[template(path = "staff/promo_codes.html")]
struct PromoCodesPage {
    layout: Layout,
    codes: Vec<PromoRow>,
    courses: Vec<Course>,
    error: Option<Message>,
}

impl PromoCodesPage {
    fn kinds(&self) -> &'static [PromoKind] {
        PromoKind::ALL
    }

    /// The limits of a code, in a few words ("1 per student, min. $50.00").
    fn conditions(&self, row: &PromoRow) -> String {
        let l = &self.layout;
        let mut parts = Vec::new();
        if let Some(limit) = row.promo.per_user_limit {
            parts.push(l.t1("promo-per-student", "limit", limit));
        }
        if let Some(minimum) = row.min_subtotal() {
            parts.push(l.t1("promo-min", "amount", minimum));
        }
        if row.course_count > 0 {
            parts.push(l.t1("promo-courses-only", "count", row.course_count));
        }
        if parts.is_empty() {
            "—".into()
        } else {
            parts.join(", ")
        }
    }
}

async fn promo_page(
    req: &HttpRequest,
    viewer: &Viewer,
    state: &AppState,
    status: StatusCode,
    error: Option<Message>,
) -> Result<HttpResponse, AppError> {
    let currency = state.settings.currency;
    let (codes, courses) = with_db(state, move |conn| {
        Ok::<_, diesel::result::Error>((
            promo_admin::list(conn, currency)?,
            Course::all_published(conn)?,
        ))
    })
    .await??;
    render(
        status,
        &PromoCodesPage {
            layout: Layout::new(req, viewer),
            codes,
            courses,
            error,
        },
    )
}

#[get("/staff/promo-codes")]
pub(super) async fn promo_codes(
    req: HttpRequest,
    viewer: Viewer,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    viewer.require_staff(&req)?;
    promo_page(&req, &viewer, &state, StatusCode::OK, None).await
}

#[derive(Deserialize, Default)]
struct PromoForm {
    #[serde(default)]
    code: String,
    #[serde(default)]
    kind: String,
    #[serde(default)]
    percent: String,
    #[serde(default)]
    amount: String,
    #[serde(default)]
    starts_at: String,
    #[serde(default)]
    ends_at: String,
    #[serde(default)]
    max_redemptions: String,
    #[serde(default)]
    per_user_limit: String,
    #[serde(default)]
    min_subtotal: String,
    #[serde(default)]
    course_ids: Vec<String>,
}

#[post("/staff/promo-codes")]
pub(super) async fn create_promo_code(
    req: HttpRequest,
    viewer: Viewer,
    state: web::Data<AppState>,
    form: CsrfForm<PromoForm>,
) -> Result<HttpResponse, AppError> {
    viewer.require_staff(&req)?;
    let f = form.0;
    let input = PromoInput {
        code: f.code,
        kind: f.kind,
        percent: f.percent,
        amount: f.amount,
        starts_at: f.starts_at,
        ends_at: f.ends_at,
        max_redemptions: f.max_redemptions,
        per_user_limit: f.per_user_limit,
        min_subtotal: f.min_subtotal,
        course_ids: f.course_ids,
        locale: viewer.locale,
    };
    let currency = state.settings.currency;
    let code = input.code.trim().to_uppercase();
    match with_db(&state, move |conn| {
        promo_admin::create_promo_code(conn, &input, currency)
    })
    .await?
    {
        Ok(_) => {
            let session = req.get_session();
            AppSession(&session).flash(FlashLevel::Success, msg!("promo-created", code = code));
            Ok(see_other("/staff/promo-codes"))
        }
        Err(PromoAdminError::Invalid(message)) => {
            promo_page(
                &req,
                &viewer,
                &state,
                StatusCode::BAD_REQUEST,
                Some(message),
            )
            .await
        }
        Err(PromoAdminError::Database(e)) => Err(e.into()),
    }
}

#[post("/staff/promo-codes/{id}/deactivate")]
pub(super) async fn deactivate_promo_code(
    req: HttpRequest,
    viewer: Viewer,
    state: web::Data<AppState>,
    path: web::Path<String>,
    _form: CsrfForm<NoFields>,
) -> Result<HttpResponse, AppError> {
    viewer.require_staff(&req)?;
    let id = path
        .trim()
        .parse::<i64>()
        .map(PromoCodeId)
        .map_err(|_| AppError::BadRequest(msg!("promo-bad-id")))?;
    if !with_db(&state, move |conn| promo_admin::deactivate(conn, id)).await?? {
        return Err(AppError::NotFound);
    }
    let session = req.get_session();
    AppSession(&session).flash(FlashLevel::Info, msg!("promo-deactivated"));
    Ok(see_other("/staff/promo-codes"))
}
