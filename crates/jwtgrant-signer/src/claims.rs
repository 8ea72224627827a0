//! The assertion's claims (RFC 7523 section 3) and their validation.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::ser::{Serialize, SerializeMap, Serializer};
use serde_json::Value;

use crate::SignError;

/// The lifetime of an assertion unless [`Claims::lifetime`] says otherwise: 60 seconds.
///
/// Shorter than the 5 minutes the seed used, on purpose. An assertion is a
/// bearer credential good for exactly one exchange, made right before it is
/// sent, so a short life only narrows the window in which a leaked one can be
/// replayed. It also stays well inside Keycloak's limits: the identity
/// provider's `jwtAuthorizationGrantMaxAllowedAssertionExpiration` defaults to
/// 300 seconds, and Keycloak rejects an assertion whose `iat` is older than that
/// ("Token was issued too far in the past to be used now").
pub const DEFAULT_LIFETIME: Duration = Duration::from_secs(60);

/// The registered claims the crate sets itself and that [`Claims::claim`] must not set.
pub const REGISTERED_CLAIMS: [&str; 7] = ["iss", "sub", "aud", "exp", "nbf", "iat", "jti"];

/// The JWS `typ` of an Identity Assertion JWT Authorization Grant (ID-JAG,
/// draft-ietf-oauth-identity-assertion-authz-grant). A server tells an ID-JAG from a plain
/// RFC 7523 assertion by this header alone: the same claims under `typ: JWT` are a plain
/// assertion, and none of the ID-JAG rules apply.
pub const ID_JAG_TYPE: &str = "oauth-id-jag+jwt";

/// The JWS `typ` of a plain assertion.
pub const JWT_TYPE: &str = "JWT";

/// The claims of one assertion: `iss`, `sub`, `aud`, `iat`, `exp`, `jti`, optional `nbf`, and custom claims.
///
/// The builder methods never fail; [`crate::Signer::sign`] (or [`Claims::validate`])
/// reports problems as [`SignError::InvalidClaim`]. Each signing stamps the
/// current time as `iat` (unless [`Claims::issued_at`] fixes it) and a fresh
/// UUID v4 as `jti` (unless [`Claims::jwt_id`] fixes it), so one `Claims` value
/// can be signed many times, giving a distinct single-use assertion each time.
#[derive(Clone, Debug, PartialEq)]
pub struct Claims {
    issuer: String,
    subject: String,
    audience: String,
    lifetime: Duration,
    not_before: Option<SystemTime>,
    issued_at: Option<SystemTime>,
    jwt_id: Option<String>,
    /// `Some(client_id)` for the ID-JAG profile.
    id_jag_client_id: Option<String>,
    custom: Vec<(String, Value)>,
}

impl Claims {
    /// Claims for `iss` = `issuer`, `sub` = `subject`, `aud` = `audience`, living [`DEFAULT_LIFETIME`].
    ///
    /// Keycloak needs `issuer` to be an absolute http(s) URL equal to its
    /// identity provider's issuer, `subject` to be the user id the Keycloak
    /// user is linked with, and `audience` to be the realm URL (`jwtgrant_exchange` builds it:
    /// the signer knows no server's URL layout).
    pub fn new(
        issuer: impl Into<String>,
        subject: impl Into<String>,
        audience: impl Into<String>,
    ) -> Claims {
        Claims {
            issuer: issuer.into(),
            subject: subject.into(),
            audience: audience.into(),
            lifetime: DEFAULT_LIFETIME,
            not_before: None,
            issued_at: None,
            jwt_id: None,
            id_jag_client_id: None,
            custom: Vec::new(),
        }
    }

    /// Makes these the claims of an ID-JAG (Identity Assertion JWT Authorization Grant) for
    /// the OAuth client `client_id`: the header gets `typ: oauth-id-jag+jwt` ([`ID_JAG_TYPE`])
    /// and the payload a `client_id` claim (`iat` is always set). The server then requires
    /// `client_id` to equal the client that authenticates, and every `jti` is single-use.
    pub fn id_jag(mut self, client_id: impl Into<String>) -> Claims {
        self.id_jag_client_id = Some(client_id.into());
        self
    }

    /// Sets the `resource` claim (the resource the grant is meant for; RFC 8707 words).
    pub fn resource(self, resource: impl Into<String>) -> Claims {
        self.claim("resource", resource.into())
    }

