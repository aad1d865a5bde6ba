//! The catalog in the back office: the course list, the new-course and
//! edit forms (with a cover image upload), and each course's history.

use actix_multipart::form::MultipartForm;
use actix_multipart::form::bytes::Bytes as UploadBytes;
use actix_multipart::form::text::Text;
use actix_session::SessionExt;
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, get, post, web};
use askama::Template;

use crate::domain::{Locale, Money};
use crate::error::AppError;
use crate::i18n::Message;
use crate::models::CourseId;
use crate::models::course::Course;
use crate::models::course_change::CourseChange;
use crate::msg;
use crate::routes::layout::{Layout, Viewer, render, see_other};
use crate::routes::{AppState, csrf, with_db};
use crate::services::catalog_admin::{self, CatalogError, CourseInput, CourseRow, CoverChange};
use crate::services::uploads;
use crate::session::{AppSession, FlashLevel};

#[derive(Template)]
#[template(path = "staff/courses.html")]
struct CoursesPage {
    layout: Layout,
    courses: Vec<CourseRow>,
}

#[get("/staff/courses")]
pub(super) async fn staff_courses(
    req: HttpRequest,
    viewer: Viewer,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    viewer.require_staff(&req)?;
    let courses = with_db(&state, catalog_admin::list).await??;
    render(
        StatusCode::OK,
        &CoursesPage {
            layout: Layout::new(&req, &viewer),
            courses,
        },
    )
}

/// The form's fields as shown (what was typed, or the course's values).
#[derive(Clone, Debug, Default)]
struct FormValues {
    title: String,
    slug: String,
    summary: String,
    description: String,
    price: String,
    published: bool,
    lms_url: String,
}

impl FormValues {
    /// The course's values, the price written the way `locale` types it.
    fn of(course: &Course, locale: Locale) -> Self {
        Self {
            title: course.title.clone(),
            slug: course.slug.clone(),
            summary: course.summary.clone(),
            description: course.description.clone(),
            price: Money::new(course.price_cents, course.currency).to_major_string_in(locale),
            published: course.published,
            lms_url: course.lms_url.clone().unwrap_or_default(),
        }
    }
}

#[derive(Template)]
#[template(path = "staff/course_form.html")]
struct CourseFormPage {
    layout: Layout,
    /// None: a new course.
    course: Option<Course>,
    form: FormValues,
    history: Vec<CourseChange>,
    currency: &'static str,
    error: Option<Message>,
}

impl CourseFormPage {
    fn action(&self) -> String {
        match &self.course {
            Some(course) => format!("/staff/courses/{}/edit", course.id),
            None => "/staff/courses/new".into(),
        }
    }
}

/// What the multipart course form sends.
#[derive(MultipartForm)]
pub(super) struct CourseUpload {
    csrf_token: Option<Text<String>>,
    title: Option<Text<String>>,
    slug: Option<Text<String>>,
    summary: Option<Text<String>>,
    description: Option<Text<String>>,
    price: Option<Text<String>>,
    published: Option<Text<String>>,
    lms_url: Option<Text<String>>,
    remove_cover: Option<Text<String>>,
    cover: Option<UploadBytes>,
}

fn text(field: Option<Text<String>>) -> String {
    field.map(Text::into_inner).unwrap_or_default()
}

impl CourseUpload {
    /// The typed fields, and the new cover's bytes when one was chosen.
    fn split(self, locale: Locale) -> (CourseInput, bool, Option<Vec<u8>>) {
        let cover = self
            .cover
            .filter(|file| !file.data.is_empty())
            .map(|file| file.data.to_vec());
        let remove_cover = self.remove_cover.is_some();
        let input = CourseInput {
            title: text(self.title),
            slug: text(self.slug),
            summary: text(self.summary),
            description: text(self.description),
            price: text(self.price),
            published: self.published.is_some(),
            lms_url: text(self.lms_url),
            locale,
        };
        (input, remove_cover, cover)
    }
}

fn values_of(input: &CourseInput) -> FormValues {
    FormValues {
        title: input.title.clone(),
        slug: input.slug.clone(),
        summary: input.summary.clone(),
        description: input.description.clone(),
        price: input.price.clone(),
        published: input.published,
        lms_url: input.lms_url.clone(),
    }
}

fn course_id(raw: &str) -> Result<CourseId, AppError> {
    raw.trim()
        .parse::<i64>()
        .map(CourseId)
        .map_err(|_| AppError::NotFound)
}

#[get("/staff/courses/new")]
pub(super) async fn new_course_form(
    req: HttpRequest,
    viewer: Viewer,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    viewer.require_staff(&req)?;
    render(
        StatusCode::OK,
        &CourseFormPage {
            layout: Layout::new(&req, &viewer),
            course: None,
            form: FormValues::default(),
            history: Vec::new(),
            currency: state.settings.currency.code(),
            error: None,
        },
    )
}

/// Stores a chosen cover image; a refusal says why, for the form.
async fn store_cover(
    state: &AppState,
    bytes: Vec<u8>,
) -> Result<Result<String, Message>, AppError> {
    let dir = state.settings.uploads_dir.clone();
    let stored = actix_web::web::block(move || {
        let image = uploads::check_cover(bytes)?;
        uploads::store(&dir, &image).map_err(|e| {
            tracing::error!(error = %e, dir = %dir.display(), "could not store an upload");
            msg!("course-cover-not-saved")
        })
    })
    .await
    .map_err(|e| AppError::Internal(e.into()))?;
    Ok(stored)
}

