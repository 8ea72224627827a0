//! The docs' console transcripts, run against the real Keycloak and compared with their output.
//!
//! Every ` ```console ` block in `README.md` and `docs/*.md` is a transcript: lines starting
//! with `$ ` are commands (a trailing `\` continues one onto the next line), the lines after a
//! command up to the next `$ ` are what it prints (stdout and stderr together, in order).
//! Each document runs in one bash session (`set -o pipefail`, umask 022 like a typical login)
//! in a fresh temporary directory, so later blocks see the files and the exported variables of
//! earlier ones; `PATH` starts with the directory of the `jwtgrant` binary (`JWTGRANT_BIN`).
//! Exit codes are not compared (a transcript shows `echo $?` where the code matters).
//!
//! Output is compared with [`snapbox`] (the clap maintainers' snapshot library, which trycmd
//! uses for the same job): `[..]` matches within a line, `...` on a line of its own any number
//! of lines, and these placeholders stand for values that change every run: `[JWT]` (a compact
//! JWS), `[UUID]` (`jti`s, Keycloak ids), `[TIME]` (a date and time in UTC), `[EPOCH]` (seconds
//! since 1970, ten digits).
//!
//! The docs are written for the demo's server (`cargo xtask demo`: `http://127.0.0.1:8080`,
//! HTTPS on `localhost:8443`, admin/admin); the runner sends the commands to the server under
//! test instead (`KEYCLOAK_URL`, `KEYCLOAK_HTTPS_URL`, `KEYCLOAK_ADMIN_PASSWORD`) and maps its
//! address back in the output. `target/keycloak/tls` in a command is the test CA's directory
//! (`JWTGRANT_TLS_DIR`). Each document uses its own realms, named `docs-...`; the runner
//! deletes those before and after the run, so `keycloak setup` creates them afresh.
//!
//! A block that cannot run is marked in the doc itself, on the line before it:
//! `<!-- docs: not run: REASON -->`. Blocks in ` ```sh ` are commands without output and are
//! never run.
//!
//! Bless mode: `JWTGRANT_DOCS=overwrite` (or snapbox's `SNAPSHOTS=overwrite`) rewrites every
//! block's output in place from the real run, keeping the placeholders and wildcards of lines
//! that still match. Review the diff: a placeholder lost in a changed line must be put back.
//!
//! Like the rest of the suite this fails, never skips, without a Keycloak
//! (`cargo xtask e2e` and `cargo xtask ci` run it). By hand, against running servers (the
//! binary built with `--features pkcs11` for docs/hsm.md, SoftHSM2 installed):
//!
//! ```sh
//! cargo build -p jwtgrant-cli --features pkcs11
//! KEYCLOAK_URL=http://127.0.0.1:8080 KEYCLOAK_HTTPS_URL=https://localhost:8443 \
//!   JWTGRANT_TLS_DIR=target/keycloak/tls KEYCLOAK_ADMIN_USER=admin KEYCLOAK_ADMIN_PASSWORD=admin \
//!   JWTGRANT_BIN=target/debug/jwtgrant cargo test -p jwtgrant-e2e --test docs
//! ```

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

use std::io::{Read as _, Write as _};
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

use jwtgrant_e2e::{Keycloak, required_env};
use snapbox::{Assert, Data, Redactions};

/// The server the docs are written for, as `cargo xtask demo` starts it.
const DOCS_HTTP: &str = "http://127.0.0.1:8080";
/// The same server's HTTPS side (`cargo xtask keycloak start` serves HTTPS on port + 363).
const DOCS_HTTPS: &str = "https://localhost:8443";
/// Where `cargo xtask keycloak start` keeps the test CA and certificates.
const TLS_DIR: &str = "target/keycloak/tls";
/// The demo's admin password, as the docs export it.
const DOCS_ADMIN_PASSWORD: &str = "KEYCLOAK_ADMIN_PASSWORD=admin";
/// The longest one command may take (the slowest are `keycloak setup` on a busy server).
const COMMAND_TIMEOUT: Duration = Duration::from_secs(60);
const DONE: &str = "__JWTGRANT_DOCS_DONE__";

#[test]
fn readme() {
    check("README.md");
}

#[test]
fn cli() {
    check("docs/cli.md");
}

#[test]
fn troubleshooting() {
    check("docs/troubleshooting.md");
}

#[test]
fn tls() {
    check("docs/tls.md");
}

