//! Identity providers: the JWT Authorization Grant provider that trusts the issuer.

use serde_json::Value;

use jwtgrant_exchange::Method;

use super::AdminSession;
use super::error::AdminError;
use super::spec::{
    Change, Field, IdpKey, IdpKind, JwtIdp, Outcome, changes, idp_create_body, idp_fields, verify,
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
        self.get_optional(&op, &idp_path(realm, alias), &[])
    }

    /// Makes sure the realm has this identity provider (of [`JwtIdp::kind`]: the grant's, or
    /// one for client assertions).
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
        let path = idp_path(realm, &idp.alias);
        let Some(existing) = self.get_idp(realm, &idp.alias)? else {
            let planned = Outcome::new(Change::Created, &what, changes(None, &fields));
            if !self.dry_run {
                let op = format!("creating {what}");
                let body = idp_create_body(idp);
                self.expect(&op, Method::Post, &path[..5], Some(&body), 201)?;
                self.reread_idp(realm, &idp.alias, &op, &fields)?;
            }
            return Ok(planned);
        };
        let provider = existing[crate::settings::idp::PROVIDER_ID_FIELD]
            .as_str()
            .unwrap_or_default();
        // The server's text, through the output gate before it can reach an error.
        let provider = &jwtgrant_exchange::text::sanitize(provider, 100);
        let want_provider = idp.kind.provider_id();
        if provider != want_provider {
            return Err(AdminError::Conflict {
                operation: format!("updating {what}"),
                detail: format!(
                    "the alias is taken by a '{provider}' provider, not '{want_provider}' \
                     (delete it or choose another alias)"
                ),
            });
        }
        // An OIDC provider that does not vouch for clients already is someone's login
        // provider: taking it over would rewrite its issuer and keys.
        let vouches = existing[crate::settings::idp::CONFIG]
            [crate::settings::idp::SUPPORTS_CLIENT_ASSERTIONS]
            .as_str()
            == Some("true");
        if idp.kind == IdpKind::ClientAssertions && !vouches {
            return Err(AdminError::Conflict {
                operation: format!("updating {what}"),
                detail: "the alias is taken by an OIDC provider that does not verify client \
                         assertions (supportsClientAssertions is off: a login provider, \
                         most likely); choose another alias for the client assertions' provider"
                    .to_owned(),
            });
        }
        let outcome = Outcome::update(&what, changes(Some(&existing), &fields));
        if outcome.change == Change::Unchanged || self.dry_run {
            return Ok(outcome);
        }
        let op = format!("updating {what}");
        // The update replaces the whole representation: send what exists, changed.
        let body = with_fields(existing, &fields);
        self.expect(&op, Method::Put, &path, Some(&body), 204)?;
        self.reread_idp(realm, &idp.alias, &op, &fields)?;
        Ok(outcome)
    }

    /// Reads the provider back after `op` and checks it holds `fields`.
    fn reread_idp(
        &self,
        realm: &str,
        alias: &str,
        op: &str,
        fields: &[Field],
    ) -> Result<(), AdminError> {
        let reread = self
            .get_idp(realm, alias)?
            .ok_or_else(|| AdminError::InvalidResponse {
                operation: op.to_owned(),
                detail: "written, but not found when read back".into(),
            })?;
        verify(op, &reread, fields)
    }
}

/// `admin/realms/REALM/identity-provider/instances/ALIAS`; its first five segments list them.
fn idp_path<'a>(realm: &'a str, alias: &'a str) -> [&'a str; 6] {
    [
        "admin",
        "realms",
        realm,
        "identity-provider",
        "instances",
        alias,
    ]
}
