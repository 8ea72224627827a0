//! Keycloak admin REST provisioning. Skeleton: filled in by the Keycloak issue.
