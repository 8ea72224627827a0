//! Just enough DER to read and write the key containers the crate handles:
//! PKCS#1, PKCS#8, SEC1, SubjectPublicKeyInfo and the outer shell of X.509.
//!
//! The reader never panics on input: every length is checked against the
//! remaining bytes. The writer only handles definite lengths, which is all DER allows.

pub(crate) const INTEGER: u8 = 0x02;
pub(crate) const BIT_STRING: u8 = 0x03;
pub(crate) const OCTET_STRING: u8 = 0x04;
pub(crate) const NULL: u8 = 0x05;
pub(crate) const OID: u8 = 0x06;
pub(crate) const SEQUENCE: u8 = 0x30;
pub(crate) const CONTEXT_0: u8 = 0xa0;

/// Object identifiers (content bytes only, without tag and length).
pub(crate) mod oid {
    /// rsaEncryption, 1.2.840.113549.1.1.1
    pub(crate) const RSA_ENCRYPTION: &[u8] =
        &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01];
    /// id-RSASSA-PSS, 1.2.840.113549.1.1.10
    pub(crate) const RSASSA_PSS: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0a];
    /// id-dsa, 1.2.840.10040.4.1
    pub(crate) const DSA: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x38, 0x04, 0x01];
    /// id-ecPublicKey, 1.2.840.10045.2.1
    pub(crate) const EC_PUBLIC_KEY: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01];
    /// prime256v1 / secp256r1 / P-256, 1.2.840.10045.3.1.7
    pub(crate) const P256: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07];
    /// secp384r1 / P-384, 1.3.132.0.34
    pub(crate) const P384: &[u8] = &[0x2b, 0x81, 0x04, 0x00, 0x22];
    /// secp521r1 / P-521, 1.3.132.0.35
    pub(crate) const P521: &[u8] = &[0x2b, 0x81, 0x04, 0x00, 0x23];
    /// secp256k1, 1.3.132.0.10
    pub(crate) const SECP256K1: &[u8] = &[0x2b, 0x81, 0x04, 0x00, 0x0a];
    /// id-X25519, 1.3.101.110
    pub(crate) const X25519: &[u8] = &[0x2b, 0x65, 0x6e];
    /// id-X448, 1.3.101.111
    pub(crate) const X448: &[u8] = &[0x2b, 0x65, 0x6f];
    /// id-Ed25519, 1.3.101.112
    pub(crate) const ED25519: &[u8] = &[0x2b, 0x65, 0x70];
    /// id-Ed448, 1.3.101.113
    pub(crate) const ED448: &[u8] = &[0x2b, 0x65, 0x71];
}

/// Why a DER structure could not be read. Only ever shown inside a crate error message.
pub(crate) type DerError = &'static str;

/// A cursor over DER bytes.
#[derive(Clone, Copy)]
pub(crate) struct Reader<'a> {
    data: &'a [u8],
}

impl<'a> Reader<'a> {
    pub(crate) fn new(data: &'a [u8]) -> Self {
        Reader { data }
    }

    pub(crate) fn peek_tag(&self) -> Option<u8> {
        self.data.first().copied()
    }

    /// Reads one element: its tag and its content.
    pub(crate) fn read_any(&mut self) -> Result<(u8, &'a [u8]), DerError> {
        let (&tag, rest) = self.data.split_first().ok_or("unexpected end of data")?;
        if tag & 0x1f == 0x1f {
            return Err("multi-byte ASN.1 tags are not supported");
        }
        let (&first, mut rest) = rest.split_first().ok_or("unexpected end of data")?;
        let len = if first < 0x80 {
            usize::from(first)
        } else {
            let count = usize::from(first & 0x7f);
            if count == 0 {
                return Err("indefinite lengths are not DER");
            }
            if count > 4 {
                return Err("element is too long");
            }
            let (len_bytes, after) = rest
                .split_at_checked(count)
                .ok_or("unexpected end of data")?;
            rest = after;
            len_bytes
                .iter()
                .fold(0usize, |acc, &b| (acc << 8) | usize::from(b))
        };
        let (content, after) = rest.split_at_checked(len).ok_or("unexpected end of data")?;
        self.data = after;
        Ok((tag, content))
    }

