//! `pkcs11:` key URIs: wherever a key file is taken, and `keygen --pkcs11`.
//!
//! The library finds the token and the key; this module adds what a binary owns: the
//! module path from `--pkcs11-module`, and the PIN from the URI's `pin-source=file:`,
//! `--pkcs11-pin-file` (or stdin with `-`), or `JWTGRANT_PKCS11_PIN`. Never from argv.

use std::path::Path;

use super::Globals;

/// The URI when `path` is a `pkcs11:` URI rather than a file name.
pub fn uri(path: &Path) -> Option<&str> {
    path.to_str().filter(|s| s.starts_with("pkcs11:"))
}

/// A URI as messages may show it: its path part only. The query may carry a `pin-value`,
/// which is refused, but must not be echoed to the terminal (or a CI log) either.
fn shown(uri: &str) -> &str {
    uri.split_once('?').map_or(uri, |(path, _)| path)
}

#[cfg(not(feature = "pkcs11"))]
pub use none::{keygen, signer};

#[cfg(not(feature = "pkcs11"))]
mod none {
    use anyhow::Result;
    use jwtgrant_signer::{Algorithm, Signer};

    use super::Globals;

    fn unsupported(uri: &str) -> anyhow::Error {
        anyhow::anyhow!(
            "'{}' is a PKCS#11 key URI, but this jwtgrant was built without PKCS#11 support (rebuild it with '--features pkcs11')",
            super::shown(uri)
        )
    }

    /// A signer over the key `uri` names.
    pub fn signer(uri: &str, _g: &Globals) -> Result<Signer> {
        Err(unsupported(uri))
    }

    /// Generates a key pair in the token and returns its public key PEM.
    pub fn keygen(uri: &str, _alg: Algorithm, _bits: Option<u32>, _g: &Globals) -> Result<String> {
        Err(unsupported(uri))
    }
}

#[cfg(feature = "pkcs11")]
pub use imp::{keygen, signer};

#[cfg(feature = "pkcs11")]
mod imp {
    use std::io::BufRead as _;
    use std::path::Path;

    use anyhow::{Context as _, Result, anyhow};
    use jwtgrant_signer::pkcs11::{Pin, Pkcs11Error, Pkcs11Key, Pkcs11Uri};
    use jwtgrant_signer::{Algorithm, KeyType, Signer};

    use super::{Globals, shown};
    use crate::error::Usage;
    use crate::files;

    /// A signer over the key `uri` names.
    pub fn signer(uri: &str, g: &Globals) -> Result<Signer> {
        let ctx = || format!("cannot open key '{}'", shown(uri));
        let parsed: Pkcs11Uri = uri.parse().with_context(ctx)?;
        let pin = pin(&parsed, g)?;
        let key = Pkcs11Key::open(&parsed, g.pkcs11_module.as_deref(), pin.get())
            .map_err(with_flags)
            .with_context(ctx)?;
        Ok(Signer::from_key(key))
    }

    /// Generates a key pair in the token and returns its public key PEM.
    pub fn keygen(uri: &str, alg: Algorithm, bits: Option<u32>, g: &Globals) -> Result<String> {
        let key_type = alg.key_type();
        if key_type == KeyType::Ed25519 {
            return Err(Usage(
                "keygen --pkcs11 makes RSA, EC P-256 or EC P-384 keys (choose --alg RS256, PS256, ES256 or ES384)".into(),
            )
            .into());
        }
        if let (false, Some(b)) = (alg.is_rsa(), bits) {
            return Err(Usage(format!(
                "--bits {b} applies to RSA keys only; {alg} keys have a fixed size (drop --bits, or choose --alg RS256 or PS256)"
            ))
            .into());
        }
        let ctx = || format!("cannot generate a {alg} key in '{}'", shown(uri));
        let parsed: Pkcs11Uri = uri.parse().with_context(ctx)?;
        let pin = pin(&parsed, g)?;
        let pin = pin.get().ok_or_else(|| anyhow!(
            "cannot generate a key in '{}': the token's PIN is needed (pass --pkcs11-pin-file FILE, set JWTGRANT_PKCS11_PIN, or add pin-source=file:PATH to the URI)",
            shown(uri)
        ))?;
        let bits = bits.unwrap_or(2048) as usize;
        let key = Pkcs11Key::generate(&parsed, g.pkcs11_module.as_deref(), pin, key_type, bits)
            .map_err(with_flags)
            .with_context(ctx)?;
        let what = if alg.is_rsa() {
            format!("a {bits}-bit RSA")
        } else {
            format!("an {key_type}")
        };
        eprintln!(
            "jwtgrant: generated {what} key pair in token '{}' (private key sensitive, never extractable): {}",
            key.token_label(),
            key.uri()
        );
        Ok(Signer::from_key(key).public_key_pem())
    }

