//! Shared fixtures for the end-to-end suite (real Keycloak, real HTTP).
