//! RFC 7512 `pkcs11:` URIs: which token, which key, which module, where the PIN is.

use std::fmt;
use std::str::FromStr;

use super::Pkcs11Error;

/// A parsed RFC 7512 `pkcs11:` URI naming a private key in a token.
///
/// Path attributes select the token (`token`, `manufacturer`, `serial`,
/// `model`, `slot-id`) and the key (`object` is its `CKA_LABEL`, `id` its
/// `CKA_ID`, `type` must be `private` when given). Query attributes say where
/// the module is (`module-path`, `module-name`) and where the PIN is
/// (`pin-source`). `pin-value` is refused: a URI is usually a command-line
/// argument, and argv is visible to every user of the machine.
///
/// ```
/// use jwtgrant_signer::pkcs11::Pkcs11Uri;
/// let uri: Pkcs11Uri = "pkcs11:token=issuer;object=signing%20key?module-path=/usr/lib/softhsm/libsofthsm2.so"
///     .parse()?;
/// assert_eq!(uri.token(), Some("issuer"));
/// assert_eq!(uri.object(), Some("signing key"));
/// # Ok::<(), jwtgrant_signer::pkcs11::Pkcs11Error>(())
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Pkcs11Uri {
    token: Option<String>,
    manufacturer: Option<String>,
    serial: Option<String>,
    model: Option<String>,
    slot_id: Option<u64>,
    object: Option<String>,
    id: Option<Vec<u8>>,
    module_path: Option<String>,
    module_name: Option<String>,
    pin_source: Option<String>,
}

impl Pkcs11Uri {
    /// The token label (`CK_TOKEN_INFO.label`), from `token=`.
    pub fn token(&self) -> Option<&str> {
        self.token.as_deref()
    }
    /// The token manufacturer, from `manufacturer=`.
    pub fn manufacturer(&self) -> Option<&str> {
        self.manufacturer.as_deref()
    }
    /// The token serial number, from `serial=`.
    pub fn serial(&self) -> Option<&str> {
        self.serial.as_deref()
    }
    /// The token model, from `model=`.
    pub fn model(&self) -> Option<&str> {
        self.model.as_deref()
    }
    /// The slot id, from `slot-id=`.
    pub fn slot_id(&self) -> Option<u64> {
        self.slot_id
    }
    /// The key's label (`CKA_LABEL`), from `object=`.
    pub fn object(&self) -> Option<&str> {
        self.object.as_deref()
    }
    /// The key's id (`CKA_ID`), from `id=` (percent-encoded bytes).
    pub fn id(&self) -> Option<&[u8]> {
        self.id.as_deref()
    }
    /// The module's file, from the `module-path=` query attribute.
    pub fn module_path(&self) -> Option<&str> {
        self.module_path.as_deref()
    }
    /// The module's name without path or suffix, from `module-name=` (e.g. `softhsm2`).
    pub fn module_name(&self) -> Option<&str> {
        self.module_name.as_deref()
    }
    /// Where the PIN is, from `pin-source=` (e.g. `file:/run/secrets/hsm-pin`).
    pub fn pin_source(&self) -> Option<&str> {
        self.pin_source.as_deref()
    }

    /// Sets the key's label, e.g. for generating a key.
    pub fn with_object(mut self, label: impl Into<String>) -> Pkcs11Uri {
        self.object = Some(label.into());
        self
    }

    /// Sets the key's id, e.g. to the id a generated key got.
    pub fn with_id(mut self, id: impl Into<Vec<u8>>) -> Pkcs11Uri {
        self.id = Some(id.into());
        self
    }

    /// What the URI selects, for messages: `token 'issuer', object 'signing'`.
    pub(crate) fn describe_token(&self) -> String {
        let mut parts = Vec::new();
        for (name, value) in [
            ("token", &self.token),
            ("manufacturer", &self.manufacturer),
            ("serial", &self.serial),
            ("model", &self.model),
        ] {
            if let Some(value) = value {
                parts.push(format!("{name} '{value}'"));
            }
        }
        if let Some(slot) = self.slot_id {
            parts.push(format!("slot-id {slot}"));
        }
        if parts.is_empty() {
            "any token".into()
        } else {
            parts.join(", ")
        }
    }

    /// Which key the URI selects, for messages: `object 'signing', id %01%02`.
    pub(crate) fn describe_key(&self) -> String {
        let mut parts = Vec::new();
        if let Some(object) = &self.object {
            parts.push(format!("object '{object}'"));
        }
        if let Some(id) = &self.id {
            parts.push(format!("id {}", encode(id, true)));
        }
        if parts.is_empty() {
            "any private key".into()
        } else {
            parts.join(", ")
        }
    }
}

