//! kasir: a course-shop checkout. See DESIGN.md in the project's shared
//! folder for the architecture; the README for how to run it.

#[cfg(feature = "bench")]
pub mod bench;
pub mod cli;
pub mod config;
pub mod db;
pub mod domain;
pub mod error;
pub mod i18n;
pub mod metrics;
pub mod models;
pub mod payments;
pub mod routes;
pub mod services;
pub mod session;
pub mod startup;
pub mod telemetry;
