//! The names in a client certificate, written the way servers compare them: RFC 2253
//! distinguished names, most specific part first (`CN=billing,O=Acme`).
//!
//! A tiny DER walk over the certificate's `issuer` and `subject` (RFC 5280 4.1): enough to
//! say which certificate a transport presents, without a certificate-parsing dependency.
//! Every input is untrusted: malformed DER is an `Err`, never a panic.

use std::fmt::Write as _;

/// The subject and issuer of a certificate, as RFC 2253 strings.
///
/// Attribute types RFC 2253 names (`CN`, `C`, `L`, `ST`, `O`, `OU`, `STREET`, `DC`, `UID`)
/// are written as keywords; any other type as its dotted OID with the value in `#hex` form,
/// as Java's `X500Principal.getName(RFC2253)` writes them.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct PresentedCertificate {
    /// The certificate's subject, e.g. `CN=jwtgrant-e2e-client,O=jwtgrant test`.
    pub subject_dn: String,
    /// The issuing CA's name (the certificate's `issuer`).
    pub issuer_dn: String,
}

impl PresentedCertificate {
    /// A certificate with these names (for tests and for callers who know them).
    pub fn new(subject_dn: impl Into<String>, issuer_dn: impl Into<String>) -> Self {
        PresentedCertificate {
            subject_dn: subject_dn.into(),
            issuer_dn: issuer_dn.into(),
        }
    }

    /// Reads the names from a certificate's DER. `Err` says what does not parse.
    pub fn from_der(der: &[u8]) -> Result<Self, String> {
        // Certificate ::= SEQUENCE { tbsCertificate, signatureAlgorithm, signature }
        let (cert, _) = tlv(der, SEQUENCE)?;
        let (tbs, _) = tlv(cert, SEQUENCE)?;
        let mut rest = tbs;
        // version [0] EXPLICIT, optional
        if rest.first() == Some(&0xa0) {
            rest = tlv(rest, 0xa0)?.1;
        }
        let (_serial, r) = tlv(rest, INTEGER)?;
        let (_signature, r) = tlv(r, SEQUENCE)?;
        let (issuer, r) = tlv(r, SEQUENCE)?;
        let (_validity, r) = tlv(r, SEQUENCE)?;
        let (subject, _) = tlv(r, SEQUENCE)?;
        Ok(PresentedCertificate {
            subject_dn: rfc2253(subject)?,
            issuer_dn: rfc2253(issuer)?,
        })
    }
}

const INTEGER: u8 = 0x02;
const OID: u8 = 0x06;
const SEQUENCE: u8 = 0x30;
const SET: u8 = 0x31;

/// Splits one TLV with tag `tag` off the front of `input`: (its contents, the rest).
fn tlv(input: &[u8], tag: u8) -> Result<(&[u8], &[u8]), String> {
    let (found, contents, rest) = any_tlv(input)?;
    if found != tag {
        return Err(format!("expected DER tag 0x{tag:02x}, found 0x{found:02x}"));
    }
    Ok((contents, rest))
}

/// Splits any TLV off the front of `input`: (tag, contents, rest).
fn any_tlv(input: &[u8]) -> Result<(u8, &[u8], &[u8]), String> {
    let truncated = || "truncated DER".to_owned();
    let (&tag, after_tag) = input.split_first().ok_or_else(truncated)?;
    let (&first, mut after_len) = after_tag.split_first().ok_or_else(truncated)?;
    let len = if first < 0x80 {
        usize::from(first)
    } else {
        let count = usize::from(first & 0x7f);
        if count == 0 || count > 4 {
            return Err("unsupported DER length".into());
        }
        let bytes = after_len.get(..count).ok_or_else(truncated)?;
        after_len = &after_len[count..];
        bytes
            .iter()
            .fold(0usize, |acc, b| (acc << 8) | usize::from(*b))
    };
    if after_len.len() < len {
        return Err(truncated());
    }
    let (contents, rest) = after_len.split_at(len);
    Ok((tag, contents, rest))
}

