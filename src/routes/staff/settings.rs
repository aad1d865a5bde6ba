//! The seller's details for invoices, as staff set them: each field set
//! here wins over the configuration (`SELLER_NAME`, `SELLER_ADDRESS`,
//! `SELLER_TAX_ID`, `INVOICE_FOOTER`); an empty one falls back to it.
//! Orders placed from now on copy the result; issued documents keep theirs.

use actix_session::SessionExt;
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, get, post, web};
use askama::Template;
use serde::Deserialize;

use crate::config::Seller;
use crate::domain::TaxId;
use crate::error::AppError;
use crate::i18n::Message;
use crate::models::seller_settings::{LastChange, SellerSettings};
use crate::msg;
use crate::routes::csrf::CsrfForm;
use crate::routes::layout::{Layout, Viewer, render, see_other};
use crate::routes::{AppState, with_db};
use crate::session::{AppSession, FlashLevel};

/// Longest values kept; an address of more lines than this is refused.
const NAME_MAX: usize = 200;
const ADDRESS_MAX: usize = 500;
const ADDRESS_LINES: usize = 8;
const FOOTER_MAX: usize = 500;

#[derive(Deserialize, Default)]
struct SettingsForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    address: String,
    #[serde(default)]
    tax_id: String,
    #[serde(default)]
    footer: String,
}

impl SettingsForm {
    fn from_settings(set: &SellerSettings) -> Self {
        let text = |v: &Option<String>| v.clone().unwrap_or_default();
        Self {
            name: text(&set.name),
            address: text(&set.address),
            tax_id: text(&set.tax_id),
            footer: text(&set.footer),
        }
    }

    /// The settings to keep, or why not.
    fn parse(&self) -> Result<SellerSettings, Message> {
        let text = |value: &str, max: usize| {
            let value = value.trim().replace("\r\n", "\n");
            if value.chars().count() > max {
                return Err(msg!("settings-too-long", max = max));
            }
            Ok(Some(value).filter(|v| !v.is_empty()))
        };
        let address = text(&self.address, ADDRESS_MAX)?;
        if address
            .as_deref()
            .is_some_and(|a| a.lines().count() > ADDRESS_LINES)
        {
            return Err(msg!("settings-address-lines", max = ADDRESS_LINES));
        }
        // Checked where its format is known; kept as typed, as printed.
        TaxId::parse(&self.tax_id)?;
        Ok(SellerSettings {
            name: text(&self.name, NAME_MAX)?,
            address,
            tax_id: text(&self.tax_id, 30)?,
            footer: text(&self.footer, FOOTER_MAX)?,
        })
    }
}

#[derive(Template)]
#[template(path = "staff/settings.html")]
struct SettingsPage {
    layout: Layout,
    form: SettingsForm,
    error: Option<Message>,
    /// As configured: the placeholders, and what an empty field gives.
    configured: Seller,
    /// As the next order will copy it.
    effective: Seller,
    last_change: Option<LastChange>,
}

async fn settings_page(
    req: &HttpRequest,
    viewer: &Viewer,
    state: &AppState,
    typed: Option<(SettingsForm, Message)>,
) -> Result<HttpResponse, AppError> {
    let (saved, last_change) = with_db(state, |conn| {
        Ok::<_, diesel::result::Error>((
            SellerSettings::load(conn)?,
            SellerSettings::last_change(conn)?,
        ))
    })
    .await??;
    let configured = state.settings.seller.clone();
    let effective = configured.with_overrides(&saved);
    let (status, form, error) = match typed {
        Some((form, error)) => (StatusCode::BAD_REQUEST, form, Some(error)),
        None => (StatusCode::OK, SettingsForm::from_settings(&saved), None),
    };
    render(
        status,
        &SettingsPage {
            layout: Layout::new(req, viewer),
            form,
            error,
            configured,
            effective,
            last_change,
        },
    )
}

#[get("/staff/settings")]
pub(super) async fn settings(
    req: HttpRequest,
    viewer: Viewer,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    viewer.require_staff(&req)?;
    settings_page(&req, &viewer, &state, None).await
}

#[post("/staff/settings")]
pub(super) async fn save_settings(
    req: HttpRequest,
    viewer: Viewer,
    state: web::Data<AppState>,
    form: CsrfForm<SettingsForm>,
) -> Result<HttpResponse, AppError> {
    let staff = viewer.require_staff(&req)?.id;
    let form = form.0;
    let seller = match form.parse() {
        Ok(seller) => seller,
        Err(error) => return settings_page(&req, &viewer, &state, Some((form, error))).await,
    };
    with_db(&state, move |conn| {
        seller.save(conn, staff, crate::db::now())
    })
    .await??;
    tracing::info!(staff = ?staff, "seller details changed on the settings page");
    let session = req.get_session();
    AppSession(&session).flash(FlashLevel::Success, msg!("settings-saved"));
    Ok(see_other("/staff/settings"))
}