impl FromStr for Pkcs11Uri {
    type Err = Pkcs11Error;

    fn from_str(input: &str) -> Result<Self, Self::Err> {
        let invalid = |reason: String| Pkcs11Error::InvalidUri { reason };
        let rest = input
            .strip_prefix("pkcs11:")
            .ok_or_else(|| invalid("it does not start with 'pkcs11:'".into()))?;
        let (path, query) = match rest.split_once('?') {
            Some((path, query)) => (path, Some(query)),
            None => (rest, None),
        };
        let mut uri = Pkcs11Uri::default();
        for attr in path.split(';').filter(|a| !a.is_empty()) {
            let (name, raw) = attr
                .split_once('=')
                .ok_or_else(|| invalid(format!("path attribute '{attr}' has no '='")))?;
            let text = || decode_text(name, raw);
            let slot = match name {
                "token" => set(&mut uri.token, text()?),
                "manufacturer" => set(&mut uri.manufacturer, text()?),
                "serial" => set(&mut uri.serial, text()?),
                "model" => set(&mut uri.model, text()?),
                "object" => set(&mut uri.object, text()?),
                "id" => set(&mut uri.id, decode(name, raw)?),
                "slot-id" => {
                    let id = text()?
                        .parse()
                        .map_err(|_| invalid(format!("slot-id '{raw}' is not a decimal number")))?;
                    set(&mut uri.slot_id, id)
                }
                "type" => {
                    let kind = text()?;
                    if kind != "private" {
                        return Err(invalid(format!(
                            "type={kind} names no private key (use type=private, or leave type out)"
                        )));
                    }
                    true
                }
                // Attributes about the library or slot description narrow nothing we need;
                // RFC 7512 lets a consumer that cannot match them refuse, and we do for
                // unknown ones so a typo does not silently select another key.
                "library-manufacturer"
                | "library-description"
                | "library-version"
                | "slot-description"
                | "slot-manufacturer" => true,
                other if other.starts_with("x-") => true,
                other => {
                    return Err(invalid(format!(
                        "unknown path attribute '{other}' (expected token, manufacturer, serial, model, slot-id, object, id or type)"
                    )));
                }
            };
            if !slot {
                return Err(invalid(format!("attribute '{name}' is given twice")));
            }
        }
        for attr in query
            .into_iter()
            .flat_map(|q| q.split('&'))
            .filter(|a| !a.is_empty())
        {
            let (name, raw) = attr
                .split_once('=')
                .ok_or_else(|| invalid(format!("query attribute '{attr}' has no '='")))?;
            let slot = match name {
                "module-path" => set(&mut uri.module_path, decode_text(name, raw)?),
                "module-name" => set(&mut uri.module_name, decode_text(name, raw)?),
                "pin-source" => set(&mut uri.pin_source, decode_text(name, raw)?),
                "pin-value" => {
                    return Err(invalid(
                        "pin-value puts the PIN where other users can read it (argv, shell history); use pin-source=file:PATH, or give the PIN through a file, the environment or stdin".into(),
                    ));
                }
                other if other.starts_with("x-") => true,
                other => {
                    return Err(invalid(format!(
                        "unknown query attribute '{other}' (expected module-path, module-name or pin-source)"
                    )));
                }
            };
            if !slot {
                return Err(invalid(format!("attribute '{name}' is given twice")));
            }
        }
        Ok(uri)
    }
}

/// Writes the URI back in RFC 7512 form (percent-encoding what needs it).
impl fmt::Display for Pkcs11Uri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut path = Vec::new();
        for (name, value) in [
            ("token", &self.token),
            ("manufacturer", &self.manufacturer),
            ("serial", &self.serial),
            ("model", &self.model),
        ] {
            if let Some(value) = value {
                path.push(format!("{name}={}", encode(value.as_bytes(), false)));
            }
        }
        if let Some(slot) = self.slot_id {
            path.push(format!("slot-id={slot}"));
        }
        if let Some(object) = &self.object {
            path.push(format!("object={}", encode(object.as_bytes(), false)));
        }
        if let Some(id) = &self.id {
            path.push(format!("id={}", encode(id, true)));
        }
        write!(f, "pkcs11:{}", path.join(";"))?;
        let mut query = Vec::new();
        for (name, value) in [
            ("module-path", &self.module_path),
            ("module-name", &self.module_name),
            ("pin-source", &self.pin_source),
        ] {
            if let Some(value) = value {
                query.push(format!("{name}={}", encode(value.as_bytes(), false)));
            }
        }
        if !query.is_empty() {
            write!(f, "?{}", query.join("&"))?;
        }
        Ok(())
    }
}