/// An RDNSequence as RFC 2253 text: the last RDN in DER comes first.
fn rfc2253(mut name: &[u8]) -> Result<String, String> {
    let mut rdns = Vec::new();
    while !name.is_empty() {
        let (mut set, rest) = tlv(name, SET)?;
        name = rest;
        let mut avas = Vec::new();
        while !set.is_empty() {
            let (ava, rest) = tlv(set, SEQUENCE)?;
            set = rest;
            let (oid, value_tlv) = tlv(ava, OID)?;
            let (value_tag, value, after) = any_tlv(value_tlv)?;
            let dotted = dotted_oid(oid)?;
            let text = match (keyword(&dotted), string_value(value_tag, value)) {
                (Some(k), Some(v)) => format!("{k}={}", escape(&v)),
                _ => {
                    let mut hex = format!("{dotted}=#");
                    for b in &value_tlv[..value_tlv.len() - after.len()] {
                        let _ = write!(hex, "{b:02x}");
                    }
                    hex
                }
            };
            avas.push(text);
        }
        rdns.push(avas.join("+"));
    }
    rdns.reverse();
    Ok(rdns.join(","))
}

/// The RFC 2253 keyword of an attribute type, when it has one.
fn keyword(oid: &str) -> Option<&'static str> {
    Some(match oid {
        "2.5.4.3" => "CN",
        "2.5.4.6" => "C",
        "2.5.4.7" => "L",
        "2.5.4.8" => "ST",
        "2.5.4.9" => "STREET",
        "2.5.4.10" => "O",
        "2.5.4.11" => "OU",
        "0.9.2342.19200300.100.1.25" => "DC",
        "0.9.2342.19200300.100.1.1" => "UID",
        _ => return None,
    })
}

/// The text of a directory string; `None` for types that are not strings.
fn string_value(tag: u8, value: &[u8]) -> Option<String> {
    match tag {
        // UTF8String, PrintableString, IA5String, NumericString, VisibleString
        0x0c | 0x13 | 0x16 | 0x12 | 0x1a => String::from_utf8(value.to_vec()).ok(),
        // TeletexString: read as Latin-1, as most software does
        0x14 => Some(value.iter().map(|b| char::from(*b)).collect()),
        // BMPString: UTF-16BE
        0x1e if value.len().is_multiple_of(2) => char::decode_utf16(
            value
                .chunks_exact(2)
                .map(|c| u16::from_be_bytes([c[0], c[1]])),
        )
        .collect::<Result<String, _>>()
        .ok(),
        // UniversalString: UTF-32BE
        0x1c if value.len().is_multiple_of(4) => value
            .chunks_exact(4)
            .map(|c| char::from_u32(u32::from_be_bytes([c[0], c[1], c[2], c[3]])))
            .collect(),
        _ => None,
    }
}

/// A distinguished name in the RFC 2253 form [`PresentedCertificate`] writes, read the way
/// Java's `new X500Principal(dn).getName()` reads and writes one (so a DN typed into a
/// server's configuration compares with a certificate's): parts split at unescaped `,` or
/// `;`, spaces around them and around `=` dropped, keywords upper-cased, values unquoted and
/// escaped again. `None` for what cannot be read the same way (types other than RFC 2253's
/// keywords, `#hex` values).
///
/// ```
/// use jwtgrant_exchange::normalize_dn;
/// assert_eq!(normalize_dn("cn = a ; o = \"b, c\"").as_deref(), Some("CN=a,O=b\\, c"));
/// assert_eq!(normalize_dn("CN=#0c0161"), None);
/// ```
pub fn normalize_dn(dn: &str) -> Option<String> {
    let mut rdns = Vec::new();
    for rdn in split_unescaped(dn, &[',', ';']) {
        let mut avas = Vec::new();
        for ava in split_unescaped(&rdn, &['+']) {
            let (ty, value) = ava.split_once('=')?;
            let ty = ty.trim().to_ascii_uppercase();
            let ty = ty.strip_prefix("OID.").unwrap_or(&ty);
            let keyword = match ty {
                "CN" | "C" | "L" | "ST" | "O" | "OU" | "STREET" | "DC" | "UID" => ty,
                "2.5.4.3" => "CN",
                "2.5.4.6" => "C",
                "2.5.4.7" => "L",
                "2.5.4.8" => "ST",
                "2.5.4.10" => "O",
                "2.5.4.11" => "OU",
                _ => return None,
            };
            let value = dn_value(value)?;
            avas.push(format!("{keyword}={}", escape(&value)));
        }
        rdns.push(avas.join("+"));
    }
    Some(rdns.join(","))
}

