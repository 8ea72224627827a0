//! `keycloak setup` and `keycloak doctor`: the admin API side. The logic lives in
//! `jwtgrant_exchange::admin` and `jwtgrant_exchange::doctor`; this only wires and prints.

use std::path::PathBuf;

use anyhow::Result;
use jwtgrant_exchange::admin::{
    AdminLogin, AdminSession, Change, ClientAuth as AdminClientAuth, DEFAULT_ADMIN_TIMEOUT, IdpKey,
    JwtClient, JwtIdp, UserSpec,
};
use jwtgrant_exchange::doctor::{self, Status};
use serde_json::json;

use super::Globals;
use super::sign::Assertions;
use crate::cli::{AdminArgs, ClientAuth, DoctorArgs, KeycloakArgs, SetupArgs, TransportArgs};
use crate::error::{Coded, REJECTED, UNREACHABLE, usage};
use crate::files;
use crate::secrets;

fn base_and_realm(kc: &KeycloakArgs) -> Result<(String, String)> {
    match (&kc.keycloak, &kc.realm) {
        (Some(b), Some(r)) => Ok((b.clone(), r.clone())),
        _ => Err(usage(
            "missing --keycloak URL and --realm REALM (or JWTGRANT_KEYCLOAK and JWTGRANT_REALM)",
        )),
    }
}

/// Logs in through the same transport policy as the token endpoint (CA file, plain-http
/// rule, proxy rule); admin requests get at least [`DEFAULT_ADMIN_TIMEOUT`].
fn login(base: &str, admin: &AdminArgs, transport: &TransportArgs) -> Result<AdminSession> {
    let password = secrets::admin_password(admin)?;
    let transport = super::exchange::transport(transport)?;
    let timeout = transport.timeout_limit().max(DEFAULT_ADMIN_TIMEOUT);
    log::info!("logging in to {base} as admin user '{}'", admin.admin_user);
    let login = AdminLogin::password(admin.admin_user.clone(), password);
    Ok(AdminSession::connect(
        base,
        login,
        transport.timeout(timeout),
    )?)
}

