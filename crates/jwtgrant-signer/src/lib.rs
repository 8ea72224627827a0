//! Builds and signs JWT assertions for Keycloak's JWT Authorization Grant.
//!
//! Skeleton: filled in by the signer issue.
