//! The assertion `sign`, `token` and `doctor` make: the claims from the options, the key
//! loaded, ready to sign a fresh one on demand.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{Context as _, Result};
use jwtgrant_signer::{Claims, Signer};
use serde_json::Value;

use crate::cli::{EndpointArgs, KeycloakArgs, SignArgs};
use crate::error::usage;
use crate::files;
use crate::globals::Globals;
use crate::keyfile;

/// Everything needed to sign a fresh assertion on demand (a new `jti` and `iat` each time).
#[derive(Debug)]
pub struct Assertions {
    signer: Signer,
    /// `iss`, `sub`, `aud`, the lifetime, the extra claims and the ID-JAG's `client_id`.
    claims: Claims,
    /// `--nbf`: `nbf` is the signing time.
    nbf: bool,
}

/// `--aud`; else the issuer of `--issuer-url` (a Keycloak realm's issuer is the audience it
/// expects); else `<keycloak>/realms/<realm>`; else `--token-endpoint` (Keycloak accepts its
/// token endpoint as the audience too). `endpoint` is `None` for `sign`, which has no
/// endpoint options.
pub fn audience(
    sign: &SignArgs,
    kc: &KeycloakArgs,
    endpoint: Option<&EndpointArgs>,
) -> Result<String> {
    let (aud, from) = if let Some(aud) = &sign.aud {
        (aud.clone(), "--aud")
    } else if let Some(issuer) = endpoint.and_then(|e| e.issuer_url.as_deref()) {
        (issuer.trim_end_matches('/').to_owned(), "--issuer-url")
    } else if let (Some(base), Some(realm)) = (&kc.keycloak, &kc.realm) {
        (
            jwtgrant_keycloak::realm_url(base, realm),
            "--keycloak and --realm",
        )
    } else if let Some(url) = endpoint.and_then(|e| e.token_endpoint.as_deref()) {
        (url.to_owned(), "--token-endpoint")
    } else {
        return Err(usage(match endpoint {
            None => {
                "missing audience: pass --aud AUD, or --keycloak URL and --realm REALM (audience <URL>/realms/<REALM>)"
            }
            Some(_) => {
                "missing audience: pass --aud AUD, --issuer-url URL, or --keycloak URL and --realm REALM (audience <URL>/realms/<REALM>)"
            }
        }));
    };
    log::info!("aud {aud} from {from}");
    Ok(aud)
}

/// The assertion of `--assertion JWT|-`: stdin for `-`, else the value, which must not be
/// the path of a file (a JWT never is; sending the path would only earn a puzzling
/// rejection).
pub fn given(value: &str) -> Result<String> {
    if value == "-" {
        return files::read_stdin_trimmed("assertion");
    }
    let value = value.trim();
    if value.split('.').count() != 3 && std::path::Path::new(value).is_file() {
        return Err(usage(format!(
            "--assertion takes the JWT itself, and '{value}' is a file: pass --assertion - < {value}"
        )));
    }
    Ok(value.to_owned())
}

impl Assertions {
    /// The assertions the options describe. `client_id`: the `--client-id` of the command,
    /// the default of an ID-JAG's `client_id`.
    pub fn resolve(
        sign: &SignArgs,
        kc: &KeycloakArgs,
        endpoint: Option<&EndpointArgs>,
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
        let aud = audience(sign, kc, endpoint)?;
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
        let signer = keyfile::signer(
            key,
            g,
            sign.alg.as_ref(),
            sign.kid.as_deref(),
            sign.kid_thumbprint,
        )?;
        let mut claims = Claims::new(iss, sub, aud).lifetime(sign.lifetime);
        for (name, value) in extra {
            claims = claims.claim(name, value);
        }
        if let Some(client_id) = id_jag {
            claims = claims.id_jag(client_id);
        }
        Ok(Self {
            signer,
            claims,
            nbf: sign.nbf,
        })
    }

    /// The key these assertions are signed with.
    pub fn signer(&self) -> &Signer {
        &self.signer
    }

    /// Their `iss`.
    pub fn issuer(&self) -> &str {
        self.claims.issuer()
    }

    /// What every assertion these make says, as the token cache keys it: `iss`, `sub`,
    /// `aud`, the other claims (not `jti`, `iat`, `exp` or `nbf`, which change per
    /// assertion) and the signing key's thumbprint.
    pub fn identity(
        &self,
    ) -> (
        String,
        String,
        String,
        serde_json::Map<String, Value>,
        String,
    ) {
        let extra = self
            .claims
            .custom_claims()
            .map(|(name, value)| (name.to_owned(), value.clone()))
            .collect();
        (
            self.claims.issuer().to_owned(),
            self.claims.subject().to_owned(),
            self.claims.audience().to_owned(),
            extra,
            self.signer.thumbprint(),
        )
    }

