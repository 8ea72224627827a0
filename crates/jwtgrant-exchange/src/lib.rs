//! Exchanges a JWT assertion for a Keycloak access token.
//!
//! Skeleton: filled in by the exchange issue.

pub mod admin;
