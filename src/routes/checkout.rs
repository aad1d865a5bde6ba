//! Checkout: place the order, pay (Stripe's Payment Element or the sandbox
//! card form), and the return page.

use actix_session::SessionExt;
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, get, post, web};
use askama::Template;
use serde::Deserialize;

use super::csrf::CsrfForm;
use super::layout::{Layout, Viewer, render, see_other};
use super::{AppState, with_db};
use crate::config::PaymentSettings;
use crate::domain::{IntentStatus, OrderStatus};
use crate::error::AppError;
use crate::i18n::Message;
use crate::models::UserId;
use crate::models::order::Order;
use crate::msg;
use crate::payments::{Payments, ProviderIntent};
use crate::services::checkout::{self, Checkout, StartPaymentError};
use crate::services::order_lifecycle::{self as lifecycle, CheckoutError, FulfillOutcome};
use crate::services::orders::OrderView;
use crate::session::{AppSession, FlashLevel};

/// Shown when the provider cannot be reached or refuses; the order stays
/// pending and the student can simply try again.
fn payment_not_started() -> Message {
    msg!("pay-not-started")
}

/// Why the last attempt failed, in the reader's language: by the
/// provider's code where we know it, else the provider's own words.
fn decline(intent: &ProviderIntent) -> Message {
    let id = match intent.last_error_code.as_deref() {
        Some("insufficient_funds") => "payment-insufficient-funds",
        Some("expired_card") => "payment-expired-card",
        Some("incorrect_cvc" | "invalid_cvc") => "payment-incorrect-cvc",
        Some("payment_intent_authentication_failure" | "authentication_required") => {
            "payment-authentication-failed"
        }
        Some("sandbox_test_cards_only") => "payment-sandbox-test-cards",
        Some(
            "card_declined" | "generic_decline" | "do_not_honor" | "lost_card" | "stolen_card"
            | "fraudulent" | "pickup_card" | "restricted_card",
        ) => "payment-declined",
        _ => {
            return match &intent.last_error {
                Some(text) => msg!("payment-declined-other", reason = text.as_str()),
                None => msg!("payment-not-completed"),
            };
        }
    };
    Message::new(id)
}

#[derive(Deserialize)]
struct CheckoutForm {
    promo_code: Option<String>,
}

#[post("/checkout")]
pub(super) async fn start_checkout(
    req: HttpRequest,
    viewer: Viewer,
    state: web::Data<AppState>,
    form: CsrfForm<CheckoutForm>,
) -> Result<HttpResponse, AppError> {
    let session = req.get_session();
    let session = AppSession(&session);
    let typed = form.0.promo_code.filter(|c| !c.trim().is_empty());
    let Some(user) = &viewer.user else {
        // A guest signs up (or logs in) and comes back to the cart, the
        // code they typed applied there.
        if let Some(code) = &typed {
            session.apply_promo(code.trim());
        }
        session.flash(FlashLevel::Info, msg!("checkout-log-in-first"));
        return Ok(see_other("/register?next=%2Fcart"));
    };
    // The code typed here, else the one applied in the cart.
    let promo = typed.or_else(|| session.applied_promo());
    let outcome = checkout::check_out(
        &state.payments,
        &state.pool,
        user.id,
        promo,
        state.settings.currency,
        (&state.settings.seller, state.settings.tax.as_ref()),
    )
    .await;
    let placed = match outcome {
        Ok(Checkout::Placed(placed)) => placed,
        Ok(Checkout::EmptyCart { removed_owned }) => {
            flash_removed(&session, &removed_owned);
            session.flash(FlashLevel::Info, msg!("checkout-cart-empty"));
            return Ok(see_other("/cart"));
        }
        Ok(Checkout::PaymentInProgress(order)) => {
            session.flash(
                FlashLevel::Info,
                msg!(
                    "checkout-payment-in-progress",
                    number = order.number.clone()
                ),
            );
            return Ok(see_other(&format!("/checkout/{}/complete", order.number)));
        }
        Err(StartPaymentError::Checkout(
            refusal @ (CheckoutError::Promo(_)
            | CheckoutError::OtherCurrency(_)
            | CheckoutError::Withdrawn(_)
            | CheckoutError::BelowMinimumCharge(_)),
        )) => {
            session.flash(FlashLevel::Error, refusal.message());
            return Ok(see_other("/cart"));
        }
        Err(StartPaymentError::Checkout(CheckoutError::Database(e)))
        | Err(StartPaymentError::Database(e)) => return Err(e.into()),
        Err(StartPaymentError::Unavailable(e)) => return Err(e.into()),
        Err(e) => {
            // An older order could not be settled at the provider: nothing
            // was changed, and nothing is charged twice.
            tracing::warn!(error = %e, "checkout could not settle an older order");
            return Err(AppError::Unavailable(e.to_string()));
        }
    };
    flash_removed(&session, &placed.removed_owned);
    // The code is on the order now; the cart starts afresh.
    session.clear_promo();
    let order = placed.order;
    tracing::info!(order.id = %order.id, order.number = %order.number, reused = placed.reused, "checkout");
    if order.status == OrderStatus::Paid {
        return Ok(see_other(&format!("/checkout/{}/complete", order.number)));
    }
    // The payment page starts the PaymentIntent if this fails; the order
    // is saved either way.
    if let Err(e) = checkout::ensure_payment_intent(&state.payments, &state.pool, &order).await {
        tracing::warn!(order.id = %order.id, error = %e, "payment could not be started");
    }
    Ok(see_other(&format!("/checkout/{}", order.number)))
}