/// Splits at the separators that are neither escaped nor quoted.
fn split_unescaped(s: &str, separators: &[char]) -> Vec<String> {
    let (mut parts, mut current) = (Vec::new(), String::new());
    let (mut escaped, mut quoted) = (false, false);
    for c in s.chars() {
        if escaped {
            escaped = false;
        } else if c == '\\' {
            escaped = true;
        } else if c == '"' {
            quoted = !quoted;
        } else if !quoted && separators.contains(&c) {
            parts.push(std::mem::take(&mut current));
            continue;
        }
        current.push(c);
    }
    parts.push(current);
    parts
}

/// An attribute value's text: unescaped (`\,` and `\2C`), unquoted, unescaped spaces at
/// either end dropped. `None` for `#hex` values.
fn dn_value(raw: &str) -> Option<String> {
    let raw = raw.trim_start();
    if raw.starts_with('#') {
        return None;
    }
    if let Some(inner) = raw.trim_end().strip_prefix('"') {
        return inner.strip_suffix('"').map(|v| v.replace("\\\"", "\""));
    }
    // (char, escaped); `\hh` pairs are UTF-8 bytes, decoded once a run of them ends.
    let mut chars: Vec<(char, bool)> = Vec::new();
    let mut bytes: Vec<u8> = Vec::new();
    let flush = |bytes: &mut Vec<u8>, chars: &mut Vec<(char, bool)>| -> Option<()> {
        if !bytes.is_empty() {
            let text = String::from_utf8(std::mem::take(bytes)).ok()?;
            chars.extend(text.chars().map(|c| (c, true)));
        }
        Some(())
    };
    let mut it = raw.chars().peekable();
    while let Some(c) = it.next() {
        if c != '\\' {
            flush(&mut bytes, &mut chars)?;
            chars.push((c, false));
            continue;
        }
        let next = it.next()?;
        match (next.to_digit(16), it.peek().and_then(|c| c.to_digit(16))) {
            (Some(hi), Some(lo)) => {
                it.next();
                bytes.push(u8::try_from(hi * 16 + lo).ok()?);
            }
            _ => {
                flush(&mut bytes, &mut chars)?;
                chars.push((next, true));
            }
        }
    }
    flush(&mut bytes, &mut chars)?;
    while chars.last().is_some_and(|(c, e)| *c == ' ' && !e) {
        chars.pop();
    }
    Some(chars.into_iter().map(|(c, _)| c).collect())
}

