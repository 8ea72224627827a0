//! `keycloak setup` and `keycloak doctor`: the admin API side. The logic lives in
//! `jwtgrant_keycloak::admin` and `jwtgrant_keycloak::doctor`; this only wires and prints.

use anyhow::Result;
use jwtgrant_exchange::ExchangeError;
use jwtgrant_keycloak::admin::{
    AdminError, AdminSession, Change, ClientAuthenticator, EnsuredClient, JwtClient, JwtIdp,
    Outcome, UserSpec,
};
use jwtgrant_keycloak::doctor::{self, Agreement, Status};
use jwtgrant_keycloak::settings::Authenticator;
use serde_json::json;

use super::Globals;
use crate::error::{Coded, REJECTED, UNREACHABLE};
use crate::settings::keycloak::{Admin, Assertion, DoctorSettings, SetupSettings};
use crate::settings::secrets::Secret;
use crate::{advice, files};

/// Logs in through the same transport policy as the token endpoint (CA file, plain-http
/// rule, proxy rule).
fn login(admin: &Admin) -> Result<AdminSession> {
    log::info!("logging in to {} as {}", admin.base, admin.user);
    Ok(AdminSession::connect(
        &admin.base,
        admin.login.clone(),
        admin.transport.clone(),
    )?)
}

/// What `setup` says about a certificate client's secret (text and JSON).
const NO_SECRET: &str =
    "no client secret: the client authenticates with its certificate (no secret file written)";

/// What setup says about a federated client.
const NO_SECRET_FEDERATED: &str = "no client secret: the client authenticates with a client assertion the issuer's key signs (jwtgrant token --client-auth federated; no secret file written)";

/// What `setup --bound-tokens` says callers must do.
const BOUND_NOTE: &str = "access tokens are bound to the client certificate (cnf x5t#S256): present it (--client-cert, --client-key) on every token request, and use the token only over connections presenting it";

/// `subject 'DN'`, and the CA when one is required.
fn x509_summary(client_cert_dn: Option<&str>, ca_dn: Option<&str>) -> String {
    let subject = client_cert_dn.unwrap_or_default().trim();
    match ca_dn {
        Some(ca) => format!("subject '{subject}', issued by '{}'", ca.trim()),
        None => format!("subject '{subject}'"),
    }
}

/// What `setup` made of the realm: every step's outcome, the client, and what to say
/// about the users.
struct Applied {
    outcomes: Vec<Outcome>,
    client: Option<EnsuredClient>,
    warnings: Vec<String>,
}

