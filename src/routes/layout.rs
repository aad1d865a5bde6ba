//! What every page shares: who is looking ([`Viewer`]), the navbar and
//! flash data ([`Layout`]), rendering, the error pages, and the security
//! headers.

use actix_session::SessionExt;
use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;

use super::AppState;
use crate::config::Settings;
use crate::domain::{Locale, Money};
use crate::error::AppError;
use crate::i18n::{Arg, Fetch, I18n, Message};
use crate::session::{AppSession, Flash};

pub use super::viewer::{LANG_COOKIE, Viewer, request_locale};

/// The navbar's view of the user.
#[derive(Clone, Debug)]
pub struct NavUser {
    pub name: String,
    pub is_staff: bool,
}

/// Everything `base.html` needs. Every page template has a `layout` field.
#[derive(Clone, Debug)]
pub struct Layout {
    pub user: Option<NavUser>,
    pub cart_count: usize,
    pub csrf_token: String,
    pub flashes: Vec<Flash>,
    pub sandbox: bool,
    /// The request path, to mark the current navbar entry.
    pub path: String,
    /// The shop's currency code, for amount fields.
    pub currency_code: &'static str,
    /// The page's language.
    pub i18n: I18n,
}

impl Layout {
    /// The layout for a normal page; takes the pending flash messages.
    pub fn new(req: &HttpRequest, viewer: &Viewer) -> Self {
        let session = req.get_session();
        let flashes = AppSession(&session).take_flashes();
        Self::build(req, viewer, flashes)
    }

    /// The layout for an error page: flash messages stay for the next page.
    pub(super) fn for_error(req: &HttpRequest, viewer: &Viewer) -> Self {
        Self::build(req, viewer, Vec::new())
    }

    fn build(req: &HttpRequest, viewer: &Viewer, flashes: Vec<Flash>) -> Self {
        let session = req.get_session();
        let state = req.app_data::<web::Data<AppState>>();
        let sandbox = state.is_none_or(|state| state.settings.is_sandbox());
        let currency_code = state.map_or("USD", |state| state.settings.currency.code());
        Self {
            user: viewer.user.as_ref().map(|u| NavUser {
                name: u.name.clone(),
                is_staff: u.is_staff(),
            }),
            cart_count: viewer.cart_course_ids.len(),
            csrf_token: AppSession(&session).csrf_token(),
            flashes,
            sandbox,
            path: req.path().to_owned(),
            currency_code,
            i18n: viewer.i18n(),
        }
    }

    /// The languages for the footer's switcher.
    pub fn locales(&self) -> &'static [Locale] {
        Locale::ALL
    }

    // The words of the page, through its language (see [`I18n`]); the
    // same names serve mail templates, whose `layout` is an `I18n`.

    pub fn lang(&self) -> &'static str {
        self.i18n.lang()
    }

    /// The URL of a static file (`css/app.css`), named by its content.
    pub fn asset(&self, path: &str) -> String {
        super::assets::url(path)
    }

    pub fn t(&self, id: &str) -> String {
        self.i18n.t(id)
    }

    pub fn t1(&self, id: &str, name: &'static str, value: impl Into<Arg>) -> String {
        self.i18n.t1(id, name, value)
    }

    pub fn t2(
        &self,
        id: &str,
        name: &'static str,
        value: impl Into<Arg>,
        name2: &'static str,
        value2: impl Into<Arg>,
    ) -> String {
        self.i18n.t2(id, name, value, name2, value2)
    }

    pub fn message(&self, message: &Message) -> String {
        self.i18n.message(message)
    }

    pub fn label(&self, message_id: impl AsRef<str>) -> String {
        self.i18n.label(message_id)
    }

    pub fn money(&self, money: impl Fetch<Money>) -> String {
        self.i18n.money(money)
    }

    pub fn date(&self, at: impl Fetch<chrono::NaiveDateTime>) -> String {
        self.i18n.date(at)
    }

    pub fn datetime(&self, at: impl Fetch<chrono::NaiveDateTime>) -> String {
        self.i18n.datetime(at)
    }

    pub fn percent(&self, basis_points: impl Fetch<i32>) -> String {
        self.i18n.percent(basis_points)
    }

    pub fn is_current(&self, prefix: &str) -> bool {
        if prefix == "/" {
            self.path == "/" || self.path.starts_with("/courses/")
        } else {
            self.path.starts_with(prefix)
        }
    }
}

/// Renders a page with the given status.
pub fn render(status: StatusCode, page: &impl Template) -> Result<HttpResponse, AppError> {
    Ok(HttpResponse::build(status)
        .content_type(header::ContentType::html())
        .body(page.render()?))
}

/// A 303 to `location`, the answer to a successful form post.
pub fn see_other(location: &str) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, location))
        .finish()
}

/// True when the client prefers JSON over HTML (the navbar script, APIs).
pub fn wants_json(req: &HttpRequest) -> bool {
    req.headers()
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|accept| accept.contains("application/json") && !accept.contains("text/html"))
}

/// The headers every response carries. The CSP allows no inline script;
/// with Stripe keys it allows exactly the origins Stripe's integration
/// security guide lists for Stripe.js and its frames (and the configured
/// `STRIPE_JS_URL`'s), and without them no third party at all.
pub fn security_headers(settings: &Settings) -> actix_web::middleware::DefaultHeaders {
    let stripe = if settings.is_sandbox() {
        String::new()
    } else {
        let configured = settings.stripe_js_origin();
        format!(" https://js.stripe.com https://*.js.stripe.com {configured}")
    };
    let (frames, connect, images) = if settings.is_sandbox() {
        (String::new(), String::new(), String::new())
    } else {
        (
            format!("{stripe} https://hooks.stripe.com"),
            format!(" https://api.stripe.com {}", settings.stripe_js_origin()),
            " https://*.stripe.com".to_owned(),
        )
    };
    let csp = format!(
        "default-src 'self'; script-src 'self'{stripe}; frame-src 'self'{frames}; \
         connect-src 'self'{connect}; img-src 'self' data:{images}; \
         style-src 'self'; font-src 'self'; object-src 'none'; base-uri 'self'; form-action 'self'; \
         frame-ancestors 'none'"
    );
    let mut headers = actix_web::middleware::DefaultHeaders::new()
        .add((header::CONTENT_SECURITY_POLICY, csp))
        .add((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .add((header::X_FRAME_OPTIONS, "DENY"))
        .add((header::REFERRER_POLICY, "strict-origin-when-cross-origin"))
        .add((
            "Permissions-Policy",
            "camera=(), microphone=(), geolocation=(), payment=(self)",
        ))
        .add(("Cross-Origin-Opener-Policy", "same-origin"));
    if settings.cookies_secure() {
        headers = headers.add((
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static("max-age=31536000; includeSubDomains"),
        ));
    }
    headers
}
