//! The invoice history, an order's story, and the refund action.

use actix_session::SessionExt;
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, get, post, web};
use askama::Template;
use serde::Deserialize;

use super::filters;
use crate::domain::{Money, OrderStatus};
use crate::error::AppError;
use crate::i18n::Message;
use crate::msg;
use crate::routes::csrf::CsrfForm;
use crate::routes::layout::{Layout, Viewer, render, see_other};
use crate::routes::{AppState, with_db};
use crate::services::back_office::invoices::{self, OrderStory};
use crate::services::back_office::order_search::{self, OrderFilter, OrderList};
use crate::services::refunds::{self, RefundError, RefundPlan, RefundRequest};
use crate::session::{AppSession, FlashLevel};

#[derive(Template)]
#[template(path = "staff/orders.html")]
struct StaffOrdersPage {
    layout: Layout,
    filter: OrderFilter,
    list: Option<OrderList>,
    error: Option<Message>,
}

impl StaffOrdersPage {
    /// The query string for another page of the same filters.
    fn page_query(&self, page: i64) -> String {
        let f = &self.filter;
        serde_urlencoded::to_string([
            ("status", f.status.as_str()),
            ("from", f.from.as_str()),
            ("to", f.to.as_str()),
            ("email", f.email.as_str()),
            ("number", f.number.as_str()),
            ("promo", f.promo.as_str()),
            ("page", page.to_string().as_str()),
        ])
        .unwrap_or_default()
    }

    fn statuses(&self) -> &'static [OrderStatus] {
        OrderStatus::ALL
    }
}

#[get("/staff/orders")]
pub(super) async fn staff_orders(
    req: HttpRequest,
    viewer: Viewer,
    state: web::Data<AppState>,
    query: web::Query<OrderFilter>,
) -> Result<HttpResponse, AppError> {
    viewer.require_staff(&req)?;
    let filter = query.into_inner();
    let (status, list, error) = match filter.parse() {
        Ok(wanted) => {
            let currency = state.settings.currency;
            let list = with_db(&state, move |conn| {
                order_search::staff_orders(conn, &wanted, currency)
            })
            .await??;
            (StatusCode::OK, Some(list), None)
        }
        Err(message) => (StatusCode::BAD_REQUEST, None, Some(message)),
    };
    render(
        status,
        &StaffOrdersPage {
            layout: Layout::new(&req, &viewer),
            filter,
            list,
            error,
        },
    )
}

#[derive(Template)]
#[template(path = "staff/order.html")]
struct StaffOrderPage {
    layout: Layout,
    story: OrderStory,
    /// What is left to refund; nothing when the order cannot be refunded.
    refundable: Option<Money>,
    refund: RefundFormState,
}

/// The refund form as shown: prefilled, or as typed with what is wrong.
struct RefundFormState {
    amount: String,
    reason: String,
    /// This form's own id: the idempotency key of the refund it asks for.
    request_id: String,
    error: Option<Message>,
}

#[get("/staff/orders/{order_number}")]
pub(super) async fn staff_order(
    req: HttpRequest,
    viewer: Viewer,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    order_page(
        &req,
        &viewer,
        &state,
        path.into_inner(),
        None,
        StatusCode::OK,
    )
    .await
}

/// The order page; `typed` is a refund form sent back with its error.
async fn order_page(
    req: &HttpRequest,
    viewer: &Viewer,
    state: &AppState,
    number: String,
    typed: Option<(RefundForm, Message)>,
    status: StatusCode,
) -> Result<HttpResponse, AppError> {
    let staff = viewer.require_staff(req)?.id;
    let story = with_db(state, move |conn| {
        invoices::order_story(conn, &number, staff)
    })
    .await??
    .ok_or(AppError::NotFound)?;
    let left = refunds::refundable(&story.invoice.view.order);
    let layout = Layout::new(req, viewer);
    let refund = match typed {
        Some((form, error)) => RefundFormState {
            amount: form.amount,
            reason: form.reason,
            request_id: form.request_id.unwrap_or_else(crate::session::new_token),
            error: Some(error),
        },
        None => RefundFormState {
            amount: left.to_major_string_in(layout.i18n.locale),
            reason: String::new(),
            request_id: crate::session::new_token(),
            error: None,
        },
    };
    render(
        status,
        &StaffOrderPage {
            layout,
            refundable: (left.minor > 0).then_some(left),
            refund,
            story,
        },
    )
}