    /// Sets the `scope` claim (space-separated scopes the assertion allows).
    pub fn scope(self, scope: impl Into<String>) -> Claims {
        self.claim("scope", scope.into())
    }

    /// The `client_id` of an ID-JAG, `None` for a plain assertion.
    pub fn id_jag_client_id(&self) -> Option<&str> {
        self.id_jag_client_id.as_deref()
    }

    /// The JWS `typ` the signer puts in the header: [`ID_JAG_TYPE`] for an ID-JAG, else
    /// [`JWT_TYPE`].
    pub fn jws_type(&self) -> &'static str {
        if self.id_jag_client_id.is_some() {
            ID_JAG_TYPE
        } else {
            JWT_TYPE
        }
    }

    /// Sets how long after `iat` the assertion expires; whole seconds, at least one.
    pub fn lifetime(mut self, lifetime: Duration) -> Claims {
        self.lifetime = lifetime;
        self
    }

    /// Sets `nbf`, the time before which the assertion is not valid.
    pub fn not_before(mut self, time: SystemTime) -> Claims {
        self.not_before = Some(time);
        self
    }

    /// Fixes `iat` (and so `exp`) instead of reading the clock at each signing. For tests and replays of known tokens.
    pub fn issued_at(mut self, time: SystemTime) -> Claims {
        self.issued_at = Some(time);
        self
    }

    /// Fixes `jti` instead of making a fresh UUID v4 at each signing.
    ///
    /// For known-answer tests and benchmarks: Keycloak accepts a `jti` only once
    /// (unless the identity provider allows reuse), so a fixed one works for one exchange.
    pub fn jwt_id(mut self, jti: impl Into<String>) -> Claims {
        self.jwt_id = Some(jti.into());
        self
    }

    /// Adds a custom claim with any JSON value; setting the same name again replaces the value.
    ///
    /// A registered claim ([`REGISTERED_CLAIMS`]) is refused when signing rather
    /// than silently overriding what the crate sets.
    pub fn claim(mut self, name: impl Into<String>, value: impl Into<Value>) -> Claims {
        let (name, value) = (name.into(), value.into());
        match self
            .custom
            .iter_mut()
            .find(|(existing, _)| *existing == name)
        {
            Some(slot) => slot.1 = value,
            None => self.custom.push((name, value)),
        }
        self
    }

    /// `iss`.
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// `sub`.
    pub fn subject(&self) -> &str {
        &self.subject
    }

    /// `aud`.
    pub fn audience(&self) -> &str {
        &self.audience
    }

    /// The lifetime: `exp` - `iat`.
    pub fn expires_after(&self) -> Duration {
        self.lifetime
    }

    /// `nbf`, if set.
    pub fn not_before_time(&self) -> Option<SystemTime> {
        self.not_before
    }

    /// The fixed `iat`, if set; `None` means "the clock at signing".
    pub fn issued_at_time(&self) -> Option<SystemTime> {
        self.issued_at
    }

    /// The fixed `jti`, if set; `None` means "a fresh UUID v4 at signing".
    pub fn fixed_jwt_id(&self) -> Option<&str> {
        self.jwt_id.as_deref()
    }

    /// The custom claims, in the order they were first set.
    pub fn custom_claims(&self) -> impl Iterator<Item = (&str, &Value)> {
        self.custom
            .iter()
            .map(|(name, value)| (name.as_str(), value))
    }

    /// Checks what can be checked without a clock: `iss`, `sub`, `aud`, the lifetime and custom claim names.
    pub fn validate(&self) -> Result<(), SignError> {
        if self.issuer.is_empty() {
            return Err(invalid(
                "iss",
                "the issuer is empty (use the issuer URL configured on the Keycloak identity provider)",
            ));
        }
        if !is_http_url(&self.issuer) {
            return Err(invalid(
                "iss",
                format!(
                    "'{}' is not an absolute http(s) URL, which Keycloak requires (use the issuer URL configured on the identity provider, e.g. 'https://issuer.example.com')",
                    self.issuer
                ),
            ));
        }
        if self.subject.trim().is_empty() {
            return Err(invalid(
                "sub",
                "the subject is empty (use the user id the Keycloak user is linked with)",
            ));
        }
        if self.audience.trim().is_empty() {
            return Err(invalid(
                "aud",
                "the audience is empty (use the realm URL, e.g. 'https://keycloak.example.com/realms/myrealm')",
            ));
        }
        if let Some(client_id) = &self.id_jag_client_id {
            if client_id.trim().is_empty() {
                return Err(invalid(
                    "client_id",
                    "the ID-JAG's client_id is empty (use the client id the token endpoint authenticates)",
                ));
            }
            if self.custom.iter().any(|(name, _)| name == "client_id") {
                return Err(invalid(
                    "client_id",
                    "an ID-JAG's client_id is set by id_jag, not as a custom claim",
                ));
            }
        }
        if self.lifetime.as_secs() == 0 {
            return Err(invalid("exp", "the lifetime must be at least one second"));
        }
        for (name, _) in &self.custom {
            let hint = match name.as_str() {
                "" => return Err(invalid("", "a claim name must not be empty")),
                "iss" | "sub" | "aud" => "pass it to Claims::new",
                "exp" => "exp is iat plus the lifetime; set the lifetime instead",
                "nbf" => "set it with not_before",
                "iat" => "iat is the signing time; fix it with issued_at if needed",
                "jti" => "a fresh jti is made for every signature",
                _ => continue,
            };
            return Err(invalid(
                name,
                format!("a registered claim cannot be set as a custom claim ({hint})"),
            ));
        }
        Ok(())
    }

    /// The payload a signing at this moment would produce (with a fresh `jti` unless fixed).
    pub fn to_payload(&self) -> Result<Value, SignError> {
        let jti = self.next_jti();
        let payload = self.payload_at(SystemTime::now(), &jti)?;
        serde_json::to_value(&payload)
            .map_err(|_| invalid("*", "the claims do not serialize to JSON"))
    }

    /// The payload JSON for one signing.
    pub(crate) fn payload_bytes(&self) -> Result<Vec<u8>, SignError> {
        let jti = self.next_jti();
        let payload = self.payload_at(SystemTime::now(), &jti)?;
        serde_json::to_vec(&payload)
            .map_err(|_| invalid("*", "the claims do not serialize to JSON"))
    }

    fn next_jti(&self) -> String {
        match &self.jwt_id {
            Some(jti) => jti.clone(),
            None => uuid::Uuid::new_v4().to_string(),
        }
    }

    fn payload_at<'a>(&'a self, now: SystemTime, jti: &'a str) -> Result<Payload<'a>, SignError> {
        self.validate()?;
        let iat = unix_seconds("iat", self.issued_at.unwrap_or(now))?;
        let exp = iat
            .checked_add(self.lifetime.as_secs())
            .ok_or_else(|| invalid("exp", "the lifetime is too long"))?;
        let nbf = self
            .not_before
            .map(|t| unix_seconds("nbf", t))
            .transpose()?;
        if nbf.is_some_and(|nbf| nbf >= exp) {
            return Err(invalid(
                "nbf",
                "not-before is at or after the expiry, so the assertion would never be valid",
            ));
        }
        Ok(Payload {
            claims: self,
            iat,
            nbf,
            exp,
            jti,
        })
    }
}

