//! What every page shares: who is looking ([`Viewer`]), the navbar and
//! flash data ([`Layout`]), rendering, the error pages, and the security
//! headers.

use actix_session::SessionExt;
use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{FromRequest, HttpMessage, HttpRequest, HttpResponse, dev::Payload, web};
use askama::Template;
use futures_util::future::LocalBoxFuture;

use super::{AppState, with_db};
use crate::config::Settings;
use crate::domain::{Locale, Money};
use crate::error::AppError;
use crate::i18n::{self, Arg, Fetch, I18n, Message};
use crate::models::CourseId;
use crate::models::user::User;
use crate::services::cart::{self, CartOwner};
use crate::session::{AppSession, Flash};

/// The user behind this request (if their session is still valid) and
/// what is in their cart. Loaded once per request, in one trip to the
/// blocking pool, and cached in the request's extensions.
#[derive(Clone, Debug)]
pub struct Viewer {
    pub user: Option<User>,
    /// The guest cart token from the session, for visitors.
    guest_cart: Option<String>,
    pub cart_course_ids: Vec<CourseId>,
    /// The language of this request's pages.
    pub locale: Locale,
}

/// The `lang` cookie the footer's language switcher sets.
pub const LANG_COOKIE: &str = "lang";

/// The reader's language: their saved choice, else the switcher's cookie,
/// else their browser's (`Accept-Language`), else `DEFAULT_LOCALE`.
pub fn request_locale(req: &HttpRequest, user: Option<&User>) -> Locale {
    let default = req
        .app_data::<web::Data<AppState>>()
        .map_or(Locale::En, |state| state.settings.default_locale);
    user.and_then(|u| u.locale)
        .or_else(|| {
            req.cookie(LANG_COOKIE)
                .and_then(|c| Locale::parse(c.value()).ok())
        })
        .or_else(|| {
            req.headers()
                .get(header::ACCEPT_LANGUAGE)
                .and_then(|v| v.to_str().ok())
                .and_then(i18n::negotiate)
        })
        .unwrap_or(default)
}

impl Viewer {
    pub(super) fn anonymous(req: &HttpRequest, guest_cart: Option<String>) -> Self {
        Self {
            user: None,
            guest_cart,
            cart_course_ids: Vec::new(),
            locale: request_locale(req, None),
        }
    }

    /// This request's words, amounts and dates.
    pub fn i18n(&self) -> I18n {
        I18n::new(self.locale)
    }

    /// The logged-in user, or an error that sends the visitor to the login
    /// page and back here afterwards.
    pub fn require_login(&self, req: &HttpRequest) -> Result<&User, AppError> {
        self.user.as_ref().ok_or_else(|| AppError::LoginRequired {
            next: req
                .uri()
                .path_and_query()
                .map_or("/", |pq| pq.as_str())
                .to_owned(),
        })
    }

    /// A staff member, or 403 (a student) / the login page (a visitor).
    pub fn require_staff(&self, req: &HttpRequest) -> Result<&User, AppError> {
        let user = self.require_login(req)?;
        if user.is_staff() {
            Ok(user)
        } else {
            Err(AppError::Forbidden(crate::msg!("error-staff-only")))
        }
    }

    /// Whose cart this request works on.
    pub fn cart_owner(&self) -> CartOwner {
        match &self.user {
            Some(user) => CartOwner::User(user.id),
            None => CartOwner::Guest(self.guest_cart.clone()),
        }
    }

    async fn load(req: &HttpRequest) -> Result<Self, AppError> {
        let session = req.get_session();
        let app_session = AppSession(&session);
        let mut claim = app_session.login_claim();
        let limits = req
            .app_data::<web::Data<AppState>>()
            .map(|state| (state.settings.session_max, state.settings.session_idle));
        if let (Some(_), Some((max, idle))) = (claim, limits)
            && app_session.outlived(chrono::Utc::now().timestamp(), max, idle)
        {
            app_session.log_out();
            claim = None;
        }
        let guest_cart = app_session.guest_cart_token();
        let Some(state) = req.app_data::<web::Data<AppState>>() else {
            return Ok(Self::anonymous(req, guest_cart));
        };
        if claim.is_none() && guest_cart.is_none() {
            return Ok(Self::anonymous(req, None));
        }
        let token = guest_cart.clone();
        let (user, stale_session, cart_course_ids) = with_db(state, move |conn| {
            let found = match claim {
                Some((user_id, _)) => User::find(conn, user_id)?,
                None => None,
            };
            // A session issued before the latest logout or password change
            // carries an old version: it is over, whatever the cookie says.
            let user =
                found.filter(|u| claim.is_some_and(|(_, version)| u.session_version == version));
            let stale = claim.is_some() && user.is_none();
            let owner = match &user {
                Some(user) => CartOwner::User(user.id),
                None if stale => CartOwner::Guest(None),
                None => CartOwner::Guest(token),
            };
            let ids = cart::course_ids(conn, &owner)?;
            Ok::<_, diesel::result::Error>((user, stale, ids))
        })
        .await??;
        if stale_session {
            app_session.log_out();
        }
        let locale = request_locale(req, user.as_ref());
        Ok(Self {
            user,
            guest_cart: if stale_session { None } else { guest_cart },
            cart_course_ids,
            locale,
        })
    }
}

impl FromRequest for Viewer {
    type Error = AppError;
    type Future = LocalBoxFuture<'static, Result<Self, AppError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            if let Some(viewer) = req.extensions().get::<Viewer>() {
                return Ok(viewer.clone());
            }
            let viewer = Self::load(&req).await?;
            req.extensions_mut().insert(viewer.clone());
            Ok(viewer)
        })
    }
}

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