#[test]
fn hsm() {
    check("docs/hsm.md");
}

/// Every document with a console block has its test above.
#[test]
fn every_document_with_transcripts_is_run() {
    let covered = [
        "README.md",
        "docs/cli.md",
        "docs/troubleshooting.md",
        "docs/tls.md",
        "docs/hsm.md",
    ];
    let mut docs = vec![root().join("README.md")];
    for entry in std::fs::read_dir(root().join("docs")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "md") {
            docs.push(path);
        }
    }
    for doc in docs {
        let text = std::fs::read_to_string(&doc).unwrap();
        let rel = doc
            .strip_prefix(root())
            .unwrap()
            .to_str()
            .unwrap()
            .to_owned();
        if parse(&text).iter().any(|b| b.reason.is_none()) {
            assert!(
                covered.contains(&rel.as_str()),
                "{rel} has console transcripts but no test in tests/tests/docs.rs"
            );
        }
    }
}

/// One command of a transcript and what it should print.
#[derive(Debug)]
struct Step {
    /// The command as bash gets it (continuations kept).
    command: String,
    /// Line number (1-based) of the `$ ` line.
    line: usize,
    /// Index of the first expected output line in the document, and how many lines.
    output: (usize, usize),
    expected: String,
}

#[derive(Debug)]
struct Block {
    /// `Some(reason)` when the doc marks the block as not run.
    reason: Option<String>,
    steps: Vec<Step>,
}

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_owned()
}

fn parse(doc: &str) -> Vec<Block> {
    let lines: Vec<&str> = doc.lines().collect();
    let mut blocks = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let fence = lines[i].trim_start();
        if !fence.starts_with("```") {
            i += 1;
            continue;
        }
        let info = fence.trim_start_matches('`').trim();
        let start = i + 1;
        let mut end = start;
        while end < lines.len() && !lines[end].trim_start().starts_with("```") {
            end += 1;
        }
        if info == "console" {
            let reason = lines[..i]
                .iter()
                .rev()
                .find(|l| !l.trim().is_empty())
                .and_then(|l| l.trim().strip_prefix("<!-- docs: not run:"))
                .map(|r| r.trim_end_matches("-->").trim().to_owned());
            if let Some(r) = &reason {
                assert!(
                    !r.is_empty(),
                    "line {}: say why the block is not run",
                    i + 1
                );
            }
            blocks.push(Block {
                reason,
                steps: steps(&lines, start, end),
            });
        }
        i = end + 1;
    }
    blocks
}

fn steps(lines: &[&str], start: usize, end: usize) -> Vec<Step> {
    let mut steps = Vec::new();
    let mut i = start;
    while i < end {
        let Some(first) = lines[i].strip_prefix("$ ") else {
            panic!(
                "line {}: a transcript starts with a '$ ' command: {:?}",
                i + 1,
                lines[i]
            );
        };
        let line = i + 1;
        let mut command = first.to_owned();
        while command.ends_with('\\') && i + 1 < end {
            i += 1;
            command.push('\n');
            command.push_str(lines[i]);
        }
        i += 1;
        let out_start = i;
        while i < end && !lines[i].starts_with("$ ") {
            i += 1;
        }
        let expected: String = lines[out_start..i]
            .iter()
            .map(|l| format!("{l}\n"))
            .collect();
        steps.push(Step {
            command,
            line,
            output: (out_start, i - out_start),
            expected,
        });
    }
    steps
}

/// The server under test and how the docs' addresses map to it.
struct Target {
    keycloak: Keycloak,
    /// (as in the docs, as under test), applied to commands; reversed for output.
    map: Vec<(String, String)>,
    admin_user: String,
    admin_password: String,
}

impl Target {
    /// The target for a document: the HTTPS server and the test CA are needed only by the
    /// documents that name them.
    fn from_env(doc: &str) -> Target {
        let keycloak = Keycloak::from_env();
        let mut map = vec![(DOCS_HTTP.to_owned(), keycloak.url.clone())];
        map.push((authority(DOCS_HTTP), authority(&keycloak.url)));
        if doc.contains(DOCS_HTTPS) {
            let https = required_env("KEYCLOAK_HTTPS_URL");
            map.push((
                authority(DOCS_HTTPS),
                authority(https.trim_end_matches('/')),
            ));
        }
        if doc.contains(TLS_DIR) {
            let dir = root().join(required_env("JWTGRANT_TLS_DIR"));
            map.push((TLS_DIR.to_owned(), dir.to_str().unwrap().to_owned()));
        }
        Target {
            keycloak,
            map,
            admin_user: required_env("KEYCLOAK_ADMIN_USER"),
            admin_password: required_env("KEYCLOAK_ADMIN_PASSWORD"),
        }
    }

