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
        let _ = writeln!(io::stderr().lock(), "jwtgrant: {level}: {}", record.args());
    }

    fn flush(&self) {}
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
