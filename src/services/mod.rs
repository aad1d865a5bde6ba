//! Business rules and the transactions that keep them.

pub mod accounts;
pub mod back_office;
pub mod cart;
pub mod catalog;
pub mod checkout;
pub mod demo;
pub mod fulfillment;
pub mod journal;
pub mod pricing;
pub mod promo;
pub mod promo_admin;
pub mod reconcile;
pub mod student;
