//! `sign`, and the assertion maker `token` and `doctor` share.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{Context as _, Result, anyhow};
use jwtgrant_signer::{Claims, Signer};
use serde_json::Value;

use super::Globals;
use crate::cli::{KeycloakArgs, SignArgs, SignCmd};
use crate::error::usage;
use crate::files;

/// Everything needed to sign a fresh assertion on demand (a new `jti` and `iat` each time).
#[derive(Debug)]
pub struct Assertions {
    signer: Signer,
    iss: String,
    sub: String,
    aud: String,
    lifetime: Duration,
    nbf: bool,
    extra: Vec<(String, Value)>,
    /// The ID-JAG's `client_id` (`--id-jag`), `None` for a plain assertion.
    id_jag: Option<String>,
}

/// `--aud`, else `<keycloak>/realms/<realm>`.
pub fn audience(sign: &SignArgs, kc: &KeycloakArgs) -> Result<String> {
    if let Some(aud) = &sign.aud {
        return Ok(aud.clone());
    }
    match (&kc.keycloak, &kc.realm) {
        (Some(base), Some(realm)) => Ok(jwtgrant_keycloak::realm_url(base, realm)),
        _ => Err(usage(
            "missing audience: pass --aud AUD, or --keycloak URL and --realm REALM (audience <URL>/realms/<REALM>)",
        )),
    }
}

impl Assertions {
    /// `client_id`: the `--client-id` of the command, the default of an ID-JAG's `client_id`.
    pub fn from_args(
        sign: &SignArgs,
        kc: &KeycloakArgs,
        client_id: Option<&str>,
        g: &Globals,
    ) -> Result<Self> {
        let key = sign
            .key
            .as_ref()
            .ok_or_else(|| usage("missing --key FILE (the private key to sign with)"))?;
        let iss = sign
            .iss
            .clone()
            .ok_or_else(|| usage("missing --iss URL (the identity provider's issuer)"))?;
        let sub = sign
            .sub
            .clone()
            .ok_or_else(|| usage("missing --sub SUB (the user id linked in Keycloak)"))?;
        let aud = audience(sign, kc)?;
        if sign.lifetime.is_zero() {
            return Err(usage("--lifetime must be more than 0 s"));
        }
        let mut extra = Vec::new();
        if let Some(path) = &sign.claims_json {
            let bytes = files::read(path, "claims file")?;
            let v: Value = serde_json::from_slice(&bytes)
                .with_context(|| format!("claims file '{}' is not JSON", path.display()))?;
            let Value::Object(map) = v else {
                anyhow::bail!("claims file '{}' is not a JSON object", path.display());
            };
            if let Some(msg) = map.keys().find_map(|k| crate::parse::registered_claim(k)) {
                return Err(usage(format!("claims file '{}': {msg}", path.display())));
            }
            extra.extend(map);
        }
        extra.extend(sign.claims.iter().cloned());
        let id_jag = id_jag_client_id(sign, client_id)?;
        if id_jag.is_some()
            && let Some((name, _)) = extra.iter().find(|(name, _)| name == "client_id")
        {
            return Err(usage(format!(
                "claim '{name}' is set by --id-jag (from --id-jag-client-id or --client-id); drop --claim client_id"
            )));
        }
        let signer = super::keys::signer(
            key,
            g,
            sign.alg.as_ref(),
            sign.kid.as_deref(),
            sign.kid_thumbprint,
        )?;
        Ok(Self {
            signer,
            iss,
            sub,
            aud,
            lifetime: sign.lifetime,
            nbf: sign.nbf,
            extra,
            id_jag,
        })
    }

    /// Sign a fresh assertion now.
    pub fn make(&self) -> Result<String> {
        let mut claims = Claims::new(&self.iss, &self.sub, &self.aud).lifetime(self.lifetime);
        if self.nbf {
            claims = claims.not_before(now());
        }
        for (name, value) in &self.extra {
            claims = claims.claim(name, value.clone());
        }
        if let Some(client_id) = &self.id_jag {
            claims = claims.id_jag(client_id);
        }
        let token = self
            .signer
            .sign(&claims)
            .context("cannot sign the assertion")?;
        if log::log_enabled!(log::Level::Info)
            && let Ok((header, claims)) = super::decode(&token)
        {
            log::info!("assertion header {header}, claims {claims}");
        }
        Ok(token)
    }
}

/// The `client_id` of an ID-JAG: `--id-jag-client-id`, else the command's `--client-id`.
fn id_jag_client_id(sign: &SignArgs, client_id: Option<&str>) -> Result<Option<String>> {
    if !sign.id_jag {
        return Ok(None);
    }
    match sign.id_jag_client_id.as_deref().or(client_id) {
        Some(id) if !id.trim().is_empty() => Ok(Some(id.to_owned())),
        _ => Err(usage(
            "--id-jag needs the client that will exchange it: pass --id-jag-client-id ID (token and doctor default it to --client-id)",
        )),
    }
}

pub fn now() -> SystemTime {
    SystemTime::now()
}

pub fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

pub fn run(cmd: &SignCmd, g: &Globals) -> Result<()> {
    let a = Assertions::from_args(&cmd.sign, &cmd.keycloak, None, g)?;
    let token = a.make().map_err(|e| anyhow!("{e:#}"))?;
    files::println(&token)
}
