//! The staff back office: invoice history and an order's story (with the
//! refund), the journal and its CSV, revenue reports, promo codes. Every
//! handler checks the role on the server, every time.

mod journal;
mod orders;
mod promo_codes;
mod reports;

use actix_web::web;

use super::filters;

pub(super) fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(promo_codes::promo_codes)
        .service(promo_codes::create_promo_code)
        .service(promo_codes::deactivate_promo_code)
        .service(orders::staff_orders)
        .service(orders::staff_order)
        .service(orders::refund_order)
        .service(journal::staff_journal)
        .service(journal::staff_journal_csv)
        .service(reports::staff_reports);
}