#[post("/staff/courses/new")]
pub(super) async fn create_course(
    req: HttpRequest,
    viewer: Viewer,
    state: web::Data<AppState>,
    upload: MultipartForm<CourseUpload>,
) -> Result<HttpResponse, AppError> {
    let staff = viewer.require_staff(&req)?.id;
    let upload = upload.into_inner();
    csrf::check(&req, upload.csrf_token.as_ref().map(|t| t.as_str()))?;
    let (input, _, cover) = upload.split(viewer.locale);
    let refused = |message: Message, input: &CourseInput| {
        render(
            StatusCode::BAD_REQUEST,
            &CourseFormPage {
                layout: Layout::new(&req, &viewer),
                course: None,
                form: values_of(input),
                history: Vec::new(),
                currency: state.settings.currency.code(),
                error: Some(message),
            },
        )
    };
    let cover = match cover {
        None => None,
        Some(bytes) => match store_cover(&state, bytes).await? {
            Ok(name) => Some(name),
            Err(message) => return refused(message, &input),
        },
    };
    let currency = state.settings.currency;
    let saved_input = input.clone();
    let saved_cover = cover.clone();
    let result = with_db(&state, move |conn| {
        catalog_admin::create(conn, staff, &saved_input, currency, saved_cover.as_deref())
    })
    .await?;
    match result {
        Ok(course) => {
            state.catalog.forget();
            let session = req.get_session();
            AppSession(&session).flash(
                FlashLevel::Success,
                msg!("course-created", title = course.title),
            );
            Ok(see_other(&format!("/staff/courses/{}/edit", course.id)))
        }
        Err(e) => {
            if let Some(name) = &cover {
                uploads::remove(&state.settings.uploads_dir, name);
            }
            match e {
                CatalogError::Invalid(message) => refused(message, &input),
                CatalogError::NotFound => Err(AppError::NotFound),
                CatalogError::Database(e) => Err(e.into()),
            }
        }
    }
}

#[get("/staff/courses/{id}/edit")]
pub(super) async fn edit_course_form(
    req: HttpRequest,
    viewer: Viewer,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    viewer.require_staff(&req)?;
    let id = course_id(&path)?;
    let (course, history) = with_db(&state, move |conn| {
        catalog_admin::course_with_history(conn, id)
    })
    .await??
    .ok_or(AppError::NotFound)?;
    render(
        StatusCode::OK,
        &CourseFormPage {
            layout: Layout::new(&req, &viewer),
            form: FormValues::of(&course, viewer.locale),
            course: Some(course),
            history,
            currency: state.settings.currency.code(),
            error: None,
        },
    )
}

#[post("/staff/courses/{id}/edit")]
pub(super) async fn update_course(
    req: HttpRequest,
    viewer: Viewer,
    state: web::Data<AppState>,
    path: web::Path<String>,
    upload: MultipartForm<CourseUpload>,
) -> Result<HttpResponse, AppError> {
    let staff = viewer.require_staff(&req)?.id;
    let id = course_id(&path)?;
    let upload = upload.into_inner();
    csrf::check(&req, upload.csrf_token.as_ref().map(|t| t.as_str()))?;
    let (input, remove_cover, cover) = upload.split(viewer.locale);
    let (course, history) = with_db(&state, move |conn| {
        catalog_admin::course_with_history(conn, id)
    })
    .await??
    .ok_or(AppError::NotFound)?;
    let refused = |message: Message, input: &CourseInput| {
        render(
            StatusCode::BAD_REQUEST,
            &CourseFormPage {
                layout: Layout::new(&req, &viewer),
                course: Some(course.clone()),
                form: values_of(input),
                history: history.clone(),
                currency: state.settings.currency.code(),
                error: Some(message),
            },
        )
    };
    let change = match cover {
        Some(bytes) => match store_cover(&state, bytes).await? {
            Ok(name) => CoverChange::Replace(name),
            Err(message) => return refused(message, &input),
        },
        None if remove_cover => CoverChange::Remove,
        None => CoverChange::Keep,
    };
    let currency = state.settings.currency;
    let (saved_input, saved_change) = (input.clone(), change.clone());
    let result = with_db(&state, move |conn| {
        catalog_admin::update(conn, staff, id, &saved_input, currency, &saved_change)
    })
    .await?;
    let dir = &state.settings.uploads_dir;
    match result {
        Ok((saved, changes)) => {
            state.catalog.forget();
            // The old file is no longer shown anywhere.
            if !changes.is_empty()
                && change != CoverChange::Keep
                && let Some(old) = &course.cover_image
            {
                uploads::remove(dir, old);
            }
            let session = req.get_session();
            let message = if changes.is_empty() {
                msg!("course-nothing-changed")
            } else {
                msg!("course-saved", title = saved.title, count = changes.len())
            };
            AppSession(&session).flash(FlashLevel::Success, message);
            Ok(see_other(&format!("/staff/courses/{id}/edit")))
        }
        Err(e) => {
            if let CoverChange::Replace(name) = &change {
                uploads::remove(dir, name);
            }
            match e {
                CatalogError::Invalid(message) => refused(message, &input),
                CatalogError::NotFound => Err(AppError::NotFound),
                CatalogError::Database(e) => Err(e.into()),
            }
        }
    }
}
