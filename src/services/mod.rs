//! Business rules and the transactions that keep them. The order's life
//! is in `order_lifecycle`; the other services call it, never the reverse.

pub mod accounts;
pub mod back_office;
pub mod cart;
pub mod catalog;
pub mod catalog_admin;
pub mod checkout;
pub mod demo;
pub mod journal;
pub mod lms;
pub mod mail;
pub mod order_lifecycle;
pub mod orders;
pub mod password_reset;
pub mod pricing;
pub mod promo;
pub mod promo_admin;
pub mod reconcile;
pub mod refunds;
pub mod retry;
pub mod stripe_events;
pub mod stripe_setup;
pub mod student;
pub mod uploads;
pub mod webhook_inbox;