    /// Sign a fresh assertion now. With `-v` its header and claims are logged first, from
    /// the claims themselves: what was just signed is never decoded again.
    pub fn make(&self) -> Result<String> {
        let mut claims = self.claims.clone();
        if self.nbf {
            claims = claims.not_before(SystemTime::now());
        }
        if log::log_enabled!(log::Level::Info) {
            let (fixed, line) = described(claims, &self.signer)?;
            log::info!("{line}");
            claims = fixed;
        }
        self.signer
            .sign(&claims)
            .context("cannot sign the assertion")
    }
}

/// `claims` with `iat` and `jti` fixed, and the log line that shows the header and claims a
/// signing of them produces. Fixing the two is what makes the line true: left open, the
/// signer would read the clock and draw a `jti` again.
fn described(claims: Claims, signer: &Signer) -> Result<(Claims, String)> {
    let payload = claims.to_payload().context("cannot sign the assertion")?;
    let iat = payload["iat"].as_u64().unwrap_or_default();
    let jti = payload["jti"].as_str().unwrap_or_default().to_owned();
    let claims = claims
        .issued_at(UNIX_EPOCH + Duration::from_secs(iat))
        .jwt_id(jti);
    let header: Value = serde_json::from_str(&signer.header_json_typed(claims.jws_type()))?;
    Ok((
        claims,
        format!("assertion header {header}, claims {payload}"),
    ))
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

#[cfg(test)]
mod tests {
    use super::*;

    /// For Keycloak the realm's issuer is the audience: `--issuer-url` gives it, ahead of
    /// `--keycloak/--realm` and `--token-endpoint`; `--aud` beats them all.
    #[test]
    fn the_audience_comes_from_the_most_specific_option() {
        use clap::Parser as _;
        let aud = |options: &str| {
            let line = format!("jwtgrant token {options}");
            let cli = crate::cli::Cli::try_parse_from(line.split_whitespace()).unwrap();
            let crate::cli::Command::Token(c) = &cli.command else {
                unreachable!()
            };
            audience(
                &c.request.sign,
                &c.request.keycloak,
                Some(&c.request.endpoint),
            )
            .map_err(|e| format!("{e:#}"))
        };
        let kc = "--keycloak http://kc:8080 --realm r";
        let issuer = "--issuer-url https://sso/realms/r/";
        let endpoint = "--token-endpoint https://sso/t";
        assert_eq!(aud(&format!("--aud a {issuer} {kc}")), Ok("a".into()));
        assert_eq!(
            aud(&format!("{endpoint} {kc} {issuer}")),
            Ok("https://sso/realms/r".into())
        );
        assert_eq!(
            aud(&format!("{endpoint} {kc}")),
            Ok("http://kc:8080/realms/r".into())
        );
        assert_eq!(aud(endpoint), Ok("https://sso/t".into()));
        assert_eq!(
            aud("--realm r"),
            Err("missing audience: pass --aud AUD, --issuer-url URL, or --keycloak URL and --realm REALM (audience <URL>/realms/<REALM>)".into())
        );
    }

    #[test]
    fn the_logged_claims_are_the_signed_ones() {
        let pem =
            jwtgrant_signer::generate_private_key_pem(jwtgrant_signer::Algorithm::ES256, None)
                .unwrap();
        let signer = Signer::from_pem(pem.as_bytes()).unwrap().with_kid("k1");
        let claims = Claims::new("https://idp.example", "alice", "https://kc/realms/r")
            .claim("tenant", "acme")
            .id_jag("agent");
        let (fixed, line) = described(claims, &signer).unwrap();
        // A test may decode what it signed; the command never does.
        let token = signer.sign(&fixed).unwrap();
        let decoded = jwtgrant_signer::decode_unverified(&token).unwrap();
        assert_eq!(
            line,
            format!(
                "assertion header {}, claims {}",
                decoded.header(),
                decoded.claims()
            )
        );
        assert_eq!(decoded.header()["typ"], "oauth-id-jag+jwt");
        assert_eq!(decoded.claims()["client_id"], "agent");
        // Fixed claims describe (and sign) the same way again; open ones draw a new jti.
        assert_eq!(described(fixed, &signer).unwrap().1, line);
        let open = Claims::new("https://idp.example", "alice", "https://kc/realms/r");
        assert_ne!(
            open.to_payload().unwrap()["jti"],
            open.to_payload().unwrap()["jti"]
        );
    }
}