    /// Reads one element that must carry `tag`.
    pub(crate) fn read(&mut self, tag: u8) -> Result<&'a [u8], DerError> {
        // Check the tag before the length so garbage reads as "expected X".
        if self.data.first().is_some_and(|&t| t != tag) {
            return Err(unexpected(tag));
        }
        match self.read_any()? {
            (t, content) if t == tag => Ok(content),
            _ => Err(unexpected(tag)),
        }
    }

    /// Reads the next element only if it carries `tag`.
    pub(crate) fn read_optional(&mut self, tag: u8) -> Result<Option<&'a [u8]>, DerError> {
        if self.peek_tag() == Some(tag) {
            self.read(tag).map(Some)
        } else {
            Ok(None)
        }
    }

    /// Reads a SEQUENCE and returns a reader over its content.
    pub(crate) fn sequence(&mut self) -> Result<Reader<'a>, DerError> {
        self.read(SEQUENCE).map(Reader::new)
    }

    /// Reads a non-negative INTEGER as big-endian bytes without leading zeros.
    pub(crate) fn unsigned(&mut self) -> Result<&'a [u8], DerError> {
        let bytes = self.read(INTEGER)?;
        match bytes.first() {
            None => Err("empty INTEGER"),
            Some(b) if b & 0x80 != 0 => Err("negative INTEGER"),
            Some(_) => Ok(strip_zeros(bytes)),
        }
    }

    /// Reads a small non-negative INTEGER such as a version number.
    pub(crate) fn small_unsigned(&mut self) -> Result<u32, DerError> {
        let bytes = self.unsigned()?;
        if bytes.len() > 4 {
            return Err("INTEGER is too large");
        }
        Ok(bytes.iter().fold(0u32, |acc, &b| (acc << 8) | u32::from(b)))
    }

    /// Requires that nothing is left.
    pub(crate) fn finish(&self) -> Result<(), DerError> {
        if self.data.is_empty() {
            Ok(())
        } else {
            Err("unexpected data after the end")
        }
    }
}

fn unexpected(tag: u8) -> DerError {
    match tag {
        INTEGER => "expected an INTEGER",
        BIT_STRING => "expected a BIT STRING",
        OCTET_STRING => "expected an OCTET STRING",
        NULL => "expected NULL",
        OID => "expected an OBJECT IDENTIFIER",
        SEQUENCE => "expected a SEQUENCE",
        _ => "unexpected ASN.1 element",
    }
}

/// Big-endian bytes without leading zeros (a lone zero stays empty).
pub(crate) fn strip_zeros(bytes: &[u8]) -> &[u8] {
    let start = bytes.iter().position(|&b| b != 0).unwrap_or(bytes.len());
    &bytes[start..]
}

/// Bit length of a big-endian unsigned integer.
pub(crate) fn bit_len(bytes: &[u8]) -> usize {
    let bytes = strip_zeros(bytes);
    match bytes.first() {
        None => 0,
        Some(&b) => bytes.len() * 8 - b.leading_zeros() as usize,
    }
}

/// Encodes one element. The capacity is reserved up front so secret content is
/// not left behind in reallocated buffers.
pub(crate) fn tlv(tag: u8, parts: &[&[u8]]) -> Vec<u8> {
    let len: usize = parts.iter().map(|p| p.len()).sum();
    let mut out = Vec::with_capacity(len + 6);
    out.push(tag);
    if len < 0x80 {
        // Fits in the short form, so the cast is lossless.
        out.push(len as u8);
    } else {
        let be = len.to_be_bytes();
        let significant = strip_zeros(&be);
        out.push(0x80 | significant.len() as u8);
        out.extend_from_slice(significant);
    }
    for part in parts {
        out.extend_from_slice(part);
    }
    out
}

/// Encodes a non-negative INTEGER from big-endian bytes.
pub(crate) fn unsigned(bytes: &[u8]) -> Vec<u8> {
    let bytes = strip_zeros(bytes);
    match bytes.first() {
        None => tlv(INTEGER, &[&[0]]),
        Some(b) if b & 0x80 != 0 => tlv(INTEGER, &[&[0], bytes]),
        Some(_) => tlv(INTEGER, &[bytes]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lengths_round_trip() {
        for len in [0usize, 1, 127, 128, 255, 256, 70_000] {
            let content = vec![7u8; len];
            let encoded = tlv(OCTET_STRING, &[&content[..]]);
            let mut r = Reader::new(&encoded);
            assert_eq!(r.read(OCTET_STRING), Ok(&content[..]));
            assert!(r.finish().is_ok());
        }
    }

    #[test]
    fn truncated_and_odd_input_is_an_error() {
        for bad in [
            &[][..],
            &[0x30],
            &[0x30, 0x05, 1],
            &[0x30, 0x80],
            &[0x30, 0x85, 1, 1, 1, 1, 1],
            &[0x1f, 0],
        ] {
            assert!(Reader::new(bad).read_any().is_err(), "{bad:?}");
        }
    }

    #[test]
    fn integers() {
        assert_eq!(unsigned(&[0x80]), [INTEGER, 2, 0, 0x80]);
        assert_eq!(unsigned(&[0, 0, 1]), [INTEGER, 1, 1]);
        assert_eq!(unsigned(&[]), [INTEGER, 1, 0]);
        assert_eq!(
            Reader::new(&[INTEGER, 2, 0, 0x80]).unsigned(),
            Ok(&[0x80][..])
        );
        assert!(Reader::new(&[INTEGER, 1, 0x80]).unsigned().is_err());
        assert_eq!(bit_len(&[0, 0x01, 0]), 9);
        assert_eq!(bit_len(&[0xff; 256]), 2048);
    }
}
