//! The sandbox provider's own pages: its card form's submit and its
//! 3-D Secure step. Only served when the shop runs without Stripe keys.

use actix_web::{HttpRequest, HttpResponse, post, web};
use serde::Deserialize;

use super::AppState;
use super::checkout::{load_order, render_payment_page};
use super::csrf::CsrfForm;
use super::layout::{Viewer, see_other};
use crate::domain::IntentStatus;
use crate::error::AppError;
use crate::payments::{Payments, ProviderIntent};
use crate::services::checkout::{self, SandboxStep};

#[derive(Deserialize)]
struct CardForm {
    #[serde(default)]
    card_number: String,
    #[serde(default)]
    expiry: String,
    #[serde(default)]
    cvc: String,
}

/// The sandbox card form's submit: `confirmPayment`, sandbox edition.
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
    let intent = checkout::pay_in_sandbox(
        sandbox,
        &state.pool,
        &state.inbox,
        &intent_id,
        SandboxStep::Card(&number),
    )
    .await
    .map_err(|e| AppError::Internal(anyhow::Error::new(e)))?;
    tracing::info!(order.id = %view.order.id, sandbox.status = %intent.status, "sandbox card confirmed");
    Ok(after_sandbox_step(&view.order.number, &intent))
}

/// After a sandbox step: the result page if it succeeded, or the payment
/// page (an error, the 3-D Secure step).
fn after_sandbox_step(number: &str, intent: &ProviderIntent) -> HttpResponse {
    match intent.status {
        IntentStatus::Succeeded => see_other(&format!("/checkout/{number}/complete")),
        _ => see_other(&format!("/checkout/{number}")),
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
            return Err(AppError::BadRequest(crate::msg!("pay-3ds-choose")));
        }
    };
    let user_id = viewer.require_login(&req)?.id;
    let view = load_order(&state, path.into_inner(), user_id).await?;
    let intent_id = view
        .order
        .payment_intent_id
        .clone()
        .ok_or(AppError::NotFound)?;
    let intent = checkout::pay_in_sandbox(
        sandbox,
        &state.pool,
        &state.inbox,
        &intent_id,
        SandboxStep::Authenticate { approve },
    )
    .await
    .map_err(|e| AppError::Internal(anyhow::Error::new(e)))?;
    Ok(after_sandbox_step(&view.order.number, &intent))
}
