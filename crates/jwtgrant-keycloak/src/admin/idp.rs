//! Identity providers: the JWT Authorization Grant provider that trusts the issuer.

use serde_json::Value;

use jwtgrant_exchange::Method;

use super::AdminSession;
use super::error::AdminError;
use super::spec::{
    Change, IdpKey, JWT_IDP_PROVIDER_ID, JwtIdp, Outcome, differing, idp_create_body, idp_fields,
    with_fields,
};

impl AdminSession {
    /// All identity providers of the realm (full representations, config included).
    pub fn get_idps(&self, realm: &str) -> Result<Vec<Value>, AdminError> {
        let op = format!("listing identity providers of realm '{realm}'");
        let path = ["admin", "realms", realm, "identity-provider", "instances"];
        // 26.x pages this list when `max` is given; ask for full representations, all of them.
        let query = [
            ("briefRepresentation", "false"),
            ("first", "0"),
            ("max", "10000"),
        ];
        self.get_list(&op, &path, &query)
    }

    /// One identity provider by alias, or `None`.
    pub fn get_idp(&self, realm: &str, alias: &str) -> Result<Option<Value>, AdminError> {
        let op = format!("reading identity provider '{alias}' of realm '{realm}'");
        let path = [
            "admin",
            "realms",
            realm,
            "identity-provider",
            "instances",
            alias,
        ];
        self.get_optional(&op, &path, &[])
    }

    /// Makes sure the realm has this JWT Authorization Grant identity provider.
    /// Only the fields [`JwtIdp`] describes are compared and changed; other config
    /// keys are kept.
    pub fn ensure_jwt_idp(&self, realm: &str, idp: &JwtIdp) -> Result<Outcome, AdminError> {
        let what = format!("identity provider '{}' in realm '{realm}'", idp.alias);
        // Keycloak fetches the provider's keys from this URL and trusts what it gets: the
        // same rule as every URL we send to ourselves, before anything is written.
        if let IdpKey::JwksUrl(url) = &idp.key {
            self.transport
                .check_url(url)
                .map_err(|source| AdminError::Transport {
                    operation: format!("checking the JWKS URL of {what}"),
                    source,
                })?;
        }
        let fields = idp_fields(idp);
        let Some(existing) = self.get_idp(realm, &idp.alias)? else {
            let op = format!("creating {what}");
            let path = ["admin", "realms", realm, "identity-provider", "instances"];
            self.expect(&op, Method::Post, &path, Some(&idp_create_body(idp)), 201)?;
            return Ok(Outcome::new(Change::Created, &what, &[]));
        };
        let provider = existing[crate::settings::idp::PROVIDER_ID_FIELD]
            .as_str()
            .unwrap_or_default();
        // The server's text, through the output gate before it can reach an error.
        let provider = &jwtgrant_exchange::text::sanitize(provider, 100);
        if provider != JWT_IDP_PROVIDER_ID {
            return Err(AdminError::Conflict {
                operation: format!("updating {what}"),
                detail: format!(
                    "the alias is taken by a '{provider}' provider, not '{JWT_IDP_PROVIDER_ID}' \
                     (delete it or choose another alias)"
                ),
            });
        }
        let changed = differing(&existing, &fields);
        if changed.is_empty() {
            return Ok(Outcome::new(Change::Unchanged, &what, &[]));
        }
        let op = format!("updating {what}");
        let path = [
            "admin",
            "realms",
            realm,
            "identity-provider",
            "instances",
            &idp.alias,
        ];
        // The update replaces the whole representation: send what exists, changed.
        let body = with_fields(existing, &fields);
        self.expect(&op, Method::Put, &path, Some(&body), 204)?;
        Ok(Outcome::new(Change::Updated, &what, &changed))
    }
}