/// The JSON payload of one signing, members in a stable, readable order.
struct Payload<'a> {
    claims: &'a Claims,
    iat: u64,
    nbf: Option<u64>,
    exp: u64,
    jti: &'a str,
}

impl Serialize for Payload<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(None)?;
        map.serialize_entry("iss", &self.claims.issuer)?;
        map.serialize_entry("sub", &self.claims.subject)?;
        map.serialize_entry("aud", &self.claims.audience)?;
        map.serialize_entry("iat", &self.iat)?;
        if let Some(nbf) = self.nbf {
            map.serialize_entry("nbf", &nbf)?;
        }
        map.serialize_entry("exp", &self.exp)?;
        map.serialize_entry("jti", self.jti)?;
        if let Some(client_id) = &self.claims.id_jag_client_id {
            map.serialize_entry("client_id", client_id)?;
        }
        for (name, value) in &self.claims.custom {
            map.serialize_entry(name, value)?;
        }
        map.end()
    }
}

/// Whether `s` is an absolute http or https URL with a non-empty host.
///
/// Deliberately small instead of a full URL parser: Keycloak compares `iss`
/// to the configured issuer as a plain string, so all that matters here is
/// catching values that can never match, like a bare host name or a typo'd scheme.
pub(crate) fn is_http_url(s: &str) -> bool {
    if s.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return false;
    }
    let Some((scheme, rest)) = s.split_once("://") else {
        return false;
    };
    if !scheme.eq_ignore_ascii_case("http") && !scheme.eq_ignore_ascii_case("https") {
        return false;
    }
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let host_port = authority
        .rsplit_once('@')
        .map_or(authority, |(_, host)| host);
    let (host, port) = if let Some(v6) = host_port.strip_prefix('[') {
        match v6.split_once(']') {
            Some((host, after)) => (host, after.strip_prefix(':')),
            None => return false,
        }
    } else {
        match host_port.split_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (host_port, None),
        }
    };
    let port_ok =
        port.is_none_or(|p| !p.is_empty() && p.len() <= 5 && p.bytes().all(|b| b.is_ascii_digit()));
    !host.is_empty() && port_ok
}

