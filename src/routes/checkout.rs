//! Checkout: place the order, pay (Stripe Elements or the sandbox card
//! form), and the return page.

use actix_session::SessionExt;
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, get, post, web};
use askama::Template;
use serde::Deserialize;

use super::csrf::CsrfForm;
use super::layout::{Layout, Viewer, render, see_other};
use super::{AppState, with_db};
use crate::config::PaymentSettings;
use crate::error::AppError;
use crate::models::UserId;
use crate::models::order::{CANCELED, PAID, PENDING};
use crate::payments::{IntentStatus, Payments, ProviderIntent};
use crate::services::checkout::{
    self, CheckoutError, CheckoutOutcome, CheckoutRequest, OrderView, StartPaymentError,
};
use crate::services::fulfillment::{self, FulfillOutcome};
use crate::session::{AppSession, FlashLevel};

/// Shown when the provider cannot be reached or refuses; the order stays
/// pending and the student can simply try again.
const PAYMENT_NOT_STARTED: &str =
    "Payment could not be started. Your order is saved; please try again in a moment.";

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
    let Some(user) = &viewer.user else {
        session.flash(
            FlashLevel::Info,
            "Log in or create an account to check out; your cart comes with you.",
        );
        return Ok(see_other("/login?next=%2Fcart"));
    };
    let request = CheckoutRequest {
        user_id: user.id,
        promo_code: form.0.promo_code,
        currency: state.settings.currency,
        provider: state.payments.name(),
    };
    let outcome = with_db(&state, move |conn| checkout::place_order(conn, &request)).await?;
    let placed = match outcome {
        Ok(CheckoutOutcome::Placed(placed)) => placed,
        Ok(CheckoutOutcome::EmptyCart { removed_owned }) => {
            flash_removed(&session, &removed_owned);
            session.flash(FlashLevel::Info, "Your cart is empty: add a course first.");
            return Ok(see_other("/cart"));
        }
        Err(CheckoutError::Promo(rejection)) => {
            session.flash(FlashLevel::Error, rejection.to_string());
            return Ok(see_other("/cart"));
        }
        Err(CheckoutError::Database(e)) => return Err(e.into()),
    };
    flash_removed(&session, &placed.removed_owned);
    for intent in &placed.superseded_intents {
        if let Err(e) = state
            .payments
            .cancel_intent(intent, crate::payments::CancelReason::Duplicate)
            .await
        {
            tracing::warn!(stripe.payment_intent = %intent, error = %e, "could not cancel a superseded PaymentIntent");
        }
    }
    let order = placed.order;
    tracing::info!(order.id = %order.id, order.number = %order.number, reused = placed.reused, "checkout");
    if order.status == PAID {
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
            format!(
                "You already own {}, so we took it out of your cart.",
                removed.join(", ")
            ),
        );
    }
}

