//! Files and stdin: reading keys (with ssh-style permission checks), reading secrets,
//! writing private files with mode 0600 from the start, and writing stdout.

use std::fs;
use std::io::{self, Read, Write};
use std::path::Path;

use anyhow::{Context as _, Result, bail};

use crate::error::StdoutClosed;

/// Read a file, naming it in the error.
pub fn read(path: &Path, what: &str) -> Result<Vec<u8>> {
    fs::read(path).with_context(|| format!("cannot read {what} '{}'", path.display()))
}

/// ssh's rule: no permission bits for group or others on a private key (unless
/// `allow_insecure`), the way ssh refuses an identity file.
pub fn check_private_permissions(path: &Path, allow_insecure: bool, what: &str) -> Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let meta = fs::metadata(path)
            .with_context(|| format!("cannot read {what} '{}'", path.display()))?;
        let mode = meta.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            if allow_insecure {
                log::warn!(
                    "{what} '{}' is accessible by group or others (mode {mode:04o}); using it because of --allow-insecure-key-permissions",
                    path.display()
                );
            } else {
                bail!(
                    "{what} '{}' is accessible by group or others (mode {mode:04o}): run 'chmod 600 {}' (or pass --allow-insecure-key-permissions)",
                    path.display(),
                    path.display()
                );
            }
        }
    }
    #[cfg(not(unix))]
    let _ = (path, allow_insecure, what);
    Ok(())
}

/// A secret's text from a file: the first line, trailing whitespace removed, not empty.
pub fn read_secret_file(path: &Path, what: &str) -> Result<String> {
    let bytes = read(path, what)?;
    let text = String::from_utf8(bytes)
        .map_err(|_| anyhow::anyhow!("{what} file '{}' is not UTF-8 text", path.display()))?;
    let line = text.lines().next().unwrap_or("").trim_end().to_owned();
    if line.is_empty() {
        bail!("{what} file '{}' is empty", path.display());
    }
    Ok(line)
}

/// All of stdin as text (for `--assertion -`), trimmed.
pub fn read_stdin_trimmed(what: &str) -> Result<String> {
    let mut s = String::new();
    io::stdin()
        .read_to_string(&mut s)
        .with_context(|| format!("cannot read {what} from stdin"))?;
    let s = s.trim().to_owned();
    if s.is_empty() {
        bail!("no {what} on stdin");
    }
    Ok(s)
}

/// The first line of stdin (for `--client-secret-stdin`).
pub fn read_stdin_line(what: &str) -> Result<String> {
    let mut s = String::new();
    io::stdin()
        .read_line(&mut s)
        .with_context(|| format!("cannot read {what} from stdin"))?;
    let s = s.trim_end().to_owned();
    if s.is_empty() {
        bail!("no {what} on stdin");
    }
    Ok(s)
}

/// Write a file that must stay private: created with mode 0600 under a temporary name in
/// the same directory, then renamed over the target, so it never exists with wider
/// permissions (an existing file's mode is not inherited). Refuses to replace an existing
/// file unless `overwrite`.
pub fn write_private(path: &Path, contents: &[u8], overwrite: bool) -> Result<()> {
    if !overwrite && path.exists() {
        bail!(
            "'{}' already exists (pass --force to replace it)",
            path.display()
        );
    }
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.tmp-{}", std::process::id()));
    let result = (|| -> io::Result<()> {
        let mut opts = fs::OpenOptions::new();
        opts.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt as _;
            opts.mode(0o600);
        }
        let mut f = opts.open(&tmp)?;
        f.write_all(contents)?;
        f.sync_all()?;
        fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result.with_context(|| format!("cannot write '{}'", path.display()))
}

/// Write a public file (mode from the umask), refusing to replace it unless `overwrite`.
pub fn write_public(path: &Path, contents: &[u8], overwrite: bool) -> Result<()> {
    if !overwrite && path.exists() {
        bail!(
            "'{}' already exists (pass --force to replace it)",
            path.display()
        );
    }
    fs::write(path, contents).with_context(|| format!("cannot write '{}'", path.display()))
}

/// Write to stdout; a closed pipe becomes `StdoutClosed` (exit 0, nothing printed).
pub fn stdout(text: &str) -> Result<()> {
    let mut out = io::stdout().lock();
    let r = out.write_all(text.as_bytes()).and_then(|()| out.flush());
    match r {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Err(StdoutClosed.into()),
        Err(e) => Err(anyhow::Error::new(e).context("cannot write to stdout")),
    }
}

/// Write a line to stdout.
pub fn println(text: &str) -> Result<()> {
    let mut s = String::with_capacity(text.len() + 1);
    s.push_str(text);
    s.push('\n');
    stdout(&s)
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt as _;

    #[test]
    fn private_files_are_0600_and_not_overwritten() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("secret");
        // An existing world-readable file must not lend its mode to the new content.
        fs::write(&p, "old").unwrap();
        fs::set_permissions(&p, fs::Permissions::from_mode(0o644)).unwrap();
        let err = write_private(&p, b"new", false).unwrap_err();
        assert!(format!("{err:#}").contains("already exists"), "{err:#}");
        write_private(&p, b"new", true).unwrap();
        assert_eq!(fs::read_to_string(&p).unwrap(), "new");
        assert_eq!(
            fs::metadata(&p).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }

    #[test]
    fn open_keys_are_refused_with_the_fix() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("k.pem");
        fs::write(&p, "x").unwrap();
        fs::set_permissions(&p, fs::Permissions::from_mode(0o640)).unwrap();
        let err = check_private_permissions(&p, false, "private key").unwrap_err();
        let msg = format!("{err:#}");
        assert!(msg.contains("mode 0640"), "{msg}");
        assert!(msg.contains(&format!("chmod 600 {}", p.display())), "{msg}");
        assert!(check_private_permissions(&p, true, "private key").is_ok());
        fs::set_permissions(&p, fs::Permissions::from_mode(0o600)).unwrap();
        assert!(check_private_permissions(&p, false, "private key").is_ok());
    }
}