pub fn setup(args: SetupSettings, g: &Globals) -> Result<()> {
    let (base, realm) = (args.admin.base.clone(), args.realm.clone());
    let secret_out = &args.secret_out;
    let session = login(&args.admin)?.dry_run(args.dry_run);
    let mut applied = Applied {
        outcomes: Vec::new(),
        client: None,
        warnings: Vec::new(),
    };
    if let Err(e) = provision(&session, &args, &mut applied) {
        return Err(stopped(e.into(), &applied, &args));
    }
    let client = applied.client.take().expect("provision sets the client");
    let x509 = client.authenticator == Authenticator::X509;
    let federated = client.authenticator == Authenticator::Federated;
    let no_secret = match client.authenticator {
        Authenticator::X509 => Some(NO_SECRET),
        Authenticator::Federated => Some(NO_SECRET_FEDERATED),
        _ => None,
    };
    // A certificate or federated client has no secret to write, even if Keycloak kept one.
    let secret = client.secret.filter(|_| no_secret.is_none());

    // The secret goes to a 0600 file, written only when it differs from what the file holds.
    let mut secret_note = None;
    if let (Some(s), false) = (&secret, args.dry_run) {
        secret_note = save_secret(secret_out, s, &args.client_id, args.force, g)?;
    }
    let outcomes = &applied.outcomes;
    let changed: Vec<_> = outcomes
        .iter()
        .filter(|o| o.change != Change::Unchanged)
        .collect();
    let secret_file = match (args.dry_run, client.authenticator == Authenticator::Secret) {
        (false, _) => secret.as_ref().map(|_| secret_out.display().to_string()),
        (true, true) => Some(secret_out.display().to_string()),
        (true, false) => None,
    };

    if args.json {
        let mut v = json!({
            "dry_run": args.dry_run,
            "changes": outcomes.iter().map(outcome_json).collect::<Vec<_>>(),
            "changed": !changed.is_empty() || secret_note.is_some(),
            "warnings": applied.warnings,
            "client_id": args.client_id,
            "client_auth": client_auth_name(&client.authenticator),
            "client_cert_dn": args.client_cert_dn,
            "ca_dn": args.ca_dn,
            "bound_tokens": args.bound_tokens,
            "secret_file": secret_file,
            "secret_note": no_secret,
            "token_endpoint": jwtgrant_keycloak::token_endpoint(&base, &realm),
            "audience": jwtgrant_keycloak::realm_url(&base, &realm),
        });
        // CI logs keep stdout: the secret goes there only when asked for by name.
        if let (true, Some(s), serde_json::Value::Object(map)) =
            (args.json_include_secret, &secret, &mut v)
        {
            map.insert("client_secret".into(), s.secret().into());
        }
        let text = zeroize::Zeroizing::new(serde_json::to_string(&v)?);
        return files::println(&text);
    }
    let mut out = String::new();
    if args.dry_run {
        out.push_str("dry run: nothing was written; the plan:\n");
        for o in outcomes {
            out.push_str(&plan_lines(o));
        }
    } else if changed.is_empty() && secret_note.is_none() {
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
    for w in &applied.warnings {
        out.push_str(&format!("warning: {w}\n"));
    }
    match (&secret_file, args.dry_run) {
        (Some(f), false) => out.push_str(&format!("client secret: {f}\n")),
        (Some(f), true) => out.push_str(&format!("client secret: would be kept in {f}\n")),
        (None, _) => {}
    }
    if x509 {
        if args.client_cert_dn.is_some() {
            out.push_str(&format!(
                "client certificate: {}\n",
                x509_summary(args.client_cert_dn.as_deref(), args.ca_dn.as_deref())
            ));
        }
        out.push_str(&format!("{NO_SECRET}\n"));
    }
    if federated {
        out.push_str(&format!("{NO_SECRET_FEDERATED}\n"));
    }
    if args.bound_tokens == Some(true) {
        out.push_str(BOUND_NOTE);
        out.push('\n');
    }
    out.push_str(&format!(
        "token endpoint: {}\naudience: {}\n",
        jwtgrant_keycloak::token_endpoint(&base, &realm),
        jwtgrant_keycloak::realm_url(&base, &realm)
    ));
    files::stdout(&out)
}

/// The steps in order: realm, identity provider, client, then each user and its link.
/// Each outcome is kept as soon as it is known, so a failure can say what stands.
fn provision(
    session: &AdminSession,
    args: &SetupSettings,
    applied: &mut Applied,
) -> Result<(), AdminError> {
    let realm = &args.realm;
    applied.outcomes.push(session.ensure_realm(realm)?);
    applied.outcomes.push(session.ensure_jwt_idp(
        realm,
        &JwtIdp::new(&args.idp_alias, &args.issuer, args.key.clone()),
    )?);
    if let Some(ClientAuthenticator::Federated { idp_alias, .. }) = &args.authenticator {
        // The grant's provider cannot verify client assertions: an OIDC one beside it does,
        // with the same issuer and key.
        applied.outcomes.push(session.ensure_jwt_idp(
            realm,
            &JwtIdp::client_assertions(idp_alias, &args.issuer, args.key.clone()),
        )?);
    }
    let mut wanted = JwtClient::new(
        &args.client_id,
        args.authenticator
            .clone()
            .unwrap_or(ClientAuthenticator::Secret(None)),
        [args.idp_alias.as_str()],
    );
    if args.authenticator.is_none() {
        wanted = wanted.keep_existing_auth();
    }
    if let Some(b) = args.bound_tokens {
        wanted = wanted.certificate_bound_tokens(b);
    }
    if let Some(b) = args.require_dpop {
        wanted = wanted.dpop_bound_tokens(b);
    }
    let client = session.ensure_client(realm, &wanted)?;
    applied.outcomes.push(client.outcome.clone());
    applied.client = Some(client);
    for (sub, username) in &args.links {
        let user = session.ensure_user(realm, username, &UserSpec::new())?;
        applied.outcomes.push(user.outcome.clone());
        if !user.enabled {
            applied.warnings.push(format!(
                "user '{username}' is disabled, so the grant refuses it: left as it is (enable it in Keycloak if that is wrong)"
            ));
        }
        if !user.required_actions.is_empty() {
            applied.warnings.push(format!(
                "user '{username}' has required actions ({}), so the grant refuses it (\"Account is not fully set up\"): left as they are",
                user.required_actions.join(", ")
            ));
        }
        applied.outcomes.push(session.ensure_idp_link(
            realm,
            &user.id,
            &args.idp_alias,
            sub,
            username,
        )?);
    }
    Ok(())
}

/// A failure part way: the error, with what was applied before it and what was not.
fn stopped(e: anyhow::Error, applied: &Applied, args: &SetupSettings) -> anyhow::Error {
    let done: Vec<String> = applied
        .outcomes
        .iter()
        .map(|o| o.description.clone())
        .collect();
    let federated = matches!(
        args.authenticator,
        Some(ClientAuthenticator::Federated { .. })
    );
    let steps: &[&str] = if federated {
        &[
            "realm",
            "identity provider",
            "client assertion provider",
            "client",
        ]
    } else {
        &["realm", "identity provider", "client"]
    };
    let mut left: Vec<String> = steps
        .iter()
        .skip(applied.outcomes.len().min(steps.len()))
        .map(|s| s.to_string())
        .collect();
    let links_done = applied.outcomes.len().saturating_sub(steps.len()) / 2;
    left.extend(
        args.links
            .iter()
            .skip(links_done)
            .map(|(sub, user)| format!("user '{user}' and its link to '{sub}'")),
    );
    if !args.dry_run && !federated {
        left.push("the client secret file".into());
    }
    let done = if done.is_empty() {
        "nothing".to_owned()
    } else {
        done.join(", ")
    };
    e.context(format!(
        "keycloak setup stopped part way; applied: {done}; not applied: {}",
        left.join(", ")
    ))
}

/// An outcome as data: what, the change, and each field's old and new value.
fn outcome_json(o: &Outcome) -> serde_json::Value {
    json!({
        "change": o.change.to_string(),
        "what": o.description,
        "object": o.what,
        "fields": o.fields.iter().map(|f| json!({"field": f.field, "old": f.old, "new": f.new})).collect::<Vec<_>>(),
    })
}

/// One plan entry: `  create client '...'`, then `      field: old -> new` per field.
fn plan_lines(o: &Outcome) -> String {
    let verb = match o.change {
        Change::Created => "create",
        Change::Updated => "update",
        _ => "keep",
    };
    let mut out = format!("  {verb} {}\n", o.what);
    let shown = |v: &Option<String>| match v {
        Some(v) => format!("'{}'", jwtgrant_exchange::text::sanitize(v, 72)),
        None => "(none)".to_owned(),
    };
    for f in &o.fields {
        out.push_str(&format!(
            "      {}: {} -> {}\n",
            f.field,
            shown(&f.old),
            shown(&f.new)
        ));
    }
    out
}

/// `--client-auth`'s name for an authenticator (`other` for one setup does not make).
fn client_auth_name(a: &Authenticator) -> &'static str {
    match a {
        Authenticator::Secret => "secret",
        Authenticator::X509 => "tls",
        Authenticator::Federated => "federated",
        Authenticator::Jwt => "private-key-jwt",
        _ => "other",
    }
}

