//! The doctor's only IO: reading what the checks need through the admin API and fetching
//! the provider's JWKS through the exchange's transport.

use serde_json::Value;

use super::assertion::decode;
use super::signature::{SignatureOutcome, verify_with_idp};
use super::{Snapshot, find_idp};
use crate::Version;
use crate::settings::{ClientSettings, IdpSettings, UserSettings};

/// Everything [`fetch`] learned: the snapshot and the signature outcome for the matching
/// provider.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Fetched {
    /// The realm's configuration as it concerns this assertion.
    pub snapshot: Snapshot,
    /// The signature check against the matching provider, when there is one.
    pub signature: Option<SignatureOutcome>,
}

/// Reads what the checks need through the admin API (providers, the client, the user linked
/// to the assertion's `sub` at the provider matching its `iss`) and, for a provider using a
/// JWKS URL, fetches that JWKS through `exchange`'s transport (the same TLS roots, timeouts
/// and proxy rule the exchange itself uses). `base` is the URL Keycloak is reached at.
pub fn fetch(
    admin: &crate::admin::AdminSession,
    exchange: &jwtgrant_exchange::Exchange,
    base: &str,
    realm: &str,
    client_id: &str,
    assertion: &str,
) -> Result<Fetched, crate::admin::AdminError> {
    let mut snapshot = Snapshot::new(base, realm, client_id);
    snapshot.presented_certificate = exchange.transport_ref().client_certificate().cloned();
    snapshot.dpop_proof = exchange.dpop_ref().is_some();
    // The order of the checks depends on the release. An admin without the right to read
    // the server info still gets a report, in the newest release's order.
    snapshot.server_version = match admin.server_version() {
        Ok(v) => v.as_deref().and_then(Version::parse),
        Err(e) => {
            log::warn!("cannot read the server's version, assuming the newest order: {e}");
            None
        }
    };
    // Whether the ID-JAG validator is on; unknown features assume it is.
    snapshot.features = match admin.server_features() {
        Ok(f) => f,
        Err(e) => {
            log::warn!("cannot read the server's features: {e}");
            None
        }
    };
    if admin.get_realm(realm)?.is_none() {
        snapshot.realm_missing = true;
        snapshot.near_names = near(admin.realm_names(), realm, "realm");
        return Ok(Fetched {
            snapshot,
            signature: None,
        });
    }
    // Parsed once, here: the stages read the settings model, never the admin JSON.
    snapshot.client = admin
        .get_client(realm, client_id)?
        .as_ref()
        .map(ClientSettings::from_json);
    if snapshot.client.is_none() {
        snapshot.near_names = near(admin.client_ids(realm), client_id, "client");
    }
    snapshot.idps = admin
        .get_idps(realm)?
        .iter()
        .map(IdpSettings::from_json)
        .collect();
    let claims = decode(assertion).ok().map(|d| d.claims);
    let iss = claims
        .as_ref()
        .and_then(|c| c.get("iss"))
        .and_then(Value::as_str);
    let sub = claims
        .as_ref()
        .and_then(|c| c.get("sub"))
        .and_then(Value::as_str);
    let idp = iss.and_then(|i| find_idp(&snapshot.idps, i)).cloned();
    let mut signature = None;
    if let Some(p) = &idp {
        if let Some(s) = sub {
            let alias = p.alias_or_unknown().to_owned();
            snapshot.user = admin
                .find_user_by_idp_link(realm, &alias, s)?
                .as_ref()
                .map(UserSettings::from_json);
            snapshot.user_looked_up = true;
            if snapshot.user.is_none() {
                snapshot.linked_subjects = admin
                    .linked_subjects(realm, &alias, LINKED_SUBJECTS)
                    .unwrap_or_else(|e| {
                        log::warn!("cannot list the subjects linked at '{alias}': {e}");
                        Vec::new()
                    });
            }
        }
        if p.use_jwks_url.is_on() {
            let url = p.jwks_url.as_deref().unwrap_or_default();
            snapshot.jwks = Some(fetch_text(exchange, url));
        }
        signature = Some(verify_with_idp(p, snapshot.jwks.as_ref(), assertion));
    }
    Ok(Fetched {
        snapshot,
        signature,
    })
}

/// How many linked users the "user not found" fix looks at.
const LINKED_SUBJECTS: usize = 20;

/// The near matches of `wanted` among `names`; an admin who may not list them gets none.
fn near(
    names: Result<Vec<String>, crate::admin::AdminError>,
    wanted: &str,
    what: &str,
) -> Vec<String> {
    match names {
        Ok(names) => super::near_matches(wanted, names.iter().map(String::as_str))
            .into_iter()
            .map(str::to_owned)
            .collect(),
        Err(e) => {
            log::warn!("cannot list the {what} names for near matches: {e}");
            Vec::new()
        }
    }
}

/// Compares the client secret a request will send, `sent`, with the one Keycloak holds
/// for the snapshot's client, into [`Snapshot::client_secret`]. Does nothing when the
/// client does not exist.
pub fn compare_client_secret(
    admin: &crate::admin::AdminSession,
    snapshot: &mut Snapshot,
    sent: &str,
) -> Result<(), crate::admin::AdminError> {
    if snapshot.client.is_none() || snapshot.realm_missing {
        return Ok(());
    }
    let stored = admin.client_secret(&snapshot.realm, &snapshot.client_id)?;
    snapshot.client_secret = Some(super::SecretMatch::of(
        sent,
        stored.as_ref().map(|s| s.secret()),
    ));
    Ok(())
}

/// GET a JWKS through `exchange`'s transport (its CA bundle, timeouts, proxy rule, body
/// cap); errors as text for the report. Plain http is fine here: a JWKS is public and no
/// credential is sent.
pub(super) fn fetch_text(
    exchange: &jwtgrant_exchange::Exchange,
    url: &str,
) -> Result<String, String> {
    let url = jwtgrant_exchange::parse_url(url).map_err(|e| e.to_string())?;
    let reply = exchange
        .transport_ref()
        .send(
            jwtgrant_exchange::Method::Get,
            &url,
            &[("accept", "application/json")],
            None,
        )
        .map_err(|e| e.to_string())?;
    if reply.status != 200 {
        return Err(format!("HTTP {}", reply.status));
    }
    String::from_utf8(reply.body).map_err(|_| "the body is not UTF-8".to_owned())
}
