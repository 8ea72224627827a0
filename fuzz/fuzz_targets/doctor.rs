//! The doctor's checks over arbitrary claims and realm settings:
//! `keycloak::doctor::diagnose` with a `Snapshot`, then `verify_with_idp` and `compare`.
//!
//! The input is a case as JSON (the seeds are real realms: `{"now", "header", "claims"` or
//! `"assertion", "client", "idps", "user", "user_looked_up", "jwks": {"ok"|"err"},
//! "version", "signature": {"valid"|"invalid"}}`). Bytes that are not such a document are
//! read as a structured `Input` instead, which reaches extreme numbers and odd settings
//! quickly; both become the same case. The assertion is built from the header and claims,
//! so the fuzzer reaches the checks without having to learn base64url.
#![no_main]

use arbitrary::{Arbitrary, Unstructured};
use jwtgrant_keycloak::Version;
use jwtgrant_keycloak::doctor::{self, SignatureOutcome, Snapshot};
use jwtgrant_keycloak::settings::client::{ALLOWED_IDPS, GRANT_ENABLED};
use jwtgrant_keycloak::settings::idp::{
    CLOCK_SKEW, ISSUER, JWKS_URL, MAX_EXPIRATION, PROVIDER_ID, REUSE_ALLOWED, SIGNATURE_ALG,
    USE_JWKS_URL,
};
use jwtgrant_keycloak::settings::{ClientSettings, IdpSettings, UserSettings};
use libfuzzer_sys::fuzz_target;
use serde_json::{Value, json};

const ISSUER_URL: &str = "http://localhost:3000";