/// Write the client secret to `path` (mode 0600, a new file) unless it already holds it;
/// replace a file holding something else only with `force`. Returns the note to print when
/// it wrote.
fn save_secret(
    path: &std::path::Path,
    secret: &Secret,
    client_id: &str,
    force: bool,
    g: &Globals,
) -> Result<Option<String>> {
    let what = "client secret file";
    let exists = std::fs::symlink_metadata(path).is_ok();
    if exists {
        let current = files::PrivateFile::open(path, what)?;
        let first = current.bytes().split(|b| *b == b'\n').next().unwrap_or(&[]);
        if first.trim_ascii_end() == secret.secret().as_bytes() {
            current.check(path, what, g.allow_insecure_key_permissions)?;
            return Ok(None);
        }
        if !force {
            anyhow::bail!(
                "'{}' holds something other than the secret of client '{client_id}': pass --force to replace it, or --secret-out FILE to write the secret elsewhere",
                path.display()
            );
        }
    }
    let contents = zeroize::Zeroizing::new(format!("{}\n", secret.secret()));
    files::write_private(path, contents.as_bytes(), exists)?;
    Ok(Some(format!(
        "wrote the client secret to {} (mode 0600)",
        path.display()
    )))
}

pub fn doctor(s: DoctorSettings) -> Result<()> {
    let DoctorSettings {
        admin,
        realm,
        client_id,
        assertion,
        spend_assertion,
        json,
        route,
        exchange: credentials,
    } = s;
    let base = admin.base.clone();
    let given = matches!(assertion, Assertion::Given(_));
    let assertion = assertion.jwt()?;
    let session = login(&admin)?;
    // One client for the JWKS fetch and the exchange (discovery once).
    let exchange = super::exchange::endpoint_client(route)?;
    let mut fetched = doctor::fetch(&session, &exchange, &base, &realm, &client_id, &assertion)?;
    // The secret the exchange will send, compared with the client's in Keycloak.
    if let Some(sent) = credentials.as_ref().and_then(|c| c.auth.sent_secret())
        && let Err(e) = doctor::compare_client_secret(&session, &mut fetched.snapshot, sent)
    {
        log::warn!("cannot compare the client secret with the one Keycloak holds: {e}");
    }
    let report = doctor::diagnose(
        &fetched.snapshot,
        &assertion,
        super::sign::unix_now(),
        fetched.signature.as_ref(),
    );
    // The report and the answer quote the realm's configuration and Keycloak's words:
    // `files::stdout` is the output gate they pass.
    let mut out = DoctorOutput::new(json, &report, &client_id, &realm, &base)?;
    let local = report.first_failure().cloned();
    let credentials = match credentials {
        // The real exchange spends the assertion's jti: one the user gave is spent only
        // when asked.
        Some(_) if given && !spend_assertion => {
            out.not_spent()?;
            None
        }
        c => c,
    };
    let Some(credentials) = credentials else {
        let result = local.map_or(Ok(()), |c| Err(failing(&c)));
        return out.finish(result);
    };

    // The real exchange, with a secret from the options or read through the admin API (a
    // client that does not exist has none: Keycloak answers for it without one).
    let client_exists = fetched.snapshot.client.is_some() && !fetched.snapshot.realm_missing;
    let auth = credentials.auth.with_secret(|| {
        if !client_exists {
            return Ok(None);
        }
        Ok(session
            .client_secret(&realm, &client_id)?
            .inspect(|_| log::info!("using the client secret read through the admin API")))
    })?;
    let answer = super::exchange::authenticated(exchange, auth, credentials.scope)
        .exchange(&assertion)
        .map(|_| ());
    let agreement = doctor::compare(&report, answer.as_ref().map(|_| ()));
    out.answer(answer.as_ref().err(), &agreement)?;
    let result = match (agreement, local) {
        (Agreement::BothAccept | Agreement::UnexpectedToken { .. }, _) => Ok(()),
        (_, Some(c)) => Err(failing(&c)),
        (Agreement::NoAnswer, None) => Err(exchange_failed(UNREACHABLE, answer.err())),
        (_, None) => Err(exchange_failed(REJECTED, answer.err())),
    };
    out.finish(result)
}

