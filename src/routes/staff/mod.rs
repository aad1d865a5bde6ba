//! The staff back office: invoice history and an order's story (with the
//! refund), the journal and its CSV, revenue reports, the catalog, promo
//! codes, the learning platform's integration, and the seller's details. Every handler checks
//! the role on the server, every time.

mod courses;
mod documents;
mod integrations;
mod journal;
mod orders;
mod promo_codes;
mod reports;
mod settings;

use actix_web::web;

use super::filters;

pub(super) fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(courses::staff_courses)
        .service(courses::new_course_form)
        .service(courses::create_course)
        .service(courses::edit_course_form)
        .service(courses::update_course)
        .service(integrations::integrations)
        .service(integrations::retry_event)
        .service(integrations::revoke_token)
        .service(promo_codes::promo_codes)
        .service(promo_codes::create_promo_code)
        .service(promo_codes::deactivate_promo_code)
        .service(documents::staff_documents)
        .service(documents::staff_documents_csv)
        .service(orders::staff_orders)
        .service(orders::staff_order)
        .service(orders::refund_order)
        .service(journal::staff_journal)
        .service(journal::staff_journal_csv)
        .service(reports::staff_reports)
        .service(reports::staff_reports_csv)
        .service(settings::settings)
        .service(settings::save_settings);
}
