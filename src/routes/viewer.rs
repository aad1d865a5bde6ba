//! Who is looking ([`Viewer`]): the session's user, still valid, and what
//! is in their cart. Loaded with the page's own data in one trip to the
//! blocking pool ([`Viewer::with_page`]); the session's user comes from a
//! short-lived in-process cache ([`SessionUsers`]) when it can.

use actix_session::SessionExt;
use actix_web::http::header;
use actix_web::{FromRequest, HttpMessage, HttpRequest, dev::Payload, web};
use futures_util::future::LocalBoxFuture;

pub use super::session_users::SessionUsers;
use super::{AppState, with_db};
use crate::db::DbConnection;
use crate::domain::Locale;
use crate::error::AppError;
use crate::i18n::{self, I18n};
use crate::models::billing::Billing;
use crate::models::user::User;
use crate::models::{CourseId, UserId};
use crate::services::cart::{self, CartOwner};
use crate::session::AppSession;

/// The user behind this request (if their session is still valid) and
/// what is in their cart. Loaded once per request and kept in the
/// request's extensions.
#[derive(Clone, Debug)]
pub struct Viewer {
    pub user: Option<User>,
    /// The user's billing details as saved (none for a visitor).
    pub billing: Billing,
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

/// What the session claims, read (and its age checked) before any
/// database work; it travels to the blocking pool.
struct Claim {
    /// The user id and the session version the cookie carries.
    login: Option<(UserId, i32)>,
    guest_cart: Option<String>,
    /// The language without the user's saved choice.
    locale: Locale,
    /// The user, when the cache holds this version of them.
    cached: Option<(User, Billing)>,
}

impl Claim {
    fn read(req: &HttpRequest, state: Option<&AppState>) -> Self {
        let session = req.get_session();
        let app_session = AppSession(&session);
        let mut login = app_session.login_claim();
        if let (Some(_), Some(state)) = (login, state)
            && app_session.outlived(
                chrono::Utc::now().timestamp(),
                state.settings.session_max,
                state.settings.session_idle,
            )
        {
            app_session.log_out();
            login = None;
        }
        Self {
            cached: login.and_then(|(id, version)| state?.users.get(id, version)),
            login,
            guest_cart: app_session.guest_cart_token(),
            locale: request_locale(req, None),
        }
    }

    /// The viewer this claim stands for, and whether the session is stale
    /// (issued before the user's latest logout or password change).
    /// With `read_cart` false the viewer's cart ids are left empty, for
    /// the page to fill in from its own read of the cart.
    fn resolve(
        self,
        conn: &mut DbConnection,
        users: &SessionUsers,
        read_cart: bool,
    ) -> diesel::QueryResult<(Viewer, bool)> {
        let (user, billing) = match (self.login, self.cached) {
            (Some(_), Some(cached)) => (Some(cached.0), cached.1),
            (Some((id, version)), None) => {
                let found =
                    Billing::with_user(conn, id)?.filter(|(u, _)| u.session_version == version);
                if let Some((user, billing)) = &found {
                    users.put(user, billing);
                }
                found.map_or((None, Billing::default()), |(u, b)| (Some(u), b))
            }
            (None, _) => (None, Billing::default()),
        };
        let stale = self.login.is_some() && user.is_none();
        let guest_cart = if stale { None } else { self.guest_cart };
        let owner = match &user {
            Some(user) => CartOwner::User(user.id),
            None => CartOwner::Guest(guest_cart.clone()),
        };
        let cart_course_ids = if read_cart {
            cart::course_ids(conn, &owner)?
        } else {
            Vec::new()
        };
        let locale = user.as_ref().and_then(|u| u.locale).unwrap_or(self.locale);
        let viewer = Viewer {
            user,
            billing,
            guest_cart,
            cart_course_ids,
            locale,
        };
        Ok((viewer, stale))
    }
}

impl Viewer {
    pub(super) fn anonymous(req: &HttpRequest, guest_cart: Option<String>) -> Self {
        Self {
            user: None,
            billing: Billing::default(),
            guest_cart,
            cart_course_ids: Vec::new(),
            locale: request_locale(req, None),
        }
    }

    /// Loads the viewer and runs the page's own database `work` with it,
    /// in one trip to the blocking pool (each trip is a hand-off between
    /// threads: a page used to take two or three). The outer error is the
    /// infrastructure's or the viewer's; the inner one is `work`'s.
    pub async fn with_page<T, E, F>(
        req: &HttpRequest,
        work: F,
    ) -> Result<(Self, Result<T, E>), AppError>
    where
        F: FnOnce(&mut DbConnection, &Self) -> Result<T, E> + Send + 'static,
        T: Send + 'static,
        E: Send + 'static,
    {
        Self::with_kept_page(req, |_| None, work).await
    }