#[derive(Deserialize)]
struct RefundForm {
    #[serde(default)]
    amount: String,
    #[serde(default)]
    reason: String,
    request_id: Option<String>,
    /// `yes`: the staff member saw the confirmation page.
    #[serde(default)]
    confirm: String,
}

#[derive(Template)]
#[template(path = "staff/refund_confirm.html")]
struct RefundConfirmPage {
    layout: Layout,
    plan: RefundPlan,
    /// The amount as the confirmation sends it back.
    amount: String,
    request_id: String,
    what: Message,
    access: Message,
}

/// A refund form: without `confirm=yes`, the page saying what it will do;
/// with it, the provider is asked to refund. The refund row, the order's
/// status and the end of access follow from the provider's
/// `charge.refunded` event.
#[post("/staff/orders/{order_number}/refund")]
pub(super) async fn refund_order(
    req: HttpRequest,
    viewer: Viewer,
    state: web::Data<AppState>,
    path: web::Path<String>,
    form: CsrfForm<RefundForm>,
) -> Result<HttpResponse, AppError> {
    let staff = viewer.require_staff(&req)?;
    let staff_email = staff.email.clone();
    let number = path.into_inner();
    let form = form.0;
    let layout = Layout::new(&req, &viewer);
    let request = RefundRequest {
        number: number.clone(),
        amount: form.amount.clone(),
        reason: form.reason.clone(),
        staff: staff.id,
        request_id: form.request_id.clone(),
        locale: layout.i18n.locale,
    };
    let outcome = if form.confirm == "yes" {
        refunds::request_refund(&state.payments, &state.pool, &state.inbox, request)
            .await
            .map(Ok)
    } else {
        with_db(&state, move |conn| refunds::plan(conn, &request))
            .await?
            .map(Err)
    };
    let session = req.get_session();
    let session = AppSession(&session);
    match outcome {
        Ok(Ok(amount)) => session.flash(
            FlashLevel::Success,
            msg!("refund-requested", amount = amount, staff = staff_email),
        ),
        Ok(Err(plan)) => {
            let courses = plan.courses.join(", ");
            return render(
                StatusCode::OK,
                &RefundConfirmPage {
                    amount: plan.amount.to_major_string_in(layout.i18n.locale),
                    request_id: form.request_id.unwrap_or_else(crate::session::new_token),
                    what: msg!(
                        "refund-confirm-what",
                        amount = plan.amount,
                        email = plan.customer_email.clone(),
                        number = plan.order.number.clone()
                    ),
                    access: if plan.full {
                        msg!("refund-confirm-access-ends", courses = courses)
                    } else {
                        msg!("refund-confirm-access-kept", courses = courses)
                    },
                    layout,
                    plan,
                },
            );
        }
        Err(RefundError::NotFound) => return Err(AppError::NotFound),
        Err(RefundError::Invalid(message)) => {
            return order_page(
                &req,
                &viewer,
                &state,
                number,
                Some((form, message)),
                StatusCode::BAD_REQUEST,
            )
            .await;
        }
        Err(RefundError::NotRefundable(message)) => {
            return order_page(
                &req,
                &viewer,
                &state,
                number,
                Some((form, message)),
                StatusCode::CONFLICT,
            )
            .await;
        }
        Err(RefundError::Provider(e)) => {
            tracing::warn!(error = %e, "refund refused by the provider");
            session.flash(
                FlashLevel::Error,
                msg!("refund-provider-refused", reason = e.to_string()),
            );
        }
        Err(RefundError::Database(e)) => return Err(e.into()),
        Err(RefundError::Unavailable(e)) => return Err(e.into()),
    }
    Ok(see_other(&format!("/staff/orders/{number}")))
}
