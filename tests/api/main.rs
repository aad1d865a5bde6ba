//! The integration suite: the real application over HTTP, each test on a
//! fresh database, each database test on SQLite and on PostgreSQL.

mod helpers;
mod instances;
mod invoices;
mod journal;
mod languages;
mod lms;
pub mod mail;
mod metrics;
mod password_reset;
mod properties;
mod properties_concurrent;
mod races;
mod refund_events;

mod accounts;
mod architecture;
mod back_office;
mod cart;
mod catalog;
mod catalog_admin;
mod checkout;
mod cli;
mod crash;
mod edges;
mod hardening;
mod notes;
mod schema;
mod settings;
mod staff;
mod stripe;
mod stripe_events;
mod student;
mod tax;
mod web_security;
mod webhooks;