fn set<T>(slot: &mut Option<T>, value: T) -> bool {
    if slot.is_some() {
        return false;
    }
    *slot = Some(value);
    true
}

fn decode(name: &str, raw: &str) -> Result<Vec<u8>, Pkcs11Error> {
    let bytes = raw.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes
                .get(i + 1..i + 3)
                .and_then(|h| std::str::from_utf8(h).ok())
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .ok_or_else(|| Pkcs11Error::InvalidUri {
                    reason: format!("attribute '{name}' has a broken percent-escape"),
                })?;
            out.push(hex);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    Ok(out)
}

fn decode_text(name: &str, raw: &str) -> Result<String, Pkcs11Error> {
    String::from_utf8(decode(name, raw)?).map_err(|_| Pkcs11Error::InvalidUri {
        reason: format!("attribute '{name}' is not UTF-8 once percent-decoded"),
    })
}

/// Percent-encodes `bytes`: every byte when `all` (ids), else all but RFC 7512's unreserved and `/`.
fn encode(bytes: &[u8], all: bool) -> String {
    let mut out = String::with_capacity(bytes.len() * 3);
    for &b in bytes {
        let keep = !all && (b.is_ascii_alphanumeric() || b"-._~:[]@!$'()*+,/".contains(&b));
        if keep {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(input: &str, expected: Result<Pkcs11Uri, &str>) {
        let got = input.parse::<Pkcs11Uri>().map_err(|e| e.to_string());
        assert_eq!(got, expected.map_err(str::to_owned), "{input}");
    }

    #[test]
    fn parses_rfc_7512_attributes() {
        let full = Pkcs11Uri {
            token: Some("my token".into()),
            serial: Some("abc".into()),
            object: Some("key;1".into()),
            id: Some(vec![0x01, 0xab]),
            module_path: Some("/usr/lib/softhsm/libsofthsm2.so".into()),
            pin_source: Some("file:/run/pin".into()),
            ..Pkcs11Uri::default()
        };
        check(
            "pkcs11:token=my%20token;serial=abc;object=key%3B1;id=%01%ab;type=private?module-path=/usr/lib/softhsm/libsofthsm2.so&pin-source=file:/run/pin",
            Ok(full.clone()),
        );
        // Display writes a URI that parses back to the same thing.
        check(&full.to_string(), Ok(full));
        check("pkcs11:", Ok(Pkcs11Uri::default()));
        check(
            "pkcs11:slot-id=3;x-vendor=1;library-manufacturer=SoftHSM",
            Ok(Pkcs11Uri {
                slot_id: Some(3),
                ..Pkcs11Uri::default()
            }),
        );
    }

    #[test]
    fn refuses_what_would_select_the_wrong_key_or_leak_the_pin() {
        check(
            "token=a",
            Err("invalid pkcs11 URI: it does not start with 'pkcs11:'"),
        );
        check(
            "pkcs11:token=a?pin-value=1234",
            Err(
                "invalid pkcs11 URI: pin-value puts the PIN where other users can read it (argv, shell history); use pin-source=file:PATH, or give the PIN through a file, the environment or stdin",
            ),
        );
        check(
            "pkcs11:tokn=a",
            Err(
                "invalid pkcs11 URI: unknown path attribute 'tokn' (expected token, manufacturer, serial, model, slot-id, object, id or type)",
            ),
        );
        check(
            "pkcs11:token=a;token=b",
            Err("invalid pkcs11 URI: attribute 'token' is given twice"),
        );
        check(
            "pkcs11:type=cert",
            Err(
                "invalid pkcs11 URI: type=cert names no private key (use type=private, or leave type out)",
            ),
        );
        check(
            "pkcs11:id=%zz",
            Err("invalid pkcs11 URI: attribute 'id' has a broken percent-escape"),
        );
        check(
            "pkcs11:slot-id=x",
            Err("invalid pkcs11 URI: slot-id 'x' is not a decimal number"),
        );
        check(
            "pkcs11:object",
            Err("invalid pkcs11 URI: path attribute 'object' has no '='"),
        );
    }
}
