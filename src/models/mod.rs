//! Row structs, insert structs and the reusable queries over them. Every
//! query takes `&mut DbConnection`, so a service can run several inside one
//! transaction.

pub mod course;
pub mod ids;
pub mod login_attempt;
pub mod user;

pub use ids::{CourseId, UserId};