    /// The library's error, plus the flags of this binary where they are the fix.
    fn with_flags(err: Pkcs11Error) -> anyhow::Error {
        match err {
            Pkcs11Error::NoModule => anyhow!(
                "no PKCS#11 module given (pass --pkcs11-module FILE, set JWTGRANT_PKCS11_MODULE, or add ?module-path=FILE to the URI)"
            ),
            Pkcs11Error::PinRequired { token } => anyhow!(
                "token '{token}' needs a PIN (pass --pkcs11-pin-file FILE or '-' for stdin, set JWTGRANT_PKCS11_PIN, or add pin-source=file:PATH to the URI)"
            ),
            other => other.into(),
        }
    }

    /// A PIN of this run: one read for this key, or the one `--pkcs11-pin-file` gave.
    enum PinOf<'g> {
        Own(Option<Pin>),
        Global(&'g Pin),
    }

    impl PinOf<'_> {
        fn get(&self) -> Option<&Pin> {
            match self {
                Self::Own(pin) => pin.as_ref(),
                Self::Global(pin) => Some(pin),
            }
        }
    }

    /// The PIN: the URI's pin-source, else --pkcs11-pin-file (read once per run, however
    /// many keys are opened), else JWTGRANT_PKCS11_PIN.
    fn pin<'g>(uri: &Pkcs11Uri, g: &'g Globals) -> Result<PinOf<'g>> {
        if let Some(source) = uri.pin_source() {
            let path = source.strip_prefix("file:").unwrap_or(source);
            let path = path.strip_prefix("//").unwrap_or(path);
            return pin_file(Path::new(path), g).map(|p| PinOf::Own(Some(p)));
        }
        if let Some(path) = &g.pkcs11_pin_file {
            if let Some(pin) = g.pin.get() {
                return Ok(PinOf::Global(pin));
            }
            let pin = if path == Path::new("-") {
                let mut line = zeroize::Zeroizing::new(String::new());
                std::io::stdin()
                    .lock()
                    .read_line(&mut line)
                    .context("cannot read the PIN from stdin")?;
                Pin::new(line.trim_end_matches(['\r', '\n']))
            } else {
                pin_file(path, g)?
            };
            return Ok(PinOf::Global(g.pin.get_or_init(|| pin)));
        }
        Ok(PinOf::Own(g.var("JWTGRANT_PKCS11_PIN").map(Pin::new)))
    }

    /// The first line of a PIN file, which must be private like a key file.
    fn pin_file(path: &Path, g: &Globals) -> Result<Pin> {
        // Opened once; mode and owner checked on that handle, as for key files.
        let file = files::PrivateFile::open(path, "PIN file")?;
        file.check(path, "PIN file", g.allow_insecure_key_permissions)?;
        let text = std::str::from_utf8(file.bytes())
            .map_err(|_| anyhow!("PIN file '{}' is not UTF-8", path.display()))?;
        Ok(Pin::new(text.lines().next().unwrap_or_default()))
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn messages_show_the_uri_without_its_query() {
        assert_eq!(
            super::shown("pkcs11:token=t;object=k?pin-value=1234&module-path=/m.so"),
            "pkcs11:token=t;object=k"
        );
        assert_eq!(super::shown("pkcs11:token=t"), "pkcs11:token=t");
    }
}