    fn command(&self, command: &str) -> String {
        let mut c = command.to_owned();
        for (docs, real) in &self.map {
            c = c.replace(docs, real);
        }
        // The docs export the demo's password; the server under test may have another.
        c.replace(
            DOCS_ADMIN_PASSWORD,
            &format!(
                "KEYCLOAK_ADMIN_PASSWORD={}",
                shell_quote(&self.admin_password)
            ),
        )
    }

    fn output(&self, output: &str) -> String {
        let mut o = output.to_owned();
        for (docs, real) in self.map.iter().rev() {
            if docs != real {
                o = o.replace(real, docs);
            }
        }
        o
    }
}

/// `host:port` of a URL.
fn authority(url: &str) -> String {
    url.split_once("://")
        .map_or(url, |(_, rest)| rest)
        .split('/')
        .next()
        .unwrap()
        .to_owned()
}

fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

fn redactions() -> Redactions {
    let mut r = Redactions::new();
    let re = |s: &str| regex::Regex::new(s).unwrap();
    r.insert(
        "[JWT]",
        re(r"eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+"),
    )
    .unwrap();
    r.insert(
        "[UUID]",
        re(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"),
    )
    .unwrap();
    r.insert("[TIME]", re(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC"))
        .unwrap();
    r.insert("[EPOCH]", re(r"\b(?<redacted>1\d{9})\b")).unwrap();
    r
}

fn check(doc: &str) {
    let path = root().join(doc);
    let text = std::fs::read_to_string(&path).unwrap();
    let target = Target::from_env(&text);
    let blocks = parse(&text);
    let realms = realms(&text);
    let admin = target.keycloak.admin();
    for realm in &realms {
        let _ = admin.delete_realm(realm);
    }

    let dir = tempfile::Builder::new()
        .prefix("jwtgrant-docs-")
        .tempdir()
        .unwrap();
    let mut shell = Shell::start(&target, dir.path());
    let assert = Assert::new()
        .redact_with(redactions())
        .normalize_paths(false);
    // Only our own variable blesses (snapbox's SNAPSHOTS may be set for other suites), and
    // never in CI, where a rewrite would turn every difference into a pass.
    let overwrite = std::env::var("JWTGRANT_DOCS").is_ok_and(|v| v == "overwrite");
    assert!(
        !(overwrite && std::env::var_os("CI").is_some()),
        "JWTGRANT_DOCS=overwrite under CI: the docs test would rewrite instead of check"
    );

    let mut failures = Vec::new();
    let mut rewrites: Vec<((usize, usize), String)> = Vec::new();
    let mut ran = 0;
    for block in blocks.iter().filter(|b| b.reason.is_none()) {
        for step in &block.steps {
            let actual = target.output(&shell.run(&target.command(&step.command)));
            ran += 1;
            let (actual, expected) =
                assert.normalize(Data::text(actual), Data::text(step.expected.clone()));
            let (actual, expected) = (actual.render().unwrap(), expected.render().unwrap());
            if actual == expected {
                continue;
            }
            if overwrite {
                rewrites.push((step.output, actual));
            } else {
                failures.push(format!(
                    "{doc}:{}: $ {}\n--- expected\n{expected}--- actual\n{actual}",
                    step.line, step.command
                ));
            }
        }
    }
    shell.finish();
    for realm in &realms {
        let _ = admin.delete_realm(realm);
    }

    if overwrite && !rewrites.is_empty() {
        let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
        for ((start, len), actual) in rewrites.into_iter().rev() {
            let new: Vec<String> = actual.lines().map(str::to_owned).collect();
            lines.splice(start..start + len, new);
        }
        std::fs::write(&path, lines.join("\n") + "\n").unwrap();
        eprintln!("{doc}: rewrote the output of the blocks that changed");
    }
    assert!(ran > 0, "{doc}: no transcript ran");
    assert!(
        failures.is_empty(),
        "{} of {ran} commands in {doc} printed something else (bless with JWTGRANT_DOCS=overwrite):\n\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// The `docs-...` realms a document names.
fn realms(text: &str) -> Vec<String> {
    let re = regex::Regex::new(r"\bdocs-[a-z0-9-]*[a-z0-9]").unwrap();
    let mut v: Vec<String> = re.find_iter(text).map(|m| m.as_str().to_owned()).collect();
    v.sort();
    v.dedup();
    v
}

/// One bash per document, fed command by command on its stdin.
struct Shell {
    child: Child,
    stdin: Option<ChildStdin>,
    out: Receiver<Vec<u8>>,
    buf: Vec<u8>,
}

impl Shell {
    fn start(target: &Target, dir: &Path) -> Shell {
        let bin = PathBuf::from(required_env("JWTGRANT_BIN"));
        let bin = if bin.is_absolute() {
            bin
        } else {
            root().join(bin)
        };
        assert!(
            bin.is_file(),
            "JWTGRANT_BIN {} is not a file",
            bin.display()
        );
        let path = format!(
            "{}:{}",
            bin.parent().unwrap().display(),
            std::env::var("PATH").unwrap_or_else(|_| "/usr/bin:/bin".into())
        );
        let (reader, writer) = std::io::pipe().unwrap();
        let mut child = Command::new("bash")
            .args(["--noprofile", "--norc"])
            .env_clear()
            .env("PATH", path)
            .env("HOME", dir)
            .env("LANG", "C.UTF-8")
            .env("TZ", "UTC")
            .env("KEYCLOAK_ADMIN_USER", &target.admin_user)
            .env("JWTGRANT_ADMIN_USER", &target.admin_user)
            .current_dir(dir)
            .stdin(Stdio::piped())
            .stdout(writer.try_clone().unwrap())
            .stderr(writer)
            // Its own process group, so whatever a transcript leaves running is stopped
            // with it (`finish`).
            .process_group(0)
            .spawn()
            .expect("run bash");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut reader = reader;
            let mut chunk = [0u8; 8192];
            while let Ok(n) = reader.read(&mut chunk) {
                if n == 0 || tx.send(chunk[..n].to_vec()).is_err() {
                    break;
                }
            }
        });
        let mut shell = Shell {
            stdin: child.stdin.take(),
            child,
            out: rx,
            buf: Vec::new(),
        };
        let setup = shell.run("set -o pipefail; umask 022");
        assert_eq!(setup, "", "bash setup printed something");
        shell
    }

    /// Runs `command` (stdin from /dev/null) and returns what it printed.
    fn run(&mut self, command: &str) -> String {
        // `$?` is the previous command's status again when this one starts (`echo $?`).
        let script = format!(
            "(exit ${{docs_rc:-0}})\n{{\n{command}\n}} </dev/null\ndocs_rc=$?\nprintf '\\n{DONE} %d\\n' \"$docs_rc\"\n"
        );
        let stdin = self.stdin.as_mut().unwrap();
        stdin.write_all(script.as_bytes()).unwrap();
        stdin.flush().unwrap();
        let marker = format!("\n{DONE} ");
        let deadline = Instant::now() + COMMAND_TIMEOUT;
        loop {
            if let Some(at) = find(&self.buf, marker.as_bytes())
                && let Some(nl) = self.buf[at + marker.len()..]
                    .iter()
                    .position(|&b| b == b'\n')
            {
                let out = String::from_utf8_lossy(&self.buf[..at]).into_owned();
                self.buf.drain(..at + marker.len() + nl + 1);
                let out = out.trim_end_matches('\n');
                return if out.is_empty() {
                    String::new()
                } else {
                    format!("{out}\n")
                };
            }
            let left = deadline.saturating_duration_since(Instant::now());
            match self.out.recv_timeout(left) {
                Ok(chunk) => self.buf.extend_from_slice(&chunk),
                Err(RecvTimeoutError::Timeout) => {
                    self.kill();
                    panic!("timed out after {COMMAND_TIMEOUT:?}: $ {command}");
                }
                Err(RecvTimeoutError::Disconnected) => {
                    panic!(
                        "bash exited during $ {command}: {}",
                        String::from_utf8_lossy(&self.buf)
                    )
                }
            }
        }
    }

    fn kill(&mut self) {
        // The whole group: bash and anything a transcript started in the background.
        let _ = Command::new("kill")
            .args(["-TERM", "--", &format!("-{}", self.child.id())])
            .status();
    }

    fn finish(mut self) {
        drop(self.stdin.take());
        self.kill();
        let _ = self.child.wait();
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}
