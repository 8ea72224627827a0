//! The one place that turns a Keycloak check into this binary's flags and commands.
//!
//! The library's hints and the doctor's fixes say what to change in library words; this adds
//! how to change it with `jwtgrant`, for the rejection hint of `token`/`exchange` and for
//! the doctor's failing check alike.

use clap::ValueEnum as _;
use jwtgrant_exchange::Rejection;
use jwtgrant_keycloak::Check;

use crate::cli::{ClientAuth, Command};

/// The hint for Keycloak's answer `r`: the table's hint, then how to do it with jwtgrant.
pub fn for_rejection(r: &Rejection) -> Option<String> {
    match (
        jwtgrant_keycloak::rejection_hint(r),
        Check::of(r).and_then(for_check),
    ) {
        (Some(h), Some(a)) => Some(format!("{h}; with jwtgrant: {a}")),
        (h, a) => h.or(a).map(str::to_owned),
    }
}

/// How to fix a failure of `check` with jwtgrant's own flags and commands, when there is a
/// way.
pub fn for_check(check: Check) -> Option<&'static str> {
    Some(match check {
        Check::Client => {
            "check --client-id and --client-auth, and pass the secret `jwtgrant keycloak setup` wrote with --client-secret-file <client-id>.secret (a certificate client: --client-auth tls --client-cert FILE --client-key FILE)"
        }
        Check::Realm => {
            "check --realm (names are case-sensitive) and --keycloak (the base URL, without /auth on Keycloak 17+); `jwtgrant keycloak doctor` names the realms near the one given"
        }
        Check::AssertionParameter | Check::Jwt => {
            "pass the token itself with --assertion JWT or --assertion -, e.g. from `jwtgrant sign`"
        }
        Check::ClientConfidential | Check::ClientGrantEnabled => {
            "`jwtgrant keycloak setup` creates the client confidential with the grant enabled"
        }
        Check::Issuer | Check::Subject => "`jwtgrant sign --iss URL --sub SUB` sets both",
        Check::IdentityProvider => {
            "sign with --iss equal to the provider's issuer, or create the provider with `jwtgrant keycloak setup --issuer URL`"
        }
        Check::IdentityProviderAllowed => {
            "`jwtgrant keycloak setup --idp-alias ALIAS` allows the provider on the client"
        }
        Check::Expiration | Check::Active | Check::IssuedAt => {
            "`jwtgrant token` signs right before exchanging; `jwtgrant sign --lifetime 60s` sets exp and iat"
        }
        Check::Jti | Check::Reuse => {
            "`jwtgrant sign` and `jwtgrant token` put a fresh jti in every assertion"
        }
        Check::Algorithm => "choose the signing algorithm with --alg",
        Check::Signature => {
            "`jwtgrant pubkey --key FILE` prints the public key for the provider; `jwtgrant keycloak setup --public-key FILE` puts it there"
        }
        Check::UserLinked => {
            "`jwtgrant keycloak setup ... --link SUB=USERNAME` links a user to the provider"
        }
        Check::Audience => {
            "sign with --keycloak BASE --realm REALM (which derive aud), or pass --aud exactly"
        }
        Check::Scope => "request only the client's scopes with --scope",
        Check::ClientCertificate => {
            "pass --client-cert FILE and --client-key FILE (mutual TLS); `jwtgrant keycloak setup --client-auth tls --bound-tokens` provisions such a client"
        }
        Check::Dpop => {
            "pass --dpop-key FILE so every token request carries a DPoP proof; `jwtgrant keycloak setup` without --require-dpop turns the requirement off"
        }
        Check::ClientAssertion => {
            "`jwtgrant token --client-auth federated` signs a fresh client assertion per attempt with aud from --keycloak and --realm (or --client-assertion-audience, exactly the realm URL)"
        }
        Check::IdJagClientId => {
            "`jwtgrant sign --id-jag` sets client_id from --id-jag-client-id (token and doctor: from --client-id)"
        }
        _ => return None,
    })
}