fn flash_removed(session: &AppSession<'_>, removed: &[String]) {
    if !removed.is_empty() {
        session.flash(
            FlashLevel::Info,
            msg!("cart-owned-taken-out", titles = removed.join(", ")),
        );
    }
}

pub(super) async fn load_order(
    state: &AppState,
    number: String,
    user_id: UserId,
) -> Result<OrderView, AppError> {
    with_db(state, move |conn| {
        OrderView::load_for_user(conn, &number, user_id)
    })
    .await??
    .ok_or(AppError::NotFound)
}

/// How the page takes the payment.
enum PaymentForm {
    /// Stripe's Payment Element.
    Stripe {
        publishable_key: String,
        js_url: String,
        client_secret: String,
        /// Absolute: Stripe sends the student back here.
        return_url: String,
    },
    /// The built-in test card form, or its 3-D Secure step.
    Sandbox { authenticate: bool },
    /// The provider could not be reached: nothing to pay with right now.
    Unavailable,
    /// Nothing to pay: the order is canceled.
    Closed,
}

#[derive(Template)]
#[template(path = "checkout/pay.html")]
struct PaymentPage {
    layout: Layout,
    view: OrderView,
    form: PaymentForm,
    error: Option<Message>,
}

fn payment_form(state: &AppState, view: &OrderView, intent: &ProviderIntent) -> PaymentForm {
    match (&state.payments, &state.settings.payments) {
        (Payments::Stripe(_), PaymentSettings::Stripe(stripe)) => PaymentForm::Stripe {
            publishable_key: stripe.publishable_key.clone(),
            js_url: stripe.js_url.clone(),
            client_secret: intent.client_secret.clone().unwrap_or_default(),
            return_url: format!(
                "{}/checkout/{}/complete",
                state.settings.public_url, view.order.number
            ),
        },
        _ => PaymentForm::Sandbox {
            authenticate: intent.status == IntentStatus::RequiresAction,
        },
    }
}

#[get("/checkout/{order_number}")]
pub(super) async fn payment_page(
    req: HttpRequest,
    viewer: Viewer,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let user_id = viewer.require_login(&req)?.id;
    let view = load_order(&state, path.into_inner(), user_id).await?;
    render_payment_page(&req, &viewer, &state, view, None).await
}

pub(super) async fn render_payment_page(
    req: &HttpRequest,
    viewer: &Viewer,
    state: &AppState,
    view: OrderView,
    card_error: Option<Message>,
) -> Result<HttpResponse, AppError> {
    let card_form_invalid = card_error.is_some();
    let complete = format!("/checkout/{}/complete", view.order.number);
    let (form, error) = match view.order.status {
        OrderStatus::Canceled => (PaymentForm::Closed, None),
        OrderStatus::Pending => {
            // Someone is here to pay: the sweep leaves the order alone.
            let id = view.order.id;
            with_db(state, move |conn| Order::touch(conn, id, crate::db::now())).await??;
            match checkout::ensure_payment_intent(&state.payments, &state.pool, &view.order).await {
                Ok(intent)
                    if matches!(
                        intent.status,
                        IntentStatus::Succeeded | IntentStatus::Processing
                    ) =>
                {
                    return Ok(see_other(&complete));
                }
                Ok(intent) => {
                    let error = card_error.or_else(|| {
                        (intent.status == IntentStatus::RequiresPaymentMethod
                            && intent.last_error.is_some())
                        .then(|| decline(&intent))
                    });
                    (payment_form(state, &view, &intent), error)
                }
                Err(StartPaymentError::NotPending) => return Ok(see_other(&complete)),
                Err(e) => {
                    tracing::warn!(order.id = %view.order.id, error = %e, "payment could not be started");
                    (PaymentForm::Unavailable, Some(payment_not_started()))
                }
            }
        }
        _ => return Ok(see_other(&complete)),
    };
    // A declined card is a normal page with a message; only a card form
    // that could not be read is the student's bad input.
    let status = if matches!(form, PaymentForm::Unavailable) {
        StatusCode::SERVICE_UNAVAILABLE
    } else if card_form_invalid {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    let mut response = render(
        status,
        &PaymentPage {
            layout: Layout::new(req, viewer),
            view,
            form,
            error,
        },
    )?;
    // The page holds a client secret: keep it out of caches.
    response.headers_mut().insert(
        actix_web::http::header::CACHE_CONTROL,
        actix_web::http::header::HeaderValue::from_static("no-store"),
    );
    Ok(response)
}

/// The return page's answers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum PaymentOutcome {
    Paid,
    /// Received, being confirmed (a late webhook, a flagged payment).
    Processing,
    /// A payment method that settles later (a bank debit) is settling.
    Settling,
    /// The bank asks the student to confirm.
    NeedsAction,
    Failed,
    Canceled,
}