pub fn setup(args: &SetupArgs, g: Globals) -> Result<()> {
    secrets::refuse_secret_flags(None, Some(&args.admin))?;
    let (base, realm) = base_and_realm(&args.keycloak)?;
    // Everything local first: the key file and the admin password.
    let key = match (&args.public_key, &args.jwks_url) {
        (Some(path), _) => IdpKey::Static {
            public_key: super::keys::public_key(path, g)?.to_pem(),
            key_id: None,
        },
        (None, Some(url)) => IdpKey::JwksUrl(url.clone()),
        (None, None) => return Err(usage("pass --public-key FILE or --jwks-url URL")),
    };
    let secret_out = args
        .secret_out
        .clone()
        .unwrap_or_else(|| PathBuf::from(format!("{}.secret", args.client_id)));
    let session = login(&base, &args.admin, &args.transport)?;

    let mut outcomes = Vec::new();
    outcomes.push(session.ensure_realm(&realm)?);
    outcomes
        .push(session.ensure_jwt_idp(&realm, &JwtIdp::new(&args.idp_alias, &args.issuer, key))?);
    let client = session.ensure_client(
        &realm,
        &JwtClient::new(
            &args.client_id,
            AdminClientAuth::Secret(None),
            [args.idp_alias.as_str()],
        ),
    )?;
    outcomes.push(client.outcome.clone());
    for (sub, username) in &args.links {
        let user = session.ensure_user(&realm, username, &UserSpec::new())?;
        outcomes.push(user.outcome.clone());
        outcomes.push(session.ensure_idp_link(&realm, &user.id, &args.idp_alias, sub, username)?);
    }
    let secret = match client.secret {
        Some(s) => Some(s),
        None => session.client_secret(&realm, &args.client_id)?,
    };

    // The secret goes to a 0600 file; rewritten only when it differs.
    let mut secret_note = None;
    if let Some(s) = &secret {
        let current = std::fs::read_to_string(&secret_out).ok();
        if current.as_deref().map(str::trim_end) != Some(s.secret()) {
            files::write_private(&secret_out, format!("{}\n", s.secret()).as_bytes(), true)?;
            secret_note = Some(format!(
                "wrote the client secret to {} (mode 0600)",
                secret_out.display()
            ));
        } else {
            files::check_private_permissions(
                &secret_out,
                g.allow_insecure_key_permissions,
                "client secret file",
            )?;
        }
    }
    let changed: Vec<_> = outcomes
        .iter()
        .filter(|o| o.change != Change::Unchanged)
        .collect();

    if args.json {
        let v = json!({
            "changes": outcomes.iter().map(|o| json!({"change": o.change.to_string(), "what": o.description})).collect::<Vec<_>>(),
            "changed": !changed.is_empty() || secret_note.is_some(),
            "client_id": args.client_id,
            "client_secret": secret.as_ref().map(|s| s.secret()),
            "secret_file": secret.as_ref().map(|_| secret_out.display().to_string()),
            "token_endpoint": jwtgrant_exchange::keycloak_token_endpoint(&base, &realm),
            "audience": jwtgrant_exchange::keycloak_realm_url(&base, &realm),
        });
        return files::println(&serde_json::to_string(&v)?);
    }
    let mut out = String::new();
    if changed.is_empty() && secret_note.is_none() {
        out.push_str(&format!(
            "nothing to change: realm '{realm}', identity provider '{}', client '{}' and {} link(s) are as wanted\n",
            args.idp_alias,
            args.client_id,
            args.links.len()
        ));
    } else {
        for o in &changed {
            out.push_str(&format!("{o}\n"));
        }
        if let Some(n) = &secret_note {
            out.push_str(&format!("{n}\n"));
        }
    }
    if secret.is_some() {
        out.push_str(&format!("client secret: {}\n", secret_out.display()));
    }
    out.push_str(&format!(
        "token endpoint: {}\naudience: {}\n",
        jwtgrant_exchange::keycloak_token_endpoint(&base, &realm),
        jwtgrant_exchange::keycloak_realm_url(&base, &realm)
    ));
    files::stdout(&out)
}