/// A JSON value for a claim, biased towards the numbers and strings the checks read.
#[derive(Arbitrary, Debug)]
enum Claim<'a> {
    Absent,
    Int(i64),
    Float(f64),
    Str(&'a str),
    Bool(bool),
    List(Vec<&'a str>),
    Json(&'a str),
}

impl Claim<'_> {
    fn value(&self) -> Option<Value> {
        Some(match self {
            Claim::Absent => return None,
            Claim::Int(n) => json!(n),
            // NaN and infinities are not JSON numbers: serde_json makes them null.
            Claim::Float(f) => json!(f),
            Claim::Str(s) => json!(s),
            Claim::Bool(b) => json!(b),
            Claim::List(l) => json!(l),
            Claim::Json(text) => serde_json::from_str(text).ok()?,
        })
    }
}

#[derive(Arbitrary, Debug)]
struct Input<'a> {
    now: i64,
    alg: Claim<'a>,
    kid: Claim<'a>,
    iss_matches: bool,
    iss: Claim<'a>,
    sub: Claim<'a>,
    aud: Claim<'a>,
    jti: Claim<'a>,
    exp: Claim<'a>,
    iat: Claim<'a>,
    nbf: Claim<'a>,
    max_expiration: Option<&'a str>,
    clock_skew: Option<&'a str>,
    reuse_allowed: bool,
    signature_alg: Option<&'a str>,
    use_jwks_url: bool,
    idp_enabled: Option<bool>,
    client: Option<(bool, Option<&'a str>, Option<&'a str>)>,
    user: Option<(bool, Vec<&'a str>)>,
    user_looked_up: bool,
    jwks: Option<Result<&'a str, &'a str>>,
    version: Option<&'a str>,
    signature: Option<(bool, &'a str)>,
    raw_assertion: Option<&'a str>,
}

fn b64(v: &Value) -> String {
    use base64ct::{Base64UrlUnpadded, Encoding as _};
    Base64UrlUnpadded::encode_string(v.to_string().as_bytes())
}

fn object(members: &[(&str, &Claim<'_>)]) -> Value {
    let mut obj = serde_json::Map::new();
    for (name, claim) in members {
        if let Some(v) = claim.value() {
            obj.insert((*name).to_owned(), v);
        }
    }
    Value::Object(obj)
}

impl Input<'_> {
    /// The same case as a JSON document.
    fn case(&self) -> Value {
        let mut config = serde_json::Map::new();
        config.insert(ISSUER.into(), json!(ISSUER_URL));
        let mut set = |k: &str, v: Option<&str>| {
            if let Some(v) = v {
                config.insert(k.into(), json!(v));
            }
        };
        set(MAX_EXPIRATION, self.max_expiration);
        set(CLOCK_SKEW, self.clock_skew);
        set(SIGNATURE_ALG, self.signature_alg);
        let flag = |b: bool| Some(if b { "true" } else { "false" });
        set(REUSE_ALLOWED, flag(self.reuse_allowed));
        set(USE_JWKS_URL, flag(self.use_jwks_url));
        set(JWKS_URL, Some("http://localhost:3000/jwks"));
        let mut idp = json!({"alias": "jwt-authorization-grant", "providerId": PROVIDER_ID, "config": config});
        if let Some(enabled) = self.idp_enabled {
            idp["enabled"] = json!(enabled);
        }
        let client = self.client.map(|(public, grant, idps)| {
            let mut attributes = serde_json::Map::new();
            if let Some(g) = grant {
                attributes.insert(GRANT_ENABLED.into(), json!(g));
            }
            if let Some(a) = idps {
                attributes.insert(ALLOWED_IDPS.into(), json!(a));
            }
            json!({"clientId": "custom-client", "publicClient": public, "attributes": attributes})
        });
        let user = self.user.as_ref().map(|(enabled, actions)| {
            json!({"username": "alice", "enabled": enabled, "requiredActions": actions})
        });
        let issuer = Claim::Str(ISSUER_URL);
        let iss = if self.iss_matches { &issuer } else { &self.iss };
        json!({
            "now": self.now,
            "header": object(&[("alg", &self.alg), ("kid", &self.kid)]),
            "claims": object(&[
                ("iss", iss),
                ("sub", &self.sub),
                ("aud", &self.aud),
                ("jti", &self.jti),
                ("exp", &self.exp),
                ("iat", &self.iat),
                ("nbf", &self.nbf),
            ]),
            "assertion": self.raw_assertion,
            "client": client,
            "idps": [{"alias": "google", "providerId": "google", "config": {}}, idp],
            "user": user,
            "user_looked_up": self.user_looked_up,
            "jwks": self.jwks.map(|r| match r {
                Ok(doc) => json!({"ok": doc}),
                Err(why) => json!({"err": why}),
            }),
            "version": self.version,
            "signature": self.signature.map(|(valid, text)| {
                json!({if valid { "valid" } else { "invalid" }: text})
            }),
        })
    }
}

fn snapshot(case: &Value) -> Snapshot {
    let text = |key: &str| case.get(key).and_then(Value::as_str);
    let mut s = Snapshot::new(
        text("base").unwrap_or("http://localhost:8080"),
        text("realm").unwrap_or("acme"),
        text("client_id").unwrap_or("custom-client"),
    );
    // The admin JSON, parsed the way the doctor's fetch parses it.
    s.client = case.get("client").filter(|c| !c.is_null()).map(ClientSettings::from_json);
    s.idps = case
        .get("idps")
        .and_then(Value::as_array)
        .map(|idps| idps.iter().map(IdpSettings::from_json).collect())
        .unwrap_or_default();
    s.user = case.get("user").filter(|u| !u.is_null()).map(UserSettings::from_json);
    s.user_looked_up = case.get("user_looked_up").and_then(Value::as_bool).unwrap_or(false);
    s.jwks = case.get("jwks").and_then(|j| {
        let side = |k: &str| j.get(k).and_then(Value::as_str).map(str::to_owned);
        side("ok").map(Ok).or_else(|| side("err").map(Err))
    });
    s.server_version = text("version").and_then(Version::parse);
    s
}

fn run(case: &Value) {
    let snap = snapshot(case);
    #[allow(clippy::cast_possible_truncation, reason = "saturating, like a NumericDate")]
    let now = case
        .get("now")
        .and_then(|n| n.as_i64().or_else(|| n.as_f64().map(|f| f as i64)))
        .unwrap_or(1_800_000_000);
    let part = |key: &str| case.get(key).cloned().unwrap_or_else(|| json!({}));
    let built = format!("{}.{}.c2ln", b64(&part("header")), b64(&part("claims")));
    let raw = case.get("assertion").and_then(Value::as_str);
    let signature = case.get("signature").and_then(|s| {
        let side = |k: &str| s.get(k).and_then(Value::as_str).map(str::to_owned);
        side("valid")
            .map(SignatureOutcome::Valid)
            .or_else(|| side("invalid").map(SignatureOutcome::Invalid))
    });
    for assertion in [Some(built.as_str()), raw].into_iter().flatten() {
        let report = doctor::diagnose(&snap, assertion, now, signature.as_ref());
        let _ = (report.ok(), report.first_failure().map(|c| c.keycloak_error()));
        for check in &report.checks {
            let _ = format!("{} {} {:?}", check.status, check.detail, check.fix);
        }
        // The signature check the CLI runs before diagnosing, on every provider.
        for idp in &snap.idps {
            let _ = doctor::verify_with_idp(idp, snap.jwks.as_ref(), assertion);
        }
        let _ = doctor::compare(&report, Ok(()));
    }
}

fuzz_target!(|data: &[u8]| {
    match serde_json::from_slice::<Value>(data) {
        Ok(case) if case.is_object() => run(&case),
        _ => {
            if let Ok(input) = Input::arbitrary_take_rest(Unstructured::new(data)) {
                run(&input.case());
            }
        }
    }
});