impl PaymentOutcome {
    fn as_class(self) -> &'static str {
        match self {
            Self::Paid => "done",
            Self::Processing => "waiting",
            Self::Settling => "settling",
            Self::NeedsAction => "action",
            Self::Failed => "declined",
            Self::Canceled => "closed",
        }
    }
}

#[derive(Template)]
#[template(path = "checkout/complete.html")]
struct CompletePage {
    layout: Layout,
    view: OrderView,
    outcome: PaymentOutcome,
    message: Option<Message>,
}

/// Where Stripe sends the student back (`?payment_intent=...&
/// redirect_status=...`). Nothing in the query is trusted: the order's own
/// intent is asked of the provider, and a success is fulfilled through the
/// one idempotent `fulfill`.
#[get("/checkout/{order_number}/complete")]
pub(super) async fn complete_page(
    req: HttpRequest,
    viewer: Viewer,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let user_id = viewer.require_login(&req)?.id;
    let view = load_order(&state, path.into_inner(), user_id).await?;
    let (outcome, message) = match view.order.status {
        OrderStatus::Pending => match &view.order.payment_intent_id {
            None => (PaymentOutcome::Failed, Some(payment_not_started())),
            Some(id) => match state.payments.retrieve_intent(id).await {
                Ok(intent) => outcome_of(&state, intent).await,
                Err(e) => {
                    tracing::warn!(order.id = %view.order.id, error = %e, "could not retrieve the PaymentIntent");
                    (PaymentOutcome::Processing, None)
                }
            },
        },
        OrderStatus::Canceled => (PaymentOutcome::Canceled, None),
        _ => (PaymentOutcome::Paid, None),
    };
    render(
        StatusCode::OK,
        &CompletePage {
            layout: Layout::new(&req, &viewer),
            view,
            outcome,
            message,
        },
    )
}

/// What the intent of a pending order says, after fulfilling a success.
async fn outcome_of(state: &AppState, intent: ProviderIntent) -> (PaymentOutcome, Option<Message>) {
    match intent.status {
        // A late webhook must not keep the student waiting: the same
        // idempotent fulfilment, from the intent itself.
        IntentStatus::Succeeded => {
            let fulfilled = with_db(state, move |conn| {
                lifecycle::fulfill_payment(conn, &(&intent).into())
            })
            .await;
            match fulfilled {
                Ok(Ok(FulfillOutcome::Fulfilled | FulfillOutcome::AlreadyPaid)) => {
                    (PaymentOutcome::Paid, None)
                }
                Ok(Ok(FulfillOutcome::Mismatch(_))) => {
                    (PaymentOutcome::Processing, Some(msg!("complete-checking")))
                }
                Ok(Ok(FulfillOutcome::NotSucceeded)) | Ok(Err(_)) | Err(_) => {
                    (PaymentOutcome::Processing, None)
                }
            }
        }
        // Bank debits settle in days: the order stays pending, and the
        // sweep does not cancel a processing payment.
        IntentStatus::Processing => (PaymentOutcome::Settling, None),
        IntentStatus::RequiresCapture => (PaymentOutcome::Processing, None),
        IntentStatus::RequiresAction => (PaymentOutcome::NeedsAction, None),
        IntentStatus::Canceled => (PaymentOutcome::Canceled, None),
        _ => (PaymentOutcome::Failed, Some(decline(&intent))),
    }
}