/// RFC 2253 2.4: `,+"\<>;` escaped, and a leading `#` or space and a trailing space.
fn escape(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    let last = value.chars().count().saturating_sub(1);
    for (i, c) in value.chars().enumerate() {
        let special = matches!(c, ',' | '+' | '"' | '\\' | '<' | '>' | ';')
            || (i == 0 && (c == '#' || c == ' '))
            || (i == last && c == ' ');
        if special {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

fn dotted_oid(der: &[u8]) -> Result<String, String> {
    let mut arcs: Vec<u64> = Vec::new();
    let mut acc: u64 = 0;
    for (i, b) in der.iter().enumerate() {
        if acc > (u64::MAX >> 7) {
            return Err("OID arc too large".into());
        }
        acc = (acc << 7) | u64::from(b & 0x7f);
        if b & 0x80 == 0 {
            if arcs.is_empty() {
                let first = (acc / 40).min(2);
                arcs.push(first);
                arcs.push(acc - first * 40);
            } else {
                arcs.push(acc);
            }
            acc = 0;
        } else if i + 1 == der.len() {
            return Err("truncated OID".into());
        }
    }
    if arcs.is_empty() {
        return Err("empty OID".into());
    }
    Ok(arcs
        .iter()
        .map(u64::to_string)
        .collect::<Vec<_>>()
        .join("."))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dns_normalize_the_way_java_parses_them() {
        for (input, expected) in [
            ("CN=a,O=b", Some("CN=a,O=b")),
            ("cn = a , o = b", Some("CN=a,O=b")),
            ("CN=a;O=b", Some("CN=a,O=b")),
            ("OID.2.5.4.3=a,2.5.4.10=b", Some("CN=a,O=b")),
            ("CN=Acme\\, Inc.,O=b", Some("CN=Acme\\, Inc.,O=b")),
            ("CN=\"Acme, Inc.\",O=b", Some("CN=Acme\\, Inc.,O=b")),
            ("CN=Acme\\2C Inc.", Some("CN=Acme\\, Inc.")),
            ("CN=caf\\C3\\A9", Some("CN=café")),
            ("CN=a\\ ", Some("CN=a\\ ")),
            ("OU=x+CN=y,O=z", Some("OU=x+CN=y,O=z")),
            ("EMAILADDRESS=a@b,CN=x", None),
            ("CN=#0c0161", None),
            ("no equals sign", None),
        ] {
            assert_eq!(normalize_dn(input).as_deref(), expected, "{input}");
        }
    }

    fn der_len(n: usize) -> Vec<u8> {
        if n < 0x80 {
            vec![n as u8]
        } else {
            vec![0x81, n as u8]
        }
    }

    fn wrap(tag: u8, contents: &[u8]) -> Vec<u8> {
        let mut v = vec![tag];
        v.extend(der_len(contents.len()));
        v.extend_from_slice(contents);
        v
    }

    /// An AVA with an OID's DER contents and a value TLV.
    fn ava(oid: &[u8], tag: u8, value: &[u8]) -> Vec<u8> {
        let mut inner = wrap(OID, oid);
        inner.extend(wrap(tag, value));
        wrap(SEQUENCE, &inner)
    }

    fn name(rdns: &[Vec<Vec<u8>>]) -> Vec<u8> {
        let mut seq = Vec::new();
        for rdn in rdns {
            seq.extend(wrap(SET, &rdn.concat()));
        }
        wrap(SEQUENCE, &seq)
    }

    fn certificate(issuer: &[u8], subject: &[u8]) -> Vec<u8> {
        let mut tbs = wrap(0xa0, &wrap(INTEGER, &[2]));
        tbs.extend(wrap(INTEGER, &[1]));
        tbs.extend(wrap(SEQUENCE, &[]));
        tbs.extend_from_slice(issuer);
        tbs.extend(wrap(SEQUENCE, &[]));
        tbs.extend_from_slice(subject);
        let mut cert = wrap(SEQUENCE, &tbs);
        cert.extend(wrap(SEQUENCE, &[]));
        cert.extend(wrap(0x03, &[0]));
        wrap(SEQUENCE, &cert)
    }

    const CN: &[u8] = &[0x55, 4, 3];
    const O: &[u8] = &[0x55, 4, 10];
    const OU: &[u8] = &[0x55, 4, 11];
    const EMAIL: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 1, 9, 1];

    #[test]
    fn names_most_specific_first_without_spaces() {
        // DER order is O then CN; RFC 2253 writes CN first.
        let issuer = name(&[
            vec![ava(O, 0x0c, b"jwtgrant test")],
            vec![ava(CN, 0x0c, b"jwtgrant test CA")],
        ]);
        let subject = name(&[
            vec![ava(O, 0x13, b"jwtgrant test")],
            vec![ava(CN, 0x0c, b"jwtgrant-e2e-client")],
        ]);
        let c = PresentedCertificate::from_der(&certificate(&issuer, &subject)).unwrap();
        assert_eq!(
            c,
            PresentedCertificate::new(
                "CN=jwtgrant-e2e-client,O=jwtgrant test",
                "CN=jwtgrant test CA,O=jwtgrant test"
            )
        );
    }

    #[test]
    fn special_characters_multi_valued_rdns_and_unknown_types() {
        let subject = name(&[
            vec![ava(O, 0x0c, b"Acme, Inc.")],
            vec![ava(OU, 0x0c, b"a+b"), ava(CN, 0x0c, b" #lead")],
            vec![ava(EMAIL, 0x16, b"a@b")],
        ]);
        let c = PresentedCertificate::from_der(&certificate(&name(&[]), &subject)).unwrap();
        assert_eq!(
            c.subject_dn,
            "1.2.840.113549.1.9.1=#1603614062,OU=a\\+b+CN=\\ #lead,O=Acme\\, Inc."
        );
        assert_eq!(c.issuer_dn, "");
    }

    #[test]
    fn bad_der_is_an_error_not_a_panic() {
        let good = certificate(&name(&[]), &name(&[vec![ava(CN, 0x0c, b"x")]]));
        for cut in 0..good.len() {
            assert!(
                PresentedCertificate::from_der(&good[..cut]).is_err(),
                "cut {cut}"
            );
        }
        assert_eq!(
            PresentedCertificate::from_der(b"\x02\x01\x00"),
            Err("expected DER tag 0x30, found 0x02".to_owned())
        );
        assert_eq!(
            PresentedCertificate::from_der(&[0x30, 0x85, 0, 0, 0, 0, 0]),
            Err("unsupported DER length".to_owned())
        );
    }
}
