//! The cache's directory and files on this platform: Unix modes and owners (0700 directory,
//! 0600 files, owned by the current user or root); elsewhere the cache is refused.

#[cfg(unix)]
mod imp {
    use std::fs::{self, File, OpenOptions};
    use std::io;
    use std::os::unix::fs::{DirBuilderExt as _, MetadataExt as _, OpenOptionsExt as _};
    use std::path::Path;

    use crate::error::ExchangeError;

    /// Creates `dir` (0700; missing parents with the default mode) and checks it.
    pub(in crate::cache) fn prepare_dir(dir: &Path) -> Result<(), ExchangeError> {
        let refuse = |reason: String| ExchangeError::Cache {
            path: dir.to_owned(),
            reason,
            source: None,
        };
        if let Some(parent) = dir.parent().filter(|p| !p.as_os_str().is_empty()) {
            fs::create_dir_all(parent)
                .map_err(|e| crate::cache::io_error(parent, "cannot create the directory", e))?;
        }
        match fs::DirBuilder::new().mode(0o700).create(dir) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
            Err(e) => {
                return Err(crate::cache::io_error(
                    dir,
                    "cannot create the directory",
                    e,
                ));
            }
        }
        let meta = fs::metadata(dir)
            .map_err(|e| crate::cache::io_error(dir, "cannot read the directory", e))?;
        if !meta.is_dir() {
            return Err(refuse("it is not a directory".into()));
        }
        let (owner, me) = (meta.uid(), euid());
        let Some(problem) = crate::cache::access_problem(meta.mode() & 0o777, owner, me) else {
            return Ok(());
        };
        let fix = if owner != me && owner != 0 {
            "use a directory of your own".to_owned()
        } else {
            format!("run 'chmod 700 {}'", dir.display())
        };
        Err(refuse(format!("{problem}: {fix}")))
    }

    /// The owner and mode rule for an entry (as for keys): owned by the current user or
    /// root, no group or other bits.
    pub(in crate::cache) fn check_private(meta: &fs::Metadata) -> Result<(), String> {
        match crate::cache::access_problem(meta.mode() & 0o777, meta.uid(), euid()) {
            Some(problem) => Err(problem),
            None => Ok(()),
        }
    }

    /// A new file, mode 0600 from creation; never an existing one or a symlink (`O_EXCL`).
    pub(in crate::cache) fn create_private(path: &Path) -> io::Result<File> {
        OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(path)
    }

    /// The lock file, created 0600 when missing.
    pub(in crate::cache) fn open_lock(path: &Path) -> io::Result<File> {
        OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .open(path)
    }

    fn euid() -> u32 {
        rustix::process::geteuid().as_raw()
    }
}

#[cfg(not(unix))]
mod imp {
    // No modes or owners to check: the cache is refused.
    use std::fs::{self, File};
    use std::io;
    use std::path::Path;

    use crate::error::ExchangeError;

    pub(in crate::cache) fn prepare_dir(dir: &Path) -> Result<(), ExchangeError> {
        Err(ExchangeError::Cache {
            path: dir.to_owned(),
            reason: "the token cache is not supported on this platform (it needs Unix file modes and owners)".into(),
            source: None,
        })
    }

    pub(in crate::cache) fn check_private(_: &fs::Metadata) -> Result<(), String> {
        Err("the token cache is not supported on this platform".into())
    }

    pub(in crate::cache) fn create_private(_: &Path) -> io::Result<File> {
        Err(io::Error::from(io::ErrorKind::Unsupported))
    }

    pub(in crate::cache) fn open_lock(_: &Path) -> io::Result<File> {
        Err(io::Error::from(io::ErrorKind::Unsupported))
    }
}

pub(super) use imp::{check_private, create_private, open_lock, prepare_dir};