/// Where the doctor's report goes: text as it is made, or one JSON object at the end.
struct DoctorOutput {
    /// The JSON object being built; `None` for text.
    json: Option<serde_json::Value>,
}

impl DoctorOutput {
    fn new(
        json: bool,
        report: &doctor::Report,
        client_id: &str,
        realm: &str,
        base: &str,
    ) -> Result<DoctorOutput> {
        if !json {
            files::stdout(&render_report(report, client_id, realm, base))?;
            return Ok(DoctorOutput { json: None });
        }
        let checks: Vec<serde_json::Value> = report
            .checks
            .iter()
            .map(|c| {
                json!({
                    "check": c.name,
                    "status": status_name(c.status),
                    "detail": c.detail,
                    "fix": c.fix,
                    "with_jwtgrant": advice::for_check(c.check).filter(|_| c.status == Status::Fail),
                    "keycloak_error": c.keycloak_error(),
                })
            })
            .collect();
        let first = report.first_failure();
        Ok(DoctorOutput {
            json: Some(json!({
                "client_id": client_id,
                "realm": realm,
                "keycloak": base,
                "server_version": report.server_version.as_ref().map(ToString::to_string),
                "order": report.order.releases(),
                "checks": checks,
                "verdict": {
                    "rejects": first.is_some(),
                    "check": first.map(|c| c.name),
                    "keycloak_error": first.and_then(doctor::Finding::keycloak_error),
                },
                "exchange": {"sent": false},
            })),
        })
    }