    /// [`Self::with_page`] for a page that reads the cart's lines itself:
    /// the viewer's cart ids are `ids` of the page's data rather than a
    /// read of the same rows of their own. `work`'s viewer has no cart ids
    /// yet (unless an earlier extractor loaded them).
    pub async fn with_cart_page<T, E, F>(
        req: &HttpRequest,
        work: F,
        ids: fn(&T) -> Vec<CourseId>,
    ) -> Result<(Self, Result<T, E>), AppError>
    where
        F: FnOnce(&mut DbConnection, &Self) -> Result<T, E> + Send + 'static,
        T: Send + 'static,
        E: Send + 'static,
    {
        let state = Self::state(req)?;
        if req.extensions().get::<Self>().is_some() {
            return Self::with_kept_page(req, |_| None, work).await;
        }
        let claim = Claim::read(req, Some(&state));
        Self::resolve_with(req, &state, claim, work, Some(ids)).await
    }

    fn state(req: &HttpRequest) -> Result<web::Data<AppState>, AppError> {
        req.app_data::<web::Data<AppState>>()
            .cloned()
            .ok_or_else(|| AppError::Internal(anyhow::anyhow!("no application state")))
    }

    /// [`Self::with_page`], but a visitor with no cart (nothing about them
    /// is in the database) is first offered what `kept` finds in memory,
    /// and makes no trip at all when it finds the page.
    pub async fn with_kept_page<T, E, K, F>(
        req: &HttpRequest,
        kept: K,
        work: F,
    ) -> Result<(Self, Result<T, E>), AppError>
    where
        K: FnOnce(&AppState) -> Option<T>,
        F: FnOnce(&mut DbConnection, &Self) -> Result<T, E> + Send + 'static,
        T: Send + 'static,
        E: Send + 'static,
    {
        let state = Self::state(req)?;
        let known = req.extensions().get::<Self>().cloned();
        if let Some(viewer) = known {
            let for_work = viewer.clone();
            let out = with_db(&state, move |conn| {
                Ok::<_, std::convert::Infallible>(work(conn, &for_work))
            })
            .await?;
            let Ok(out) = out;
            return Ok((viewer, out));
        }
        let claim = Claim::read(req, Some(&state));
        if claim.login.is_none()
            && claim.guest_cart.is_none()
            && let Some(page) = kept(&state)
        {
            let viewer = Self::anonymous(req, None);
            req.extensions_mut().insert(viewer.clone());
            return Ok((viewer, Ok(page)));
        }
        Self::resolve_with(req, &state, claim, work, None).await
    }

    /// The trip itself: resolves the session's claim and runs `work`; the
    /// cart ids come from `ids` of its data when given.
    async fn resolve_with<T, E, F>(
        req: &HttpRequest,
        state: &web::Data<AppState>,
        claim: Claim,
        work: F,
        ids: Option<fn(&T) -> Vec<CourseId>>,
    ) -> Result<(Self, Result<T, E>), AppError>
    where
        F: FnOnce(&mut DbConnection, &Self) -> Result<T, E> + Send + 'static,
        T: Send + 'static,
        E: Send + 'static,
    {
        let shared = state.clone();
        let (viewer, stale, out) = with_db(state, move |conn| {
            let (mut viewer, stale) = claim.resolve(conn, &shared.users, ids.is_none())?;
            let out = work(conn, &viewer);
            if let Some(ids) = ids {
                viewer.cart_course_ids = match &out {
                    Ok(data) => ids(data),
                    // The error page's navbar still counts the cart.
                    Err(_) => cart::course_ids(conn, &viewer.cart_owner())?,
                };
            }
            Ok::<_, diesel::result::Error>((viewer, stale, out))
        })
        .await??;
        if stale {
            AppSession(&req.get_session()).log_out();
        }
        req.extensions_mut().insert(viewer.clone());
        Ok((viewer, out))
    }

    /// The logged-in user's id.
    pub fn user_id(&self) -> Option<UserId> {
        self.user.as_ref().map(|u| u.id)
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
        let state = req.app_data::<web::Data<AppState>>().cloned();
        let claim = Claim::read(req, state.as_ref().map(|s| &***s));
        // A visitor without a cart needs no database at all.
        let Some(state) = state.filter(|_| claim.login.is_some() || claim.guest_cart.is_some())
        else {
            return Ok(Self::anonymous(req, claim.guest_cart));
        };
        // The session was read once above; the trip resolves that claim.
        let (viewer, Ok(())) = Self::resolve_with(
            req,
            &state,
            claim,
            |_, _| Ok::<_, std::convert::Infallible>(()),
            None,
        )
        .await?;
        Ok(viewer)
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
            Self::load(&req).await
        })
    }
}
