//! A tiny `log` logger to stderr: `-v` info, `-vv` debug, `-vvv` trace.
//!
//! Libraries log through `log` and keep secrets out of their messages; the CLI logs
//! endpoints, claims (never signatures), timings and retries.

use std::io::{self, Write as _};

use log::{Level, LevelFilter, Log, Metadata, Record};

struct StderrLogger {
    level: LevelFilter,
}

impl Log for StderrLogger {
    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        // Third-party crates (ureq, rustls) only ever reach us at warn and above: their
        // debug output can include request headers, and an Authorization header is a secret.
        let ours = metadata.target().starts_with("jwtgrant");
        metadata.level() <= self.level && (ours || metadata.level() <= Level::Warn)
    }

    fn log(&self, record: &Record<'_>) {
        if !self.enabled(record.metadata()) {
            return;
        }
        let level = match record.level() {
            Level::Error => "error",
            Level::Warn => "warning",
            Level::Info => "info",
            Level::Debug => "debug",
            Level::Trace => "trace",
        };
        // Not eprintln!, which panics when stderr is gone: a long-running `jwks serve`
        // whose stderr pipe was closed (`... 2>&1 | head -1`) died at its first reload.
        let _ = writeln!(io::stderr().lock(), "{}", line(level, record.args()));
    }

    fn flush(&self) {}
}

/// How long a log line may get; anything longer is cut (a line is for a person to read).
const MAX_LINE_CHARS: usize = 4000;

/// One log line. Messages carry text from servers and tokens (claims, URLs, Keycloak's
/// words), so every line goes through the output gate: control characters, terminal
/// escapes included, and newlines collapse to a space, and the line is cut.
fn line(level: &str, message: &std::fmt::Arguments<'_>) -> String {
    let message = jwtgrant_exchange::text::sanitize(&message.to_string(), MAX_LINE_CHARS);
    format!("jwtgrant: {level}: {message}")
}

pub fn init(verbose: u8) {
    let level = match verbose {
        0 => LevelFilter::Warn,
        1 => LevelFilter::Info,
        2 => LevelFilter::Debug,
        _ => LevelFilter::Trace,
    };
    // Leaked once per process: the logger must live as long as the program.
    let logger: &'static StderrLogger = Box::leak(Box::new(StderrLogger { level }));
    if log::set_logger(logger).is_ok() {
        log::set_max_level(level);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_log_line_carries_no_control_character() {
        let iss = "https://evil.example\u{1b}]0;pwned\u{7}\u{1b}[2J\nforged: line";
        assert_eq!(
            line("info", &format_args!("claims: iss={iss}")),
            "jwtgrant: info: claims: iss=https://evil.example forged: line"
        );
        let long = "x".repeat(MAX_LINE_CHARS + 10);
        let cut = line("debug", &format_args!("{long}"));
        assert_eq!(cut.len(), "jwtgrant: debug: ".len() + MAX_LINE_CHARS + 3);
        assert!(cut.ends_with("..."));
    }
}