async fn load_order(
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

/// How the page takes the card.
enum PaymentForm {
    /// Stripe's Card Element.
    Stripe {
        publishable_key: String,
        js_url: String,
        client_secret: String,
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
    error: Option<String>,
}

fn payment_form(payments: &Payments, state: &AppState, intent: &ProviderIntent) -> PaymentForm {
    match (payments, &state.settings.payments) {
        (Payments::Stripe(_), PaymentSettings::Stripe(stripe)) => PaymentForm::Stripe {
            publishable_key: stripe.publishable_key.clone(),
            js_url: stripe.js_url.clone(),
            client_secret: intent.client_secret.clone().unwrap_or_default(),
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

async fn render_payment_page(
    req: &HttpRequest,
    viewer: &Viewer,
    state: &AppState,
    view: OrderView,
    card_error: Option<String>,
) -> Result<HttpResponse, AppError> {
    let card_form_invalid = card_error.is_some();
    let complete = format!("/checkout/{}/complete", view.order.number);
    if view.order.status != PENDING && view.order.status != CANCELED {
        return Ok(see_other(&complete));
    }
    let (form, error) = if view.order.status == CANCELED {
        (PaymentForm::Closed, None)
    } else {
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
                    (intent.status == IntentStatus::RequiresPaymentMethod)
                        .then(|| intent.last_error.clone())
                        .flatten()
                });
                (payment_form(&state.payments, state, &intent), error)
            }
            Err(StartPaymentError::NotPending) => return Ok(see_other(&complete)),
            Err(e) => {
                tracing::warn!(order.id = %view.order.id, error = %e, "payment could not be started");
                (
                    PaymentForm::Unavailable,
                    Some(PAYMENT_NOT_STARTED.to_owned()),
                )
            }
        }
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

#[derive(Deserialize)]
struct CardForm {
    #[serde(default)]
    card_number: String,
    #[serde(default)]
    expiry: String,
    #[serde(default)]
    cvc: String,
}

/// The sandbox card form's submit: `confirmCardPayment`, sandbox edition.
#[post("/checkout/{order_number}/sandbox")]
pub(super) async fn sandbox_pay(
    req: HttpRequest,
    viewer: Viewer,
    state: web::Data<AppState>,
    path: web::Path<String>,
    form: CsrfForm<CardForm>,
) -> Result<HttpResponse, AppError> {
    let Payments::Sandbox(sandbox) = &state.payments else {
        return Err(AppError::NotFound);
    };
    let user_id = viewer.require_login(&req)?.id;
    let view = load_order(&state, path.into_inner(), user_id).await?;
    let card = crate::payments::sandbox::TestCard {
        number: form.0.card_number,
        expiry: form.0.expiry,
        cvc: form.0.cvc,
    };
    let number = match card.validate() {
        Ok(number) => number,
        Err(message) => {
            return render_payment_page(&req, &viewer, &state, view, Some(message)).await;
        }
    };
    let Some(intent_id) = view.order.payment_intent_id.clone() else {
        return render_payment_page(&req, &viewer, &state, view, None).await;
    };
    let intent = sandbox
        .confirm_with_card(&intent_id, &number)
        .await
        .map_err(|e| AppError::Internal(anyhow::Error::new(e)))?;
    tracing::info!(order.id = %view.order.id, sandbox.status = intent.status.as_str(), "sandbox card confirmed");
    Ok(after_sandbox_step(&state, &view.order.number, &intent).await)
}

/// After a sandbox step: tell the shop (a signed event), then show the
/// result page if it succeeded, or the payment page (error, 3-D Secure).
async fn after_sandbox_step(
    state: &AppState,
    number: &str,
    intent: &ProviderIntent,
) -> HttpResponse {
    deliver_sandbox_event(state, intent).await;
    match intent.status {
        IntentStatus::Succeeded => see_other(&format!("/checkout/{number}/complete")),
        _ => see_other(&format!("/checkout/{number}")),
    }
}

/// The sandbox tells the shop what happened the way Stripe does: a signed
/// event through the webhook handler. A failed delivery is only logged:
/// the return page and the reconciliation sweep fulfil from the intent.
async fn deliver_sandbox_event(state: &AppState, intent: &ProviderIntent) {
    let kind = match intent.status {
        IntentStatus::Succeeded => "payment_intent.succeeded",
        IntentStatus::RequiresPaymentMethod if intent.last_error.is_some() => {
            "payment_intent.payment_failed"
        }
        _ => return,
    };
    let body = crate::payments::sandbox::event_for(intent, kind);
    let signature = crate::payments::webhook::sign(
        body.as_bytes(),
        &state.settings.webhook_secret(),
        chrono::Utc::now().timestamp(),
    );
    match super::webhooks::deliver(state, Some(&signature), body.as_bytes()).await {
        Ok(response) if response.status().is_success() => {}
        Ok(response) => tracing::warn!(status = %response.status(), "sandbox event not accepted"),
        Err(e) => tracing::warn!(error = %e, "sandbox event delivery failed"),
    }
}

#[derive(Deserialize)]
struct AuthenticateForm {
    #[serde(default)]
    decision: String,
}

/// The sandbox's 3-D Secure challenge: approve or fail it.
#[post("/checkout/{order_number}/sandbox/authenticate")]
pub(super) async fn sandbox_authenticate(
    req: HttpRequest,
    viewer: Viewer,
    state: web::Data<AppState>,
    path: web::Path<String>,
    form: CsrfForm<AuthenticateForm>,
) -> Result<HttpResponse, AppError> {
    let Payments::Sandbox(sandbox) = &state.payments else {
        return Err(AppError::NotFound);
    };
    let approve = match form.0.decision.as_str() {
        "approve" => true,
        "fail" => false,
        _ => {
            return Err(AppError::BadRequest(
                "Choose to complete or fail the authentication.".into(),
            ));
        }
    };
    let user_id = viewer.require_login(&req)?.id;
    let view = load_order(&state, path.into_inner(), user_id).await?;
    let intent_id = view
        .order
        .payment_intent_id
        .clone()
        .ok_or(AppError::NotFound)?;
    let intent = sandbox
        .authenticate(&intent_id, approve)
        .await
        .map_err(|e| AppError::Internal(anyhow::Error::new(e)))?;
    Ok(after_sandbox_step(&state, &view.order.number, &intent).await)
}

/// The return page's three answers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum PaymentOutcome {
    Paid,
    Processing,
    Failed,
    Canceled,
}

async fn fulfill_from_intent(
    state: &AppState,
    intent: &ProviderIntent,
) -> Result<FulfillOutcome, AppError> {
    let intent = intent.clone();
    let outcome = with_db(state, move |conn| {
        fulfillment::fulfill_payment(conn, &(&intent).into())
    })
    .await?;
    outcome.map_err(|e| {
        tracing::warn!(error = %e, "fulfilment from the return page failed");
        AppError::Internal(anyhow::Error::new(e))
    })
}

#[derive(Template)]
#[template(path = "checkout/complete.html")]
struct CompletePage {
    layout: Layout,
    view: OrderView,
    outcome: PaymentOutcome,
    message: Option<String>,
}

impl CompletePage {
    fn outcome_class(&self) -> &'static str {
        match self.outcome {
            PaymentOutcome::Paid => "paid",
            PaymentOutcome::Processing => "processing",
            PaymentOutcome::Failed => "failed",
            PaymentOutcome::Canceled => "canceled",
        }
    }
}

#[get("/checkout/{order_number}/complete")]
pub(super) async fn complete_page(
    req: HttpRequest,
    viewer: Viewer,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let user_id = viewer.require_login(&req)?.id;
    let view = load_order(&state, path.into_inner(), user_id).await?;
    let (outcome, message) = match view.order.status.as_str() {
        PENDING => match &view.order.payment_intent_id {
            None => (PaymentOutcome::Failed, Some(PAYMENT_NOT_STARTED.to_owned())),
            Some(id) => match state.payments.retrieve_intent(id).await {
                // Fulfilment (the order turning paid) follows the provider's
                // signed webhook; until then the payment is "processing".
                Ok(intent) => match intent.status {
                    // A late webhook must not keep the student waiting: the
                    // same idempotent fulfilment, from the intent itself.
                    IntentStatus::Succeeded => match fulfill_from_intent(&state, &intent).await {
                        Ok(FulfillOutcome::Fulfilled | FulfillOutcome::AlreadyPaid) => {
                            (PaymentOutcome::Paid, None)
                        }
                        Ok(FulfillOutcome::Mismatch(_)) => (
                            PaymentOutcome::Processing,
                            Some("Our team is checking this payment and will be in touch.".into()),
                        ),
                        Ok(FulfillOutcome::NotSucceeded) | Err(_) => {
                            (PaymentOutcome::Processing, None)
                        }
                    },
                    IntentStatus::Processing | IntentStatus::RequiresCapture => {
                        (PaymentOutcome::Processing, None)
                    }
                    IntentStatus::Canceled => (PaymentOutcome::Canceled, None),
                    _ => (
                        PaymentOutcome::Failed,
                        Some(
                            intent
                                .last_error
                                .unwrap_or_else(|| "The payment was not completed.".into()),
                        ),
                    ),
                },
                Err(e) => {
                    tracing::warn!(order.id = %view.order.id, error = %e, "could not retrieve the PaymentIntent");
                    (PaymentOutcome::Processing, None)
                }
            },
        },
        CANCELED => (PaymentOutcome::Canceled, None),
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