fn unix_seconds(claim: &str, time: SystemTime) -> Result<u64, SignError> {
    time.duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .map_err(|_| invalid(claim, "the time is before 1970"))
}

fn invalid(claim: &str, reason: impl Into<String>) -> SignError {
    SignError::InvalidClaim {
        claim: claim.to_owned(),
        reason: reason.into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn http_urls() {
        for good in [
            "https://issuer.example.com",
            "http://localhost:8080/realms/x",
            "HTTPS://a",
            "https://[::1]:8443/x",
            "https://user@host/x",
            "https://host?x#y",
        ] {
            assert!(is_http_url(good), "{good}");
        }
        for bad in [
            "",
            "issuer.example.com",
            "ftp://host",
            "https://",
            "https:///path",
            "https://:443",
            "https://host:port",
            "https://host name",
            "https//host",
            "https://[::1",
            "urn:example:issuer",
        ] {
            assert!(!is_http_url(bad), "{bad}");
        }
    }

    #[test]
    fn payload_has_fixed_times_and_ordered_members() {
        let t = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let claims = Claims::new("https://issuer.example", "user-1", "https://kc/realms/r")
            .issued_at(t)
            .not_before(t)
            .lifetime(Duration::from_millis(90_500))
            .jwt_id("fixed")
            .claim("tenant", "acme")
            .claim("n", 1)
            .claim("tenant", "other");
        let json = String::from_utf8(claims.payload_bytes().unwrap()).unwrap();
        assert_eq!(
            json,
            r#"{"iss":"https://issuer.example","sub":"user-1","aud":"https://kc/realms/r","iat":1700000000,"nbf":1700000000,"exp":1700000090,"jti":"fixed","tenant":"other","n":1}"#
        );
    }

    #[test]
    fn fresh_jti_and_current_iat() {
        let claims = Claims::new("https://i", "s", "a");
        let a = claims.to_payload().unwrap();
        let b = claims.to_payload().unwrap();
        assert_ne!(a["jti"], b["jti"]);
        let jti = a["jti"].as_str().unwrap();
        assert_eq!(uuid::Uuid::parse_str(jti).unwrap().get_version_num(), 4);
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs();
        let iat = a["iat"].as_u64().unwrap();
        assert!(iat.abs_diff(now) <= 2);
        assert_eq!(a["exp"].as_u64().unwrap() - iat, 60);
        assert!(a.get("nbf").is_none());
    }

    #[test]
    fn id_jag_profile() {
        let t = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let claims = Claims::new("https://idp.example", "user-1", "https://kc/realms/r")
            .issued_at(t)
            .jwt_id("j")
            .id_jag("agent")
            .resource("https://api.example")
            .scope("read");
        assert_eq!(claims.jws_type(), "oauth-id-jag+jwt");
        assert_eq!(claims.id_jag_client_id(), Some("agent"));
        let json = String::from_utf8(claims.payload_bytes().unwrap()).unwrap();
        assert_eq!(
            json,
            r#"{"iss":"https://idp.example","sub":"user-1","aud":"https://kc/realms/r","iat":1700000000,"exp":1700000060,"jti":"j","client_id":"agent","resource":"https://api.example","scope":"read"}"#
        );
        assert_eq!(Claims::new("https://i", "s", "a").jws_type(), "JWT");
        let err = |c: Claims| c.validate().unwrap_err().to_string();
        assert_eq!(
            err(Claims::new("https://i", "s", "a").id_jag(" ")),
            "invalid claim 'client_id': the ID-JAG's client_id is empty (use the client id the token endpoint authenticates)"
        );
        assert_eq!(
            err(Claims::new("https://i", "s", "a")
                .id_jag("x")
                .claim("client_id", "y")),
            "invalid claim 'client_id': an ID-JAG's client_id is set by id_jag, not as a custom claim"
        );
    }
}
