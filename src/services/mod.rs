//! Business rules and the transactions that keep them.

pub mod accounts;
pub mod cart;
pub mod catalog;
pub mod demo;
pub mod student;
