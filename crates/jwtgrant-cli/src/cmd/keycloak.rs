//! `keycloak setup` and `keycloak doctor`: the admin API side. The logic lives in
//! `jwtgrant_exchange::keycloak::admin` and `jwtgrant_exchange::keycloak::doctor`; this only wires and prints.

use std::path::PathBuf;

use anyhow::Result;
use jwtgrant_exchange::ExchangeError;
use jwtgrant_exchange::keycloak::admin::{
    AdminLogin, AdminSession, Change, ClientAuthenticator, DEFAULT_ADMIN_TIMEOUT, IdpKey,
    JwtClient, JwtIdp, UserSpec,
};
use jwtgrant_exchange::keycloak::doctor::{self, Agreement, Status};
use serde_json::json;

use super::Globals;
use super::sign::Assertions;
use crate::cli::{AdminArgs, DoctorArgs, KeycloakArgs, SetupArgs, TransportArgs};
use crate::error::{Coded, REJECTED, UNREACHABLE, usage};
use crate::secrets::{self, Given};
use crate::{advice, files};

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
            ClientAuthenticator::Secret(None),
            [args.idp_alias.as_str()],
        )
        .dpop_bound_tokens(args.require_dpop),
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
            "token_endpoint": jwtgrant_exchange::keycloak::token_endpoint(&base, &realm),
            "audience": jwtgrant_exchange::keycloak::realm_url(&base, &realm),
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
        jwtgrant_exchange::keycloak::token_endpoint(&base, &realm),
        jwtgrant_exchange::keycloak::realm_url(&base, &realm)
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
        None => Assertions::from_args(&args.sign, &args.keycloak, Some(&client_id), g)?.make()?,
    };
    // Read the secret options before any network traffic so option errors come first; a
    // missing secret is read through the admin API later.
    let given_secret = if args.no_exchange {
        Given::NotUsed
    } else {
        secrets::given_client_secret(&args.client, from_stdin)?
    };
    let session = login(&base, &args.admin, &args.endpoint.transport)?;
    // One transport for the JWKS fetch and the exchange (CA file, timeouts, discovery once).
    let transport = super::exchange::client_transport(&args.endpoint.transport, &args.client, g)?;
    let transport = super::exchange::endpoint_client(&args.endpoint, &args.keycloak, transport)?;
    // DPoP: the doctor predicts with it, and the real exchange sends a proof.
    let transport = super::dpop::with_dpop(transport, &args.dpop, g)?;
    let fetched = doctor::fetch(&session, &transport, &base, &realm, &client_id, &assertion)?;
    let report = doctor::diagnose(
        &fetched.snapshot,
        &assertion,
        super::sign::unix_now(),
        fetched.signature.as_ref(),
    );
    files::stdout(&render_report(&report, &client_id, &realm, &base))?;
    let local = report.first_failure().cloned();
    if args.no_exchange {
        return local.map_or(Ok(()), |c| Err(failing(&c)));
    }

    // The real exchange, with a secret from the options or read through the admin API.
    let secret = match given_secret {
        Given::Secret(s) => Some(s),
        Given::NotUsed => None,
        Given::Missing => session
            .client_secret(&realm, &client_id)?
            .inspect(|_| log::info!("using the client secret read through the admin API")),
    };
    let auth = super::exchange::client_auth(&args.client, secret, g)?;
    let answer = super::exchange::authenticated(transport, auth, &args.client)
        .exchange(&assertion)
        .map(|_| ());
    let agreement = doctor::compare(&report, answer.as_ref().map(|_| ()));
    files::stdout(&render_answer(answer.as_ref().err(), &agreement))?;
    match (agreement, local) {
        (Agreement::BothAccept | Agreement::UnexpectedToken { .. }, _) => Ok(()),
        (_, Some(c)) => Err(failing(&c)),
        (Agreement::NoAnswer, None) => Err(exchange_failed(UNREACHABLE)),
        (_, None) => Err(exchange_failed(REJECTED)),
    }
}

/// One line per check in the server's order, each failure's fix (with jwtgrant's flags),
/// and the verdict.
fn render_report(report: &doctor::Report, client_id: &str, realm: &str, base: &str) -> String {
    let order = match &report.server_version {
        Some(v) => format!("Keycloak {v}'s order"),
        None => format!(
            "{}'s order (the server's version is unknown)",
            report.order.releases()
        ),
    };
    let mut out =
        format!("checks for client '{client_id}' in realm '{realm}' at {base}, in {order}:\n");
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
            if let Some(advice) = advice::for_check(c.check).filter(|_| c.status == Status::Fail) {
                out.push_str(&format!("         {:<20} with jwtgrant: {advice}\n", ""));
            }
        }
    }
    match report.first_failure() {
        Some(c) => out.push_str(&format!(
            "verdict: Keycloak should reject this assertion at check '{}': {}\n",
            c.name,
            c.keycloak_error().unwrap_or("?")
        )),
        None => out.push_str("verdict: every check passes; Keycloak should issue a token\n"),
    }
    out
}

/// Keycloak's answer and how it compares with the verdict.
fn render_answer(error: Option<&ExchangeError>, agreement: &Agreement) -> String {
    let answer = match error.map(|e| (e, e.rejection())) {
        None => String::new(),
        Some((_, Some(r))) => format!(
            "keycloak: {} {}: {}\n",
            r.status,
            r.error,
            r.error_description.as_deref().unwrap_or("")
        ),
        Some((e, None)) => format!("keycloak: {e}\n"),
    };
    let verdict = match agreement {
        Agreement::BothAccept => "keycloak: issued an access token (agrees with the checks)".to_owned(),
        Agreement::UnexpectedToken { predicted } => format!(
            "keycloak: issued an access token, although check '{}' predicted a rejection (a newer Keycloak may check differently)",
            predicted.name()
        ),
        Agreement::SameRejection { .. } => {
            "agreement: Keycloak names the same failing check".to_owned()
        }
        Agreement::UnexpectedRejection { .. } => {
            "agreement: the local checks all passed but Keycloak refused: see its answer above"
                .to_owned()
        }
        Agreement::DifferentRejection { .. } => {
            "agreement: Keycloak names a different failure than the first local one (a check the doctor cannot replay, such as jti reuse, or an order it does not know)".to_owned()
        }
        Agreement::NoAnswer => "agreement: Keycloak gave no verdict to compare with".to_owned(),
        _ => "agreement: unknown".to_owned(),
    };
    format!("{answer}{verdict}\n")
}

fn exchange_failed(code: u8) -> anyhow::Error {
    Coded {
        code,
        message: "the exchange failed".into(),
        hint: None,
    }
    .into()
}

/// Exit 3 naming the failing check, its fix and how to make it with jwtgrant.
fn failing(c: &doctor::Check) -> anyhow::Error {
    Coded {
        code: REJECTED,
        message: format!("check '{}' fails: {}", c.name, c.detail),
        hint: match (&c.fix, advice::for_check(c.check)) {
            (Some(fix), Some(a)) => Some(format!("{fix}; with jwtgrant: {a}")),
            (fix, a) => fix.clone().or(a.map(str::to_owned)),
        },
    }
    .into()
}
