//! The Keycloak zone: everything this crate knows about Keycloak in particular, as opposed
//! to the generic OAuth client around it.
//!
//! - [`rejections`]: one table of Keycloak's `error_description`s, each with the check that
//!   fails and a hint in library words. [`crate::Rejection::hint`], the doctor and the CLI's
//!   `inspect` all read it.
//! - [`versions`]: which release checks what in which order, as data, for the doctor.

pub mod rejections;
pub mod versions;

pub use rejections::{Check, Description};
pub use versions::{Order, Stage, Version};