pub fn doctor(args: &DoctorArgs, g: Globals) -> Result<()> {
    secrets::refuse_secret_flags(Some(&args.client), Some(&args.admin))?;
    let (base, realm) = base_and_realm(&args.keycloak)?;
    let client_id = args
        .client
        .client_id
        .clone()
        .ok_or_else(|| usage("missing --client-id ID"))?;
    let from_stdin = args.assertion.as_deref() == Some("-");
    let assertion = match &args.assertion {
        Some(a) if a == "-" => files::read_stdin_trimmed("assertion")?,
        Some(a) => a.trim().to_owned(),
        None => Assertions::from_args(&args.sign, &args.keycloak, g)?.make()?,
    };
    // Build the token client before any network traffic so option errors come first.
    let given_secret = if args.no_exchange {
        None
    } else {
        match secrets::client_secret(&args.client, from_stdin) {
            Ok(s) => Some(s),
            Err(e)
                if e.downcast_ref::<crate::error::Usage>()
                    .is_some_and(|u| u.0.starts_with("missing client secret")) =>
            {
                None
            }
            Err(e) => return Err(e),
        }
    };
    let session = login(&base, &args.admin, &args.endpoint.transport)?;
    // One transport for the JWKS fetch and the exchange (CA file, timeouts, discovery once).
    let transport = super::exchange::client_transport(&args.endpoint.transport, &args.client, g)?;
    let transport = super::exchange::endpoint_client(&args.endpoint, &args.keycloak, transport)?;
    let fetched = doctor::fetch(&session, &transport, &base, &realm, &client_id, &assertion)?;
    let report = doctor::diagnose(
        &fetched.snapshot,
        &assertion,
        super::sign::unix_now(),
        fetched.signature.as_ref(),
    );

    let mut out = format!(
        "checks for client '{client_id}' in realm '{realm}' at {base}, in Keycloak's order:\n"
    );
    for c in &report.checks {
        let mark = match c.status {
            Status::Pass => "ok  ",
            Status::Fail => "FAIL",
            Status::Warn => "warn",
            Status::Skip => "skip",
        };
        out.push_str(&format!("  [{mark}] {:<20} {}\n", c.name, c.detail));
        if let (Some(fix), Status::Fail | Status::Warn) = (&c.fix, c.status) {
            out.push_str(&format!("         {:<20} fix: {fix}\n", ""));
        }
    }
    let local = report.first_failure().cloned();
    match &local {
        Some(c) => out.push_str(&format!(
            "verdict: Keycloak should reject this assertion at check '{}': {}\n",
            c.name,
            c.keycloak_error.unwrap_or("?")
        )),
        None => out.push_str("verdict: every check passes; Keycloak should issue a token\n"),
    }
    files::stdout(&out)?;

    if args.no_exchange {
        return match local {
            None => Ok(()),
            Some(c) => Err(failing(&c)),
        };
    }

    // The real exchange, with a secret from the options or read through the admin API.
    let secret = match given_secret.flatten() {
        Some(s) => Some(s),
        None if matches!(
            args.client.client_auth,
            ClientAuth::Post | ClientAuth::Basic
        ) =>
        {
            match session.client_secret(&realm, &client_id)? {
                Some(s) => {
                    log::info!("using the client secret read through the admin API");
                    Some(s)
                }
                None => None,
            }
        }
        None => None,
    };
    let auth = super::exchange::client_auth(&args.client, secret, g)?;
    let ex = super::exchange::authenticated(transport, auth, &args.client);
    let answer = ex.exchange(&assertion);
    let mut out = String::new();
    let code = match (&answer, &local) {
        (Ok(_), None) => {
            out.push_str("keycloak: issued an access token (agrees with the checks)\n");
            0
        }
        (Ok(_), Some(c)) => {
            out.push_str(&format!(
                "keycloak: issued an access token, although check '{}' predicted a rejection (a newer Keycloak may check differently)\n",
                c.name
            ));
            0
        }
        (Err(e), _) => {
            let rejected = e.rejection();
            match rejected {
                Some(r) => out.push_str(&format!(
                    "keycloak: {} {}: {}\n",
                    r.status,
                    r.error,
                    r.error_description.as_deref().unwrap_or("")
                )),
                None => out.push_str(&format!("keycloak: {e}\n")),
            }
            let agrees = match (&local, rejected) {
                (Some(c), Some(r)) => {
                    c.keycloak_error == r.error_description.as_deref()
                        || c.keycloak_error == Some(r.error.as_str())
                }
                _ => false,
            };
            out.push_str(if agrees {
                "agreement: Keycloak names the same failing check\n"
            } else if local.is_none() {
                "agreement: the local checks all passed but Keycloak refused: see its answer above\n"
            } else {
                "agreement: Keycloak names a different failure than the first local one (it checks in its own order)\n"
            });
            if rejected.is_some() {
                REJECTED
            } else {
                UNREACHABLE
            }
        }
    };
    files::stdout(&out)?;
    match (code, local) {
        (0, _) => Ok(()),
        (_, Some(c)) => Err(failing(&c)),
        (code, None) => Err(Coded {
            code,
            message: "the exchange failed".into(),
            hint: None,
        }
        .into()),
    }
}

/// Exit 3 naming the failing check.
fn failing(c: &doctor::Check) -> anyhow::Error {
    Coded {
        code: REJECTED,
        message: format!("check '{}' fails: {}", c.name, c.detail),
        hint: c.fix.clone(),
    }
    .into()
}