/// The `jwtgrant keycloak doctor` command that diagnoses what a failed `token` or `exchange`
/// asked Keycloak: the same realm, client, key and claims, and never a secret (the doctor
/// reads the client's secret through the admin API, or takes the same secret file). `None`
/// for other commands, and when the options name no Keycloak realm.
pub fn doctor_command(command: &Command) -> Option<String> {
    let (kc, endpoint, client, dpop, sign) = match command {
        _ if let Some(r) = command.token_request() => {
            (&r.keycloak, &r.endpoint, &r.client, &r.dpop, Some(&r.sign))
        }
        Command::Exchange(c) => (&c.keycloak, &c.endpoint, &c.client, &c.dpop, None),
        _ => return None,
    };
    let (base, realm) = match (&kc.keycloak, &kc.realm) {
        (Some(base), Some(realm)) => (base.clone(), realm.clone()),
        _ => [&endpoint.issuer_url, &endpoint.token_endpoint]
            .into_iter()
            .flatten()
            .find_map(|url| jwtgrant_keycloak::base_and_realm(url))?,
    };
    let mut words: Vec<String> = ["jwtgrant", "keycloak", "doctor", "--keycloak"]
        .map(str::to_owned)
        .into();
    words.push(quoted(&base));
    let mut add = |flag: &str, value: Option<&str>| {
        if let Some(value) = value {
            words.push(flag.to_owned());
            words.push(quoted(value));
        }
    };
    let path = |p: &Option<std::path::PathBuf>| p.as_ref().map(|p| p.display().to_string());
    add("--realm", Some(&realm));
    add("--client-id", client.client_id.as_deref());
    if client.client_auth != ClientAuth::Post {
        let method = client.client_auth.to_possible_value();
        add("--client-auth", method.as_ref().map(|v| v.get_name()));
    }
    add(
        "--client-secret-file",
        path(&client.client_secret_file).as_deref(),
    );
    add("--client-key", path(&client.client_key).as_deref());
    add("--client-cert", path(&client.client_cert).as_deref());
    add(
        "--client-assertion-key",
        path(&client.client_assertion_key).as_deref(),
    );
    add(
        "--client-assertion-file",
        path(&client.client_assertion_file).as_deref(),
    );
    add(
        "--client-assertion-issuer",
        client.client_assertion_issuer.as_deref(),
    );
    add(
        "--client-assertion-audience",
        client.client_assertion_audience.as_deref(),
    );
    add("--ca-file", path(&endpoint.transport.ca_file).as_deref());
    add("--scope", client.scope.as_deref());
    add("--dpop-key", path(&dpop.dpop_key).as_deref());
    match sign {
        Some(sign) => {
            // A key read from stdin has no name to repeat: the doctor needs the file.
            let key = path(&sign.key).map(|k| if k == "-" { "FILE".to_owned() } else { k });
            add("--key", key.as_deref());
            add("--iss", sign.iss.as_deref());
            add("--sub", sign.sub.as_deref());
            add("--aud", sign.aud.as_deref());
            add("--alg", sign.alg.as_ref().map(|a| a.0.as_str()));
            add("--kid", sign.kid.as_deref());
            for (name, value) in &sign.claims {
                add("--claim", Some(&format!("{name}={value}")));
            }
            add("--claims-json", path(&sign.claims_json).as_deref());
            add("--id-jag-client-id", sign.id_jag_client_id.as_deref());
            if sign.id_jag {
                words.push("--id-jag".to_owned());
            }
        }
        // The assertion itself stays off the command line.
        None => add("--assertion", Some("-")),
    }
    Some(words.join(" "))
}

/// `value` as one shell word: as it is when it holds only safe characters, else in single
/// quotes.
fn quoted(value: &str) -> String {
    crate::files::shell_word(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The printed doctor line repeats the request's own options (a federated client's
    /// assertion file among them), quotes what needs quoting, and holds no secret.
    #[test]
    fn the_doctor_command_repeats_the_request() {
        use clap::Parser as _;
        let cli = crate::cli::Cli::try_parse_from([
            "jwtgrant",
            "token",
            "--keycloak",
            "https://sso.example",
            "--realm",
            "my realm",
            "--client-id",
            "c",
            "--client-auth",
            "federated",
            "--client-assertion-file",
            "/run/sa/token",
            "--key",
            "k.pem",
            "--iss",
            "http://localhost:3000",
            "--sub",
            "u",
            "--claim",
            "tenant=a b",
        ])
        .unwrap();
        assert_eq!(
            doctor_command(&cli.command).unwrap(),
            "jwtgrant keycloak doctor --keycloak https://sso.example --realm 'my realm' --client-id c \
             --client-auth federated --client-assertion-file /run/sa/token --key k.pem \
             --iss http://localhost:3000 --sub u --claim 'tenant=\"a b\"'"
        );
    }

    #[test]
    fn the_common_failures_have_flag_advice() {
        for (check, needle) in [
            (Check::Client, "--client-id"),
            (Check::Algorithm, "--alg"),
            (Check::Audience, "--aud"),
            (Check::UserLinked, "--link SUB=USERNAME"),
            (Check::IdentityProvider, "--issuer"),
            (Check::Signature, "jwtgrant pubkey"),
            (Check::Dpop, "--dpop-key FILE"),
            (Check::IdJagClientId, "--id-jag-client-id"),
        ] {
            let advice = for_check(check).unwrap_or_default();
            assert!(advice.contains(needle), "{check:?}: {advice}");
        }
        assert_eq!(for_check(Check::UserEnabled), None);
    }
}