    fn not_spent(&mut self) -> Result<()> {
        match &mut self.json {
            None => files::stdout(NOT_SPENT),
            Some(v) => {
                v["exchange"] = json!({"sent": false, "why": NOT_SPENT.trim_start_matches("keycloak: not asked: ").trim_end()});
                Ok(())
            }
        }
    }

    fn answer(&mut self, error: Option<&ExchangeError>, agreement: &Agreement) -> Result<()> {
        let Some(v) = &mut self.json else {
            return files::stdout(&render_answer(error, agreement));
        };
        let rejection = error.and_then(ExchangeError::rejection);
        v["exchange"] = json!({
            "sent": true,
            "token_issued": error.is_none(),
            "answer": rejection.map(|r| json!({
                "status": r.status,
                "error": r.error,
                "error_description": r.error_description,
            })),
            "error": error.filter(|_| rejection.is_none()).map(ToString::to_string),
            "agreement": agreement_name(agreement),
            "hint": match agreement {
                Agreement::UnexpectedRejection { .. } | Agreement::DifferentRejection { .. } => {
                    error.and_then(answer_hint)
                }
                _ => None,
            },
        });
        Ok(())
    }

    /// Prints the JSON object, with the exit code `result` gives; `result` then counts as
    /// reported there.
    fn finish(self, result: Result<()>) -> Result<()> {
        let Some(mut v) = self.json else {
            return result;
        };
        v["exit_code"] = json!(
            result
                .as_ref()
                .err()
                .map_or(0, |e| crate::error::classify(e).code)
        );
        files::println(&serde_json::to_string(&v)?)?;
        result.map_err(crate::error::shown_in_json)
    }
}

fn status_name(s: Status) -> &'static str {
    match s {
        Status::Pass => "pass",
        Status::Fail => "fail",
        Status::Warn => "warn",
        Status::Skip => "skip",
    }
}

fn agreement_name(a: &Agreement) -> &'static str {
    match a {
        Agreement::BothAccept => "both_accept",
        Agreement::SameRejection { .. } => "same_rejection",
        Agreement::UnexpectedToken { .. } => "unexpected_token",
        Agreement::UnexpectedRejection { .. } => "unexpected_rejection",
        Agreement::DifferentRejection { .. } => "different_rejection",
        Agreement::NoAnswer => "no_answer",
        _ => "unknown",
    }
}

/// Why the doctor did not exchange an assertion given with `--assertion`.
const NOT_SPENT: &str = "keycloak: not asked: the real exchange would spend the given assertion (its jti is single-use); pass --spend-assertion to send it, or let the doctor sign its own with --key, --iss and --sub\n";

/// One line per check in the server's order, each failure's fix (with jwtgrant's flags),
/// and the verdict. The checks skipped after the first failure are one line.
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
    let first_failure = report.checks.iter().position(|c| c.status == Status::Fail);
    let mut skipped = Vec::new();
    for (i, c) in report.checks.iter().enumerate() {
        if c.status == Status::Skip && first_failure.is_some_and(|f| i > f) {
            skipped.push(c.name);
            continue;
        }
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
    if !skipped.is_empty() {
        out.push_str(&format!(
            "  [skip] {:<20} {} (they need the failing check to pass)\n",
            format!("{} more", skipped.len()),
            skipped.join(", ")
        ));
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

/// Keycloak's answer, how it compares with the verdict, and, for an answer the checks did
/// not predict, the hint from the one table of Keycloak's answers.
fn render_answer(error: Option<&ExchangeError>, agreement: &Agreement) -> String {
    let answer = match error.map(|e| (e, e.rejection())) {
        None => String::new(),
        Some((_, Some(r))) => match r.error_description.as_deref().filter(|d| !d.is_empty()) {
            Some(d) => format!("keycloak: {} {}: {d}\n", r.status, r.error),
            None => format!("keycloak: {} {}\n", r.status, r.error),
        },
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
            "agreement: the local checks all passed but Keycloak refused: see its answer and the hint".to_owned()
        }
        Agreement::DifferentRejection { .. } => {
            "agreement: Keycloak names a different failure than the first local one (a check the doctor cannot replay, such as jti reuse, or an order it does not know)".to_owned()
        }
        Agreement::NoAnswer => "agreement: Keycloak gave no verdict to compare with".to_owned(),
        _ => "agreement: unknown".to_owned(),
    };
    let hint = match (agreement, error) {
        (Agreement::UnexpectedRejection { .. } | Agreement::DifferentRejection { .. }, Some(e)) => {
            answer_hint(e)
                .map(|h| format!("hint: {h}\n"))
                .unwrap_or_default()
        }
        _ => String::new(),
    };
    format!("{answer}{verdict}\n{hint}")
}

/// The hint for Keycloak's answer `e`, from the one table (with jwtgrant's flags).
fn answer_hint(e: &ExchangeError) -> Option<String> {
    match e {
        ExchangeError::Rejected(r) => advice::for_rejection(r),
        _ => jwtgrant_keycloak::hint(e).map(str::to_owned),
    }
}

/// The exit for an answer the local checks did not predict: Keycloak's words.
fn exchange_failed(code: u8, error: Option<ExchangeError>) -> anyhow::Error {
    Coded {
        code,
        message: match &error {
            Some(e) => format!("the exchange failed: {e}"),
            None => "the exchange failed".into(),
        },
        hint: error.as_ref().and_then(answer_hint),
        in_json_output: false,
    }
    .into()
}

/// Exit 3 naming the failing check, its fix and how to make it with jwtgrant.
fn failing(c: &doctor::Finding) -> anyhow::Error {
    Coded {
        code: REJECTED,
        message: format!("check '{}' fails: {}", c.name, c.detail),
        hint: match (&c.fix, advice::for_check(c.check)) {
            (Some(fix), Some(a)) => Some(format!("{fix}; with jwtgrant: {a}")),
            (fix, a) => fix.clone().or(a.map(str::to_owned)),
        },
        in_json_output: false,
    }
    .into()
}
